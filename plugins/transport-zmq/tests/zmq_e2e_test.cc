// End to end over transport-zmq: micro-test-server processes with MICRO_TRANSPORT=zmq, called
// by the `micro` command (call, stream, bench) from other processes.
#include <catch2/catch.hpp>

#include <filesystem>
#include <thread>

#include "e2e.h"

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
