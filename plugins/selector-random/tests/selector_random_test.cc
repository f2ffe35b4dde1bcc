// selector-random loaded through the plugin loader over registry-memory: uniform picks,
// retries without repeats, ejection of failing nodes, not_found.
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "micro/errors.h"
#include "micro/registry.h"
#include "micro/selector.h"
#include "plugin_host.h"
#include "support.h"

using micro::registry::Node;
using micro::registry::Service;
using micro::test::errc_of;

namespace {

struct Fixture {
  std::shared_ptr<micro::Registry> registry;
  std::shared_ptr<micro::Selector> selector;
};

Fixture load(const std::string& options = "{}") {
  Fixture f;
  f.registry = micro::test::create_plugin<micro::Registry>(micro::plugin::Kind::registry, "memory");
  f.registry->init({});
  micro::test::Host host(f.registry);
  f.selector = micro::test::load_plugin<micro::Selector>(micro::plugin::Kind::selector, "random",
                                                         options, host, micro::test::Start::no);
  return f;
}

void add_nodes(micro::Registry& r, const std::string& version, std::vector<std::string> ids) {
  Service s{"greeter", version, {}, {}, {}};
  for (auto& id : ids) s.nodes.push_back(Node{id, "127.0.0.1:1", {}});
  r.register_service(s, {});
}

const micro::Error kFailure(micro::Errc::unavailable, "connection refused");

}  // namespace

TEST_CASE("selector random loads through the loader and fills its option defaults") {
  auto f = load();
  CHECK(f.selector->name() == "random");
  auto o = f.selector->options().plugin_options;
  CHECK(o.find("\"cache_ttl_s\":60") != std::string::npos);
  CHECK(o.find("\"failure_threshold\":3") != std::string::npos);
  CHECK(o.find("\"eject_s\":10") != std::string::npos);
}

TEST_CASE("selector random picks nodes uniformly across versions") {
  auto f = load();
  add_nodes(*f.registry, "1", {"a", "b"});
  add_nodes(*f.registry, "2", {"c", "d"});
  std::map<std::string, int> counts;
  constexpr int kPicks = 8000;
  for (int i = 0; i < kPicks; ++i) ++counts[f.selector->select("greeter")().id];
  REQUIRE(counts.size() == 4);
  for (auto& [id, n] : counts) {
    INFO(id << " picked " << n << " times");
    CHECK(n > kPicks / 4 * 85 / 100);  // each expected 2000, sd ~39: 15% is ~7.7 sd
    CHECK(n < kPicks / 4 * 115 / 100);
  }
}

TEST_CASE("selector random retries never repeat a node and end with unavailable") {
  auto f = load();
  add_nodes(*f.registry, "1", {"a", "b", "c", "d"});
  for (int round = 0; round < 50; ++round) {
    auto next = f.selector->select("greeter");
    std::set<std::string> seen;
    for (int i = 0; i < 4; ++i) seen.insert(next().id);
    CHECK(seen.size() == 4);
    CHECK(errc_of([&] { next(); }) == micro::Errc::unavailable);
  }
}

TEST_CASE("selector random reports not_found for a service without nodes") {
  auto f = load();
  CHECK(errc_of([&] { f.selector->select("nobody"); }) == micro::Errc::not_found);
  add_nodes(*f.registry, "1", {"a"});
  micro::selector::SelectOptions none;
  none.filters.push_back([](std::vector<Service>) { return std::vector<Service>{}; });
  CHECK(errc_of([&] { f.selector->select("greeter", none); }) == micro::Errc::not_found);
}

TEST_CASE("selector random applies filters") {
  auto f = load();
  add_nodes(*f.registry, "1", {"a", "b"});
  add_nodes(*f.registry, "2", {"c"});
  micro::selector::SelectOptions v2;
  v2.filters.push_back([](std::vector<Service> in) {
    std::erase_if(in, [](const Service& s) { return s.version != "2"; });
    return in;
  });
  for (int i = 0; i < 20; ++i) CHECK(f.selector->select("greeter", v2)().id == "c");
}

TEST_CASE("selector random skips a node after consecutive failures until it succeeds") {
  auto f = load();
  add_nodes(*f.registry, "1", {"a", "b", "c"});
  Node a{"a", "127.0.0.1:1", {}};
  f.selector->mark("greeter", a, &kFailure);
  f.selector->mark("greeter", a, &kFailure);
  int picked = 0;
  for (int i = 0; i < 300; ++i) picked += f.selector->select("greeter")().id == "a";
  CHECK(picked > 0);  // two failures: still in rotation

  f.selector->mark("greeter", a, &kFailure);
  picked = 0;
  for (int i = 0; i < 300; ++i) picked += f.selector->select("greeter")().id == "a";
  CHECK(picked == 0);

  // Once the healthy nodes were tried, the ejected one is still offered.
  auto next = f.selector->select("greeter");
  std::set<std::string> seen{next().id, next().id};
  CHECK(seen == std::set<std::string>{"b", "c"});
  CHECK(next().id == "a");

  f.selector->mark("greeter", a, nullptr);
  picked = 0;
  for (int i = 0; i < 300; ++i) picked += f.selector->select("greeter")().id == "a";
  CHECK(picked > 0);
}

TEST_CASE("selector random revives an ejected node after eject_s") {
  auto f = load(R"({"eject_s":1,"failure_threshold":1})");
  add_nodes(*f.registry, "1", {"a", "b"});
  Node a{"a", "127.0.0.1:1", {}};
  f.selector->mark("greeter", a, &kFailure);
  for (int i = 0; i < 100; ++i) REQUIRE(f.selector->select("greeter")().id == "b");
  CHECK(micro::test::wait_for([&] { return f.selector->select("greeter")().id == "a"; },
                              std::chrono::seconds(5)));
}

TEST_CASE("selector random reset forgets failures") {
  auto f = load(R"({"failure_threshold":1})");
  add_nodes(*f.registry, "1", {"a", "b"});
  Node a{"a", "127.0.0.1:1", {}};
  f.selector->mark("greeter", a, &kFailure);
  for (int i = 0; i < 100; ++i) REQUIRE(f.selector->select("greeter")().id == "b");
  f.selector->reset("greeter");
  int picked = 0;
  for (int i = 0; i < 200; ++i) picked += f.selector->select("greeter")().id == "a";
  CHECK(picked > 0);
}

TEST_CASE("selector random sees nodes added after the first lookup") {
  auto f = load();
  add_nodes(*f.registry, "1", {"a"});
  REQUIRE(f.selector->select("greeter")().id == "a");
  add_nodes(*f.registry, "1", {"b"});
  CHECK(micro::test::wait_for([&] {
    auto next = f.selector->select("greeter");
    next();
    return errc_of([&] { next(); }) == micro::Errc::ok;
  }));
}
