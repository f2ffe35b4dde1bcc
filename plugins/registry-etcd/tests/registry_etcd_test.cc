// registry-etcd against a real etcd: register / get / list / deregister, go-micro's key and
// value layout, values written by hand, TTL, request economy, errors, failover, auth.
#include <sys/wait.h>

#include <csignal>
#include <thread>

#include "etcd_codec.h"
#include "registry_etcd_helpers.h"

using namespace regetcd_test;
using micro::Errc;
using micro::test::EtcdServer;
using micro::test::wait_for;

TEST_CASE("a registered node is returned by get_service and list_services") {
  EtcdServer etcd;
  auto r = open(etcd.address());
  r->register_service(service("greeter", "greeter-1", "127.0.0.1:8080"), ttl(30));
  auto got = r->get_service("greeter");
  REQUIRE(got.size() == 1);
  CHECK(got[0].name == "greeter");
  CHECK(got[0].version == "1.0.0");
  REQUIRE(got[0].nodes.size() == 1);
  CHECK(got[0].nodes[0].id == "greeter-1");
  CHECK(got[0].nodes[0].address == "127.0.0.1:8080");
  CHECK(got[0].nodes[0].metadata.at("protocol") == "mucp");
  REQUIRE(got[0].endpoints.size() == 1);
  CHECK(got[0].endpoints[0].name == "Greeter.Hello");
  auto all = r->list_services();
  REQUIRE(all.size() == 1);
  CHECK(all[0].name == "greeter");
}

TEST_CASE("the key is /micro/registry/<service>/<node id> with '/' replaced by '-'") {
  EtcdServer etcd;
  auto r = open(etcd.address());
  r->register_service(service("go.micro/srv", "go.micro/srv-1"), {});
  auto keys = etcd.keys("/micro/registry/");
  REQUIRE(keys.size() == 1);
  CHECK(keys[0] == "/micro/registry/go.micro-srv/go.micro-srv-1");
  REQUIRE(r->get_service("go.micro/srv").size() == 1);
}

TEST_CASE("the value is go-micro's plain Service JSON with exactly one node") {
  EtcdServer etcd;
  auto r = open(etcd.address());
  auto s = service("greeter", "greeter-1", "10.0.0.1:9000");
  s.nodes.push_back(micro::registry::Node{"greeter-2", "10.0.0.2:9000", {}});
  r->register_service(s, {});
  auto v = etcd.get("/micro/registry/greeter/greeter-2");
  REQUIRE(v.has_value());
  auto j = nlohmann::json::parse(*v);
  CHECK(j["name"] == "greeter");
  CHECK(j["version"] == "1.0.0");
  CHECK(j.contains("metadata"));
  REQUIRE(j["endpoints"].is_array());
  CHECK(j["endpoints"][0]["name"] == "Greeter.Hello");
  REQUIRE(j["nodes"].size() == 1);
  CHECK(j["nodes"][0]["id"] == "greeter-2");
  CHECK(j["nodes"][0]["address"] == "10.0.0.2:9000");
  CHECK(j["nodes"][0].contains("metadata"));
  auto one = s;
  one.nodes = {s.nodes[1]};
  CHECK(*v == micro::registry::to_json(one));
}

TEST_CASE("values written by hand in go-micro's exact JSON are read back") {
  EtcdServer etcd;
  // As go-micro v2 writes it: Service.metadata null, request/response reflection dumps.
  etcd.put("/micro/registry/go.micro.srv.greeter/go.micro.srv.greeter-0b4c",
           R"({"name":"go.micro.srv.greeter","version":"latest","metadata":null,)"
           R"("endpoints":[{"name":"Say.Hello","request":{"name":"Request","type":"Request",)"
           R"("values":[{"name":"name","type":"string","values":null}]},"response":{"name":)"
           R"("Response","type":"Response","values":null},"metadata":{}}],"nodes":[{"id":)"
           R"("go.micro.srv.greeter-0b4c","address":"192.168.1.5:41233","metadata":{"broker":)"
           R"("http","protocol":"mucp","registry":"etcd","server":"mucp","transport":"http"}}]})");
  auto r = open(etcd.address());
  auto got = r->get_service("go.micro.srv.greeter");
  REQUIRE(got.size() == 1);
  CHECK(got[0].version == "latest");
  CHECK(got[0].metadata.empty());
  REQUIRE(got[0].endpoints.size() == 1);
  CHECK(got[0].endpoints[0].name == "Say.Hello");
  REQUIRE(got[0].endpoints[0].request.has_value());
  CHECK(got[0].endpoints[0].request->values.at(0).name == "name");
  REQUIRE(got[0].nodes.size() == 1);
  CHECK(got[0].nodes[0].address == "192.168.1.5:41233");
  CHECK(got[0].nodes[0].metadata.at("registry") == "etcd");
}

