// registry-consul: micro::Registry on Consul's HTTP agent API in go-micro's encoding
// (spec/gomicro-wire.md §4.3): one agent service per node, TTL check passed after registering,
// reads from /v1/health/service (critical entries dropped), watch by blocking queries.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "consul_http.h"
#include "micro/registry.h"

namespace micro::plugins {

/// Thread-safe after init(). Methods throw Error{closed} after stop().
class ConsulRegistry final : public Registry {
 public:
  std::string name() const override { return "consul"; }
  /// plugin_options: {"token": "...", "wait_s": 30}. Addresses default to 127.0.0.1:8500.
  void init(const Options& options) override;
  Options options() const override;
  void stop() noexcept override;

  void register_service(const registry::Service& s, const registry::RegisterOptions& o) override;
  void deregister(const registry::Service& s) override;
  std::vector<registry::Service> get_service(std::string_view name) override;
  std::vector<registry::Service> list_services() override;
  std::unique_ptr<registry::Watcher> watch(const registry::WatchOptions& o = {}) override;

  /// Full registrations sent so far (for tests: a refresh with an unchanged node sends none).
  uint64_t registrations() const;

 private:
  std::shared_ptr<consul::Http> http() const;
  void register_node(const registry::Service& s, const registry::Node& n, std::chrono::seconds ttl);

  mutable std::mutex mu_;
  Options options_;
  std::shared_ptr<consul::Http> http_;
  int wait_s_ = 30;
  bool stopped_ = false;
  std::map<std::string, size_t> hashes_;  ///< node id -> hash of its last registration
  uint64_t registrations_ = 0;
};

}  // namespace micro::plugins
