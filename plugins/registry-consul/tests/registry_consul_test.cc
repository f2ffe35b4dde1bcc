// registry-consul against the stand-in agent (fake_consul.h): register / get / list /
// deregister, go-micro's tag encoding both ways, TTL checks, refreshes, errors.
#include <nlohmann/json.hpp>

#include "consul_codec.h"
#include "helpers.h"

using namespace consul_test;
using micro::Errc;
using micro::test::FakeConsul;
using micro::test::wait_for;
using nlohmann::json;
namespace consul = micro::plugins::consul;

TEST_CASE("a registered node is returned by get_service and list_services, then deregistered") {
  FakeConsul agent;
  auto r = open(agent.address());
  r->register_service(service("greeter", "greeter-1", "127.0.0.1:8080"), ttl(30));
  auto got = r->get_service("greeter");
  REQUIRE(got.size() == 1);
  CHECK(got[0].name == "greeter");
  CHECK(got[0].version == "1.0.0");
  REQUIRE(got[0].nodes.size() == 1);
  CHECK(got[0].nodes[0].id == "greeter-1");
  CHECK(got[0].nodes[0].address == "127.0.0.1:8080");
  CHECK(got[0].nodes[0].metadata == micro::StringMap{{"protocol", "mucp"}, {"registry", "consul"}});
  REQUIRE(got[0].endpoints.size() == 1);
  CHECK(got[0].endpoints[0].name == "Greeter.Hello");
  REQUIRE(got[0].endpoints[0].request.has_value());
  CHECK(got[0].endpoints[0].request->values.at(0).name == "name");
  auto all = r->list_services();
  CHECK(std::count_if(all.begin(), all.end(), [](auto& s) { return s.name == "greeter"; }) == 1);
  r->deregister(service("greeter", "greeter-1"));
  CHECK(errc_of([&] { r->get_service("greeter"); }) == Errc::not_found);
  CHECK_NOTHROW(r->deregister(service("greeter", "greeter-1")));  // missing: not an error
}

TEST_CASE("the registration is one agent service per node with go-micro's tags, Meta and check") {
  FakeConsul agent;
  auto r = open(agent.address());
  auto s = service("greeter", "greeter-1", "10.0.0.7:9091", "2.1");
  s.nodes.push_back(micro::registry::Node{"greeter-2", "10.0.0.8:9092", {{"a", "b"}}});
  r->register_service(s, ttl(90));
  auto b = agent.registration("greeter-1");
  REQUIRE(b.is_object());
  CHECK(b["ID"] == "greeter-1");
  CHECK(b["Name"] == "greeter");
  CHECK(b["Address"] == "10.0.0.7");
  CHECK(b["Port"] == 9091);
  CHECK(b["Meta"] == json{{"protocol", "mucp"}, {"registry", "consul"}});
  CHECK(b["Check"]["TTL"] == "1m30s");
  CHECK(b["Check"]["DeregisterCriticalServiceAfter"] == "1m35s");
  // Tags in order: one t- per metadata key, one e- per endpoint, one v-.
  auto tags = b["Tags"].get<std::vector<std::string>>();
  REQUIRE(tags.size() == 4);
  CHECK(tags[0].rfind("t-", 0) == 0);
  CHECK(tags[1].rfind("t-", 0) == 0);
  CHECK(tags[2].rfind("e-", 0) == 0);
  CHECK(tags[3].rfind("v-", 0) == 0);
  CHECK(json::parse(consul::zlib_decompress(consul::hex_decode(tags[0].substr(2)))) ==
        json{{"protocol", "mucp"}});
  CHECK(json::parse(consul::zlib_decompress(consul::hex_decode(tags[1].substr(2)))) ==
        json{{"registry", "consul"}});
  auto ep = json::parse(consul::zlib_decompress(consul::hex_decode(tags[2].substr(2))));
  CHECK(ep["name"] == "Greeter.Hello");
  CHECK(ep["metadata"] == json{{"stream", "false"}});
  CHECK(ep["request"]["name"] == "Request");
  CHECK(ep.contains("response"));
  CHECK(consul::zlib_decompress(consul::hex_decode(tags[3].substr(2))) == "2.1");
  auto b2 = agent.registration("greeter-2");
  REQUIRE(b2.is_object());
  CHECK(b2["Port"] == 9092);
  CHECK(b2["Meta"] == json{{"a", "b"}});
}

