// registry-etcd watch: create / update / delete from a real etcd, service filter, resumption
// after an etcd restart, re-read after compaction and after a wiped etcd.
#include <set>
#include <thread>

#include "etcd_watcher.h"
#include "registry_etcd_helpers.h"

using namespace regetcd_test;
using micro::Errc;
using micro::test::EtcdServer;

TEST_CASE("watch reports create, update and delete with the deleted service from prev_kv") {
  EtcdServer etcd;
  auto r = open(etcd.address());
  auto w = r->watch();
  auto s = service("greeter", "greeter-1", "127.0.0.1:7000");
  r->register_service(s, ttl(30));
  auto c = next_result(*w);
  CHECK(c.action == "create");
  CHECK(c.service.name == "greeter");
  CHECK(c.service.nodes.at(0).address == "127.0.0.1:7000");
  s.nodes[0].address = "127.0.0.1:7001";
  r->register_service(s, ttl(30));
  auto u = next_result(*w);
  CHECK(u.action == "update");
  CHECK(u.service.nodes.at(0).address == "127.0.0.1:7001");
  r->deregister(s);
  auto d = next_result(*w);
  CHECK(d.action == "delete");
  CHECK(d.service.nodes.at(0).id == "greeter-1");
  CHECK(d.service.nodes.at(0).address == "127.0.0.1:7001");
}

TEST_CASE("watch reports nothing that existed before it, and times out with nullopt") {
  EtcdServer etcd;
  auto r = open(etcd.address());
  r->register_service(service("greeter", "greeter-1"), {});
  auto w = r->watch();
  CHECK_FALSE(w->next(micro::Clock::now() + std::chrono::milliseconds(300)).has_value());
}

TEST_CASE("a watch on one service reports only that service") {
  EtcdServer etcd;
  auto r = open(etcd.address());
  auto w = r->watch({"greeter"});
  r->register_service(service("greeterx", "greeterx-1"), {});
  r->register_service(service("other", "other-1"), {});
  r->register_service(service("greeter", "greeter-1"), {});
  auto c = next_result(*w);
  CHECK(c.service.name == "greeter");
  CHECK(c.action == "create");
}

TEST_CASE("stop ends a blocked next with Errc::closed") {
  EtcdServer etcd;
  auto r = open(etcd.address());
  auto w = r->watch();
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    w->stop();
  });
  CHECK(errc_of([&] { w->next(); }) == Errc::closed);
  t.join();
}

TEST_CASE("registry stop stops its watchers") {
  EtcdServer etcd;
  auto r = open(etcd.address());
  auto w = r->watch();
  r->stop();
  CHECK(errc_of([&] { w->next(micro::Clock::now() + std::chrono::seconds(5)); }) == Errc::closed);
  CHECK(errc_of([&] { r->get_service("x"); }) == Errc::closed);
}

TEST_CASE("bad values are skipped by the watcher, good ones after them reported") {
  EtcdServer etcd;
  auto r = open(etcd.address());
  auto w = r->watch();
  etcd.put("/micro/registry/greeter/bad", "{not json");
  r->register_service(service("greeter", "greeter-1"), {});
  auto c = next_result(*w);
  CHECK(c.service.nodes.at(0).id == "greeter-1");
}

TEST_CASE("the watch resumes after etcd restarts and misses nothing") {
  EtcdServer etcd;
  auto r = open(etcd.address());
  auto w = r->watch();
  r->register_service(service("greeter", "greeter-1"), {});
  REQUIRE(next_result(*w).action == "create");
  etcd.kill();
  etcd.start();
  etcd.put("/micro/registry/greeter/greeter-2",
           micro::registry::to_json(service("greeter", "greeter-2")));
  CHECK(next_matching(*w, "create", "greeter-2").has_value());
  r->deregister(service("greeter", "greeter-1"));
  CHECK(next_matching(*w, "delete", "greeter-1").has_value());
}

TEST_CASE("after a compaction the watcher re-reads and reports the differences") {
  EtcdServer etcd;
  etcd.put("/micro/registry/a/a-1", micro::registry::to_json(service("a", "a-1")));
  etcd.put("/micro/registry/b/b-1", micro::registry::to_json(service("b", "b-1")));
  auto client = std::make_shared<micro::plugins::etcd::Client>(
      micro::plugins::etcd::ClientConfig{{micro::plugins::etcd::parse_endpoint(etcd.address())}});
  // Snapshot taken now; the changes below happen before the watcher's stream starts.
  micro::plugins::etcd::EtcdWatcher w(client, "/micro/registry/", "");
  etcd.put("/micro/registry/c/c-1", micro::registry::to_json(service("c", "c-1")));
  etcd.put("/micro/registry/a/a-1", micro::registry::to_json(service("a", "a-1", "127.0.0.1:99")));
  REQUIRE(etcd.post("/v3/kv/deleterange",
                    "{\"key\":\"" + micro::test::etcd_b64("/micro/registry/b/b-1") + "\"}")
              .status == 200);
  auto rev = nlohmann::json::parse(etcd.post("/v3/kv/range", R"({"key":"AA=="})").body);
  const std::string now = rev["header"]["revision"];
  REQUIRE(etcd.post("/v3/kv/compaction", "{\"revision\":\"" + now + "\"}").status == 200);
  w.start();
  std::map<std::string, std::string> seen;  // node id -> action
  std::map<std::string, micro::registry::Service> got;
  for (int i = 0; i < 3; ++i) {
    auto r = w.next(micro::Clock::now() + std::chrono::seconds(10));
    REQUIRE(r.has_value());
    seen[r->service.nodes.at(0).id] = r->action;
    got[r->service.nodes.at(0).id] = r->service;
  }
  CHECK(seen["c-1"] == "create");
  CHECK(seen["a-1"] == "update");
  CHECK(seen["b-1"] == "delete");
  // Creates and updates carry the whole record; a delete found by the re-read what the
  // snapshot keeps: name, version, node id and address.
  CHECK(got["a-1"].nodes.at(0).address == "127.0.0.1:99");
  CHECK(got["a-1"].endpoints.size() == 1);
  CHECK(got["a-1"].nodes.at(0).metadata.at("protocol") == "mucp");
  CHECK(got["b-1"].name == "b");
  CHECK(got["b-1"].version == "1.0.0");
  CHECK(got["b-1"].nodes.at(0).address == "127.0.0.1:1");
}

TEST_CASE("after etcd loses its data the watcher re-reads and reports the differences") {
  EtcdServer etcd;
  for (int i = 0; i < 5; ++i) {
    etcd.put("/micro/registry/old/old-" + std::to_string(i),
             micro::registry::to_json(service("old", "old-" + std::to_string(i))));
  }
  auto r = open(etcd.address());
  auto w = r->watch();
  etcd.kill();
  etcd.wipe();
  etcd.start();
  etcd.put("/micro/registry/new/new-1", micro::registry::to_json(service("new", "new-1")));
  std::set<std::string> deleted;
  bool created = false;
  const auto deadline = micro::Clock::now() + std::chrono::seconds(20);
  for (int i = 0; i < 50 && !(created && deleted.size() == 5); ++i) {
    auto e = w->next(deadline);
    if (!e) break;
    if (e->action == "create" && e->service.nodes.at(0).id == "new-1") created = true;
    if (e->action == "delete") deleted.insert(e->service.nodes.at(0).id);
  }
  CHECK(created);
  CHECK(deleted.size() == 5);
}
