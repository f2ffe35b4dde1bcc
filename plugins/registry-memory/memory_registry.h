// registry-memory: an in-process registry (go-micro registry/memory). Nodes registered with a
// TTL disappear when it passes, and watchers see a "delete" for them; watchers see "create"
// for a new node, "update" for a changed one and "delete" for a removed one.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "micro/registry.h"

namespace micro::plugins {

class MemoryRegistry final : public Registry {
 public:
  MemoryRegistry() = default;
  ~MemoryRegistry() override;

  std::string name() const override { return "memory"; }
  void init(const Options& options) override;
  Options options() const override;
  /// Stops the expiry thread; watchers then fail with Errc::unavailable.
  void stop() noexcept override;

  void register_service(const registry::Service& s, const registry::RegisterOptions& o) override;
  void deregister(const registry::Service& s) override;
  std::vector<registry::Service> get_service(std::string_view name) override;
  std::vector<registry::Service> list_services() override;
  std::unique_ptr<registry::Watcher> watch(const registry::WatchOptions& o = {}) override;

  struct WatchState;

 private:
  struct NodeRecord {
    registry::Node node;
    Clock::time_point expires;  // time_point::max() = never
  };
  struct VersionRecord {
    StringMap metadata;
    std::vector<registry::Endpoint> endpoints;
    std::map<std::string, NodeRecord> nodes;
  };
  using Versions = std::map<std::string, VersionRecord>;

  void check_open() const;           // mu_ held
  void reap(Clock::time_point now);  // mu_ held: removes expired nodes, tells watchers
  void notify(const std::string& action, const std::string& name, const std::string& version,
              const VersionRecord& v, std::vector<registry::Node> nodes);  // mu_ held
  void reaper_loop();

  mutable std::mutex mu_;
  std::condition_variable reaper_cv_;
  Options options_;
  bool stopped_ = false;
  std::map<std::string, Versions, std::less<>> services_;
  std::vector<std::weak_ptr<WatchState>> watchers_;
  std::thread reaper_;
};

}  // namespace micro::plugins