TEST_CASE("bad values are skipped and the good ones still returned") {
  EtcdServer etcd;
  auto r = open(etcd.address());
  r->register_service(service("greeter", "greeter-good"), {});
  etcd.put("/micro/registry/greeter/not-json", "this is not json");
  etcd.put("/micro/registry/greeter/no-address",
           R"({"name":"greeter","version":"1.0.0","nodes":[{"id":"no-address","address":""}]})");
  etcd.put("/micro/registry/greeter/no-node", R"({"name":"greeter","version":"1.0.0"})");
  auto got = r->get_service("greeter");
  REQUIRE(got.size() == 1);
  REQUIRE(got[0].nodes.size() == 1);
  CHECK(got[0].nodes[0].id == "greeter-good");
  CHECK(r->list_services().size() == 1);
}

TEST_CASE("nodes are grouped by version") {
  EtcdServer etcd;
  auto r = open(etcd.address());
  r->register_service(service("greeter", "g-1", "127.0.0.1:1", "1.0"), {});
  r->register_service(service("greeter", "g-2", "127.0.0.1:2", "1.0"), {});
  r->register_service(service("greeter", "g-3", "127.0.0.1:3", "2.0"), {});
  r->register_service(service("other", "o-1"), {});
  auto got = r->get_service("greeter");
  REQUIRE(got.size() == 2);
  size_t nodes = 0;
  for (const auto& s : got) nodes += s.nodes.size();
  CHECK(nodes == 3);
  CHECK(r->list_services().size() == 3);
}

TEST_CASE("a service name that prefixes another is not mixed up with it") {
  EtcdServer etcd;
  auto r = open(etcd.address());
  r->register_service(service("greet", "greet-1"), {});
  r->register_service(service("greeter", "greeter-1"), {});
  auto got = r->get_service("greet");
  REQUIRE(got.size() == 1);
  REQUIRE(got[0].nodes.size() == 1);
  CHECK(got[0].nodes[0].id == "greet-1");
}

TEST_CASE("deregister removes the node and get_service then throws not_found") {
  EtcdServer etcd;
  auto r = open(etcd.address());
  auto s = service("greeter", "greeter-1");
  r->register_service(s, ttl(30));
  r->deregister(s);
  CHECK(etcd.keys("/micro/registry/").empty());
  CHECK(errc_of([&] { r->get_service("greeter"); }) == Errc::not_found);
  CHECK(r->list_services().empty());
  r->deregister(s);  // a missing node is not an error
}

TEST_CASE("a node with a ttl is put under a lease of that many seconds") {
  EtcdServer etcd;
  auto r = open(etcd.address());
  r->register_service(service("greeter", "greeter-1"), ttl(7));
  auto res =
      etcd.post("/v3/kv/range",
                "{\"key\":\"" + micro::test::etcd_b64("/micro/registry/greeter/greeter-1") + "\"}");
  auto j = nlohmann::json::parse(res.body);
  const std::string lease = j["kvs"][0]["lease"].get<std::string>();
  CHECK(lease != "0");
  auto ttl_res = etcd.post("/v3/kv/lease/timetolive", "{\"ID\":\"" + lease + "\"}");
  auto t = nlohmann::json::parse(ttl_res.body);
  CHECK(t["grantedTTL"].get<std::string>() == "7");
}

TEST_CASE("the node expires after its ttl when the registry dies without deregistering") {
  EtcdServer etcd;
  auto watcher_side = open(etcd.address());
  auto w = watcher_side->watch();
  {
    auto r = open(etcd.address());
    r->register_service(service("greeter", "greeter-1"), ttl(2));
    CHECK(next_matching(*w, "create", "greeter-1").has_value());
  }  // destroyed: no deregister, no keepalive any more
  const auto t0 = micro::Clock::now();
  auto del = next_matching(*w, "delete", "greeter-1", std::chrono::seconds(10));
  REQUIRE(del.has_value());
  CHECK(del->service.nodes[0].address == "127.0.0.1:1");
  CHECK(micro::Clock::now() - t0 < std::chrono::seconds(5));
  CHECK(errc_of([&] { watcher_side->get_service("greeter"); }) == Errc::not_found);
}

TEST_CASE("the node expires when the registering process is killed") {
  EtcdServer etcd;
  auto r = open(etcd.address());
  auto w = r->watch();
  // A child process registers through the plugin and is then killed with SIGKILL.
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    try {
      auto child = open_direct(etcd.address());
      child->register_service(service("greeter", "greeter-child"), ttl(2));
      for (int i = 0; i < 600; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    } catch (...) {
    }
    ::_exit(0);
  }
  const bool created = next_matching(*w, "create", "greeter-child").has_value();
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  REQUIRE(created);
  CHECK(next_matching(*w, "delete", "greeter-child", std::chrono::seconds(10)).has_value());
}

