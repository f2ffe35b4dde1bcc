#include "etcd_registry.h"

#include <cstdlib>

#include "etcd_watcher.h"
#include "micro/errors.h"
#include "micro/log.h"

namespace micro::plugins {

using etcd::base64_encode;
using etcd::json_i64;

/// One registered node. value/ttl/lease/healthy are guarded by mu (held across etcd calls);
/// due and registered by the registry's mu_.
struct EtcdRegistry::Reg {
  explicit Reg(std::string k) : key(std::move(k)) {}
  std::mutex mu;
  const std::string key;
  std::string value;
  int64_t ttl = 0;
  int64_t lease = 0;
  bool healthy = false;  ///< the last put or keepalive succeeded
  bool removed = false;  ///< deregistered: no longer in regs_
  // Guarded by EtcdRegistry::mu_:
  bool registered = false;  ///< put at least once: the keeper takes care of it
  int64_t keep_ttl = 0;     ///< the ttl the keeper works with (0 = nothing to keep)
  Clock::time_point due{};
  std::chrono::milliseconds backoff{0};
};

namespace {

class WatcherHandle final : public registry::Watcher {
 public:
  explicit WatcherHandle(std::shared_ptr<etcd::EtcdWatcher> w) : w_(std::move(w)) {}
  ~WatcherHandle() override { w_->stop(); }
  std::optional<registry::Result> next(Deadline deadline) override { return w_->next(deadline); }
  void stop() noexcept override { w_->stop(); }

 private:
  std::shared_ptr<etcd::EtcdWatcher> w_;
};

std::string opt_string(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  if (!it->is_string()) {
    throw Error(Errc::config, std::string("registry.etcd.") + key + ": expected a string");
  }
  return it->get<std::string>();
}

std::chrono::milliseconds keepalive_period(int64_t ttl) {
  return std::max(std::chrono::milliseconds(ttl * 1000 / 3), std::chrono::milliseconds(100));
}

}  // namespace

EtcdRegistry::~EtcdRegistry() { stop(); }

void EtcdRegistry::stop() noexcept {
  std::vector<std::weak_ptr<etcd::EtcdWatcher>> watchers;
  std::thread keeper;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    watchers.swap(watchers_);
    keeper.swap(keeper_);
  }
  cv_.notify_all();
  if (keeper.joinable()) keeper.join();
  for (auto& w : watchers) {
    if (auto s = w.lock()) s->stop();
  }
}

void EtcdRegistry::init(const Options& options) {
  auto j = nlohmann::json::parse(options.plugin_options.empty() ? "{}" : options.plugin_options,
                                 nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    throw Error(Errc::config, "registry.etcd: options are not a JSON object");
  }
  etcd::ClientConfig c;
  c.timeout = options.timeout.count() > 0 ? options.timeout : std::chrono::milliseconds(5000);
  c.username = opt_string(j, "username");
  c.password = opt_string(j, "password");
  c.ca_file = opt_string(j, "ca_file");
  c.cert_file = opt_string(j, "cert_file");
  c.key_file = opt_string(j, "key_file");
  if (auto it = j.find("tls_insecure"); it != j.end() && !it->is_null()) {
    if (!it->is_boolean()) throw Error(Errc::config, "registry.etcd.tls_insecure: expected a bool");
    c.tls_insecure = it->get<bool>();
  }
  if (c.username.empty()) {
    if (const char* u = std::getenv("ETCD_USERNAME")) c.username = u;
    if (const char* p = std::getenv("ETCD_PASSWORD"); p && c.password.empty()) c.password = p;
  }
  if (c.cert_file.empty() != c.key_file.empty()) {
    throw Error(Errc::config, "registry.etcd: cert_file and key_file go together");
  }
  std::vector<std::string> addrs = options.addrs;
  if (addrs.empty()) {
    if (const char* a = std::getenv("MICRO_REGISTRY_ADDRESS"); a && *a) addrs.push_back(a);
  }
  const bool tls_wanted = !c.ca_file.empty() || !c.cert_file.empty();
  for (const auto& a : addrs) {
    size_t start = 0;
    while (start <= a.size()) {
      auto end = a.find(',', start);
      if (end == std::string::npos) end = a.size();
      auto part = a.substr(start, end - start);
      while (!part.empty() && part.front() == ' ') part.erase(0, 1);
      while (!part.empty() && part.back() == ' ') part.pop_back();
      if (!part.empty()) {
        auto ep = etcd::parse_endpoint(part);
        if (tls_wanted && !part.starts_with("http://")) ep.tls = true;
        c.endpoints.push_back(std::move(ep));
      }
      start = end + 1;
    }
  }
  if (c.endpoints.empty()) c.endpoints.push_back(etcd::parse_endpoint("127.0.0.1:2379"));
  auto client = std::make_shared<etcd::Client>(std::move(c));
  std::lock_guard lock(mu_);
  if (stopped_) throw Error(Errc::closed, "registry-etcd: init() after stop()");
  options_ = options;
  client_ = std::move(client);
}

