// broker-memory loaded through the plugin loader: delivery, broadcast, queue groups,
// unsubscribe, failing handlers, full queues.
#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "broker_inbox.h"
#include "micro/broker.h"
#include "micro/errors.h"
#include "plugin_host.h"
#include "support.h"

using Catch::Matchers::Contains;
using micro::test::wait_for;

namespace {

std::shared_ptr<micro::Broker> load_broker(const std::string& options = "{}") {
  return micro::test::load_plugin<micro::Broker>(micro::plugin::Kind::broker, "memory", options);
}

micro::broker::Message msg(const std::string& body) { return micro::test::json_message(body); }

using micro::test::Inbox;

}  // namespace

TEST_CASE("broker memory loads through the loader and fills its option defaults") {
  auto b = load_broker();
  CHECK(b->name() == "memory");
  auto o = b->options().plugin_options;
  CHECK(o.find("\"queue_size\":10000") != std::string::npos);
  CHECK(o.find("\"error_log_every\":100") != std::string::npos);
}

TEST_CASE("broker memory delivers a published message with its topic and header") {
  auto b = load_broker();
  std::promise<std::tuple<std::string, std::string, std::string>> got;
  auto sub = b->subscribe("events", [&](micro::broker::Event& e) {
    got.set_value({e.topic(), e.message().header.at("content-type"), e.message().body});
  });
  CHECK(sub->topic() == "events");
  b->publish("events", msg("{\"n\":1}"));
  auto f = got.get_future();
  REQUIRE(f.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  auto [topic, ct, body] = f.get();
  CHECK(topic == "events");
  CHECK(ct == "application/json");
  CHECK(body == "{\"n\":1}");
}

TEST_CASE("broker memory broadcasts to every subscriber of the topic only") {
  auto b = load_broker();
  Inbox a, c, other;
  auto s1 = b->subscribe("events", a.handler());
  auto s2 = b->subscribe("events", c.handler());
  auto s3 = b->subscribe("other", other.handler());
  for (int i = 0; i < 20; ++i) b->publish("events", msg(std::to_string(i)));
  REQUIRE(wait_for([&] { return a.size() == 20 && c.size() == 20; }));
  CHECK(a.bodies == c.bodies);  // each subscriber sees the topic's order
  CHECK(a.bodies.front() == "0");
  CHECK(other.size() == 0);
  CHECK_NOTHROW(b->publish("nobody-listens", msg("x")));
}

TEST_CASE("broker memory delivers each message to exactly one member of each queue group") {
  auto b = load_broker();
  constexpr int kMessages = 30;
  Inbox g1[3], g2[2], everyone;
  std::vector<std::unique_ptr<micro::broker::Subscriber>> subs;
  for (auto& in : g1) subs.push_back(b->subscribe("events", in.handler(), {"workers", true}));
  for (auto& in : g2) subs.push_back(b->subscribe("events", in.handler(), {"auditors", true}));
  subs.push_back(b->subscribe("events", everyone.handler()));
  for (int i = 0; i < kMessages; ++i) b->publish("events", msg(std::to_string(i)));
  auto total = [](Inbox* group, int n) {
    std::size_t t = 0;
    for (int i = 0; i < n; ++i) t += group[i].size();
    return t;
  };
  REQUIRE(wait_for([&] {
    return total(g1, 3) == kMessages && total(g2, 2) == kMessages && everyone.size() == kMessages;
  }));
  for (auto* group : {&g1[0], &g2[0]}) {
    int n = group == &g1[0] ? 3 : 2;
    std::multiset<std::string> seen;
    for (int i = 0; i < n; ++i) {
      CHECK(group[i].size() > 0);  // round robin spreads the load
      seen.insert(group[i].bodies.begin(), group[i].bodies.end());
    }
    CHECK(seen.size() == kMessages);
    for (int i = 0; i < kMessages; ++i) CHECK(seen.count(std::to_string(i)) == 1);
  }
}

TEST_CASE("broker memory stops delivering after unsubscribe") {
  auto b = load_broker();
  Inbox in;
  auto sub = b->subscribe("events", in.handler());
  b->publish("events", msg("1"));
  REQUIRE(wait_for([&] { return in.size() == 1; }));
  sub->unsubscribe();
  sub->unsubscribe();  // idempotent
  b->publish("events", msg("2"));
  // Delivery would be asynchronous: a second subscriber that does get "2" bounds the wait.
  Inbox probe;
  auto witness = b->subscribe("events", probe.handler());
  b->publish("events", msg("3"));
  REQUIRE(wait_for([&] { return probe.size() == 1; }));
  CHECK(in.size() == 1);
}

TEST_CASE("broker memory unsubscribe returns only once the handler has finished") {
  auto b = load_broker();
  std::atomic<bool> running{false}, unsubscribed{false};
  std::promise<void> release;
  auto released = release.get_future().share();
  auto sub = b->subscribe("events", [&](micro::broker::Event&) {
    running = true;
    released.wait();
    running = false;
  });
  b->publish("events", msg("x"));
  REQUIRE(wait_for([&] { return running.load(); }));
  std::thread t([&] {
    sub->unsubscribe();
    unsubscribed = true;
  });
  CHECK_FALSE(wait_for([&] { return unsubscribed.load(); }, std::chrono::milliseconds(200)));
  release.set_value();
  t.join();
  CHECK(unsubscribed);
  CHECK_FALSE(running);
}

TEST_CASE("broker memory keeps a subscriber whose handler throws") {
  auto b = load_broker();
  Inbox in;
  auto h = in.handler();
  auto sub = b->subscribe("events", [&](micro::broker::Event& e) {
    if (e.message().body == "bad") throw std::runtime_error("handler failed on purpose");
    h(e);
  });
  b->publish("events", msg("bad"));
  b->publish("events", msg("good"));
  REQUIRE(wait_for([&] { return in.size() == 1; }));
  CHECK(in.bodies[0] == "good");
}

TEST_CASE("broker memory refuses to publish into a full subscriber queue, naming the topic") {
  auto b = load_broker(R"({"queue_size":2})");
  std::promise<void> release;
  auto released = release.get_future().share();
  std::atomic<int> handled{0};
  auto sub = b->subscribe("slow", [&](micro::broker::Event&) {
    released.wait();
    ++handled;
  });
  bool refused = false;
  for (int i = 0; i < 10 && !refused; ++i) {  // 1 in the handler + 2 queued, then full
    try {
      b->publish("slow", msg(std::to_string(i)));
    } catch (const micro::Error& e) {
      refused = true;
      CHECK(e.errc() == micro::Errc::unavailable);
      CHECK_THAT(e.what(), Contains("slow"));
    }
  }
  CHECK(refused);
  release.set_value();
  CHECK(wait_for([&] { return handled >= 2; }));
}

TEST_CASE("broker memory lets a handler unsubscribe itself") {
  auto b = load_broker();
  std::unique_ptr<micro::broker::Subscriber> sub;
  std::atomic<int> calls{0};
  std::mutex mu;
  sub = b->subscribe("events", [&](micro::broker::Event&) {
    ++calls;
    std::lock_guard lk(mu);
    sub->unsubscribe();
  });
  {
    std::lock_guard lk(mu);
    b->publish("events", msg("1"));
    b->publish("events", msg("2"));
  }
  REQUIRE(wait_for([&] { return calls >= 1; }));
  Inbox probe;
  auto witness = b->subscribe("events", probe.handler());
  b->publish("events", msg("3"));
  REQUIRE(wait_for([&] { return probe.size() == 1; }));
  CHECK(calls == 1);
  b->stop();  // joins the worker that unsubscribed itself
}

TEST_CASE("broker memory refuses to publish after disconnect and after stop") {
  auto b = load_broker();
  b->disconnect();
  CHECK_THROWS_AS(b->publish("events", msg("x")), micro::Error);
  b->connect();
  CHECK_NOTHROW(b->publish("events", msg("x")));
  b->stop();
  try {
    b->publish("events", msg("x"));
    FAIL("expected closed");
  } catch (const micro::Error& e) {
    CHECK(e.errc() == micro::Errc::closed);
  }
}
