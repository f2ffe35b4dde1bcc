// selector-roundrobin (and, where both must behave alike, selector-random) loaded through the
// plugin loader over an in-test registry: exact rotation across calls and threads, retries,
// filters, ejection and revival, least-bad fallback, the cache while the registry is down.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <thread>

#include "micro/errors.h"
#include "micro/selector.h"
#include "plugin_host.h"
#include "support.h"
#include "test_registry.h"

using micro::registry::Node;
using micro::registry::Service;
using micro::test::errc_of;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  std::shared_ptr<micro::test::TestRegistry> registry;
  std::shared_ptr<micro::Selector> selector;
};

Fixture load(const std::string& name = "roundrobin", const std::string& options = "{}") {
  Fixture f;
  f.registry = std::make_shared<micro::test::TestRegistry>();
  micro::test::Host host(f.registry);
  f.selector = micro::test::load_plugin<micro::Selector>(micro::plugin::Kind::selector, name,
                                                         options, host, micro::test::Start::no);
  return f;
}

void add_nodes(micro::Registry& r, const std::string& version, std::vector<std::string> ids,
               micro::StringMap metadata = {}) {
  Service s{"greeter", version, {}, {}, {}};
  for (auto& id : ids) s.nodes.push_back(Node{id, "127.0.0.1:1", metadata});
  r.register_service(s, {});
}

std::vector<std::string> ids(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("n" + std::to_string(i));
  return out;
}

std::map<std::string, int> spread(micro::Selector& s, int calls) {
  std::map<std::string, int> counts;
  for (int i = 0; i < calls; ++i) ++counts[s.select("greeter")().id];
  return counts;
}

const micro::Error kFailure(micro::Errc::unavailable, "connection refused");

}  // namespace

TEST_CASE("selector roundrobin loads through the loader and fills its option defaults") {
  auto f = load();
  CHECK(f.selector->name() == "roundrobin");
  auto o = f.selector->options().plugin_options;
  for (auto key : {R"("cache_ttl_s":60)", R"("failure_threshold":3)", R"("eject_s":10)",
                   R"("eject_max_s":300)", R"("version":"")", R"("metadata":{})"}) {
    INFO(o);
    CHECK(o.find(key) != std::string::npos);
  }
}

TEST_CASE("selector roundrobin refuses a metadata label that is not a string") {
  // micro::Error's destructor is inline, so the thrown Error's destructor lives in the plugin:
  // keep the library loaded while the exception unwinds past the instance that threw it.
  auto keep = load();
  CHECK(errc_of([] { load("roundrobin", R"({"metadata":{"zone":1}})"); }) == micro::Errc::config);
}

TEST_CASE("selector roundrobin: N calls over N nodes reach each node once, 3N calls 3 times") {
  auto f = load();
  constexpr int kNodes = 7;
  add_nodes(*f.registry, "1", ids(kNodes));
  auto once = spread(*f.selector, kNodes);
  CHECK(once.size() == kNodes);
  for (auto& [id, n] : once) CHECK(n == 1);
  auto thrice = spread(*f.selector, 3 * kNodes);
  CHECK(thrice.size() == kNodes);
  for (auto& [id, n] : thrice) CHECK(n == 3);
}

TEST_CASE("selector roundrobin rotates across versions too") {
  auto f = load();
  add_nodes(*f.registry, "1", {"a", "b"});
  add_nodes(*f.registry, "2", {"c"});
  auto counts = spread(*f.selector, 30);
  CHECK(counts == std::map<std::string, int>{{"a", 10}, {"b", 10}, {"c", 10}});
}

TEST_CASE("selector roundrobin spreads calls from 8 threads exactly") {
  auto f = load();
  constexpr int kNodes = 5, kThreads = 8, kPerThread = 250;  // 2000 calls: 400 per node
  add_nodes(*f.registry, "1", ids(kNodes));
  std::vector<std::map<std::string, int>> counts(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] { counts[t] = spread(*f.selector, kPerThread); });
  for (auto& t : threads) t.join();
  std::map<std::string, int> total;
  for (auto& c : counts)
    for (auto& [id, n] : c) total[id] += n;
  REQUIRE(total.size() == kNodes);
  for (auto& [id, n] : total) {
    INFO(id);
    CHECK(n == kThreads * kPerThread / kNodes);
  }
}

