// End to end: real service processes on the embedded defaults (transport http, registry file),
// called by the `micro` command and by the C++ client from other processes.
#include <atomic>
#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "e2e.h"
#include "micro/micro.h"
#include "micro/runtime.h"

using namespace micro::test;
using nlohmann::json;

TEST_CASE("greeter runs with no config and answers micro call from another process") {
  Cluster c;
  auto g = c.start("greeter-server", {}, "greeter", "Greeter.Hello");
  auto r = c.micro({"call", "greeter", "Greeter.Hello", R"({"name":"John"})"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(parse_json(r.out) == json{{"msg", "Hello John"}});
}

TEST_CASE("greeter-client calls Hello and reads Stream") {
  Cluster c;
  auto g = c.start("greeter-server", {}, "greeter", "Greeter.Hello");
  auto r = run({(bin_dir() / "greeter-client").string(), "--name", "Ada"}, c.env());
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out == "Hello Ada\nstream: message 0\nstream: message 1\nstream: message 2\n");
}

TEST_CASE("micro services and describe show the registered service, nodes and endpoints") {
  Cluster c;
  auto g = c.start("greeter-server", {}, "greeter", "Greeter.Hello");
  auto s = c.micro({"services"});
  REQUIRE(s.status == 0);
  CHECK(s.out.find("greeter\n") != std::string::npos);
  auto d = c.micro({"describe", "greeter", "--json"});
  REQUIRE(d.status == 0);
  auto j = parse_json(d.out);
  REQUIRE(j.size() == 1);
  CHECK(j[0]["name"] == "greeter");
  REQUIRE(j[0]["nodes"].size() == 1);
  CHECK(j[0]["nodes"][0]["metadata"]["protocol"] == "mucp");
  CHECK(j[0]["nodes"][0]["metadata"]["transport"] == "http");
  CHECK(j[0]["nodes"][0]["id"].get<std::string>().rfind("greeter-", 0) == 0);
  std::set<std::string> eps;
  for (auto& e : j[0]["endpoints"]) eps.insert(e["name"]);
  CHECK(eps.count("Greeter.Hello"));
  CHECK(eps.count("Greeter.Stream"));
  CHECK(eps.count("Greeter.Chat"));
}

TEST_CASE("handler errors reach the caller as go-micro errors") {
  Cluster c;
  auto t = c.start("micro-test-server", {}, "test", "Test.Echo");
  auto r = c.micro({"call", "test", "Test.Fail", R"({"code":404,"detail":"no such thing"})"});
  CHECK(r.status == 1);
  CHECK(r.err.find(R"("code":404)") != std::string::npos);
  CHECK(r.err.find("no such thing") != std::string::npos);

  auto plain = c.micro({"call", "test", "Test.Fail", R"({"plain":true})"});
  CHECK(plain.status == 1);
  CHECK(plain.err.find(R"("code":500)") != std::string::npos);
  CHECK(plain.err.find("plain failure") != std::string::npos);

  auto unknown = c.micro({"call", "test", "Test.Nope", "{}"});
  CHECK(unknown.status == 1);
  CHECK(unknown.err.find(R"("code":404)") != std::string::npos);

  auto bad_greet = c.micro({"call", "test", "Test.Echo", "{not json"});
  CHECK(bad_greet.status == 2);
}

TEST_CASE("the call timeout is the server's deadline and fails the call in time") {
  Cluster c;
  auto t = c.start("micro-test-server", {}, "test", "Test.Echo");
  const auto t0 = std::chrono::steady_clock::now();
  auto r = c.micro({"call", "test", "Test.Sleep", R"({"ms":3000})", "--timeout", "300ms"});
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK(r.status == 1);
  CHECK(r.err.find(R"("code":408)") != std::string::npos);
  CHECK(took < std::chrono::milliseconds(2500));
  auto meta = c.micro({"call", "test", "Test.Meta", "{}", "--timeout", "2s"});
  REQUIRE(meta.status == 0);
  CHECK(parse_json(meta.out)["has_deadline"] == true);
}

TEST_CASE("metadata goes to the handler and reply headers come back") {
  Cluster c;
  auto t = c.start("micro-test-server", {}, "test", "Test.Echo");
  auto r = c.micro({"call", "test", "Test.Meta", "{}", "--metadata", "X-Echo=hello", "--metadata",
                    "Tenant=acme", "-v"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto j = parse_json(r.out);
  CHECK(j["X-Echo"] == "hello");
  CHECK(j["Tenant"] == "acme");
  CHECK(j["from_service"] == "micro.cli");
  CHECK(r.err.find("X-Echo: hello") != std::string::npos);
  CHECK(r.err.find("node: test-") != std::string::npos);
}

TEST_CASE("micro stream prints one reply a line") {
  Cluster c;
  auto t = c.start("micro-test-server", {}, "test", "Test.Echo");
  auto r = c.micro({"stream", "test", "Test.Count", R"({"count":3})"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out == "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n");
  auto g = c.start("greeter-server", {}, "greeter", "Greeter.Hello");
  auto gs = c.micro({"stream", "greeter", "Greeter.Stream", R"({"count":2})"});
  REQUIRE(gs.status == 0);
  // go-micro's JSON: proto field names, int64 as numbers, zero values omitted.
  CHECK(gs.out == "{\"msg\":\"message 0\"}\n{\"count\":1,\"msg\":\"message 1\"}\n");
}

TEST_CASE("micro bench reports requests, latency and the spread over nodes") {
  Cluster c;
  auto a = c.start("micro-test-server", {}, "test", "Test.Echo");
  auto b = c.start("micro-test-server", {}, "test", "Test.Echo");
  REQUIRE(wait_for([&] {
    return parse_json(c.micro({"describe", "test", "--json"}).out)[0]["nodes"].size() == 2;
  }));
  auto r = c.micro({"bench", "test", "Test.Echo", R"({"x":1})", "-n", "400", "-c", "4", "--json"});
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  auto j = parse_json(last_line(r.out));
  CHECK(j["requests"] == 400);
  CHECK(j["errors"] == 0);
  CHECK(j["qps"].get<double>() > 0);
  CHECK(j["latency_ms"]["p99"].get<double>() >= j["latency_ms"]["p50"].get<double>());
  REQUIRE(j["nodes"].size() == 2);
  long total = 0;
  for (auto& [k, v] : j["nodes"].items()) {
    total += v.get<long>();
    CHECK(v.get<long>() > 40);  // random over two nodes: each gets a fair share
  }
  CHECK(total == 400);
}

TEST_CASE("SIGTERM drains: the call in flight completes, the process deregisters and exits 0") {
  Cluster c;
  const std::string addr_a = "127.0.0.1:" + std::to_string(free_port());
  auto a = c.start("micro-test-server", {{"MICRO_SERVER_ADDRESS", addr_a}}, "test", "Test.Echo");
  auto b = c.start("micro-test-server", {}, "test", "Test.Echo");
  REQUIRE(wait_for([&] {
    return parse_json(c.micro({"describe", "test", "--json"}).out)[0]["nodes"].size() == 2;
  }));
  const auto marker = c.dir / "in-flight";
  RunResult slow;
  std::thread caller([&] {
    json req = {{"ms", 1500}, {"marker", marker.string()}};
    slow = c.micro(
        {"call", "test", "Test.Sleep", req.dump(), "--address", addr_a, "--timeout", "10s"});
  });
  REQUIRE(wait_for([&] { return std::filesystem::exists(marker); }));
  a->signal(SIGTERM);
  caller.join();
  INFO(slow.err);
  CHECK(slow.status == 0);
  CHECK(parse_json(slow.out)["slept_ms"] == 1500);
  CHECK(a->wait(std::chrono::seconds(10)) == 0);
  // A deregistered: one node left, and new calls all succeed on it.
  auto nodes = parse_json(c.micro({"describe", "test", "--json"}).out)[0]["nodes"];
  REQUIRE(nodes.size() == 1);
  CHECK(nodes[0]["address"] != addr_a);
  for (int i = 0; i < 5; ++i) CHECK(c.micro({"call", "test", "Test.Echo", "{}"}).status == 0);
}

TEST_CASE("calls to a killed server are retried on another node") {
  Cluster c;
  const std::string addr_a = "127.0.0.1:" + std::to_string(free_port());
  auto a = c.start("micro-test-server", {{"MICRO_SERVER_ADDRESS", addr_a}}, "test", "Test.Echo");
  auto b = c.start("micro-test-server", {}, "test", "Test.Echo");
  REQUIRE(wait_for([&] {
    return parse_json(c.micro({"describe", "test", "--json"}).out)[0]["nodes"].size() == 2;
  }));
  a->signal(SIGKILL);
  a->wait();
  // A stays in the registry until its TTL: every call that picks it must be retried on B.
  auto r = c.micro({"bench", "test", "Test.Echo", "{}", "-n", "50", "-c", "2", "--json"});
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  auto j = parse_json(last_line(r.out));
  CHECK(j["errors"] == 0);
  CHECK(j["nodes"].size() == 1);
}

TEST_CASE("a node killed in the middle of the load costs no failed call") {
  Cluster c;
  auto a = c.start("micro-test-server", {}, "test", "Test.Echo");
  auto b = c.start("micro-test-server", {}, "test", "Test.Echo");
  REQUIRE(wait_for([&] {
    return parse_json(c.micro({"describe", "test", "--json"}).out)[0]["nodes"].size() == 2;
  }));
  micro::Config cfg;
  cfg.registry_addrs = {(c.dir.path() / "registry").string()};
  micro::Runtime rt(cfg);
  rt.start();
  auto client = micro::new_client(rt, "e2e");
  client->init(micro::client_options(cfg));
  std::atomic<int> done{0}, failed{0};
  std::vector<std::thread> load;
  for (int t = 0; t < 4; ++t)
    load.emplace_back([&] {
      for (int i = 0; i < 750; ++i) {
        micro::Context ctx;
        try {
          micro::call<json>(*client, ctx, "test", "Test.Echo", json{{"i", i}});
        } catch (const std::exception&) {
          ++failed;
        }
        ++done;
      }
    });
  REQUIRE(wait_for([&] { return done > 500; }));  // both nodes are serving the load
  a->signal(SIGKILL);
  for (auto& t : load) t.join();
  CHECK(done == 3000);
  CHECK(failed == 0);
  client.reset();
  rt.stop();
}