TEST_CASE("TTL under a minute deregisters critical after 1m5s; no TTL means no check") {
  FakeConsul agent;
  auto r = open(agent.address());
  r->register_service(service("a", "a-1"), ttl(30));
  CHECK(agent.registration("a-1")["Check"]["TTL"] == "30s");
  CHECK(agent.registration("a-1")["Check"]["DeregisterCriticalServiceAfter"] == "1m5s");
  r->register_service(service("b", "b-1"), ttl(0));
  CHECK_FALSE(agent.registration("b-1").contains("Check"));
  CHECK(consul::go_duration(std::chrono::seconds(3600)) == "1h0m0s");
  CHECK(consul::go_duration(std::chrono::seconds(61)) == "1m1s");
}

TEST_CASE("go-micro's hand-built tags (zlib+hex computed in the test) are read back") {
  FakeConsul agent;
  json ep = {{"name", "Say.Hello"},
             {"request", {{"name", "Request"}, {"type", "Request"}, {"values", nullptr}}},
             {"response", nullptr},
             {"metadata", {{"stream", "true"}}}};
  agent.put({{"ID", "go-1"},
             {"Name", "go.micro.srv.say"},
             {"Address", "192.168.1.5"},
             {"Port", 40001},
             {"Tags",
              {"t-" + go_enc(R"({"protocol":"mucp"})"), "t-" + go_enc(R"({"server":"mucp"})"),
               "e-" + go_enc(ep.dump()), "v-" + go_enc("latest"), "other-tag"}}});
  auto r = open(agent.address());
  auto got = r->get_service("go.micro.srv.say");
  REQUIRE(got.size() == 1);
  CHECK(got[0].version == "latest");
  REQUIRE(got[0].nodes.size() == 1);
  CHECK(got[0].nodes[0].id == "go-1");
  CHECK(got[0].nodes[0].address == "192.168.1.5:40001");
  CHECK(got[0].nodes[0].metadata == micro::StringMap{{"protocol", "mucp"}, {"server", "mucp"}});
  REQUIRE(got[0].endpoints.size() == 1);
  CHECK(got[0].endpoints[0].name == "Say.Hello");
  CHECK(got[0].endpoints[0].metadata.at("stream") == "true");
  CHECK(got[0].endpoints[0].request->name == "Request");
  CHECK_FALSE(got[0].endpoints[0].response.has_value());
}

TEST_CASE("the old plain t=, e=, v= tags are read and the node address falls back to Node") {
  FakeConsul agent;
  agent.put({{"ID", "old-1"},
             {"Name", "old"},
             {"Address", ""},
             {"Port", 7000},
             {"Tags", {R"(t={"k":"v"})", R"(e={"name":"Old.Call","metadata":null})", "v=0.9"}}});
  auto r = open(agent.address());
  auto got = r->get_service("old");
  REQUIRE(got.size() == 1);
  CHECK(got[0].version == "0.9");
  CHECK(got[0].nodes.at(0).address == "127.0.0.1:7000");
  CHECK(got[0].nodes[0].metadata == micro::StringMap{{"k", "v"}});
  REQUIRE(got[0].endpoints.size() == 1);
  CHECK(got[0].endpoints[0].name == "Old.Call");
}

TEST_CASE("a bad tag is skipped and the rest of the node is kept") {
  FakeConsul agent;
  agent.put(
      {{"ID", "bad-1"},
       {"Name", "bad"},
       {"Address", "127.0.0.1"},
       {"Port", 1},
       {"Tags",
        {"t-zz", "e-" + go_enc("not json"), "t-" + go_enc(R"({"k":"v"})"), "v-" + go_enc("3")}}});
  auto r = open(agent.address());
  auto got = r->get_service("bad");
  REQUIRE(got.size() == 1);
  CHECK(got[0].version == "3");
  CHECK(got[0].endpoints.empty());
  CHECK(got[0].nodes.at(0).metadata == micro::StringMap{{"k", "v"}});
}

