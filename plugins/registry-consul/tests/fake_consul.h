// A stand-in Consul agent for the registry-consul tests (no Consul server is installable here).
// A small Boost.Beast HTTP server on 127.0.0.1 implementing only the subset the plugin uses:
//   PUT /v1/agent/service/register, PUT /v1/agent/service/deregister/<id>,
//   PUT /v1/agent/check/pass/<check id>, GET /v1/health/service/<name>,
//   GET /v1/catalog/services, blocking queries (?index=&wait=, X-Consul-Index), X-Consul-Token.
// Inline TTL checks ("service:<id>") start critical, turn passing when passed and critical again
// when not passed within TTL; a service critical for DeregisterCriticalServiceAfter is removed.
// One global index (Consul only promises that an index changes when the result may have).
#pragma once

#include <condition_variable>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "micro/component.h"

namespace micro::test {

class FakeConsul {
 public:
  /// Listens on 127.0.0.1:port (0 = any free port). token: required X-Consul-Token, "" = none.
  explicit FakeConsul(int port = 0, std::string token = {});
  /// Stops: closes every connection, wakes blocked queries, joins all threads.
  ~FakeConsul();
  FakeConsul(const FakeConsul&) = delete;
  FakeConsul& operator=(const FakeConsul&) = delete;

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  /// The last registration body of a service id (null when not registered).
  nlohmann::json registration(const std::string& id) const;
  /// Registers a body as the agent API would (what a Go service sends), check passing.
  void put(const nlohmann::json& registration_body);
  /// Sets the status of service:<id> ("passing", "warning", "critical").
  void set_check(const std::string& id, const std::string& status);
  /// Requests seen whose path starts with prefix.
  int requests(const std::string& prefix) const;
  uint64_t index() const;

 private:
  struct Svc {
    nlohmann::json body;
    bool has_ttl = false;
    std::chrono::milliseconds ttl{0};
    std::chrono::milliseconds deregister_after{0};
    std::string status = "passing";
    Clock::time_point last_pass;
    Clock::time_point critical_since;
  };
  struct Reply {
    unsigned status = 200;
    std::string body;
  };
  void accept_loop();
  void tick();
  Reply handle(const std::string& method, const std::string& target, const std::string& body,
               const std::string& token);
  void bump();                                         ///< mu_ held
  void set_status(Svc& s, const std::string& status);  ///< mu_ held

  int port_ = 0;
  std::string token_;
  struct Net;
  std::unique_ptr<Net> net_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  uint64_t index_ = 1;
  std::map<std::string, Svc> services_;
  std::map<std::string, int> requests_;
  std::thread acceptor_;
  std::thread ticker_;
};

/// Go's time.ParseDuration for the forms Consul clients send ("1m30s", "5s", "500ms", "1h").
std::chrono::milliseconds parse_go_duration(const std::string& s);

}  // namespace micro::test
