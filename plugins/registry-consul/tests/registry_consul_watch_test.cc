// registry-consul watches: blocking queries on /v1/catalog/services and /v1/health/service/<name>
// against the stand-in agent, diffed into create / update / delete.
#include <optional>
#include <thread>

#include "consul_watcher.h"
#include "helpers.h"

using namespace consul_test;
using micro::Errc;
using micro::registry::Result;
using micro::test::FakeConsul;

namespace {

/// The next result with this action whose nodes include node_id ("" = any, no nodes needed).
std::optional<Result> next_matching(micro::registry::Watcher& w, const std::string& action,
                                    const std::string& name, const std::string& node_id,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = micro::Clock::now() + timeout;
  for (int i = 0; i < 1000; ++i) {
    auto r = w.next(deadline);
    if (!r) return std::nullopt;
    if (r->action != action || r->service.name != name) continue;
    if (node_id.empty()) return r;
    for (const auto& n : r->service.nodes) {
      if (n.id == node_id) return r;
    }
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("watching all services sees a node's create and delete") {
  FakeConsul agent;
  auto r = open(agent.address());
  auto w = r->watch();
  r->register_service(service("watched", "watched-1", "127.0.0.1:5000", "1.2"), ttl(30));
  auto c = next_matching(*w, "create", "watched", "watched-1");
  REQUIRE(c.has_value());
  CHECK(c->service.version == "1.2");
  CHECK(c->service.nodes[0].address == "127.0.0.1:5000");
  CHECK(c->service.endpoints.at(0).name == "Greeter.Hello");
  r->deregister(service("watched", "watched-1"));
  auto d = next_matching(*w, "delete", "watched", "watched-1");
  REQUIRE(d.has_value());
  CHECK(d->service.version == "1.2");
}

TEST_CASE("watching one service sees create, update, a TTL expiry as delete") {
  FakeConsul agent;
  auto r = open(agent.address());
  auto w = r->watch({"one"});
  r->register_service(service("other", "other-1"), ttl(30));
  r->register_service(service("one", "one-1", "127.0.0.1:1"), ttl(2));
  REQUIRE(next_matching(*w, "create", "one", "one-1").has_value());
  r->register_service(service("one", "one-2", "127.0.0.1:2"), ttl(30));
  auto u = next_matching(*w, "update", "one", "one-2");
  REQUIRE(u.has_value());
  CHECK(u->service.nodes.size() == 2);
  // one-1 is not passed again: its check turns critical and it is reported deleted.
  auto d = next_matching(*w, "delete", "one", "one-1");
  REQUIRE(d.has_value());
  CHECK(d->service.nodes.size() == 1);
}

TEST_CASE("a watcher stopped from another thread ends a blocked next() with closed") {
  FakeConsul agent;
  auto r = open(agent.address(), R"({"wait_s":30})");
  auto w = r->watch();
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let next() block first
    w->stop();
  });
  const auto start = micro::Clock::now();
  CHECK(errc_of([&] {
          for (int i = 0; i < 100; ++i) w->next();
        }) == Errc::closed);
  t.join();
  CHECK(micro::Clock::now() - start < std::chrono::seconds(5));  // blocking queries cancelled
}

TEST_CASE("a watcher keeps going across a consul restart") {
  const int port = micro::test::free_port();
  auto agent = std::make_unique<FakeConsul>(port);
  auto r = open(agent->address());
  auto w = r->watch({"back"});
  agent.reset();
  agent = std::make_unique<FakeConsul>(port);
  r->register_service(service("back", "back-1"), ttl(30));
  CHECK(next_matching(*w, "create", "back", "back-1").has_value());
}

TEST_CASE("diff reports new versions, vanished nodes and changed nodes") {
  auto a = service("s", "s-1", "127.0.0.1:1", "1");
  auto b = a;
  b.nodes.push_back({"s-2", "127.0.0.1:2", {}});
  auto rs = micro::plugins::consul::diff("s", {}, {a});
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].action == "create");
  rs = micro::plugins::consul::diff("s", {a}, {b});
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].action == "update");
  rs = micro::plugins::consul::diff("s", {b}, {a});
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].action == "delete");
  CHECK(rs[0].service.nodes.at(0).id == "s-2");
  rs = micro::plugins::consul::diff("s", {a}, {});
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].action == "delete");
}
