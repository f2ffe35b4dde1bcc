// broker-kafka loaded through the plugin loader, against librdkafka's mock cluster (the real
// Kafka protocol over TCP on 127.0.0.1; Debian has no Kafka server package).
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "broker_inbox.h"
#include "micro/broker.h"
#include "micro/errors.h"
#include "plugin_host.h"
#include "support.h"

using Catch::Matchers::Contains;
using micro::test::wait_for;
using namespace std::chrono_literals;

namespace {

// Quick group rebalances and an even spread of unkeyed records over partitions.
const std::string kFast = R"({"session.timeout.ms":"6000","heartbeat.interval.ms":"500",)"
                          R"("sticky.partitioning.linger.ms":"0","log_level":"3"})";

std::shared_ptr<micro::Broker> load_broker(const std::string& bootstrap,
                                           const std::string& options = "{}", bool start = true) {
  micro::Broker::Options o;
  if (!bootstrap.empty()) o.addrs = {bootstrap};
  return micro::test::load_plugin<micro::Broker>(
      micro::plugin::Kind::broker, "kafka", options, micro::test::no_host(),
      start ? micro::test::Start::yes : micro::test::Start::no, std::move(o));
}

std::string opts(const std::string& extra = "") {
  return R"({"config":)" + kFast + R"(,"retry_backoff_ms":50)" + extra + "}";
}

// A 3-broker mock cluster owned by a helper client.
class MockCluster {
 public:
  MockCluster() {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    REQUIRE(rk_);
    mc_ = rd_kafka_mock_cluster_new(rk_, 3);
    REQUIRE(mc_);
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(mc_);
    rd_kafka_destroy(rk_);
  }
  std::string bootstrap() const { return rd_kafka_mock_cluster_bootstraps(mc_); }
  void topic(const std::string& t, int partitions) {
    REQUIRE(rd_kafka_mock_topic_create(mc_, t.c_str(), partitions, 3) == 0);
  }
  rd_kafka_mock_cluster_t* get() { return mc_; }

 private:
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* mc_ = nullptr;
};

micro::broker::Message msg(const std::string& body, const std::string& topic = "events") {
  return micro::test::json_message(body, topic);
}

// Counts how often each body was handled.
struct Inbox {
  std::mutex mu;
  std::map<std::string, int> seen;
  std::size_t total = 0;
  micro::broker::Handler handler() {
    return [this](micro::broker::Event& e) {
      std::lock_guard lk(mu);
      ++seen[e.message().body];
      ++total;
    };
  }
  std::size_t distinct() {
    std::lock_guard lk(mu);
    return seen.size();
  }
  int count(const std::string& prefix) {
    std::lock_guard lk(mu);
    int n = 0;
    for (auto& [k, v] : seen)
      if (k.rfind(prefix, 0) == 0) n += v;
    return n;
  }
};

// The committed offset of group for topic[0] (RD_KAFKA_OFFSET_INVALID when none).
int64_t committed(const std::string& bootstrap, const std::string& group,
                  const std::string& topic) {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", group.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!rk) return -3;  // no REQUIRE: called from handler threads too
  auto* l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, topic.c_str(), 0);
  auto e = rd_kafka_committed(rk, l, 10000);
  int64_t off = e ? -2 : l->elems[0].offset;
  rd_kafka_topic_partition_list_destroy(l);
  rd_kafka_destroy(rk);
  return off;
}

// Reads the first record of topic[0] with a plain consumer: {value, key length}.
std::pair<std::string, std::size_t> first_record(const std::string& bootstrap,
                                                 const std::string& topic) {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", "raw-reader", err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  REQUIRE(rk);
  auto* l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, topic.c_str(), 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
  REQUIRE(rd_kafka_assign(rk, l) == RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(l);
  std::pair<std::string, std::size_t> out{"", 0};
  auto until = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < until) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (!m) continue;
    bool got = !m->err;
    if (got) out = {std::string(static_cast<const char*>(m->payload), m->len), m->key_len};
    rd_kafka_message_destroy(m);
    if (got) break;
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

}  // namespace

TEST_CASE("broker kafka loads through the loader with its defaults") {
  auto b = load_broker("", "{}", false);
  CHECK(b->name() == "kafka");
  CHECK(b->address() == "127.0.0.1:9092");
  auto o = b->options().plugin_options;
  CHECK_THAT(o, Contains("\"flush_timeout_ms\":10000"));
  CHECK_THAT(o, Contains("\"initial_offset\":\"earliest\""));
}

TEST_CASE("broker kafka refuses an unknown librdkafka property naming it") {
  // Keeps the plugin loaded while its exception is handled (the loader unloads the .so with
  // its last instance, and the exception's code lives there).
  auto keep = load_broker("", "{}", false);
  try {
    load_broker("127.0.0.1:1", R"({"config":{"no.such.property":"1"}})", false);
    FAIL("init accepted an unknown property");
  } catch (const micro::Error& e) {
    CHECK(e.errc() == micro::Errc::config);
    CHECK_THAT(e.detail(), Contains("config.no.such.property"));
  }
}

