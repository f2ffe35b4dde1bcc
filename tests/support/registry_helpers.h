// Test scaffolding for registry plugins: a service with one endpoint and one node, TTL register
// options, the next watch result, and node lookups that treat errors as "not there".
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "micro/errors.h"
#include "micro/registry.h"

namespace micro::test {

/// A service with the endpoint Greeter.Hello (metadata stream=false) and one node.
inline registry::Service registry_service(const std::string& name, const std::string& node_id,
                                          const std::string& address, const std::string& version,
                                          StringMap node_metadata = {{"protocol", "mucp"}}) {
  registry::Service s;
  s.name = name;
  s.version = version;
  registry::Endpoint e;
  e.name = "Greeter.Hello";
  e.metadata = {{"stream", "false"}};
  s.endpoints.push_back(e);
  s.nodes.push_back(registry::Node{node_id, address, std::move(node_metadata)});
  return s;
}

inline registry::RegisterOptions ttl(int seconds) {
  return registry::RegisterOptions{std::chrono::seconds(seconds)};
}

/// The next watch result within timeout; fails the test when none comes.
inline registry::Result next_result(registry::Watcher& w, std::chrono::milliseconds timeout) {
  auto r = w.next(Clock::now() + timeout);
  REQUIRE(r.has_value());
  return *r;
}

/// True when get_service(name) finds node_id (an error counts as not found).
inline bool has_node(Registry& r, const std::string& name, const std::string& node_id) {
  try {
    for (const auto& s : r.get_service(name)) {
      for (const auto& n : s.nodes) {
        if (n.id == node_id) return true;
      }
    }
  } catch (const Error&) {
  }
  return false;
}

}  // namespace micro::test
