#include "consul_watcher.h"

#include <algorithm>
#include <set>

#include "consul_codec.h"
#include "micro/errors.h"
#include "micro/log.h"

namespace micro::plugins::consul {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

bool same_node(const registry::Node& a, const registry::Node& b) {
  return a.id == b.id && a.address == b.address && a.metadata == b.metadata;
}

const registry::Service* version_in(const std::vector<registry::Service>& v,
                                    const std::string& version) {
  for (const auto& s : v) {
    if (s.version == version) return &s;
  }
  return nullptr;
}

}  // namespace

std::vector<registry::Result> diff(const std::string& name,
                                   const std::vector<registry::Service>& before,
                                   const std::vector<registry::Service>& after) {
  std::vector<registry::Result> out;
  for (const auto& s : after) {
    const auto* old = version_in(before, s.version);
    if (!old) {
      out.push_back({"create", s});
      continue;
    }
    // Nodes that vanished from a version that remains.
    registry::Service gone = *old;
    gone.nodes.clear();
    for (const auto& n : old->nodes) {
      if (std::none_of(s.nodes.begin(), s.nodes.end(), [&](const auto& m) { return m.id == n.id; }))
        gone.nodes.push_back(n);
    }
    if (!gone.nodes.empty()) out.push_back({"delete", gone});
    bool changed = false;
    for (const auto& n : s.nodes) {
      auto it = std::find_if(old->nodes.begin(), old->nodes.end(),
                             [&](const auto& m) { return m.id == n.id; });
      if (it == old->nodes.end() || !same_node(n, *it)) changed = true;
    }
    if (changed) out.push_back({"update", s});
  }
  for (const auto& s : before) {
    if (!version_in(after, s.version)) out.push_back({"delete", s});
  }
  (void)name;
  return out;
}

ConsulWatcher::ConsulWatcher(std::shared_ptr<Http> http, std::string service, int wait_s)
    : http_(std::move(http)), service_(std::move(service)), wait_s_(wait_s) {
  if (service_.empty()) {
    catalog_ = std::thread([this] { follow_catalog(); });
  } else {
    start_follower(service_);
  }
}

ConsulWatcher::~ConsulWatcher() { stop(); }

void ConsulWatcher::stop() noexcept {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
  catalog_cancel_.cancel();
  if (catalog_.joinable() && catalog_.get_id() != std::this_thread::get_id()) catalog_.join();
  std::lock_guard lock(followers_mu_);
  for (auto& [name, f] : followers_) f->cancel.cancel();
  for (auto& [name, f] : followers_) {
    if (f->thread.joinable()) f->thread.join();
  }
  followers_.clear();
}

std::optional<registry::Result> ConsulWatcher::next(Deadline deadline) {
  std::unique_lock lock(mu_);
  for (;;) {
    if (stopped_) throw Error(Errc::closed, "registry-consul: watcher stopped");
    if (!queue_.empty()) {
      auto r = std::move(queue_.front());
      queue_.pop_front();
      return r;
    }
    if (deadline == no_deadline) {
      cv_.wait(lock);
    } else if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && queue_.empty()) {
      if (stopped_) throw Error(Errc::closed, "registry-consul: watcher stopped");
      return std::nullopt;
    }
  }
}

void ConsulWatcher::push(std::vector<registry::Result> rs) {
  if (rs.empty()) return;
  {
    std::lock_guard lock(mu_);
    for (auto& r : rs) queue_.push_back(std::move(r));
  }
  cv_.notify_all();
}

bool ConsulWatcher::pause(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [&] { return stopped_; });
  return !stopped_;
}

void ConsulWatcher::start_follower(const std::string& name) {
  std::lock_guard lock(followers_mu_);
  if (followers_.count(name)) return;
  auto f = std::make_unique<Follower>();
  f->name = name;
  auto* raw = f.get();
  followers_[name] = std::move(f);
  raw->thread = std::thread([this, raw] { follow_service(raw); });
}

