// The legacy framed codecs end to end in one process: a client calling a node registered without
// "protocol" metadata speaks application/json-rpc or application/proto-rpc (go-micro's
// setupProtocol), and the server answers in the same codec. Uses both codec-jsonrpc and
// codec-protorpc, http transport, memory registry.
#include <catch2/catch.hpp>

#include "greeting.pb.h"
#include "micro/micro.h"
#include "micro/runtime.h"
#include "support.h"

using microtest::jsonrpc::Greeting;
using nlohmann::json;

namespace {

micro::Config legacy_config() {
  micro::Config c;
  c.registry = {"memory"};
  c.service.address = "127.0.0.1:0";
  c.codecs = {{"json"}, {"protobuf"}, {"bytes"}, {"jsonrpc"}, {"protorpc"}};
  return c;
}

struct Fixture {
  micro::Runtime rt{legacy_config()};
  std::unique_ptr<micro::Server> server = micro::new_server(rt);
  std::unique_ptr<micro::Client> client = micro::new_client(rt, "legacy-test");

  Fixture() {
    rt.start();
    server->init(micro::server_options(rt.config(), "calc"));
    client->init(micro::client_options(rt.config()));
    server->handle(micro::handler(
        "Calc", {
                    micro::unary<json, json>(
                        "Add",
                        [](micro::Context&, const json& in, json& out) {
                          out = {{"sum", in.at("a").get<long>() + in.at("b").get<long>()}};
                        }),
                    micro::unary<Greeting, Greeting>(
                        "Greet",
                        [](micro::Context&, const Greeting& in, Greeting& out) {
                          out.set_name("hello " + in.name());
                          out.set_count(in.count() + 1);
                        }),
                    micro::unary<std::string, std::string>(
                        "Fail",
                        [](micro::Context&, const std::string&, std::string&) {
                          throw micro::errors::not_found("calc", "no such thing");
                        }),
                }));
    server->start();
    // An "old" node: same server, registered without protocol metadata.
    micro::registry::Service old;
    old.name = "old-calc";
    old.version = "1";
    old.nodes.push_back({"old-calc-1", server->address(), {}});
    rt.registry()->register_service(old, {});
  }
  ~Fixture() {
    server->stop();
    rt.stop();
  }
};

}  // namespace

TEST_CASE("a JSON call to a node without protocol metadata goes over json-rpc and back") {
  Fixture f;
  micro::Context ctx;
  auto out = micro::call<json>(*f.client, ctx, "old-calc", "Calc.Add", json{{"a", 2}, {"b", 40}});
  CHECK(out == json{{"sum", 42}});
  CHECK(micro::get(ctx.response_metadata, "Content-Type") == "application/json-rpc");
}

TEST_CASE("a protobuf call to a node without protocol metadata goes over proto-rpc and back") {
  Fixture f;
  micro::Context ctx;
  Greeting in;
  in.set_name("bob");
  in.set_count(41);
  auto out = micro::call<Greeting>(*f.client, ctx, "old-calc", "Calc.Greet", in, {},
                                   "application/protobuf");
  CHECK(out.name() == "hello bob");
  CHECK(out.count() == 42);
  CHECK(micro::get(ctx.response_metadata, "Content-Type") == "application/proto-rpc");
}

TEST_CASE("a handler error reaches a legacy client through either envelope") {
  Fixture f;
  for (const char* ct : {"application/json", "application/protobuf"}) {
    micro::Context ctx;
    try {
      micro::call<std::string>(*f.client, ctx, "old-calc", "Calc.Fail", std::string("{}"), {}, ct);
      FAIL("call succeeded with " << ct);
    } catch (const micro::Error& e) {
      CHECK(e.code() == 404);
      CHECK(e.detail() == "no such thing");
    }
  }
}
