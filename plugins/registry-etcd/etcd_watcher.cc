#include "etcd_watcher.h"

#include "micro/errors.h"
#include "micro/log.h"

namespace micro::plugins::etcd {
namespace {

/// What the snapshot keeps of a node's service: enough to report its deletion (name, version,
/// node id and address), not endpoints or metadata: deletes are matched by version and node id,
/// and a watch on the whole registry keeps one entry per node (bench/registry: 10,000 nodes).
std::optional<registry::Service> slim(std::optional<registry::Service> s) {
  if (!s) return s;
  registry::Service out;
  out.name = std::move(s->name);
  out.version = std::move(s->version);
  out.nodes.reserve(s->nodes.size());
  for (auto& n : s->nodes)
    out.nodes.push_back(registry::Node{std::move(n.id), std::move(n.address), {}});
  return out;
}

}  // namespace

EtcdWatcher::EtcdWatcher(std::shared_ptr<Client> client, std::string prefix,
                         std::string only_service)
    : client_(std::move(client)), prefix_(std::move(prefix)), only_(std::move(only_service)) {
  resync(false);
}

EtcdWatcher::~EtcdWatcher() {
  stop();
  if (thread_.joinable()) thread_.join();
}

void EtcdWatcher::start() {
  thread_ = std::thread([this] { loop(); });
}

void EtcdWatcher::stop() noexcept {
  std::shared_ptr<Stream> s;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    s = stream_;
  }
  cv_.notify_all();
  if (s) s->cancel();
}

std::optional<registry::Result> EtcdWatcher::next(Deadline deadline) {
  std::unique_lock lock(mu_);
  for (;;) {
    if (stopped_) throw Error(Errc::closed, "registry-etcd: watcher stopped");
    if (!queue_.empty()) {
      auto r = std::move(queue_.front());
      queue_.pop_front();
      return r;
    }
    if (deadline == no_deadline) {
      cv_.wait(lock);
    } else if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      if (stopped_) throw Error(Errc::closed, "registry-etcd: watcher stopped");
      if (queue_.empty()) return std::nullopt;
    }
  }
}

bool EtcdWatcher::wanted(const registry::Service& s) const {
  return only_.empty() || s.name == only_;
}

void EtcdWatcher::push(std::string action, const registry::Service& s) {
  if (!wanted(s)) return;
  {
    std::lock_guard lock(mu_);
    queue_.push_back(registry::Result{std::move(action), s});
  }
  cv_.notify_all();
}

bool EtcdWatcher::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [this] { return stopped_; });
  return !stopped_;
}

void EtcdWatcher::resync(bool emit) {
  nlohmann::json req = {{"key", base64_encode(prefix_)},
                        {"range_end", base64_encode(prefix_end(prefix_))}};
  auto resp = client_->call("/v3/kv/range", req);
  std::map<std::string, Entry> fresh;
  if (auto it = resp.find("kvs"); it != resp.end() && it->is_array()) {
    for (const auto& kv : *it) {
      std::string key;
      auto s = decode_kv(kv, &key);
      const int64_t rev = json_i64(kv, "mod_revision");
      if (emit && s) {
        auto old = snapshot_.find(key);
        if (old == snapshot_.end()) {
          push("create", *s);
        } else if (old->second.mod_revision != rev) {
          push("update", *s);
        }
      }
      fresh[key] = Entry{rev, slim(std::move(s))};
    }
  }
  if (emit) {
    for (const auto& [key, e] : snapshot_) {
      if (!fresh.count(key) && e.service) push("delete", *e.service);
    }
  }
  snapshot_ = std::move(fresh);
  revision_ = json_i64(resp.value("header", nlohmann::json::object()), "revision");
}

bool EtcdWatcher::handle(const nlohmann::json& msg) {
  if (msg.contains("error")) {  // an error instead of a response: retry with backoff
    throw Error(Errc::unavailable, "registry-etcd: watch " + prefix_ + ": " + msg["error"].dump());
  }
  const auto& r = msg.contains("result") ? msg["result"] : msg;
  const int64_t header_rev = json_i64(r.value("header", nlohmann::json::object()), "revision");
  if (r.value("created", false) && header_rev != 0 && header_rev < revision_) {
    log::info("registry-etcd", "etcd's revision went back (data wiped?): re-reading " + prefix_);
    resync(true);
    return false;
  }
  if (r.value("canceled", false)) {
    if (json_i64(r, "compact_revision") > 0) {
      log::info("registry-etcd", "watch " + prefix_ + " compacted: re-reading");
      resync(true);
      return false;
    }
    throw Error(Errc::unavailable, "registry-etcd: etcd cancelled the watch on " + prefix_ + ": " +
                                       r.value("cancel_reason", std::string("no reason given")));
  }
  auto evs = r.find("events");
  if (evs == r.end() || !evs->is_array()) return true;
  for (const auto& ev : *evs) {
    const auto& kv = ev.value("kv", nlohmann::json::object());
    std::string key;
    revision_ = std::max(revision_, json_i64(kv, "mod_revision"));
    if (ev.value("type", std::string("PUT")) == "DELETE") {
      std::optional<registry::Service> s;
      if (ev.contains("prev_kv")) s = decode_kv(ev["prev_kv"], &key);
      key = base64_decode(kv.value("key", std::string())).value_or("");
      auto old = snapshot_.find(key);
      if (!s && old != snapshot_.end()) s = old->second.service;
      if (old != snapshot_.end()) snapshot_.erase(old);
      if (s) push("delete", *s);
      continue;
    }
    auto s = decode_kv(kv, &key);
    if (s) {
      const bool create = json_i64(kv, "create_revision") == json_i64(kv, "mod_revision");
      push(create ? "create" : "update", *s);
    }
    snapshot_[key] = Entry{json_i64(kv, "mod_revision"), slim(std::move(s))};
  }
  return true;
}

void EtcdWatcher::loop() {
  auto backoff = std::chrono::milliseconds(100);
  bool failing = false;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
    }
    try {
      nlohmann::json create = {{"key", base64_encode(prefix_)},
                               {"range_end", base64_encode(prefix_end(prefix_))},
                               {"prev_kv", true},
                               {"start_revision", std::to_string(revision_ + 1)}};
      std::shared_ptr<Stream> s = client_->open_stream("/v3/watch", {{"create_request", create}});
      {
        std::lock_guard lock(mu_);
        if (stopped_) return;
        stream_ = s;
      }
      if (failing) log::info("registry-etcd", "watch " + prefix_ + " resumed");
      failing = false;
      backoff = std::chrono::milliseconds(100);
      while (handle(s->next())) {
      }
    } catch (const Error& e) {
      if (e.errc() == Errc::closed) {
        std::lock_guard lock(mu_);
        if (stopped_) return;
      }
      if (!failing) log::warn("registry-etcd", "watch " + prefix_ + ": " + e.what());
      failing = true;
    } catch (const std::exception& e) {
      if (!failing) log::warn("registry-etcd", "watch " + prefix_ + ": " + e.what());
      failing = true;
    }
    {
      std::lock_guard lock(mu_);
      stream_.reset();
    }
    if (failing) {
      if (!sleep_for(backoff)) return;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    }
  }
}

}  // namespace micro::plugins::etcd