void ConsulWatcher::end_follower(const std::string& name) {
  std::unique_ptr<Follower> f;
  {
    std::lock_guard lock(followers_mu_);
    auto it = followers_.find(name);
    if (it == followers_.end()) return;
    f = std::move(it->second);
    followers_.erase(it);
  }
  f->cancel.cancel();
  if (f->thread.joinable()) f->thread.join();
  // The service left the catalog: its last known versions are deleted (name only if none).
  std::vector<registry::Result> rs;
  for (auto& s : f->last) rs.push_back({"delete", s});
  if (rs.empty()) {
    registry::Service s;
    s.name = name;
    rs.push_back({"delete", s});
  }
  push(std::move(rs));
}

void ConsulWatcher::follow_catalog() {
  uint64_t index = 0;
  std::set<std::string> known;
  auto backoff = 100ms;
  for (;;) {
    std::string target = "/v1/catalog/services?stale";
    if (index)
      target += "&index=" + std::to_string(index) + "&wait=" + std::to_string(wait_s_) + "s";
    Response r;
    try {
      r = http_->request("GET", target, "", std::chrono::seconds(wait_s_ + wait_s_ / 16 + 1),
                         &catalog_cancel_);
    } catch (const Error& e) {
      if (e.errc() == Errc::closed) return;
      log::debug("registry-consul", std::string("watch catalog: ") + e.what());
      if (!pause(backoff)) return;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      continue;
    }
    auto j = json::parse(r.body, nullptr, false);
    if (r.status != 200 || !j.is_object()) {
      log::warn("registry-consul", "watch catalog: HTTP " + std::to_string(r.status));
      if (!pause(backoff)) return;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      continue;
    }
    backoff = 100ms;
    // Consul's advice: reset an index that went backwards; never block on 0.
    index = r.index < index ? 0 : r.index;
    if (index == 0 && !pause(1000ms)) return;  // no X-Consul-Index: poll, do not spin
    std::set<std::string> now;
    for (const auto& [name, tags] : j.items()) now.insert(name);
    for (const auto& name : now) {
      if (known.count(name)) continue;
      registry::Service s;
      s.name = name;
      push({{"create", s}});
      start_follower(name);
    }
    for (const auto& name : known) {
      if (!now.count(name)) end_follower(name);
    }
    known = std::move(now);
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
    }
  }
}

void ConsulWatcher::follow_service(Follower* f) {
  uint64_t index = 0;
  auto backoff = 100ms;
  const std::string base = "/v1/health/service/" + escape(f->name) + "?stale";
  for (;;) {
    std::string target = base;
    if (index)
      target += "&index=" + std::to_string(index) + "&wait=" + std::to_string(wait_s_) + "s";
    Response r;
    try {
      r = http_->request("GET", target, "", std::chrono::seconds(wait_s_ + wait_s_ / 16 + 1),
                         &f->cancel);
    } catch (const Error& e) {
      if (e.errc() == Errc::closed) return;
      log::debug("registry-consul", "watch " + f->name + ": " + e.what());
      if (!pause(backoff)) return;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      continue;
    }
    auto j = json::parse(r.body, nullptr, false);
    if (r.status != 200 || !j.is_array()) {
      log::warn("registry-consul", "watch " + f->name + ": HTTP " + std::to_string(r.status));
      if (!pause(backoff)) return;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      continue;
    }
    backoff = 100ms;
    index = r.index < index ? 0 : r.index;
    if (index == 0 && !pause(1000ms)) return;  // no X-Consul-Index: poll, do not spin
    auto now = services_from_health(f->name, j);
    std::vector<registry::Result> rs;
    {
      std::lock_guard lock(f->mu);
      rs = diff(f->name, f->last, now);
      f->last = std::move(now);
    }
    push(std::move(rs));
    if (f->cancel.cancelled()) return;
  }
}

}  // namespace micro::plugins::consul
