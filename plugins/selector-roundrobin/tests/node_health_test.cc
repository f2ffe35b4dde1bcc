// micro::NodeHealth: ejection after consecutive failures, half-open probes, revival, back-off
// doubling up to its cap, reset, least-bad choice, concurrency.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "micro/errors.h"
#include "micro/node_health.h"
#include "support.h"

using micro::NodeHealth;
using namespace std::chrono_literals;

namespace {

NodeHealth::Options opts(int threshold, std::chrono::milliseconds eject,
                         std::chrono::milliseconds eject_max) {
  NodeHealth::Options o;
  o.failure_threshold = threshold;
  o.eject = eject;
  o.eject_max = eject_max;
  return o;
}

// How long until admit() lets a call through again, polling.
std::chrono::milliseconds time_to_admit(NodeHealth& h, const char* node) {
  auto start = micro::Clock::now();
  REQUIRE(micro::test::wait_for([&] { return h.admit("s", node); }, 5s));
  return std::chrono::duration_cast<std::chrono::milliseconds>(micro::Clock::now() - start);
}

}  // namespace

TEST_CASE("node health admits a node until its consecutive failures reach the threshold") {
  NodeHealth h(opts(3, 10s, 10s));
  h.failure("s", "a");
  h.failure("s", "a");
  CHECK(h.state("s", "a") == NodeHealth::State::failing);
  CHECK(h.admit("s", "a"));
  h.failure("s", "a");
  CHECK(h.state("s", "a") == NodeHealth::State::ejected);
  CHECK_FALSE(h.admit("s", "a"));
  CHECK(h.admit("s", "b"));
  CHECK(h.admit("other", "a"));
}

TEST_CASE("node health: a success clears the consecutive count") {
  NodeHealth h(opts(2, 10s, 10s));
  h.failure("s", "a");
  h.success("s", "a");
  h.failure("s", "a");
  CHECK(h.failures("s", "a") == 1);
  CHECK(h.admit("s", "a"));
}

TEST_CASE("node health lets exactly one probe through after the back-off and revives on success") {
  NodeHealth h(opts(1, 30ms, 1s));
  h.failure("s", "a");
  CHECK_FALSE(h.admit("s", "a"));
  CHECK(time_to_admit(h, "a") >= 25ms);  // the probe
  CHECK(h.state("s", "a") == NodeHealth::State::probing);
  CHECK_FALSE(h.admit("s", "a"));  // one probe at a time
  h.success("s", "a");
  CHECK(h.state("s", "a") == NodeHealth::State::healthy);
  CHECK(h.admit("s", "a"));
  CHECK(h.admit("s", "a"));
}

TEST_CASE("node health admits one probe among concurrent callers") {
  NodeHealth h2(opts(1, 300ms, 10s));  // the probe's lease outlasts the threads
  h2.failure("s", "a");
  REQUIRE(micro::test::wait_for([&] { return h2.state("s", "a") == NodeHealth::State::half_open; },
                                5s));
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) admitted += h2.admit("s", "a");
    });
  for (auto& t : threads) t.join();
  CHECK(admitted == 1);
}

TEST_CASE("node health doubles the back-off on a failed probe, up to eject_max") {
  NodeHealth h(opts(1, 20ms, 50ms));
  h.failure("s", "a");
  CHECK(h.backoff("s", "a") == 20ms);
  CHECK(time_to_admit(h, "a") >= 15ms);  // the probe
  h.failure("s", "a");                   // failed probe
  CHECK(h.backoff("s", "a") == 40ms);
  CHECK_FALSE(h.admit("s", "a"));
  CHECK(time_to_admit(h, "a") >= 35ms);
  h.failure("s", "a");
  CHECK(h.backoff("s", "a") == 50ms);  // 80, capped
  CHECK(time_to_admit(h, "a") >= 45ms);
  h.failure("s", "a");
  CHECK(h.backoff("s", "a") == 50ms);
  CHECK(time_to_admit(h, "a") >= 45ms);
  h.success("s", "a");
  CHECK(h.backoff("s", "a") == 0ms);
  h.failure("s", "a");  // a new ejection starts from eject again
  CHECK(h.backoff("s", "a") == 20ms);
}

TEST_CASE("node health: failures of calls that were not the probe do not extend the back-off") {
  NodeHealth h(opts(1, 40ms, 10s));
  h.failure("s", "a");
  h.failure("s", "a");  // e.g. a call sent before the ejection
  h.failure("s", "a");
  CHECK(h.failures("s", "a") == 3);
  CHECK(h.backoff("s", "a") == 40ms);
}

TEST_CASE("node health reset forgets a service's nodes only") {
  NodeHealth h(opts(1, 10s, 10s));
  h.failure("s", "a");
  h.failure("t", "a");
  h.reset("s");
  CHECK(h.admit("s", "a"));
  CHECK(h.state("s", "a") == NodeHealth::State::healthy);
  CHECK_FALSE(h.admit("t", "a"));
  h.clear();
  CHECK(h.admit("t", "a"));
}

TEST_CASE("node health least_bad prefers fewest failures, then the oldest ejection") {
  NodeHealth h(opts(1, 10s, 10s));
  std::vector<std::string> ids{"a", "b", "c"};
  auto at = [&](std::size_t i) { return std::string_view(ids[i]); };
  h.failure("s", "a");
  h.failure("s", "a");
  h.failure("s", "b");
  h.failure("s", "c");
  h.failure("s", "c");
  CHECK(h.least_bad("s", 3, at) == 1);
  h.failure("s", "b");  // now a=2, b=2, c=2: a was ejected first
  CHECK(h.least_bad("s", 3, at) == 0);
  ids.push_back("fresh");
  CHECK(h.least_bad("s", 4, at) == 3);
}

TEST_CASE("node health refuses invalid options with a config error") {
  auto errc = [](NodeHealth::Options o) {
    try {
      NodeHealth h(o);
    } catch (const micro::Error& e) {
      return e.errc();
    }
    return micro::Errc::ok;
  };
  CHECK(errc(opts(0, 1s, 1s)) == micro::Errc::config);
  CHECK(errc(opts(1, -1s, 1s)) == micro::Errc::config);
  CHECK(errc(opts(1, 2s, 1s)) == micro::Errc::config);
  CHECK(errc(opts(1, 1s, 1s)) == micro::Errc::ok);
}

TEST_CASE("node health counts failures from many threads exactly") {
  NodeHealth h(opts(1000000, 10s, 10s));
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        h.failure("s", "a");
        h.failure("s" + std::to_string(t), "b");
        (void)h.admit("s", "a");
      }
    });
  for (auto& t : threads) t.join();
  CHECK(h.failures("s", "a") == 8000);
  for (int t = 0; t < 8; ++t) CHECK(h.failures("s" + std::to_string(t), "b") == 1000);
}
