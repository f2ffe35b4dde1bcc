// Shared helpers of the registry-etcd tests: load the plugin through the Loader (or build the
// concrete class for request counting), make services, wait for watch results.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "etcd_fixture.h"
#include "etcd_registry.h"
#include "micro/errors.h"
#include "micro/registry.h"
#include "plugin_host.h"
#include "support.h"

namespace regetcd_test {

inline micro::Registry::Options options(const std::string& addrs, std::string plugin_options,
                                        std::chrono::milliseconds timeout) {
  return micro::Registry::Options{{addrs}, timeout, std::move(plugin_options)};
}

/// registry-etcd loaded from the built plugin .so, initialised on addrs and started.
inline std::shared_ptr<micro::Registry> open(
    const std::string& addrs, std::string plugin_options = "{}",
    std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  auto r = micro::test::create_plugin<micro::Registry>(micro::plugin::Kind::registry, "etcd");
  r->init(options(addrs, std::move(plugin_options), timeout));
  r->start();
  return r;
}

/// The concrete class, linked in (for its request counters).
inline std::unique_ptr<micro::plugins::EtcdRegistry> open_direct(
    const std::string& addrs, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto r = std::make_unique<micro::plugins::EtcdRegistry>();
  r->init(options(addrs, "{}", timeout));
  r->start();
  return r;
}

inline micro::registry::Service service(const std::string& name, const std::string& node_id,
                                        const std::string& address = "127.0.0.1:1",
                                        const std::string& version = "1.0.0") {
  micro::registry::Service s;
  s.name = name;
  s.version = version;
  micro::registry::Endpoint e;
  e.name = "Greeter.Hello";
  e.metadata = {{"stream", "false"}};
  s.endpoints.push_back(e);
  s.nodes.push_back(micro::registry::Node{node_id, address, {{"protocol", "mucp"}}});
  return s;
}

inline micro::registry::RegisterOptions ttl(int seconds) {
  return micro::registry::RegisterOptions{std::chrono::seconds(seconds)};
}

/// The next watch result within timeout; fails the test when none comes.
inline micro::registry::Result next_result(
    micro::registry::Watcher& w, std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
  auto r = w.next(micro::Clock::now() + timeout);
  REQUIRE(r.has_value());
  return *r;
}

/// The next result with this action and node id (others skipped), within timeout.
inline std::optional<micro::registry::Result> next_matching(
    micro::registry::Watcher& w, const std::string& action, const std::string& node_id,
    std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
  const auto deadline = micro::Clock::now() + timeout;
  for (int i = 0; i < 1000; ++i) {
    auto r = w.next(deadline);
    if (!r) return std::nullopt;
    if (r->action == action && !r->service.nodes.empty() && r->service.nodes[0].id == node_id) {
      return r;
    }
  }
  return std::nullopt;
}

using micro::test::errc_of;

/// True when get_service(name) finds node_id.
inline bool has_node(micro::Registry& r, const std::string& name, const std::string& node_id) {
  try {
    for (const auto& s : r.get_service(name)) {
      for (const auto& n : s.nodes) {
        if (n.id == node_id) return true;
      }
    }
  } catch (const micro::Error&) {
  }
  return false;
}

}  // namespace regetcd_test
