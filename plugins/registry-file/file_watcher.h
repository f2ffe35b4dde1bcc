// The watcher of registry-file: inotify on the registry directory and its service directories,
// a map of the nodes seen (so deletes carry the last known Service), and a timer for nodes whose
// expiry passes without their file being removed (a process killed with SIGKILL).
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "file_store.h"
#include "micro/registry.h"

namespace micro::plugins {

/// Reports create / update / delete for the node files under root, optionally only those of one
/// service. "update" means the file's content changed; a refresh that only moves the expiry is
/// silent. Threads: one next() caller at a time; stop() from any thread.
class FileWatcher final : public registry::Watcher {
 public:
  /// Starts watching (inotify) and records the nodes present now without reporting them.
  /// Throws Error{unavailable} naming the path when inotify cannot be set up.
  FileWatcher(std::filesystem::path root, std::string service);
  ~FileWatcher() override;

  std::optional<registry::Result> next(Deadline deadline = no_deadline) override;
  void stop() noexcept override;

 private:
  struct Known {
    registry::Service service;
    std::string text;
    file_store::WallClock::time_point expiry;
  };
  using Key = std::string;  // "<service dir>/<file name>"

  void add_dir_watch(const std::string& dir_name, bool report);
  /// Reads every node file of one service directory: report = false records silently.
  void sync_dir(const std::string& dir_name, bool report);
  /// Re-reads one file after an event and reports what changed.
  void on_file(const std::string& dir_name, const std::string& file_name);
  void on_removed(const Key& key);
  /// Forgets a service directory that was moved away or removed: its nodes are deleted.
  void drop_dir(const std::string& dir_name);
  void drain_inotify();
  void check_expiry();
  void rescan();
  bool wanted(const registry::Service& s) const;
  void emit(const char* action, const registry::Service& s);

  std::filesystem::path root_;
  std::string service_;  // "" = all
  std::string service_dir_;
  int inotify_fd_ = -1;
  int wake_fd_ = -1;
  int root_wd_ = -1;
  std::atomic<bool> stopped_{false};
  bool gone_ = false;
  std::map<int, std::string> dirs_;  // watch descriptor -> service dir name
  std::map<Key, Known> known_;
  std::deque<registry::Result> pending_;
};

}  // namespace micro::plugins
