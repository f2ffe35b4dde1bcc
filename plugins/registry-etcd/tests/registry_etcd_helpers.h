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
#include "registry_helpers.h"
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
  return micro::test::registry_service(name, node_id, address, version);
}

using micro::test::ttl;

/// The next watch result within timeout; fails the test when none comes.
inline micro::registry::Result next_result(
    micro::registry::Watcher& w, std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
  return micro::test::next_result(w, timeout);
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

using micro::test::has_node;

}  // namespace regetcd_test