TEST_CASE("broker kafka delivers a published message with its topic and header") {
  MockCluster mc;
  mc.topic("events", 2);
  auto b = load_broker(mc.bootstrap(), opts());
  std::mutex mu;
  std::vector<std::tuple<std::string, std::string, std::string>> got;
  auto sub = b->subscribe("events", [&](micro::broker::Event& e) {
    std::lock_guard lk(mu);
    if (e.error()) return;
    got.emplace_back(e.topic(), e.message().header.at("content-type"), e.message().body);
  });
  b->publish("events", msg("{\"n\":1}"));
  REQUIRE(wait_for(
      [&] {
        std::lock_guard lk(mu);
        return !got.empty();
      },
      30s));
  std::lock_guard lk(mu);
  CHECK(std::get<0>(got[0]) == "events");
  CHECK(std::get<1>(got[0]) == "application/json");
  CHECK(std::get<2>(got[0]) == "{\"n\":1}");
}

TEST_CASE("broker kafka record value is exactly go-micro's JSON envelope, without a key") {
  MockCluster mc;
  mc.topic("wire", 1);
  auto b = load_broker(mc.bootstrap(), opts());
  auto m = msg("{\"n\":1}", "wire");
  b->publish("wire", m);
  auto [value, key_len] = first_record(mc.bootstrap(), "wire");
  CHECK(
      value ==
      R"({"Header":{"Content-Type":"application/json","Micro-Topic":"wire"},"Body":"eyJuIjoxfQ=="})");
  CHECK(value == micro::broker::to_envelope(m));
  CHECK(key_len == 0);
}

TEST_CASE("broker kafka queue group members share the messages, each handled once") {
  MockCluster mc;
  mc.topic("jobs", 4);
  auto b = load_broker(mc.bootstrap(), opts());
  Inbox a, c;
  auto s1 = b->subscribe("jobs", a.handler(), {"workers", true});
  auto s2 = b->subscribe("jobs", c.handler(), {"workers", true});
  // Warm up until both members own partitions (the group has settled).
  int warm = 0;
  REQUIRE(wait_for(
      [&] {
        b->publish("jobs", msg("warm-" + std::to_string(warm++)));
        return a.count("warm-") > 0 && c.count("warm-") > 0;
      },
      60s));
  constexpr int kN = 40;
  for (int i = 0; i < kN; ++i) b->publish("jobs", msg("m-" + std::to_string(i)));
  REQUIRE(wait_for([&] { return a.count("m-") + c.count("m-") >= kN; }, 30s));
  std::set<std::string> all;
  for (Inbox* in : {&a, &c}) {
    std::lock_guard lk(in->mu);
    for (auto& [k, v] : in->seen) {
      if (k.rfind("m-", 0) != 0) continue;
      CHECK(v == 1);
      CHECK(all.insert(k).second);  // not also handled by the other member
    }
  }
  CHECK(all.size() == kN);
  CHECK(a.count("m-") > 0);
  CHECK(c.count("m-") > 0);
}

TEST_CASE("broker kafka subscribers without a queue each see every message") {
  MockCluster mc;
  mc.topic("news", 3);
  auto b = load_broker(mc.bootstrap(), opts());
  Inbox a, c;
  auto s1 = b->subscribe("news", a.handler());
  auto s2 = b->subscribe("news", c.handler());
  constexpr int kN = 30;
  for (int i = 0; i < kN; ++i) b->publish("news", msg(std::to_string(i)));
  REQUIRE(wait_for([&] { return a.distinct() == kN && c.distinct() == kN; }, 60s));
}

TEST_CASE("broker kafka redelivers after a throwing handler and commits only on success") {
  MockCluster mc;
  mc.topic("flaky", 1);
  auto boot = mc.bootstrap();
  auto b = load_broker(boot, opts());
  std::atomic<int> attempts{0}, successes{0};
  std::mutex mu;
  std::vector<int64_t> committed_during;  // the group's offset seen inside each attempt
  bool bodies_ok = true;
  auto sub = b->subscribe("flaky",
                          [&](micro::broker::Event& e) {
                            {
                              std::lock_guard lk(mu);
                              if (e.message().body != "once") bodies_ok = false;
                              committed_during.push_back(committed(boot, "flaky-group", "flaky"));
                            }
                            if (++attempts == 1) throw std::runtime_error("first attempt fails");
                            ++successes;
                          },
                          {"flaky-group", true});
  b->publish("flaky", msg("once"));
  REQUIRE(wait_for([&] { return successes.load() == 1; }, 30s));
  REQUIRE(wait_for([&] { return committed(boot, "flaky-group", "flaky") == 1; }, 30s));
  CHECK(attempts.load() == 2);
  std::lock_guard lk(mu);
  CHECK(bodies_ok);
  REQUIRE(committed_during.size() == 2);
  CHECK(committed_during[0] < 1);  // not committed when the first attempt threw
  CHECK(committed_during[1] < 1);  // nor before the successful one returned
}