TEST_CASE("selector roundrobin retries go on to the following nodes, once each") {
  auto f = load();
  add_nodes(*f.registry, "1", ids(4));
  // The ring order, from the starts of successive calls.
  std::vector<std::string> ring;
  for (int i = 0; i < 4; ++i) ring.push_back(f.selector->select("greeter")().id);
  REQUIRE(std::set<std::string>(ring.begin(), ring.end()).size() == 4);
  for (int call = 0; call < 8; ++call) {
    auto next = f.selector->select("greeter");  // starts at ring[call % 4]
    for (int k = 0; k < 4; ++k) CHECK(next().id == ring[(call + k) % 4]);
    CHECK(errc_of([&] { next(); }) == micro::Errc::unavailable);
  }
}

TEST_CASE("selectors reject services with no node, or none left by the filters") {
  auto name = GENERATE(as<std::string>{}, "roundrobin", "random");
  auto f = load(name);
  CHECK(errc_of([&] { f.selector->select("nobody"); }) == micro::Errc::not_found);
  add_nodes(*f.registry, "1", {"a"});
  micro::selector::SelectOptions none;
  none.filters.push_back([](std::vector<Service>) { return std::vector<Service>{}; });
  CHECK(errc_of([&] { f.selector->select("greeter", none); }) == micro::Errc::not_found);
  auto g = load(name, R"({"version":"9"})");
  add_nodes(*g.registry, "1", {"a"});
  CHECK(errc_of([&] { g.selector->select("greeter"); }) == micro::Errc::not_found);
}

TEST_CASE("selectors keep only the configured version") {
  auto name = GENERATE(as<std::string>{}, "roundrobin", "random");
  auto f = load(name, R"({"version":"2"})");
  add_nodes(*f.registry, "1", {"a", "b"});
  add_nodes(*f.registry, "2", {"c", "d"});
  auto counts = spread(*f.selector, 200);
  CHECK(counts.count("a") == 0);
  CHECK(counts.count("b") == 0);
  CHECK(counts.size() == 2);
  if (name == "roundrobin") CHECK(counts == std::map<std::string, int>{{"c", 100}, {"d", 100}});
}

TEST_CASE("selectors keep only nodes whose metadata matches the configured labels") {
  auto name = GENERATE(as<std::string>{}, "roundrobin", "random");
  auto f = load(name, R"({"metadata":{"zone":"eu","tier":"gold"}})");
  add_nodes(*f.registry, "1", {"a"}, {{"zone", "eu"}, {"tier", "gold"}, {"x", "y"}});
  add_nodes(*f.registry, "1", {"b"}, {{"zone", "eu"}});
  add_nodes(*f.registry, "1", {"c"}, {{"zone", "us"}, {"tier", "gold"}});
  add_nodes(*f.registry, "2", {"d"}, {{"zone", "eu"}, {"tier", "gold"}});
  auto counts = spread(*f.selector, 100);
  CHECK(counts.count("b") == 0);
  CHECK(counts.count("c") == 0);
  CHECK(counts.size() == 2);
}

TEST_CASE("selectors apply call filters on top of the configured ones") {
  auto name = GENERATE(as<std::string>{}, "roundrobin", "random");
  auto f = load(name, R"({"metadata":{"zone":"eu"}})");
  add_nodes(*f.registry, "1", {"a"}, {{"zone", "eu"}});
  add_nodes(*f.registry, "1", {"b"}, {{"zone", "us"}});
  add_nodes(*f.registry, "2", {"c"}, {{"zone", "eu"}});
  micro::selector::SelectOptions v2;
  v2.filters.push_back([](std::vector<Service> in) {
    std::erase_if(in, [](const Service& s) { return s.version != "2"; });
    return in;
  });
  for (int i = 0; i < 20; ++i) CHECK(f.selector->select("greeter", v2)().id == "c");
}

TEST_CASE("selector roundrobin skips an ejected node and revives it after its back-off") {
  auto f = load("roundrobin", R"({"failure_threshold":2,"eject_s":0.05})");
  add_nodes(*f.registry, "1", {"a", "b", "c"});
  Node b{"b", "127.0.0.1:1", {}};
  f.selector->mark("greeter", b, &kFailure);
  CHECK(spread(*f.selector, 3)["b"] == 1);  // one failure: still in rotation
  f.selector->mark("greeter", b, &kFailure);
  // Skipped; should the back-off end meanwhile, only one probe call reaches it.
  CHECK(spread(*f.selector, 30)["b"] <= 1);
  // Once the back-off is over, one call probes b; its success revives it.
  REQUIRE(micro::test::wait_for([&] { return f.selector->select("greeter")().id == "b"; }, 5s));
  f.selector->mark("greeter", b, nullptr);
  auto after = spread(*f.selector, 30);
  CHECK(after == std::map<std::string, int>{{"a", 10}, {"b", 10}, {"c", 10}});
}

