// End to end over transport-zmq: micro-test-server processes with MICRO_TRANSPORT=zmq, called
// by the `micro` command (call, stream, bench) from other processes, and by one C++ client that
// calls an http node and a zmq node side by side.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "e2e.h"
#include "micro/micro.h"
#include "micro/runtime.h"

using namespace micro::test;
using nlohmann::json;

namespace {

std::map<std::string, std::string> zmq_env(const Cluster& c) {
  auto e = c.env();
  e["MICRO_TRANSPORT"] = "zmq";
  return e;
}

/// `micro ARGS...` with MICRO_TRANSPORT=zmq (or without, when plain).
RunResult micro_zmq(const Cluster& c, std::vector<std::string> args, bool plain = false,
                    const std::string& log_level = "warn") {
  args.insert(args.begin(), (bin_dir() / "micro").string());
  auto env = plain ? c.env() : zmq_env(c);
  env["MICRO_LOG_LEVEL"] = log_level;
  return run(std::move(args), env, std::chrono::seconds(60));
}

std::unique_ptr<Process> start_server(Cluster& c, std::map<std::string, std::string> extra = {}) {
  extra["MICRO_TRANSPORT"] = "zmq";
  auto p = c.start("micro-test-server", extra);
  const bool up = wait_for(
      [&] {
        if (!p->running()) return true;
        return micro_zmq(c, {"call", "test", "Test.Echo", "{}", "--timeout", "2s"}).status == 0;
      },
      std::chrono::seconds(20));
  if (!up || !p->running())
    throw std::runtime_error("micro-test-server did not come up: " + p->err());
  return p;
}

}  // namespace