TEST_CASE("the keeper keeps a short lease alive well past its ttl") {
  EtcdServer etcd;
  auto r = open(etcd.address());
  auto w = r->watch();
  r->register_service(service("greeter", "greeter-1"), ttl(1));
  REQUIRE(next_matching(*w, "create", "greeter-1").has_value());
  // No delete within 4 ttl.
  CHECK_FALSE(next_matching(*w, "delete", "greeter-1", std::chrono::seconds(4)).has_value());
  CHECK(has_node(*r, "greeter", "greeter-1"));
}

TEST_CASE("re-registering an unchanged node sends no request; a changed one is put") {
  EtcdServer etcd;
  auto r = open_direct(etcd.address());
  auto s = service("greeter", "greeter-1");
  r->register_service(s, ttl(60));
  const auto before = r->requests();
  for (int i = 0; i < 20; ++i) r->register_service(s, ttl(60));
  CHECK(r->requests() == before);
  s.nodes[0].metadata["changed"] = "yes";
  r->register_service(s, ttl(60));
  CHECK(r->requests() == before + 1);  // one put under the same lease
  auto got = r->get_service("greeter");
  CHECK(got[0].nodes[0].metadata.at("changed") == "yes");
}

TEST_CASE("an unreachable etcd gives Error unavailable, quickly") {
  const int port = micro::test::free_port();
  auto r = open("127.0.0.1:" + std::to_string(port), "{}", std::chrono::milliseconds(1500));
  const auto t0 = micro::Clock::now();
  CHECK(errc_of([&] { r->register_service(service("greeter", "g-1"), ttl(10)); }) ==
        Errc::unavailable);
  CHECK(errc_of([&] { r->get_service("greeter"); }) == Errc::unavailable);
  CHECK(errc_of([&] { r->list_services(); }) == Errc::unavailable);
  CHECK(errc_of([&] { r->deregister(service("greeter", "g-1")); }) == Errc::unavailable);
  CHECK(errc_of([&] { r->watch(); }) == Errc::unavailable);
  CHECK(micro::Clock::now() - t0 < std::chrono::seconds(8));
}

TEST_CASE("requests fail over to the next address") {
  EtcdServer etcd;
  const int dead = micro::test::free_port();
  auto r = open("127.0.0.1:" + std::to_string(dead) + "," + etcd.address());
  r->register_service(service("greeter", "greeter-1"), ttl(10));
  CHECK(has_node(*r, "greeter", "greeter-1"));
}

TEST_CASE("addresses get port 2379 when they have none, schemes choose TLS") {
  using micro::plugins::etcd::parse_endpoint;
  CHECK(parse_endpoint("10.0.0.1").text() == "10.0.0.1:2379");
  CHECK(parse_endpoint("10.0.0.1:1234").text() == "10.0.0.1:1234");
  CHECK(parse_endpoint("http://etcd:22").text() == "etcd:22");
  CHECK_FALSE(parse_endpoint("http://etcd:22").tls);
  CHECK(parse_endpoint("https://etcd").tls);
  CHECK(parse_endpoint("https://etcd").port == "2379");
  CHECK(parse_endpoint("[::1]").host == "::1");
  CHECK(parse_endpoint("[::1]:5").port == "5");
}

TEST_CASE("base64 and prefix ends match etcd's gateway") {
  using namespace micro::plugins::etcd;
  for (std::string s : {"", "f", "fo", "foo", "foob", "/micro/registry/x"}) {
    CHECK(base64_decode(base64_encode(s)).value() == s);
    CHECK(base64_encode(s) == micro::test::etcd_b64(s));
  }
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(prefix_end("/micro/registry/") == "/micro/registry0");
  CHECK_FALSE(base64_decode("not base64!").has_value());
}

TEST_CASE("with etcd auth enabled the username and password options are used") {
  EtcdServer etcd;
  REQUIRE(etcd.post("/v3/auth/role/add", R"({"name":"root"})").status == 200);
  REQUIRE(etcd.post("/v3/auth/user/add", R"({"name":"root","password":"secret"})").status == 200);
  REQUIRE(etcd.post("/v3/auth/user/grant", R"({"user":"root","role":"root"})").status == 200);
  auto en = etcd.post("/v3/auth/enable", "{}");
  REQUIRE(en.status == 200);

  auto anon = open(etcd.address());
  CHECK(errc_of([&] { anon->register_service(service("greeter", "g-1"), {}); }) != Errc::ok);

  auto r = open(etcd.address(), R"({"username":"root","password":"secret"})");
  auto w = r->watch();
  r->register_service(service("greeter", "g-1"), ttl(5));
  CHECK(has_node(*r, "greeter", "g-1"));
  CHECK(next_matching(*w, "create", "g-1").has_value());

  auto bad = open(etcd.address(), R"({"username":"root","password":"wrong"})");
  CHECK(errc_of([&] { bad->get_service("greeter"); }) == Errc::bad_request);
}
