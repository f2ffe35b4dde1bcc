// A read-through cache of registry lookups shared by selectors (go-micro registry/cache):
// entries live for a TTL, are kept fresh from the registry's watch between reads, are served
// stale when the registry fails, and concurrent lookups of one service make one request.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "micro/registry.h"

namespace micro {

struct RegistryCacheOptions {
  /// How long a lookup is trusted before the registry is asked again. 0 = always ask.
  std::chrono::milliseconds ttl{std::chrono::seconds(60)};
  /// Test hook, empty in production: called with the service's name each time the cache has
  /// built a changed view of a cached service from watch results, before it publishes it,
  /// without the lock lookups take (they proceed meanwhile; other appliers wait). Runs on the
  /// watch thread, or on the lookup that fetched the service when results arrived meanwhile.
  std::function<void(std::string_view service)> apply_hook{};
};

class RegistryCache {
 public:
  /// An immutable view of one service's versions and nodes; never null when returned.
  using Snapshot = std::shared_ptr<const std::vector<registry::Service>>;

  using Options = RegistryCacheOptions;

  /// Ownership: shares the registry. Starts no thread until the first get_service().
  explicit RegistryCache(std::shared_ptr<Registry> registry, Options options = {});
  RegistryCache(std::shared_ptr<Registry> registry, std::chrono::milliseconds ttl)
      : RegistryCache(std::move(registry), Options{ttl}) {}
  /// Stops the watch thread.
  ~RegistryCache();
  RegistryCache(const RegistryCache&) = delete;
  RegistryCache& operator=(const RegistryCache&) = delete;

  /// The versions and nodes of service. Thread-safe. Serves the cached entry while it is
  /// younger than the TTL; otherwise asks the registry, one request for all concurrent callers.
  /// When the registry fails (anything but not_found) and an entry exists, serves it stale.
  /// Throws Error{not_found} when the registry knows no node of service, the registry's
  /// error when nothing is cached, Error{closed} after stop(). A cached lookup never waits
  /// for the cache to apply watch events: those are built aside and swapped in.
  Snapshot get_service(std::string_view service);

  /// Drops the entry for service, so the next lookup asks the registry. Thread-safe.
  void invalidate(std::string_view service) noexcept;

  /// Stops the watch thread and refuses further lookups. Idempotent, never throws.
  void stop() noexcept;

 private:
  struct Entry {
    Snapshot services;
    Clock::time_point expires;
  };
  Snapshot fetch(const std::string& service, Snapshot stale);
  void ensure_watching(std::unique_lock<std::mutex>& lk);  // mu_ held, released meanwhile
  void watch_loop(std::shared_ptr<registry::Watcher> first);
  // Applies watch results, grouped by service. Called without mu_ or apply_mu_.
  void apply_batch(const std::vector<registry::Result>& results);
  // Applies results (all of service, in order) on one copy of its view. Holds apply_mu_,
  // mu_ only to read and to swap the entry.
  void apply_service(const std::string& service, const std::vector<const registry::Result*>& rs);

  std::shared_ptr<Registry> registry_;
  Options options_;
  // Serializes the appliers of watch results (the watch thread, a fetch applying what arrived
  // meanwhile), so they publish in the order the results arrived. Taken before mu_.
  std::mutex apply_mu_;
  std::mutex mu_;
  std::condition_variable cv_;  // wakes the watch thread's backoff on stop()
  std::map<std::string, Entry, std::less<>> entries_;
  std::map<std::string, std::shared_future<Snapshot>, std::less<>> inflight_;
  // Watch results that arrived while their service was being fetched, applied after it.
  std::map<std::string, std::vector<registry::Result>, std::less<>> pending_;
  bool watch_started_ = false;
  bool stopped_ = false;
  std::thread watch_thread_;
  std::shared_ptr<registry::Watcher> watcher_;  // the current watch, stopped by stop()
};

}  // namespace micro