TEST_CASE("zmq: the node registers transport zmq and micro call answers") {
  Cluster c;
  auto s = start_server(c);
  auto d = micro_zmq(c, {"describe", "test", "--json"});
  REQUIRE(d.status == 0);
  CHECK(parse_json(d.out)[0]["nodes"][0]["metadata"]["transport"] == "zmq");
  auto r = micro_zmq(c, {"call", "test", "Test.Echo", R"({"a":1})"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(parse_json(r.out) == json{{"a", 1}});
}

TEST_CASE("zmq: a client without MICRO_TRANSPORT picks zmq from the node metadata") {
  Cluster c;
  auto s = start_server(c);
  auto r = micro_zmq(c, {"call", "test", "Test.Echo", R"({"b":2})"}, true);
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(parse_json(r.out) == json{{"b", 2}});
}

TEST_CASE("zmq: micro stream prints every reply of a server stream") {
  Cluster c;
  auto s = start_server(c);
  auto r = micro_zmq(c, {"stream", "test", "Test.Count", R"({"count":3})"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out == "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n");
}

TEST_CASE("zmq: errors and deadlines reach the caller") {
  Cluster c;
  auto s = start_server(c);
  auto f = micro_zmq(c, {"call", "test", "Test.Fail", R"({"code":404,"detail":"no such thing"})"});
  CHECK(f.status == 1);
  CHECK(f.err.find(R"("code":404)") != std::string::npos);
  auto t = micro_zmq(c, {"call", "test", "Test.Sleep", R"({"ms":3000})", "--timeout", "300ms"});
  CHECK(t.status == 1);
  CHECK(t.err.find(R"("code":408)") != std::string::npos);
}

TEST_CASE("zmq: micro bench runs 2000 calls over 16 workers without errors") {
  Cluster c;
  auto s = start_server(c);
  auto r = micro_zmq(c, {"bench", "test", "Test.Echo", "{}", "-n", "2000", "-c", "16", "--json"});
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  auto j = parse_json(last_line(r.out));
  CHECK(j["requests"] == 2000);
  CHECK(j["errors"] == 0);
  CHECK(j["qps"].get<double>() > 0);
}

TEST_CASE("zmq: calls to a killed server are retried on another node") {
  Cluster c;
  auto a = start_server(c, {{"MICRO_SERVER_ADDRESS", "127.0.0.1:" + std::to_string(free_port())}});
  auto b = start_server(c);
  REQUIRE(wait_for([&] {
    return parse_json(micro_zmq(c, {"describe", "test", "--json"}).out)[0]["nodes"].size() == 2;
  }));
  a->signal(SIGKILL);
  a->wait();
  auto r = micro_zmq(c, {"bench", "test", "Test.Echo", "{}", "-n", "50", "-c", "2", "--json"});
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  auto j = parse_json(last_line(r.out));
  CHECK(j["errors"] == 0);
  CHECK(j["nodes"].size() == 1);
}

TEST_CASE("zmq: SIGTERM drains: the call in flight completes and the process exits 0") {
  Cluster c;
  const std::string addr = "127.0.0.1:" + std::to_string(free_port());
  auto a = start_server(c, {{"MICRO_SERVER_ADDRESS", addr}, {"MICRO_LOG_LEVEL", "debug"}});
  const auto marker = c.dir / "in-flight";
  RunResult slow;
  std::thread caller([&] {
    json req = {{"ms", 1000}, {"marker", marker.string()}};
    slow = micro_zmq(
        c, {"call", "test", "Test.Sleep", req.dump(), "--address", addr, "--timeout", "10s"}, false,
        "debug");
  });
  REQUIRE(wait_for([&] { return std::filesystem::exists(marker); }));
  a->signal(SIGTERM);
  caller.join();
  CHECK(a->wait(std::chrono::seconds(10)) == 0);
  INFO(slow.err);
  INFO(a->err());
  CHECK(slow.status == 0);
  CHECK(parse_json(slow.out)["slept_ms"] == 1000);
}

namespace {

/// The one node of SERVICE, as `micro describe` shows it.
json only_node(const Cluster& c, const std::string& service) {
  auto d = c.micro({"describe", service, "--json"});
  if (d.status != 0) throw std::runtime_error("describe " + service + ": " + d.err);
  auto nodes = parse_json(d.out)[0]["nodes"];
  if (nodes.size() != 1) throw std::runtime_error(service + " has " + nodes.dump());
  return nodes[0];
}

/// A client process's runtime on the cluster's registry with the default transport (http).
micro::Config client_config(const Cluster& c) {
  micro::Config cfg;
  cfg.registry_addrs = {(c.dir.path() / "registry").string()};
  return cfg;
}

}  // namespace

TEST_CASE("zmq: a client calling an http greeter and a zmq greeter in one process") {
  Cluster c;
  auto h = c.start("micro-test-server", {{"MICRO_SERVER_NAME", "greeter-http"}}, "greeter-http",
                   "Test.Echo");
  auto z = c.start("micro-test-server",
                   {{"MICRO_SERVER_NAME", "greeter-zmq"}, {"MICRO_TRANSPORT", "zmq"}},
                   "greeter-zmq", "Test.Echo");
  const json hn = only_node(c, "greeter-http"), zn = only_node(c, "greeter-zmq");
  REQUIRE(hn["metadata"]["transport"] == "http");
  REQUIRE(zn["metadata"]["transport"] == "zmq");
  const std::string hid = hn["id"], zid = zn["id"];
  REQUIRE(hid != zid);

  // One runtime and one client for every call below; its own default transport is http.
  auto cfg = client_config(c);
  micro::Runtime rt(cfg);
  rt.start();
  REQUIRE(rt.transport()->name() == "http");
  auto client = micro::new_client(rt, "mixed-client");
  client->init(micro::client_options(cfg));

  auto whoami = [&](const std::string& service) {
    micro::Context ctx;
    return micro::call<json>(*client, ctx, service, "Test.Whoami", json::object());
  };

  SECTION("interleaved unary calls: each reply comes from the node of its service") {
    for (int i = 0; i < 20; ++i) {
      const json a = whoami("greeter-http");
      const json b = whoami("greeter-zmq");
      REQUIRE(a["id"] == hid);
      REQUIRE(b["id"] == zid);
      micro::Context ctx;
      REQUIRE(micro::call<json>(*client, ctx, "greeter-zmq", "Test.Echo", json{{"i", i}}) ==
              json{{"i", i}});
      REQUIRE(micro::call<json>(*client, ctx, "greeter-http", "Test.Echo", json{{"i", -i}}) ==
              json{{"i", -i}});
    }
    // The zmq node was reached through the zmq plugin, loaded next to the default transport.
    CHECK(rt.transport("zmq")->name() == "zmq");

    // Concurrent callers, each alternating between the two transports on the same client.
    std::atomic<int> ok{0}, wrong{0}, failed{0};
    std::string first_error;
    std::mutex mu;
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
      ts.emplace_back([&, t] {
        for (int i = 0; i < 50; ++i) {
          const bool zmq = (i + t) % 2 == 0;
          try {
            const json r = whoami(zmq ? "greeter-zmq" : "greeter-http");
            (r["id"] == (zmq ? zid : hid) ? ok : wrong)++;
          } catch (const std::exception& e) {
            if (failed++ == 0) {
              std::lock_guard lock(mu);
              first_error = e.what();
            }
          }
        }
      });
    for (auto& t : ts) t.join();
    INFO(first_error);
    CHECK(failed == 0);
    CHECK(wrong == 0);
    CHECK(ok == 200);
  }

  SECTION("a node advertising a transport that is not installed fails with a clear error") {
    // Written by hand, as another tool would: one node of greeter-quic with transport "quic".
    const auto dir = c.dir.path() / "registry" / "greeter-quic";
    std::filesystem::create_directories(dir);
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all);
    json node = zn;
    node["id"] = "greeter-quic-1";
    node["address"] = "127.0.0.1:" + std::to_string(free_port());
    node["metadata"]["transport"] = "quic";
    const json svc = {{"name", "greeter-quic"},
                      {"version", "latest"},
                      {"metadata", nullptr},
                      {"endpoints", json::array()},
                      {"nodes", json::array({node})}};
    const auto file = dir / "greeter-quic-1.json";
    write_file(file, svc.dump());
    std::filesystem::last_write_time(
        file, std::filesystem::file_time_type::clock::now() + std::chrono::hours(1));

    const auto t0 = std::chrono::steady_clock::now();
    try {
      whoami("greeter-quic");
      FAIL("a call to a quic node succeeded");
    } catch (const micro::Error& e) {
      const std::string& why = e.detail();
      INFO(e.what());
      CHECK(e.errc() == micro::Errc::unavailable);
      CHECK(why.find("node greeter-quic-1 (" + node["address"].get<std::string>() + ")") !=
            std::string::npos);
      CHECK(why.find("uses transport \"quic\"") != std::string::npos);
      CHECK(why.find("no transport plugin named \"quic\"") != std::string::npos);
    }
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));  // no retry loop

    // The client is not poisoned: both real transports still answer.
    CHECK(whoami("greeter-http")["id"] == hid);
    CHECK(whoami("greeter-zmq")["id"] == zid);
  }

  client.reset();
  rt.stop();
}