Registry::Options EtcdRegistry::options() const {
  std::lock_guard lock(mu_);
  return options_;
}

uint64_t EtcdRegistry::requests() const {
  std::lock_guard lock(mu_);
  return client_ ? client_->requests() : 0;
}

std::map<std::string, uint64_t> EtcdRegistry::requests_by_path() const {
  std::lock_guard lock(mu_);
  return client_ ? client_->requests_by_path() : std::map<std::string, uint64_t>{};
}

std::shared_ptr<etcd::Client> EtcdRegistry::client() const {
  std::lock_guard lock(mu_);
  if (stopped_) throw Error(Errc::closed, "registry-etcd: registry stopped");
  if (!client_) throw Error(Errc::unavailable, "registry-etcd: init() was not called");
  return client_;
}

void EtcdRegistry::put_node(etcd::Client& c, Reg& r, bool new_lease) {
  int64_t old_lease = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (r.ttl > 0 && (new_lease || r.lease == 0)) {
      auto g = c.call("/v3/lease/grant", {{"TTL", r.ttl}});
      const int64_t id = json_i64(g, "ID");
      if (id == 0) throw Error(Errc::unavailable, "registry-etcd: etcd granted no lease");
      if (r.lease != 0 && r.lease != id) old_lease = r.lease;
      r.lease = id;
    }
    nlohmann::json put = {{"key", base64_encode(r.key)}, {"value", base64_encode(r.value)}};
    if (r.ttl > 0) put["lease"] = std::to_string(r.lease);
    try {
      c.call("/v3/kv/put", put);
      break;
    } catch (const etcd::EtcdError& e) {
      // The lease we reused is gone ("requested lease not found"): grant a new one once.
      if (e.errc() != Errc::not_found || r.ttl == 0 || attempt > 0) throw;
      new_lease = true;
    }
  }
  if (r.ttl == 0 && r.lease != 0) {
    old_lease = r.lease;
    r.lease = 0;
  }
  if (old_lease != 0) {
    try {
      c.call("/v3/lease/revoke", {{"ID", std::to_string(old_lease)}});
    } catch (const std::exception&) {
      // It expires by itself.
    }
  }
  r.healthy = true;
}

void EtcdRegistry::refresh(etcd::Client& c, Reg& r) {
  if (r.ttl == 0) return;
  auto resp = c.call("/v3/lease/keepalive", {{"ID", std::to_string(r.lease)}});
  if (resp.contains("error")) {
    throw Error(Errc::unavailable,
                "registry-etcd: keepalive of " + r.key + ": " + resp["error"].dump());
  }
  const auto& res = resp.contains("result") ? resp["result"] : resp;
  if (json_i64(res, "TTL") > 0) {
    r.healthy = true;
    return;
  }
  log::info("registry-etcd",
            "the lease of " + r.key + " is gone (etcd restarted?): registering again");
  r.healthy = false;
  put_node(c, r, true);
}

void EtcdRegistry::ensure_keeper() {
  if (!keeper_.joinable() && !stopped_) keeper_ = std::thread([this] { keeper_loop(); });
}

void EtcdRegistry::register_service(const registry::Service& s,
                                    const registry::RegisterOptions& o) {
  auto c = client();
  if (s.name.empty()) throw Error(Errc::bad_request, "registry-etcd: service without a name");
  if (s.nodes.empty()) {
    throw Error(Errc::bad_request, "registry-etcd: service '" + s.name + "' has no node");
  }
  if (o.ttl.count() < 0) throw Error(Errc::bad_request, "registry-etcd: negative ttl");
  for (const auto& n : s.nodes) {
    if (n.id.empty()) {
      throw Error(Errc::bad_request, "registry-etcd: a node of '" + s.name + "' has no id");
    }
  }
  for (const auto& n : s.nodes) {
    registry::Service one = s;
    one.nodes = {n};
    const std::string key = etcd::node_key(s.name, n.id);
    const std::string value = registry::to_json(one);
    const int64_t ttl = o.ttl.count();
    for (;;) {
      std::shared_ptr<Reg> r;
      {
        std::lock_guard lock(mu_);
        auto& slot = regs_[key];
        if (!slot) slot = std::make_shared<Reg>(key);
        r = slot;
      }
      std::lock_guard rl(r->mu);
      if (r->removed) continue;  // deregistered meanwhile: take a fresh record
      const bool same = r->value == value && r->ttl == ttl;
      if (same && r->healthy) break;  // the keeper holds the lease: nothing to send
      try {
        if (same && r->lease != 0) {
          refresh(*c, *r);
        } else {
          const bool new_lease = ttl > 0 && (r->lease == 0 || r->ttl != ttl || !r->healthy);
          r->value = value;
          r->ttl = ttl;
          put_node(*c, *r, new_lease);
        }
      } catch (...) {
        r->healthy = false;
        std::lock_guard lock(mu_);
        if (!r->registered) {  // never registered: forget it, the caller retries
          r->removed = true;
          regs_.erase(key);
        }
        throw;
      }
      std::lock_guard lock(mu_);
      r->registered = true;
      r->keep_ttl = ttl;
      r->backoff = std::chrono::milliseconds(0);
      if (ttl > 0) {
        r->due = Clock::now() + keepalive_period(ttl);
        ensure_keeper();
        cv_.notify_all();
      }
      break;
    }
  }
}

