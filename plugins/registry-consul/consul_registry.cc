#include "consul_registry.h"

#include <cstdlib>
#include <functional>

#include "consul_codec.h"
#include "consul_watcher.h"
#include "micro/errors.h"
#include "micro/log.h"

namespace micro::plugins {

using nlohmann::json;

namespace {

/// A non-200 answer of Consul as an Error naming what failed.
Error status_error(const consul::Response& r, const std::string& what) {
  Errc e = Errc::unavailable;
  switch (r.status) {
    case 400: e = Errc::bad_request; break;
    case 401: e = Errc::unauthorized; break;
    case 403: e = Errc::forbidden; break;
    case 404: e = Errc::not_found; break;
    case 500: e = Errc::internal; break;
    default: break;
  }
  std::string body = r.body.substr(0, 200);
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  return Error(e, "registry-consul: " + what + ": HTTP " + std::to_string(r.status) + " " + body);
}

json parse_json(const consul::Response& r, const std::string& what) {
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_discarded()) {
    throw Error(Errc::unavailable, "registry-consul: " + what + ": answer is not JSON");
  }
  return j;
}

}  // namespace

void ConsulRegistry::init(const Options& options) {
  auto j = json::parse(options.plugin_options, nullptr, false);
  if (!j.is_object()) throw Error(Errc::config, "registry.consul: options are not a JSON object");
  std::string token = j.value("token", std::string());
  if (token.empty()) {
    if (const char* t = std::getenv("CONSUL_HTTP_TOKEN")) token = t;
  }
  int wait_s = j.value("wait_s", 30);
  if (wait_s < 1 || wait_s > 600) throw Error(Errc::config, "registry.consul.wait_s: 1..600");
  if (j.value("tls", false)) {
    throw Error(Errc::config, "registry.consul.tls: TLS is not implemented yet");
  }
  auto addrs = options.addrs;
  addrs.erase(std::remove(addrs.begin(), addrs.end(), std::string()), addrs.end());
  if (addrs.empty()) {
    if (const char* a = std::getenv("CONSUL_HTTP_ADDR"); a && *a) addrs.push_back(a);
  }
  std::lock_guard lock(mu_);
  options_ = options;
  wait_s_ = wait_s;
  http_ = std::make_shared<consul::Http>(addrs, token, options.timeout);
  stopped_ = false;
}

Registry::Options ConsulRegistry::options() const {
  std::lock_guard lock(mu_);
  return options_;
}

void ConsulRegistry::stop() noexcept {
  std::lock_guard lock(mu_);
  stopped_ = true;
}

uint64_t ConsulRegistry::registrations() const {
  std::lock_guard lock(mu_);
  return registrations_;
}

std::shared_ptr<consul::Http> ConsulRegistry::http() const {
  std::lock_guard lock(mu_);
  if (stopped_) throw Error(Errc::closed, "registry-consul: stopped");
  if (!http_) throw Error(Errc::closed, "registry-consul: not initialised");
  return http_;
}

void ConsulRegistry::register_node(const registry::Service& s, const registry::Node& n,
                                   std::chrono::seconds ttl) {
  auto h = http();
  const std::string body = consul::registration(s, n, ttl).dump();
  const size_t hash = std::hash<std::string>{}(body);
  const std::string pass = "/v1/agent/check/pass/" + consul::escape("service:" + n.id);
  bool known = false;
  {
    std::lock_guard lock(mu_);
    auto it = hashes_.find(n.id);
    known = it != hashes_.end() && it->second == hash;
  }
  if (known && ttl.count() > 0) {
    // Unchanged: only pass the TTL check; when that fails, register again in full.
    try {
      if (h->request("PUT", pass, "").status == 200) return;
    } catch (const Error&) {
    }
  }
  auto r = h->request("PUT", "/v1/agent/service/register", body);
  if (r.status != 200) throw status_error(r, "register " + n.id);
  if (ttl.count() > 0) {
    r = h->request("PUT", pass, "");
    if (r.status != 200) throw status_error(r, "pass check service:" + n.id);
  }
  std::lock_guard lock(mu_);
  hashes_[n.id] = hash;
  ++registrations_;
}

void ConsulRegistry::register_service(const registry::Service& s,
                                      const registry::RegisterOptions& o) {
  if (s.name.empty()) throw Error(Errc::bad_request, "registry-consul: service without a name");
  if (s.nodes.empty()) throw Error(Errc::bad_request, "registry-consul: service without nodes");
  for (const auto& n : s.nodes) register_node(s, n, o.ttl);
}

void ConsulRegistry::deregister(const registry::Service& s) {
  auto h = http();
  for (const auto& n : s.nodes) {
    auto r = h->request("PUT", "/v1/agent/service/deregister/" + consul::escape(n.id), "");
    if (r.status != 200 && r.status != 404) throw status_error(r, "deregister " + n.id);
    std::lock_guard lock(mu_);
    hashes_.erase(n.id);
  }
}

std::vector<registry::Service> ConsulRegistry::get_service(std::string_view name) {
  auto h = http();
  const std::string what = "health of " + std::string(name);
  auto r = h->request("GET", "/v1/health/service/" + consul::escape(name) + "?stale", "");
  if (r.status != 200) throw status_error(r, what);
  auto out = consul::services_from_health(name, parse_json(r, what));
  if (out.empty()) {
    throw Error(Errc::not_found, "registry-consul: service " + std::string(name) + " not found");
  }
  return out;
}

std::vector<registry::Service> ConsulRegistry::list_services() {
  auto h = http();
  auto r = h->request("GET", "/v1/catalog/services?stale", "");
  if (r.status != 200) throw status_error(r, "catalog services");
  auto j = parse_json(r, "catalog services");
  std::vector<registry::Service> out;
  if (!j.is_object()) return out;
  for (const auto& [name, tags] : j.items()) {
    registry::Service s;
    s.name = name;
    out.push_back(std::move(s));
  }
  return out;
}

std::unique_ptr<registry::Watcher> ConsulRegistry::watch(const registry::WatchOptions& o) {
  auto h = http();
  int wait_s;
  {
    std::lock_guard lock(mu_);
    wait_s = wait_s_;
  }
  // Fail early when Consul cannot be reached at all.
  auto r = h->request("GET", "/v1/catalog/services?stale", "");
  if (r.status != 200) throw status_error(r, "catalog services");
  return std::make_unique<consul::ConsulWatcher>(h, o.service, wait_s);
}

}  // namespace micro::plugins
