// A server and a client in one process over the in-process memory registry: typed streams
// and middleware, through the public API a user writes.
#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <thread>

#include "micro/micro.h"
#include "micro/runtime.h"
#include "support.h"

using nlohmann::json;

namespace {

micro::Config memory_config() {
  micro::Config c;
  c.registry = {"memory"};
  c.service.address = "127.0.0.1:0";
  return c;
}

struct Fixture {
  micro::Runtime rt{memory_config()};
  std::unique_ptr<micro::Server> server = micro::new_server(rt);
  std::unique_ptr<micro::Client> client = micro::new_client(rt, "inprocess");
  std::mutex mu;
  std::vector<std::string> trace;

  Fixture() {
    rt.start();
    auto so = micro::server_options(rt.config(), "calc");
    so.handler_wrappers.push_back([this](micro::server::UnaryFn next) -> micro::server::UnaryFn {
      return [this, next](micro::Context& ctx, const micro::server::Request& r,
                          micro::server::Response& w) {
        {
          std::lock_guard lock(mu);
          trace.push_back("server:" + r.endpoint());
        }
        next(ctx, r, w);
      };
    });
    server->init(so);
    auto co = micro::client_options(rt.config());
    co.wrappers.push_back([this](micro::client::CallFunc next) -> micro::client::CallFunc {
      return [this, next](micro::Context& ctx, const micro::registry::Node& n,
                          const micro::client::Request& req, const micro::codec::Payload& in,
                          const micro::codec::Payload& out, const micro::client::CallOptions& o) {
        {
          std::lock_guard lock(mu);
          trace.push_back("client:" + req.endpoint);
        }
        next(ctx, n, req, in, out, o);
      };
    });
    client->init(co);
    server->handle(micro::handler(
        "Calc",
        {
            micro::unary<json, json>(
                "Add",
                [](micro::Context&, const json& in, json& out) {
                  out = {{"sum", in.at("a").get<long>() + in.at("b").get<long>()}};
                }),
            micro::bidi_stream<json, json>("Sum",
                                           [](micro::Context&, micro::ServerStream<json, json>& s) {
                                             long sum = 0;
                                             json m;
                                             while (s.recv(m)) sum += m.at("n").get<long>();
                                             s.send(json{{"sum", sum}});
                                           }),
            micro::bidi_stream<json, json>("Chat",
                                           [](micro::Context&, micro::ServerStream<json, json>& s) {
                                             json m;
                                             while (s.recv(m)) s.send(json{{"echo", m}});
                                           }),
        }));
    server->start();
  }
  ~Fixture() {
    server->stop();
    rt.stop();
  }
};

}  // namespace

TEST_CASE("a typed unary call through wrappers on both sides") {
  Fixture f;
  micro::Context ctx;
  auto out = micro::call<json>(*f.client, ctx, "calc", "Calc.Add", json{{"a", 2}, {"b", 40}});
  CHECK(out == json{{"sum", 42}});
  CHECK(f.trace == std::vector<std::string>{"client:Calc.Add", "server:Calc.Add"});
}

TEST_CASE("a client stream: many messages in, one reply after the client's EOS") {
  Fixture f;
  micro::Context ctx;
  auto s = micro::stream<json, json>(*f.client, ctx, "calc", "Calc.Sum");
  for (int i = 1; i <= 100; ++i) s.send(json{{"n", i}});
  s.close_send();
  json reply;
  REQUIRE(s.recv(reply));
  CHECK(reply["sum"] == 5050);
  CHECK_FALSE(s.recv(reply));
}

TEST_CASE("a bidi stream echoes each message in order") {
  Fixture f;
  micro::Context ctx;
  auto s = micro::stream<json, json>(*f.client, ctx, "calc", "Calc.Chat");
  for (int i = 0; i < 50; ++i) {
    s.send(json{{"i", i}});
    json reply;
    REQUIRE(s.recv(reply));
    CHECK(reply["echo"]["i"] == i);
  }
  s.close_send();
  json end;
  CHECK_FALSE(s.recv(end));
}

TEST_CASE("an unknown service is a not-found error, not a hang") {
  Fixture f;
  micro::Context ctx;
  try {
    micro::call<json>(*f.client, ctx, "nobody", "X.Y", json::object());
    FAIL("call succeeded");
  } catch (const micro::Error& e) {
    CHECK(e.errc() == micro::Errc::not_found);
  }
}

TEST_CASE("concurrent calls from many threads all succeed") {
  Fixture f;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        micro::Context ctx;
        auto out = micro::call<json>(*f.client, ctx, "calc", "Calc.Add", json{{"a", t}, {"b", i}});
        if (out["sum"] == t + i) ++ok;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(ok == 400);
}