void EtcdRegistry::deregister(const registry::Service& s) {
  auto c = client();
  for (const auto& n : s.nodes) {
    const std::string key = etcd::node_key(s.name, n.id);
    std::shared_ptr<Reg> r;
    {
      std::lock_guard lock(mu_);
      if (auto it = regs_.find(key); it != regs_.end()) {
        r = it->second;
        regs_.erase(it);
      }
    }
    int64_t lease = 0;
    if (r) {
      std::lock_guard rl(r->mu);
      r->removed = true;
      lease = r->lease;
    }
    c->call("/v3/kv/deleterange", {{"key", base64_encode(key)}});
    if (lease != 0) {
      try {
        c->call("/v3/lease/revoke", {{"ID", std::to_string(lease)}});
      } catch (const std::exception&) {
        // Already gone, or it expires by itself.
      }
    }
  }
}

void EtcdRegistry::keeper_loop() {
  std::unique_lock lock(mu_);
  while (!stopped_) {
    std::shared_ptr<Reg> due;
    for (auto& [key, r] : regs_) {
      if (r->registered && r->keep_ttl > 0 && (!due || r->due < due->due)) due = r;
    }
    if (!due) {
      cv_.wait(lock);
      continue;
    }
    if (due->due > Clock::now()) {
      cv_.wait_until(lock, due->due);
      continue;
    }
    auto c = client_;
    lock.unlock();
    bool ok = false;
    std::string err;
    int64_t ttl = 0;
    {
      std::lock_guard rl(due->mu);
      ttl = due->ttl;
      if (!due->removed && ttl > 0) {
        try {
          refresh(*c, *due);
          ok = true;
        } catch (const std::exception& e) {
          due->healthy = false;
          err = e.what();
        }
      } else {
        ok = true;
      }
    }
    lock.lock();
    if (ok) {
      if (due->backoff.count() > 0)
        log::info("registry-etcd", "lease of " + due->key + " kept again");
      due->backoff = std::chrono::milliseconds(0);
      due->due = Clock::now() + keepalive_period(std::max<int64_t>(ttl, 1));
    } else {
      if (due->backoff.count() == 0) {
        log::warn("registry-etcd", "keepalive of " + due->key + " failed: " + err);
      }
      const auto cap = std::min(keepalive_period(ttl), std::chrono::milliseconds(2000));
      due->backoff = std::min(std::max(due->backoff * 2, std::chrono::milliseconds(200)), cap);
      due->due = Clock::now() + due->backoff;
    }
  }
}

std::vector<registry::Service> EtcdRegistry::get_service(std::string_view name) {
  auto c = client();
  const std::string prefix = etcd::service_prefix(name);
  auto resp = c->call("/v3/kv/range", {{"key", base64_encode(prefix)},
                                       {"range_end", base64_encode(etcd::prefix_end(prefix))},
                                       {"serializable", true}});
  std::vector<registry::Service> out;
  if (auto it = resp.find("kvs"); it != resp.end() && it->is_array()) {
    for (const auto& kv : *it) {
      auto s = etcd::decode_kv(kv);
      if (s && s->name == name) etcd::merge(out, std::move(*s));
    }
  }
  if (out.empty()) {
    throw Error(Errc::not_found, "registry-etcd: service '" + std::string(name) + "' not found");
  }
  return out;
}

std::vector<registry::Service> EtcdRegistry::list_services() {
  auto c = client();
  const std::string prefix(etcd::kPrefix);
  auto resp = c->call("/v3/kv/range", {{"key", base64_encode(prefix)},
                                       {"range_end", base64_encode(etcd::prefix_end(prefix))},
                                       {"serializable", true}});
  std::vector<registry::Service> out;
  if (auto it = resp.find("kvs"); it != resp.end() && it->is_array()) {
    for (const auto& kv : *it) {
      if (auto s = etcd::decode_kv(kv)) etcd::merge(out, std::move(*s));
    }
  }
  return out;
}

std::unique_ptr<registry::Watcher> EtcdRegistry::watch(const registry::WatchOptions& o) {
  auto c = client();
  const std::string prefix =
      o.service.empty() ? std::string(etcd::kPrefix) : etcd::service_prefix(o.service);
  auto w = std::make_shared<etcd::EtcdWatcher>(c, prefix, o.service);
  w->start();
  {
    std::lock_guard lock(mu_);
    if (stopped_) {
      w->stop();
      throw Error(Errc::closed, "registry-etcd: registry stopped");
    }
    std::erase_if(watchers_, [](const auto& x) { return x.expired(); });
    watchers_.push_back(w);
  }
  return std::make_unique<WatcherHandle>(std::move(w));
}

}  // namespace micro::plugins
