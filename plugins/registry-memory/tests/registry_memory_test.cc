// registry-memory loaded through the plugin loader: lookups, versions, TTL expiry, watch.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "micro/errors.h"
#include "micro/registry.h"
#include "plugin_host.h"
#include "support.h"

using micro::Clock;
using micro::registry::Node;
using micro::registry::Service;
using micro::test::errc_of;

namespace {

std::shared_ptr<micro::Registry> load_registry() {
  return micro::test::load_plugin<micro::Registry>(micro::plugin::Kind::registry, "memory");
}

Service svc(const std::string& name, const std::string& version,
            std::vector<std::pair<std::string, std::string>> nodes) {
  Service s;
  s.name = name;
  s.version = version;
  for (auto& [id, addr] : nodes) s.nodes.push_back(Node{id, addr, {{"transport", "http"}}});
  return s;
}

constexpr auto kShort = std::chrono::milliseconds(100);
constexpr auto kLong = std::chrono::seconds(5);

}  // namespace

TEST_CASE("registry memory loads through the loader") {
  auto r = load_registry();
  CHECK(r->name() == "memory");
}

TEST_CASE("registry memory returns a registered node and not_found for unknown services") {
  auto r = load_registry();
  r->register_service(svc("greeter", "1.0", {{"greeter-1", "127.0.0.1:1001"}}), {});
  auto got = r->get_service("greeter");
  REQUIRE(got.size() == 1);
  REQUIRE(got[0].nodes.size() == 1);
  CHECK(got[0].nodes[0].id == "greeter-1");
  CHECK(got[0].nodes[0].address == "127.0.0.1:1001");
  CHECK(got[0].nodes[0].metadata.at("transport") == "http");
  CHECK(errc_of([&] { r->get_service("nobody"); }) == micro::Errc::not_found);
}

TEST_CASE("registry memory groups nodes by version") {
  auto r = load_registry();
  r->register_service(svc("greeter", "1.0", {{"a", "127.0.0.1:1"}}), {});
  r->register_service(svc("greeter", "1.0", {{"b", "127.0.0.1:2"}}), {});
  r->register_service(svc("greeter", "2.0", {{"c", "127.0.0.1:3"}}), {});
  auto got = r->get_service("greeter");
  REQUIRE(got.size() == 2);
  CHECK(got[0].version == "1.0");
  CHECK(got[0].nodes.size() == 2);
  CHECK(got[1].version == "2.0");
  CHECK(got[1].nodes.size() == 1);
  CHECK(r->list_services().size() == 2);
}

TEST_CASE("registry memory deregister removes nodes and then the service") {
  auto r = load_registry();
  r->register_service(svc("greeter", "1.0", {{"a", "127.0.0.1:1"}, {"b", "127.0.0.1:2"}}), {});
  r->deregister(svc("greeter", "1.0", {{"a", ""}}));
  REQUIRE(r->get_service("greeter")[0].nodes.size() == 1);
  r->deregister(svc("greeter", "1.0", {{"b", ""}}));
  CHECK(errc_of([&] { r->get_service("greeter"); }) == micro::Errc::not_found);
  CHECK(r->list_services().empty());
  CHECK_NOTHROW(r->deregister(svc("greeter", "1.0", {{"b", ""}})));  // missing node: no error
}

TEST_CASE("registry memory hides a node once its TTL passes") {
  auto r = load_registry();
  r->register_service(svc("short", "1", {{"s", "127.0.0.1:1"}}), {std::chrono::seconds(1)});
  r->register_service(svc("forever", "1", {{"f", "127.0.0.1:2"}}), {});
  CHECK(r->get_service("short").size() == 1);
  CHECK(micro::test::wait_for(
      [&] { return errc_of([&] { r->get_service("short"); }) == micro::Errc::not_found; },
      std::chrono::seconds(5)));
  CHECK(r->get_service("forever").size() == 1);
}

TEST_CASE("registry memory re-registering extends the TTL") {
  auto r = load_registry();
  auto s = svc("renewed", "1", {{"n", "127.0.0.1:1"}});
  r->register_service(s, {std::chrono::seconds(1)});
  auto until = Clock::now() + std::chrono::milliseconds(2500);
  while (Clock::now() < until) {  // bounded: 2.5 s of renewals
    r->register_service(s, {std::chrono::seconds(1)});
    REQUIRE(r->get_service("renewed").size() == 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

TEST_CASE("registry memory watch sees create, update and delete") {
  auto r = load_registry();
  auto w = r->watch();
  r->register_service(svc("greeter", "1.0", {{"a", "127.0.0.1:1"}}), {});
  auto e = w->next(Clock::now() + kLong);
  REQUIRE(e);
  CHECK(e->action == "create");
  CHECK(e->service.name == "greeter");
  REQUIRE(e->service.nodes.size() == 1);
  CHECK(e->service.nodes[0].id == "a");

  r->register_service(svc("greeter", "1.0", {{"a", "127.0.0.1:1"}}), {});  // no change
  CHECK_FALSE(w->next(Clock::now() + kShort));

  r->register_service(svc("greeter", "1.0", {{"a", "127.0.0.1:9"}}), {});
  e = w->next(Clock::now() + kLong);
  REQUIRE(e);
  CHECK(e->action == "update");
  CHECK(e->service.nodes.at(0).address == "127.0.0.1:9");

  r->deregister(svc("greeter", "1.0", {{"a", ""}}));
  e = w->next(Clock::now() + kLong);
  REQUIRE(e);
  CHECK(e->action == "delete");
  CHECK(e->service.nodes.at(0).id == "a");
}

TEST_CASE("registry memory watch sees a delete when a node expires") {
  auto r = load_registry();
  auto w = r->watch();
  r->register_service(svc("short", "1", {{"s", "127.0.0.1:1"}}), {std::chrono::seconds(1)});
  auto e = w->next(Clock::now() + kLong);
  REQUIRE(e);
  CHECK(e->action == "create");
  e = w->next(Clock::now() + kLong);  // nobody reads the registry: the expiry thread reports it
  REQUIRE(e);
  CHECK(e->action == "delete");
  CHECK(e->service.nodes.at(0).id == "s");
}

TEST_CASE("registry memory watch of one service ignores others") {
  auto r = load_registry();
  auto w = r->watch({"wanted"});
  r->register_service(svc("other", "1", {{"o", "127.0.0.1:1"}}), {});
  r->register_service(svc("wanted", "1", {{"w", "127.0.0.1:2"}}), {});
  auto e = w->next(Clock::now() + kLong);
  REQUIRE(e);
  CHECK(e->service.name == "wanted");
  CHECK_FALSE(w->next(Clock::now() + kShort));
}

TEST_CASE("registry memory watcher stop and registry stop end a blocked next") {
  auto r = load_registry();
  auto w = r->watch();
  std::thread t([&] { w->stop(); });
  CHECK(errc_of([&] { w->next(); }) == micro::Errc::closed);
  t.join();

  auto w2 = r->watch();
  std::thread t2([&] { r->stop(); });
  CHECK(errc_of([&] { w2->next(); }) == micro::Errc::unavailable);
  t2.join();
  CHECK(errc_of([&] { r->get_service("x"); }) == micro::Errc::closed);
}

TEST_CASE("registry memory stays consistent under concurrent registration") {
  auto r = load_registry();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        auto s =
            svc("busy", "1", {{"n" + std::to_string(t) + "-" + std::to_string(i), "127.0.0.1:1"}});
        r->register_service(s, {});
        if (i % 2 == 1) r->deregister(s);
        (void)r->list_services();
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(r->get_service("busy")[0].nodes.size() == 4 * 100);
}
