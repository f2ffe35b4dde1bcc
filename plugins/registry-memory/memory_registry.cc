#include "memory_registry.h"

#include <deque>

#include "micro/errors.h"

namespace micro::plugins {

struct MemoryRegistry::WatchState {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<registry::Result> queue;
  std::string service;   // "" = all
  bool stopped = false;  // the watcher was stopped by its owner
  bool gone = false;     // the registry was stopped
};

namespace {

bool same_value(const registry::Value& a, const registry::Value& b) {
  if (a.name != b.name || a.type != b.type || a.values.size() != b.values.size()) return false;
  for (std::size_t i = 0; i < a.values.size(); ++i)
    if (!same_value(a.values[i], b.values[i])) return false;
  return true;
}

bool same_optional(const std::optional<registry::Value>& a,
                   const std::optional<registry::Value>& b) {
  return a.has_value() == b.has_value() && (!a || same_value(*a, *b));
}

bool same_endpoints(const std::vector<registry::Endpoint>& a,
                    const std::vector<registry::Endpoint>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].metadata != b[i].metadata ||
        !same_optional(a[i].request, b[i].request) || !same_optional(a[i].response, b[i].response))
      return false;
  }
  return true;
}

class MemoryWatcher final : public registry::Watcher {
 public:
  explicit MemoryWatcher(std::shared_ptr<MemoryRegistry::WatchState> st) : st_(std::move(st)) {}
  ~MemoryWatcher() override { stop(); }

  std::optional<registry::Result> next(Deadline deadline) override {
    std::unique_lock lk(st_->mu);
    auto ready = [&] { return st_->stopped || !st_->queue.empty() || st_->gone; };
    if (deadline == no_deadline)
      st_->cv.wait(lk, ready);
    else
      st_->cv.wait_until(lk, deadline, ready);
    if (st_->stopped) throw Error(Errc::closed, "registry memory: watcher stopped");
    if (!st_->queue.empty()) {
      auto r = std::move(st_->queue.front());
      st_->queue.pop_front();
      return r;
    }
    if (st_->gone) throw Error(Errc::unavailable, "registry memory: registry stopped");
    return std::nullopt;
  }

  void stop() noexcept override {
    {
      std::lock_guard lk(st_->mu);
      st_->stopped = true;
    }
    st_->cv.notify_all();
  }

 private:
  std::shared_ptr<MemoryRegistry::WatchState> st_;
};

}  // namespace

MemoryRegistry::~MemoryRegistry() { stop(); }

void MemoryRegistry::init(const Options& options) {
  std::lock_guard lk(mu_);
  options_ = options;
}

Registry::Options MemoryRegistry::options() const {
  std::lock_guard lk(mu_);
  return options_;
}

void MemoryRegistry::stop() noexcept {
  std::vector<std::shared_ptr<WatchState>> watchers;
  {
    std::lock_guard lk(mu_);
    stopped_ = true;
    for (auto& w : watchers_)
      if (auto st = w.lock()) watchers.push_back(std::move(st));
    watchers_.clear();
  }
  reaper_cv_.notify_all();
  if (reaper_.joinable() && reaper_.get_id() != std::this_thread::get_id()) reaper_.join();
  for (auto& st : watchers) {
    {
      std::lock_guard lk(st->mu);
      st->gone = true;
    }
    st->cv.notify_all();
  }
}

void MemoryRegistry::check_open() const {
  if (stopped_) throw Error(Errc::closed, "registry memory: stopped");
}

void MemoryRegistry::notify(const std::string& action, const std::string& name,
                            const std::string& version, const VersionRecord& v,
                            std::vector<registry::Node> nodes) {
  if (nodes.empty()) return;
  registry::Result r{action,
                     registry::Service{name, version, v.metadata, v.endpoints, std::move(nodes)}};
  std::erase_if(watchers_, [&](const std::weak_ptr<WatchState>& w) {
    auto st = w.lock();
    if (!st) return true;
    std::lock_guard lk(st->mu);
    if (st->stopped) return true;
    if (st->service.empty() || st->service == name) {
      st->queue.push_back(r);
      st->cv.notify_all();
    }
    return false;
  });
}

void MemoryRegistry::reap(Clock::time_point now) {
  for (auto s = services_.begin(); s != services_.end();) {
    for (auto v = s->second.begin(); v != s->second.end();) {
      std::vector<registry::Node> expired;
      std::erase_if(v->second.nodes, [&](const auto& kv) {
        if (kv.second.expires > now) return false;
        expired.push_back(kv.second.node);
        return true;
      });
      notify("delete", s->first, v->first, v->second, std::move(expired));
      v = v->second.nodes.empty() ? s->second.erase(v) : std::next(v);
    }
    s = s->second.empty() ? services_.erase(s) : std::next(s);
  }
}