TEST_CASE("versions are grouped, with nodes of each version together") {
  FakeConsul agent;
  auto r = open(agent.address());
  r->register_service(service("g", "g-1", "127.0.0.1:1", "1"), ttl(30));
  r->register_service(service("g", "g-2", "127.0.0.1:2", "2"), ttl(30));
  r->register_service(service("g", "g-3", "127.0.0.1:3", "1"), ttl(30));
  auto got = r->get_service("g");
  REQUIRE(got.size() == 2);
  for (const auto& s : got) CHECK(s.nodes.size() == (s.version == "1" ? 2u : 1u));
}

TEST_CASE("a TTL check not passed in time turns critical and the node is dropped") {
  FakeConsul agent;
  auto r = open(agent.address());
  r->register_service(service("short", "short-1"), ttl(1));
  CHECK(has_node(*r, "short", "short-1"));  // passed right after registering
  CHECK(wait_for([&] { return !has_node(*r, "short", "short-1"); }, std::chrono::seconds(5)));
  CHECK(errc_of([&] { r->get_service("short"); }) == Errc::not_found);
  r->register_service(service("short", "short-1"), ttl(1));  // a refresh passes it again
  CHECK(has_node(*r, "short", "short-1"));
}

TEST_CASE("a warning check keeps the node, a critical one drops it") {
  FakeConsul agent;
  auto r = open(agent.address());
  r->register_service(service("w", "w-1"), ttl(60));
  agent.set_check("w-1", "warning");
  CHECK(has_node(*r, "w", "w-1"));
  agent.set_check("w-1", "critical");
  CHECK_FALSE(has_node(*r, "w", "w-1"));
}

TEST_CASE("re-registering an unchanged node only passes the check; a changed one registers") {
  FakeConsul agent;
  auto r = open(agent.address());
  r->register_service(service("re", "re-1"), ttl(30));
  CHECK(agent.requests("/v1/agent/service/register") == 1);
  r->register_service(service("re", "re-1"), ttl(30));
  CHECK(agent.requests("/v1/agent/service/register") == 1);
  CHECK(agent.requests("/v1/agent/check/pass/service:re-1") == 2);
  r->register_service(service("re", "re-1", "127.0.0.1:9999"), ttl(30));
  CHECK(agent.requests("/v1/agent/service/register") == 2);
}

TEST_CASE("when the check pass fails (agent lost the service) the node is registered again") {
  const int port = micro::test::free_port();
  auto agent = std::make_unique<FakeConsul>(port);
  auto r = open(agent->address());
  r->register_service(service("lost", "lost-1"), ttl(30));
  agent.reset();  // the agent restarts on the same address without the service
  agent = std::make_unique<FakeConsul>(port);
  r->register_service(service("lost", "lost-1"), ttl(30));
  CHECK(agent->requests("/v1/agent/service/register") == 1);
  CHECK(has_node(*r, "lost", "lost-1"));
}

TEST_CASE("consul down gives Error{unavailable}; when it comes back everything works") {
  const int port = micro::test::free_port();
  auto r = open("127.0.0.1:" + std::to_string(port));
  CHECK(errc_of([&] { r->get_service("x"); }) == Errc::unavailable);
  CHECK(errc_of([&] { r->list_services(); }) == Errc::unavailable);
  CHECK(errc_of([&] { r->register_service(service("x", "x-1"), ttl(30)); }) == Errc::unavailable);
  CHECK(errc_of([&] { r->deregister(service("x", "x-1")); }) == Errc::unavailable);
  CHECK(errc_of([&] { r->watch(); }) == Errc::unavailable);
  FakeConsul agent(port);
  r->register_service(service("x", "x-1"), ttl(30));
  CHECK(has_node(*r, "x", "x-1"));
}

TEST_CASE("the token is sent as X-Consul-Token") {
  FakeConsul agent(0, "s3cret");
  auto bad = open(agent.address());
  CHECK(errc_of([&] { bad->register_service(service("t", "t-1"), ttl(30)); }) == Errc::forbidden);
  auto good = open(agent.address(), R"({"token":"s3cret"})");
  good->register_service(service("t", "t-1"), ttl(30));
  CHECK(has_node(*good, "t", "t-1"));
}

TEST_CASE("a node address without a port is a bad request; stop() closes the registry") {
  FakeConsul agent;
  auto r = open(agent.address());
  CHECK(errc_of([&] { r->register_service(service("p", "p-1", "nohost"), ttl(30)); }) ==
        Errc::bad_request);
  r->stop();
  CHECK(errc_of([&] { r->list_services(); }) == Errc::closed);
}