TEST_CASE("selectors skip an ejected node while others are left") {
  auto name = GENERATE(as<std::string>{}, "roundrobin", "random");
  auto f = load(name, R"({"failure_threshold":1})");
  add_nodes(*f.registry, "1", {"a", "b", "c"});
  f.selector->mark("greeter", Node{"a", "127.0.0.1:1", {}}, &kFailure);
  CHECK(spread(*f.selector, 300).count("a") == 0);
  // A call whose other nodes were tried still reaches it rather than failing.
  auto next = f.selector->select("greeter");
  std::set<std::string> seen{next().id, next().id};
  CHECK(seen == std::set<std::string>{"b", "c"});
  CHECK(next().id == "a");
  CHECK(errc_of([&] { next(); }) == micro::Errc::unavailable);
}

TEST_CASE("selectors fall back to the least bad node when every node is ejected") {
  auto name = GENERATE(as<std::string>{}, "roundrobin", "random");
  auto f = load(name, R"({"failure_threshold":1})");
  add_nodes(*f.registry, "1", {"a", "b", "c"});
  auto fail = [&](const char* id, int times) {
    for (int i = 0; i < times; ++i)
      f.selector->mark("greeter", Node{id, "127.0.0.1:1", {}}, &kFailure);
  };
  fail("a", 3);
  fail("b", 1);
  fail("c", 2);
  for (int i = 0; i < 20; ++i) CHECK(f.selector->select("greeter")().id == "b");
  fail("b", 2);  // now 3, 3, 2
  for (int i = 0; i < 20; ++i) CHECK(f.selector->select("greeter")().id == "c");
  fail("c", 1);  // 3, 3, 3: a was ejected first
  auto next = f.selector->select("greeter");
  CHECK(next().id == "a");
  f.selector->reset("greeter");
  CHECK(spread(*f.selector, 300).size() == 3);
}

TEST_CASE("selector random picks uniformly: chi-square over 6000 picks on 3 nodes") {
  auto f = load("random");
  add_nodes(*f.registry, "1", {"a", "b", "c"});
  constexpr int kPicks = 6000;
  auto counts = spread(*f.selector, kPicks);
  REQUIRE(counts.size() == 3);
  double chi2 = 0;
  for (auto& [id, n] : counts) {
    double d = n - kPicks / 3.0;
    chi2 += d * d / (kPicks / 3.0);
  }
  INFO("chi-square " << chi2 << " (2 degrees of freedom)");
  CHECK(chi2 < 27.6);  // p = 1e-6
}

TEST_CASE("selectors keep serving cached nodes while the registry is down") {
  auto name = GENERATE(as<std::string>{}, "roundrobin", "random");
  auto f = load(name, R"({"cache_ttl_s":0.02})");
  add_nodes(*f.registry, "1", {"a", "b"});
  REQUIRE(spread(*f.selector, 100).size() == 2);
  f.registry->set_down(true);
  auto asked = f.registry->get_calls();
  // The entry expires; the registry is asked, fails, and the stale nodes are served.
  REQUIRE(micro::test::wait_for([&] {
    CHECK(f.selector->select("greeter")().id.size() == 1);
    return f.registry->get_calls() > asked + 1;
  }));
  CHECK(spread(*f.selector, 100).size() == 2);
  // A service never looked up has nothing cached: the registry's error.
  CHECK(errc_of([&] { f.selector->select("other"); }) == micro::Errc::unavailable);
}

TEST_CASE("selectors pick up nodes from the registry's watch without asking it again") {
  auto name = GENERATE(as<std::string>{}, "roundrobin", "random");
  auto f = load(name);  // cache_ttl_s 60
  add_nodes(*f.registry, "1", {"a"});
  REQUIRE(f.selector->select("greeter")().id == "a");
  REQUIRE(f.registry->get_calls() == 1);
  REQUIRE(micro::test::wait_for([&] { return f.registry->watches() >= 1; }));
  add_nodes(*f.registry, "1", {"b"});
  CHECK(micro::test::wait_for([&] { return spread(*f.selector, 4).size() == 2; }));
  f.registry->deregister(Service{"greeter", "1", {}, {}, {Node{"a", "", {}}}});
  CHECK(micro::test::wait_for([&] { return spread(*f.selector, 50).count("a") == 0; }));
  CHECK(f.registry->get_calls() == 1);
}