void MemoryRegistry::reaper_loop() {
  std::unique_lock lk(mu_);
  while (!stopped_) {
    auto earliest = Clock::time_point::max();
    for (const auto& [name, versions] : services_)
      for (const auto& [version, v] : versions)
        for (const auto& [id, n] : v.nodes) earliest = std::min(earliest, n.expires);
    if (earliest == Clock::time_point::max())
      reaper_cv_.wait(lk);
    else
      reaper_cv_.wait_until(lk, earliest);
    if (!stopped_) reap(Clock::now());
  }
}

void MemoryRegistry::register_service(const registry::Service& s,
                                      const registry::RegisterOptions& o) {
  if (s.name.empty()) throw Error(Errc::bad_request, "registry memory: service has no name");
  for (const auto& n : s.nodes)
    if (n.id.empty())
      throw Error(Errc::bad_request, "registry memory: a node of service " + s.name + " has no id");
  std::lock_guard lk(mu_);
  check_open();
  auto now = Clock::now();
  reap(now);
  auto expires = o.ttl.count() > 0 ? now + o.ttl : Clock::time_point::max();
  auto& versions = services_[s.name];
  auto [vit, new_version] = versions.try_emplace(s.version);
  VersionRecord& v = vit->second;
  bool service_changed =
      !new_version && (v.metadata != s.metadata || !same_endpoints(v.endpoints, s.endpoints));
  v.metadata = s.metadata;
  v.endpoints = s.endpoints;
  std::vector<registry::Node> created, updated;
  for (const auto& n : s.nodes) {
    auto [nit, inserted] = v.nodes.try_emplace(n.id, NodeRecord{n, expires});
    if (inserted) {
      created.push_back(n);
      continue;
    }
    bool changed = nit->second.node.address != n.address || nit->second.node.metadata != n.metadata;
    nit->second = NodeRecord{n, expires};
    if (changed || service_changed) updated.push_back(n);
  }
  notify("create", s.name, s.version, v, std::move(created));
  notify("update", s.name, s.version, v, std::move(updated));
  if (v.nodes.empty()) versions.erase(vit);  // registered without nodes: nothing to show
  if (versions.empty()) services_.erase(s.name);
  if (o.ttl.count() > 0) {
    if (!reaper_.joinable()) reaper_ = std::thread([this] { reaper_loop(); });
    reaper_cv_.notify_all();
  }
}

void MemoryRegistry::deregister(const registry::Service& s) {
  std::lock_guard lk(mu_);
  check_open();
  reap(Clock::now());
  auto sit = services_.find(s.name);
  if (sit == services_.end()) return;
  auto vit = sit->second.find(s.version);
  if (vit == sit->second.end()) return;
  VersionRecord& v = vit->second;
  std::vector<registry::Node> removed;
  if (s.nodes.empty()) {  // the whole version
    for (auto& [id, n] : v.nodes) removed.push_back(n.node);
    v.nodes.clear();
  }
  for (const auto& n : s.nodes) {
    if (auto nit = v.nodes.find(n.id); nit != v.nodes.end()) {
      removed.push_back(nit->second.node);
      v.nodes.erase(nit);
    }
  }
  notify("delete", s.name, s.version, v, std::move(removed));
  if (v.nodes.empty()) sit->second.erase(vit);
  if (sit->second.empty()) services_.erase(sit);
}

std::vector<registry::Service> MemoryRegistry::get_service(std::string_view name) {
  std::lock_guard lk(mu_);
  check_open();
  reap(Clock::now());
  std::vector<registry::Service> out;
  if (auto sit = services_.find(name); sit != services_.end()) {
    for (const auto& [version, v] : sit->second) {
      registry::Service s{std::string(name), version, v.metadata, v.endpoints, {}};
      for (const auto& [id, n] : v.nodes) s.nodes.push_back(n.node);
      if (!s.nodes.empty()) out.push_back(std::move(s));
    }
  }
  if (out.empty())
    throw Error(Errc::not_found, "registry memory: service " + std::string(name) + " not found");
  return out;
}

std::vector<registry::Service> MemoryRegistry::list_services() {
  std::lock_guard lk(mu_);
  check_open();
  reap(Clock::now());
  std::vector<registry::Service> out;
  for (const auto& [name, versions] : services_) {
    for (const auto& [version, v] : versions) {
      registry::Service s{name, version, v.metadata, v.endpoints, {}};
      for (const auto& [id, n] : v.nodes) s.nodes.push_back(n.node);
      out.push_back(std::move(s));
    }
  }
  return out;
}

std::unique_ptr<registry::Watcher> MemoryRegistry::watch(const registry::WatchOptions& o) {
  std::lock_guard lk(mu_);
  check_open();
  auto st = std::make_shared<WatchState>();
  st->service = o.service;
  watchers_.push_back(st);
  return std::make_unique<MemoryWatcher>(std::move(st));
}

}  // namespace micro::plugins
