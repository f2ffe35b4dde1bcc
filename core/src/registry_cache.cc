#include "micro/registry_cache.h"

#include <algorithm>

#include "micro/errors.h"

namespace micro {
namespace {

constexpr auto kStaleRetry = std::chrono::seconds(1);
constexpr auto kMinBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::seconds(5);
constexpr auto kWatchPoll = std::chrono::seconds(1);

}  // namespace

RegistryCache::RegistryCache(std::shared_ptr<Registry> registry, Options options)
    : registry_(std::move(registry)), options_(options) {
  if (!registry_) throw Error(Errc::internal, "registry cache: no registry");
}

RegistryCache::~RegistryCache() { stop(); }

void RegistryCache::stop() noexcept {
  std::shared_ptr<registry::Watcher> w;
  {
    std::lock_guard lk(mu_);
    stopped_ = true;
    w = watcher_;
    entries_.clear();
  }
  cv_.notify_all();
  if (w) w->stop();
  if (watch_thread_.joinable() && watch_thread_.get_id() != std::this_thread::get_id())
    watch_thread_.join();
}

void RegistryCache::invalidate(std::string_view service) noexcept {
  std::lock_guard lk(mu_);
  if (auto it = entries_.find(service); it != entries_.end()) entries_.erase(it);
}

RegistryCache::Snapshot RegistryCache::get_service(std::string_view service) {
  std::unique_lock lk(mu_);
  if (stopped_) throw Error(Errc::closed, "registry cache: stopped");
  ensure_watching(lk);
  if (stopped_) throw Error(Errc::closed, "registry cache: stopped");
  Snapshot stale;
  if (auto it = entries_.find(service); it != entries_.end()) {
    if (Clock::now() < it->second.expires) return it->second.services;
    stale = it->second.services;
  }
  if (auto f = inflight_.find(service); f != inflight_.end()) {
    auto fut = f->second;
    lk.unlock();
    return fut.get();
  }
  std::promise<Snapshot> promise;
  std::string name(service);
  inflight_.emplace(name, promise.get_future().share());
  pending_.erase(name);
  lk.unlock();

  Snapshot result;
  std::exception_ptr error;
  try {
    result = fetch(name, stale);
  } catch (...) {
    error = std::current_exception();
  }
  lk.lock();
  inflight_.erase(name);
  // Changes seen while the registry was asked: merging them again is harmless, missing them
  // would keep a stale entry for a whole TTL.
  if (auto p = pending_.find(name); p != pending_.end()) {
    auto results = std::move(p->second);
    pending_.erase(p);
    if (!error)
      for (const auto& r : results) apply(r);
    if (auto it = entries_.find(name); it != entries_.end() && !error) result = it->second.services;
  }
  lk.unlock();
  if (error) {
    promise.set_exception(error);
    std::rethrow_exception(error);
  }
  promise.set_value(result);
  return result;
}

// Asks the registry and stores the answer; serves stale on failure. Called without mu_.
RegistryCache::Snapshot RegistryCache::fetch(const std::string& service, Snapshot stale) {
  std::vector<registry::Service> services;
  try {
    services = registry_->get_service(service);
  } catch (const Error& e) {
    if (e.errc() == Errc::not_found || !stale) {
      if (e.errc() == Errc::not_found) invalidate(service);
      throw;
    }
    std::lock_guard lk(mu_);
    // Keep serving what we have; ask again at most once per kStaleRetry.
    auto expires = Clock::now() + std::min<Clock::duration>(options_.ttl, kStaleRetry);
    if (auto it = entries_.find(service); it != entries_.end()) it->second.expires = expires;
    return stale;
  } catch (const std::exception& e) {
    if (!stale) throw Error(Errc::unavailable, "registry cache: " + service + ": " + e.what());
    return stale;
  }
  if (services.empty()) {
    invalidate(service);
    throw Error(Errc::not_found, "registry cache: service " + service + " not found");
  }
  auto snap = std::make_shared<const std::vector<registry::Service>>(std::move(services));
  std::lock_guard lk(mu_);
  if (!stopped_) entries_[service] = Entry{snap, Clock::now() + options_.ttl};
  return snap;
}

// The first lookup opens the watch itself, before it asks the registry, so no change made
// after that lookup's answer can be missed; the thread then reads it (and reopens it).
void RegistryCache::ensure_watching(std::unique_lock<std::mutex>& lk) {
  if (watch_started_ || stopped_) return;
  watch_started_ = true;
  lk.unlock();
  std::shared_ptr<registry::Watcher> w;
  try {
    w = registry_->watch();
  } catch (const std::exception&) {
    // The thread retries.
  }
  lk.lock();
  if (stopped_) {
    if (w) w->stop();
    return;
  }
  watch_thread_ = std::thread([this, w] { watch_loop(w); });
}

void RegistryCache::watch_loop(std::shared_ptr<registry::Watcher> first_watcher) {
  auto backoff = Clock::duration(kMinBackoff);
  bool first = first_watcher != nullptr;  // opened before any lookup: nothing was missed
  std::unique_lock lk(mu_);
  while (!stopped_) {
    std::shared_ptr<registry::Watcher> w = std::move(first_watcher);
    if (!w) {
      lk.unlock();
      try {
        w = registry_->watch();
      } catch (const std::exception&) {
      }
      lk.lock();
    }
    if (w) {
      if (stopped_) break;
      watcher_ = w;
      if (!first)  // changes may have been missed while no watch ran
        for (auto& [name, e] : entries_) e.expires = Clock::now();
      first = false;
      backoff = kMinBackoff;
      lk.unlock();
      try {
        while (true) {
          auto r = w->next(Clock::now() + kWatchPoll);
          std::lock_guard g(mu_);
          if (stopped_) break;
          if (r) apply(*r);
        }
      } catch (const std::exception&) {
        // The watch ended (registry stopped or unreachable): start another after a pause.
      }
      lk.lock();
      watcher_.reset();
      if (stopped_) break;
    }
    cv_.wait_for(lk, backoff, [this] { return stopped_; });
    backoff = std::min<Clock::duration>(backoff * 2, kMaxBackoff);
  }
  if (watcher_) watcher_.reset();
}

// Merges a watch result into the cached entry of its service, as go-micro's cache does:
// create/update replace the version and merge nodes by id; delete removes nodes by id and
// drops versions (and the entry) left empty. Services not cached are ignored.
void RegistryCache::apply(const registry::Result& r) {
  if (inflight_.count(r.service.name)) pending_[r.service.name].push_back(r);
  auto it = entries_.find(r.service.name);
  if (it == entries_.end()) return;
  auto services = *it->second.services;
  auto v = std::find_if(services.begin(), services.end(),
                        [&](const registry::Service& s) { return s.version == r.service.version; });
  if (r.action == "delete") {
    if (v == services.end()) return;
    std::erase_if(v->nodes, [&](const registry::Node& n) {
      return std::any_of(r.service.nodes.begin(), r.service.nodes.end(),
                         [&](const registry::Node& d) { return d.id == n.id; });
    });
    if (v->nodes.empty()) services.erase(v);
    if (services.empty()) {
      entries_.erase(it);
      return;
    }
  } else if (r.action == "create" || r.action == "update") {
    if (v == services.end()) {
      services.push_back(r.service);
    } else {
      registry::Service merged = r.service;
      std::vector<registry::Node> nodes;
      for (const auto& cur : v->nodes) {
        bool replaced = std::any_of(merged.nodes.begin(), merged.nodes.end(),
                                    [&](const registry::Node& n) { return n.id == cur.id; });
        if (!replaced) nodes.push_back(cur);
      }
      nodes.insert(nodes.end(), merged.nodes.begin(), merged.nodes.end());
      merged.nodes = std::move(nodes);
      *v = std::move(merged);
    }
  } else {
    return;
  }
  it->second.services = std::make_shared<const std::vector<registry::Service>>(std::move(services));
}

}  // namespace micro