TEST_CASE(
    "zmq: one service with an http node and a zmq node: each call uses its node's transport") {
  Cluster c;
  auto h = c.start("micro-test-server", {{"MICRO_SERVER_NAME", "greeter"}}, "greeter", "Test.Echo");
  auto z =
      c.start("micro-test-server", {{"MICRO_SERVER_NAME", "greeter"}, {"MICRO_TRANSPORT", "zmq"}});
  std::map<std::string, std::string> transport_of;  // node id -> advertised transport
  std::string last;
  const bool both = wait_for([&] {
    auto d = c.micro({"describe", "greeter", "--json"});
    last = d.out + d.err;
    if (d.status != 0) return false;
    transport_of.clear();
    const json j = parse_json(d.out);
    for (auto& n : j[0]["nodes"])
      transport_of[n["id"].get<std::string>()] = n["metadata"]["transport"].get<std::string>();
    return transport_of.size() == 2;
  });
  INFO(last << z->err());
  REQUIRE(both);
  std::set<std::string> kinds;
  for (auto& [id, t] : transport_of) kinds.insert(t);
  REQUIRE(kinds == std::set<std::string>{"http", "zmq"});

  auto cfg = client_config(c);
  micro::Runtime rt(cfg);
  rt.start();
  auto client = micro::new_client(rt, "mixed-client");
  client->init(micro::client_options(cfg));
  std::map<std::string, int> answered;  // node id -> calls it answered
  for (int i = 0; i < 100; ++i) {
    micro::Context ctx;
    const json r = micro::call<json>(*client, ctx, "greeter", "Test.Whoami", json::object());
    REQUIRE(transport_of.count(r["id"].get<std::string>()));
    ++answered[r["id"].get<std::string>()];
  }
  // The random selector picks both nodes (a miss has probability 2^-99); every call succeeded.
  CHECK(answered.size() == 2);
  client.reset();
  rt.stop();
}
