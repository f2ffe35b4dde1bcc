// micro publish / micro subscribe and a service subscriber over broker-http (MICRO_BROKER=http),
// each process on the cluster's file registry.
#include <catch2/catch.hpp>

#include "e2e.h"

using micro::test::Cluster;
using micro::test::parse_json;
using micro::test::Process;
using micro::test::wait_for;

namespace {

std::map<std::string, std::string> http_env(const Cluster& c) {
  auto e = c.env();
  e["MICRO_BROKER"] = "http";
  return e;
}

micro::test::RunResult publish(const Cluster& c, const std::string& body) {
  return micro::test::run(
      {(micro::test::bin_dir() / "micro").string(), "publish", "greeter.events", body}, http_env(c),
      std::chrono::seconds(30));
}

std::vector<std::string> lines(const std::string& out) {
  std::vector<std::string> v;
  std::size_t start = 0;
  while (start < out.size()) {
    auto end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    if (end > start) v.push_back(out.substr(start, end - start));
    start = end + 1;
  }
  return v;
}

}  // namespace

TEST_CASE("micro subscribe prints the messages micro publish sends over the http broker") {
  Cluster c;
  Process sub({(micro::test::bin_dir() / "micro").string(), "subscribe", "greeter.events",
               "--count", "2", "--timeout", "60s"},
              http_env(c));
  REQUIRE(wait_for(
      [&] {
        return sub.err().find("subscribed to greeter.events") != std::string::npos ||
               !sub.running();
      },
      std::chrono::seconds(20)));
  REQUIRE(sub.running());
  auto r1 = publish(c, R"({"id":"1","text":"hi"})");
  REQUIRE(r1.status == 0);
  auto r2 = publish(c, R"({"id":"2","text":"hi"})");
  REQUIRE(r2.status == 0);
  CHECK(sub.wait(std::chrono::seconds(30)) == 0);
  auto out = lines(sub.out());
  REQUIRE(out.size() == 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    auto j = parse_json(out[i]);
    CHECK(j["topic"] == "greeter.events");
    CHECK(j["header"]["Micro-Topic"] == "greeter.events");
    CHECK(j["header"]["Content-Type"] == "application/json");
    CHECK(j["body"]["id"] == std::to_string(i + 1));
    CHECK(j["body"]["text"] == "hi");
  }
}

TEST_CASE("micro subscribe exits 1 when fewer than --count messages arrive before the timeout") {
  Cluster c;
  auto r = micro::test::run({(micro::test::bin_dir() / "micro").string(), "subscribe",
                             "greeter.events", "--count", "1", "--timeout", "300ms"},
                            http_env(c), std::chrono::seconds(30));
  CHECK(r.status == 1);
  CHECK(r.err.find("0 of 1") != std::string::npos);
}

TEST_CASE("greeter-server receives an event published with micro publish over the http broker") {
  Cluster c;
  auto server = c.start("greeter-server", {{"MICRO_BROKER", "http"}}, "greeter", "Greeter.Hello");
  // The subscriber is registered once the server is up; publish until it has arrived.
  bool seen = wait_for(
      [&] {
        auto r = publish(c, R"({"id":"7","text":"hello"})");
        if (r.status != 0) return false;
        return wait_for([&] { return server->out().find("event 7: hello") != std::string::npos; },
                        std::chrono::seconds(2));
      },
      std::chrono::seconds(30));
  CHECK(seen);
}
