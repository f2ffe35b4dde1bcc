// registry-etcd: a watch on a key prefix, as go-micro's etcd watcher (prefix + prev_kv), with
// resumption after a disconnect and a full re-read after compaction or an etcd reset.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "etcd_client.h"
#include "micro/registry.h"

namespace micro::plugins::etcd {

/// Reports create (create_revision == mod_revision), update (any other put) and delete (the
/// service decoded from prev_kv) for keys under prefix, in revision order, every event of a
/// response (unlike go-micro, which keeps only the first). Thread-safe; owns one thread that
/// reconnects (backoff up to 2 s) from the last revision seen + 1. On "compacted", or when etcd's
/// revision went back (its data was wiped), it re-reads the prefix and reports the differences.
class EtcdWatcher {
 public:
  /// Reads the current state (not reported). Throws Error{unavailable}.
  EtcdWatcher(std::shared_ptr<Client> client, std::string prefix, std::string only_service);
  ~EtcdWatcher();
  EtcdWatcher(const EtcdWatcher&) = delete;
  EtcdWatcher& operator=(const EtcdWatcher&) = delete;

  void start();
  std::optional<registry::Result> next(Deadline deadline);
  void stop() noexcept;

 private:
  struct Entry {
    int64_t mod_revision = 0;
    std::optional<registry::Service> service;
  };
  void loop();
  /// Range over the prefix; with emit, queues the differences to the snapshot.
  void resync(bool emit);
  /// Handles one watch response; returns false when the stream must be reopened at once,
  /// throws Error{unavailable} when it must be reopened after a backoff.
  bool handle(const nlohmann::json& msg);
  void push(std::string action, const registry::Service& s);
  bool wanted(const registry::Service& s) const;
  bool sleep_for(std::chrono::milliseconds d);  // false when stopped

  std::shared_ptr<Client> client_;
  const std::string prefix_;
  const std::string only_;
  std::map<std::string, Entry> snapshot_;  // the watcher thread only (and the constructor)
  int64_t revision_ = 0;                   // last revision seen

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<registry::Result> queue_;
  bool stopped_ = false;
  std::shared_ptr<Stream> stream_;
  std::thread thread_;
};

}  // namespace micro::plugins::etcd
