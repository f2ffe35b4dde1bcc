// registry-file: the embedded cross-process registry. Every process on one machine that uses
// the same directory sees the others' nodes: one go-micro Service JSON file per node, expiry in
// the file's mtime, changes through inotify. See README.md for the layout and options.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

#include "micro/registry.h"

namespace micro::plugins {

class FileWatcher;

/// A micro::Registry over a directory. All methods are thread-safe. Failures are micro::Error
/// whose message names the path: config (bad directory), bad_request (bad service),
/// unavailable (I/O), not_found (get_service), closed (after stop()).
class FileRegistry final : public Registry {
 public:
  FileRegistry() = default;
  ~FileRegistry() override;

  std::string name() const override { return "file"; }
  void stop() noexcept override;

  /// Resolves and prepares the directory (created 0700 when missing). Throws Error{config}.
  void init(const Options& options) override;
  Options options() const override;

  void register_service(const registry::Service& s, const registry::RegisterOptions& o) override;
  void deregister(const registry::Service& s) override;
  std::vector<registry::Service> get_service(std::string_view name) override;
  std::vector<registry::Service> list_services() override;
  /// The watcher reports the changes after it is created (existing nodes are not reported).
  std::unique_ptr<registry::Watcher> watch(const registry::WatchOptions& o = {}) override;

  /// The directory in use (empty before init()).
  std::filesystem::path root() const;

 private:
  struct Config {
    std::filesystem::path root;
    std::chrono::seconds expired_grace{60};  ///< < 0: never remove expired files
  };
  Config config() const;  // throws Error{closed} after stop(), Error{unavailable} before init()
  /// Appends the live nodes of one service directory to out (grouped by name + version),
  /// removing files expired for longer than the grace period.
  void read_dir(const Config& c, const std::filesystem::path& dir, std::string_view only_name,
                std::vector<registry::Service>& out);

  mutable std::mutex mu_;
  Options options_;
  Config config_;
  bool initialised_ = false;
  bool stopped_ = false;
  std::vector<std::weak_ptr<FileWatcher>> watchers_;
};

}  // namespace micro::plugins