TEST_CASE("broker kafka loses nothing while a partition leader is down") {
  MockCluster mc;
  mc.topic("durable", 1);
  REQUIRE(rd_kafka_mock_partition_set_leader(mc.get(), "durable", 0, 1) == 0);
  REQUIRE(rd_kafka_mock_coordinator_set(mc.get(), "group", "durable-group", 2) == 0);
  auto b = load_broker(mc.bootstrap(), opts());
  Inbox in;
  auto sub = b->subscribe("durable", in.handler(), {"durable-group", true});
  for (int i = 0; i < 10; ++i) b->publish("durable", msg("a-" + std::to_string(i)));
  REQUIRE(wait_for([&] { return in.distinct() == 10; }, 60s));
  REQUIRE(rd_kafka_mock_broker_set_down(mc.get(), 1) == 0);
  for (int i = 0; i < 10; ++i) b->publish("durable", msg("b-" + std::to_string(i)));
  // Nothing can be produced or fetched while the leader is down.
  CHECK_FALSE(wait_for([&] { return in.distinct() > 10; }, 1500ms));
  REQUIRE(rd_kafka_mock_broker_set_up(mc.get(), 1) == 0);
  REQUIRE(wait_for([&] { return in.distinct() == 20; }, 60s));
}

TEST_CASE("broker kafka disconnect flushes the messages still queued") {
  MockCluster mc;
  mc.topic("drain", 2);
  // Records would linger 10 s in the producer: only disconnect's flush sends them sooner.
  auto b =
      load_broker(mc.bootstrap(),
                  R"({"config":{"linger.ms":"10000","log_level":"3"},"flush_timeout_ms":20000})");
  constexpr int kN = 50;
  for (int i = 0; i < kN; ++i) b->publish("drain", msg(std::to_string(i)));
  auto t0 = std::chrono::steady_clock::now();
  b->disconnect();
  CHECK(std::chrono::steady_clock::now() - t0 < 9s);
  CHECK_THROWS_AS(b->publish("drain", msg("late")), micro::Error);
  auto reader = load_broker(mc.bootstrap(), opts());
  Inbox in;
  auto sub = reader->subscribe("drain", in.handler());
  REQUIRE(wait_for([&] { return in.distinct() == kN; }, 60s));
}

TEST_CASE("broker kafka publish throws unavailable when the local queue is full") {
  MockCluster mc;
  mc.topic("full", 1);
  auto b = load_broker(mc.bootstrap(),
                       R"({"config":{"queue.buffering.max.messages":"5","linger.ms":"10000",)"
                       R"("log_level":"3"},"flush_timeout_ms":0})");
  for (int i = 0; i < 5; ++i) b->publish("full", msg(std::to_string(i)));
  try {
    b->publish("full", msg("one too many"));
    FAIL("the sixth record was queued");
  } catch (const micro::Error& e) {
    CHECK(e.errc() == micro::Errc::unavailable);
    CHECK_THAT(e.detail(), Contains("full"));
  }
}

TEST_CASE("broker kafka publish throws too_large above message.max.bytes") {
  MockCluster mc;
  mc.topic("big", 1);
  auto b = load_broker(mc.bootstrap(), R"({"config":{"message.max.bytes":"1000"}})");
  try {
    b->publish("big", msg(std::string(2000, 'x')));
    FAIL("an oversized record was queued");
  } catch (const micro::Error& e) {
    CHECK(e.errc() == micro::Errc::too_large);
  }
  CHECK_NOTHROW(b->publish("big", msg("small")));
}

TEST_CASE("broker kafka hands a record that is not an envelope to the handler as an error") {
  MockCluster mc;
  mc.topic("raw", 1);
  {  // a foreign producer writes a plain value
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    auto boot = mc.bootstrap();
    rd_kafka_conf_set(conf, "bootstrap.servers", boot.c_str(), err, sizeof err);
    rd_kafka_t* p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    REQUIRE(p);
    std::string v = "not json";
    REQUIRE(rd_kafka_producev(p, RD_KAFKA_V_TOPIC("raw"), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_VALUE(v.data(), v.size()),
                              RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(rd_kafka_flush(p, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(p);
  }
  auto b = load_broker(mc.bootstrap(), opts());
  std::atomic<int> errors{0}, bodies{0};
  auto sub = b->subscribe("raw", [&](micro::broker::Event& e) {
    if (e.error() && e.error()->errc() == micro::Errc::bad_request && e.message().body.empty())
      ++errors;
    else
      ++bodies;
  });
  REQUIRE(wait_for([&] { return errors.load() == 1; }, 30s));
  CHECK(bodies.load() == 0);
}

TEST_CASE("broker kafka unsubscribe stops delivery") {
  MockCluster mc;
  mc.topic("stop", 1);
  auto b = load_broker(mc.bootstrap(), opts());
  Inbox in;
  auto sub = b->subscribe("stop", in.handler());
  b->publish("stop", msg("before"));
  REQUIRE(wait_for([&] { return in.distinct() == 1; }, 30s));
  sub->unsubscribe();
  CHECK_NOTHROW(sub->unsubscribe());  // idempotent
  b->publish("stop", msg("after"));
  CHECK_FALSE(wait_for([&] { return in.distinct() > 1; }, 1500ms));
}
