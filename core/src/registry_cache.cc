#include "micro/registry_cache.h"

#include <algorithm>
#include <unordered_set>

#include "micro/errors.h"

namespace micro {
namespace {

constexpr auto kStaleRetry = std::chrono::seconds(1);
constexpr auto kMinBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::seconds(5);
constexpr auto kWatchPoll = std::chrono::seconds(1);
// Results read from the watch before they are applied: bounds a batch's memory.
constexpr std::size_t kMaxBatch = 1024;
// Times a service's view is built aside (without mu_) when the entry changed meanwhile (a
// fetch stored a new answer); the build after those is done under mu_ and always succeeds.
constexpr int kMaxRebuilds = 3;

}  // namespace

RegistryCache::RegistryCache(std::shared_ptr<Registry> registry, Options options)
    : registry_(std::move(registry)), options_(std::move(options)) {
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
  Snapshot old;  // freed after mu_ is released
  std::lock_guard lk(mu_);
  if (auto it = entries_.find(service); it != entries_.end()) {
    old = std::move(it->second.services);
    entries_.erase(it);
  }
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
  // Changes seen while the registry was asked: merging them again is harmless, missing them
  // would keep a stale entry for a whole TTL. To apply them, apply_mu_ first: an applier that
  // published meanwhile recorded its results here (the fetch was still in flight), one that
  // publishes later waits, so results are published in the order they arrived.
  lk.lock();
  if (error || !pending_.count(name)) {
    inflight_.erase(name);
    pending_.erase(name);
    lk.unlock();
  } else {
    lk.unlock();
    std::lock_guard a(apply_mu_);
    lk.lock();
    inflight_.erase(name);
    auto results = std::move(pending_[name]);
    pending_.erase(name);
    lk.unlock();
    std::vector<const registry::Result*> rs;
    rs.reserve(results.size());
    for (const auto& r : results) rs.push_back(&r);
    apply_service(name, rs);
    lk.lock();
    if (auto it = entries_.find(name); it != entries_.end()) result = it->second.services;
    lk.unlock();
  }
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
  Snapshot old;  // freed after mu_ is released: freeing a big view must not hold up lookups
  std::lock_guard lk(mu_);
  if (!stopped_) {
    auto& e = entries_[service];
    old = std::move(e.services);
    e = Entry{snap, Clock::now() + options_.ttl};
  }
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
        bool ended = false;
        while (!ended) {
          // One result, then every result already queued behind it (a rolling restart sends
          // them in bursts): each service's view is then copied once per batch, not per result.
          std::vector<registry::Result> batch;
          try {
            if (auto r = w->next(Clock::now() + kWatchPoll)) {
              batch.push_back(std::move(*r));
              while (batch.size() < kMaxBatch) {
                auto more = w->next(Clock::now());
                if (!more) break;
                batch.push_back(std::move(*more));
              }
            }
          } catch (const std::exception&) {
            if (batch.empty()) throw;
            ended = true;  // apply what arrived before the watch ended
          }
          {
            std::lock_guard g(mu_);
            if (stopped_) break;
          }
          if (!batch.empty()) apply_batch(batch);
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

namespace {

enum class Merged { unchanged, changed, dropped };

// Removes the nodes whose id is the id of one of gone, keeping the order of the others.
// Returns whether any was removed.
bool erase_nodes(std::vector<registry::Node>& nodes, const std::vector<registry::Node>& gone) {
  if (gone.empty() || nodes.empty()) return false;
  const auto before = nodes.size();
  if (gone.size() <= 8) {
    std::erase_if(nodes, [&](const registry::Node& n) {
      return std::any_of(gone.begin(), gone.end(),
                         [&](const registry::Node& g) { return g.id == n.id; });
    });
  } else {
    std::unordered_set<std::string_view> ids;
    ids.reserve(gone.size());
    for (const auto& g : gone) ids.insert(g.id);
    std::erase_if(nodes, [&](const registry::Node& n) { return ids.count(n.id) != 0; });
  }
  return nodes.size() != before;
}

// Merges a watch result into a service's view, as go-micro's cache does: create/update
// replace the version and merge nodes by id (the result's nodes last); delete removes nodes by
// id and drops versions left empty. dropped: no version is left, the entry goes.
Merged merge(std::vector<registry::Service>& services, const registry::Result& r) {
  auto v = std::find_if(services.begin(), services.end(),
                        [&](const registry::Service& s) { return s.version == r.service.version; });
  if (r.action == "delete") {
    if (v == services.end()) return Merged::unchanged;
    bool changed = erase_nodes(v->nodes, r.service.nodes);
    if (v->nodes.empty()) {
      services.erase(v);
      changed = true;
    }
    if (services.empty()) return Merged::dropped;
    return changed ? Merged::changed : Merged::unchanged;
  }
  if (r.action != "create" && r.action != "update") return Merged::unchanged;
  if (v == services.end()) {
    services.push_back(r.service);
    return Merged::changed;
  }
  // In place: the kept nodes are moved, not copied.
  erase_nodes(v->nodes, r.service.nodes);
  v->nodes.insert(v->nodes.end(), r.service.nodes.begin(), r.service.nodes.end());
  v->name = r.service.name;
  v->metadata = r.service.metadata;
  v->endpoints = r.service.endpoints;
  return Merged::changed;
}

}  // namespace

void RegistryCache::apply_batch(const std::vector<registry::Result>& results) {
  std::map<std::string_view, std::vector<const registry::Result*>> by_service;
  for (const auto& r : results) by_service[r.service.name].push_back(&r);
  for (const auto& [service, rs] : by_service) {
    std::lock_guard a(apply_mu_);
    apply_service(std::string(service), rs);
  }
}

// Copy-on-write: copies the entry's snapshot pointer under mu_, builds the new view from it
// without mu_ (the O(nodes) part), and swaps it in under mu_ if the entry still holds that
// snapshot. If a fetch stored a new answer meanwhile, builds again on it (merging again what
// the answer may already hold is harmless; building on the old one would lose the answer);
// after kMaxRebuilds the last build is done under mu_. Services not cached are ignored; while
// a service is being fetched its results are also kept in pending_ to be applied after the
// fetch. Called with apply_mu_ held (one applier at a time: results publish in order).
void RegistryCache::apply_service(const std::string& service,
                                  const std::vector<const registry::Result*>& rs) {
  for (int attempt = 0;; ++attempt) {
    // Declared before the lock: the views they hold are freed after it is released.
    Snapshot base;
    Snapshot next;
    std::vector<registry::Service> services;
    std::unique_lock lk(mu_);
    if (stopped_) return;
    auto record_pending = [&] {
      if (!inflight_.count(service)) return;
      auto& p = pending_[service];
      for (const auto* r : rs) p.push_back(*r);
    };
    auto it = entries_.find(service);
    if (it == entries_.end()) {
      record_pending();
      return;
    }
    base = it->second.services;
    const bool aside = attempt < kMaxRebuilds;
    if (aside) lk.unlock();

    services = *base;
    auto merged = Merged::unchanged;
    for (const auto* r : rs) {
      auto m = merge(services, *r);
      if (m == Merged::unchanged) continue;
      merged = m;
      if (m == Merged::dropped) break;  // later results would find the service not cached
    }
    if (merged == Merged::changed) {
      next = std::make_shared<const std::vector<registry::Service>>(std::move(services));
      if (aside && options_.apply_hook) options_.apply_hook(service);
    }

    if (aside) {
      lk.lock();
      if (stopped_) return;
      it = entries_.find(service);
      if (it == entries_.end()) {  // invalidated or found gone meanwhile
        record_pending();
        return;
      }
      if (it->second.services != base) continue;  // a fetch stored a new answer: build on it
    }
    record_pending();
    if (merged == Merged::dropped)
      entries_.erase(it);
    else if (merged == Merged::changed)
      it->second.services = std::move(next);
    return;
  }
}

}  // namespace micro
