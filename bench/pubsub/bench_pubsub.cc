// micro-bench-pubsub: one publisher, one subscriber, one topic, N messages of S bytes, for one
// system per run: micro-cpp's broker plugins (loaded through micro::Runtime from a config, as a
// service does) or the bare client library doing the same work (libnats, librdkafka).
//
//   micro-bench-pubsub --system SYSTEM [-n N] [--size S] [--window W] [--nats URL]
//                      [--timeout-ms T] [--partitions P] [--broker-use NAME|PATH.so] [--label L]
//
// SYSTEM: micro-nats, micro-nats-client, nats, nats-envelope, micro-kafka, micro-kafka-client,
// kafka, kafka-envelope, micro-kafka-synccommit, micro-http, micro-memory; or envelope (the
// envelope codec alone, see run_envelope). Kafka systems run against librdkafka's mock cluster (3
// brokers on 127.0.0.1) created in this process. Prints one JSON line on stdout.
//
// Every message body is S bytes: sequence number (8 bytes), steady_clock send time in ns
// (8 bytes), filler. The subscriber records (receive time - send time) per sequence number.
// At most W messages are in flight (published, not yet delivered; 0 = no bound), so a faster
// publisher cannot overrun the subscriber's queue. Every wait is bounded: when no message
// arrives for --timeout-ms the run ends and the missing messages are counted as lost.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "micro/broker.h"
#include "micro/config.h"
#include "micro/context.h"
#include "micro/errors.h"
#include "micro/micro.h"
#include "micro/runtime.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kProbe = ~uint64_t{0};  // sequence number of warm-up probes
constexpr const char* kTopic = "bench.pubsub";

struct Args {
  std::string system;
  std::string label;       // printed as "system" (default: the system)
  std::string broker_use;  // micro-* rows: the broker plugin to load (default: by name)
  std::string nats_url = "nats://127.0.0.1:4222";
  uint64_t n = 20000;
  std::size_t size = 128;
  uint64_t window = 1000;
  int64_t timeout_ms = 5000;
  int partitions = 1;
};

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// What the subscriber saw; shared by every system.
class Recorder {
 public:
  explicit Recorder(uint64_t n) : n_(n), lat_ns_(std::make_unique<std::atomic<int64_t>[]>(n)) {
    for (uint64_t i = 0; i < n; ++i) lat_ns_[i].store(-1, std::memory_order_relaxed);
  }

  // Called on the delivery thread with the message body.
  void on_message(const char* data, std::size_t len) {
    int64_t t = now_ns();
    if (len < 16) {
      ++malformed_;
      return;
    }
    uint64_t seq;
    int64_t sent;
    std::memcpy(&seq, data, 8);
    std::memcpy(&sent, data + 8, 8);
    if (seq == kProbe) {
      probes_.fetch_add(1);
      std::lock_guard lk(mu_);
      cv_.notify_all();
      return;
    }
    if (seq >= n_) {
      ++malformed_;
      return;
    }
    if (lat_ns_[seq].exchange(t - sent, std::memory_order_relaxed) >= 0) {
      ++duplicates_;
      return;
    }
    last_ns_.store(t);
    uint64_t d = delivered_.fetch_add(1) + 1;
    if (waiting_.load() && d >= wake_at_.load()) {
      std::lock_guard lk(mu_);
      cv_.notify_all();
    }
  }

  // Blocks until delivered >= target, no delivery for `stall`, or false when stalled.
  bool wait_delivered(uint64_t target, std::chrono::milliseconds stall) {
    if (delivered_.load() >= target) return true;
    std::unique_lock lk(mu_);
    wake_at_.store(target);
    waiting_.store(true);
    uint64_t last = delivered_.load();
    auto until = Clock::now() + stall;
    while (delivered_.load() < target) {
      if (cv_.wait_until(lk, until) == std::cv_status::timeout) {
        uint64_t d = delivered_.load();
        if (d == last) break;  // no progress for `stall`
        last = d;
        until = Clock::now() + stall;
      }
    }
    waiting_.store(false);
    return delivered_.load() >= target;
  }

  bool wait_probe(std::chrono::milliseconds t) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, t, [&] { return probes_.load() > 0; });
  }

  uint64_t delivered() const { return delivered_.load(); }
  uint64_t duplicates() const { return duplicates_.load(); }
  uint64_t malformed() const { return malformed_.load(); }
  int64_t last_ns() const { return last_ns_.load(); }
  // Latencies of delivered messages, in ms, sorted.
  std::vector<double> latencies_ms() const {
    std::vector<double> v;
    v.reserve(delivered_.load());
    for (uint64_t i = 0; i < n_; ++i)
      if (int64_t l = lat_ns_[i].load(std::memory_order_relaxed); l >= 0)
        v.push_back(double(l) / 1e6);
    std::sort(v.begin(), v.end());
    return v;
  }

 private:
  uint64_t n_;
  std::unique_ptr<std::atomic<int64_t>[]> lat_ns_;
  std::atomic<uint64_t> delivered_{0}, duplicates_{0}, malformed_{0}, probes_{0};
  std::atomic<int64_t> last_ns_{0};
  std::atomic<bool> waiting_{false};
  std::atomic<uint64_t> wake_at_{0};
  std::mutex mu_;
  std::condition_variable cv_;
};

// One system: publish(body) sends body; set up so that delivered bodies reach the Recorder.
struct System {
  virtual ~System() = default;
  virtual void publish(const std::string& body) = 0;
  // Called after the last publish (flush what the library buffers). Default: nothing.
  virtual void flush() {}
};

// ---- micro-cpp: broker plugin loaded by a Runtime from a config --------------------------------

std::string micro_config(const std::string& broker, const std::string& addrs,
                         const std::string& options) {
  std::string c = R"({"transport":{"use":"http"},"codecs":["bytes"],)"
                  R"("registry":{"use":"memory"},"selector":{"use":"random"},)"
                  R"("client":{"content_type":"application/octet-stream"},)"
                  R"("broker":{"use":")" +
                  broker + R"(","options":)" + options;
  if (!addrs.empty()) c += R"(,"addresses":[")" + addrs + R"("])";
  return c + "}}";
}

class MicroSystem final : public System {
 public:
  // two_sides: the subscriber gets its own Runtime (own broker connection), as a second
  // service would; otherwise one broker does both (memory and http brokers).
  MicroSystem(const std::string& config, bool two_sides, bool via_client, Recorder& rec)
      : via_client_(via_client) {
    pub_rt_ = std::make_unique<micro::Runtime>(micro::Config::parse(config, "bench config"));
    pub_rt_->start();
    micro::Runtime* sub_rt = pub_rt_.get();
    if (two_sides) {
      sub_rt_ = std::make_unique<micro::Runtime>(micro::Config::parse(config, "bench config"));
      sub_rt_->start();
      sub_rt = sub_rt_.get();
    }
    if (via_client) {
      client_ = micro::new_client(*pub_rt_);
      client_->init(micro::client_options(pub_rt_->config()));
      client_->start();
    }
    broker_ = pub_rt_->broker();
    sub_ = sub_rt->broker()->subscribe(kTopic, [&rec](micro::broker::Event& e) {
      const auto& b = e.message().body;
      rec.on_message(b.data(), b.size());
    });
    msg_.header["Content-Type"] = "application/octet-stream";
    msg_.header["Micro-Topic"] = kTopic;
  }
  ~MicroSystem() override {
    sub_.reset();
    if (client_) client_->stop();
    client_.reset();
    broker_.reset();
    if (sub_rt_) sub_rt_->stop();
    pub_rt_->stop();
  }
  void publish(const std::string& body) override {
    if (via_client_) {
      micro::Context ctx;
      client_->publish(ctx, kTopic, micro::codec::Payload::bytes(body));
      return;
    }
    msg_.body = body;
    broker_->publish(kTopic, msg_);
  }

 private:
  bool via_client_;
  std::unique_ptr<micro::Runtime> pub_rt_, sub_rt_;
  std::unique_ptr<micro::Client> client_;
  std::shared_ptr<micro::Broker> broker_;
  std::unique_ptr<micro::broker::Subscriber> sub_;
  micro::broker::Message msg_;
};

// ---- bare libraries ----------------------------------------------------------------------------

// The subscriber side of a bare system. With `envelope` (rows nats-envelope, kafka-envelope) the
// payload is go-micro's envelope, encoded and decoded by core's micro::broker::to_envelope /
// from_envelope: the bare library doing the same work as the micro rows, minus the framework.
struct Sink {
  Recorder& rec;
  bool envelope;
  micro::broker::Message m;  // delivery thread only
  void deliver(const char* data, std::size_t len) {
    if (!envelope) return rec.on_message(data, len);
    try {
      m = micro::broker::from_envelope(std::string_view(data, len));
    } catch (const micro::Error&) {
      return rec.on_message(data, 0);  // counted as malformed
    }
    rec.on_message(m.body.data(), m.body.size());
  }
};

// The publisher side: the bytes a bare system sends for body.
struct Wire {
  bool envelope;
  micro::broker::Message m;
  std::string text;
  explicit Wire(bool e) : envelope(e) {
    m.header["Content-Type"] = "application/octet-stream";
    m.header["Micro-Topic"] = kTopic;
  }
  const std::string& of(const std::string& body) {
    if (!envelope) return body;
    m.body = body;
    text = micro::broker::to_envelope(m);
    return text;
  }
};

void nats_check(natsStatus s, const char* what) {
  if (s != NATS_OK) {
    std::fprintf(stderr, "micro-bench-pubsub: nats %s: %s\n", what, natsStatus_GetText(s));
    std::exit(1);
  }
}

class NatsSystem final : public System {
 public:
  NatsSystem(const std::string& url, Recorder& rec, bool envelope)
      : sink_{rec, envelope, {}}, wire_(envelope) {
    // Two connections, as two processes would have; library defaults otherwise (the plugin's
    // pending limits, 65536 messages / 64 MiB, are libnats' defaults too).
    nats_check(natsConnection_ConnectTo(&pub_, url.c_str()), "connect");
    nats_check(natsConnection_ConnectTo(&sub_conn_, url.c_str()), "connect");
    nats_check(natsConnection_Subscribe(&sub_, sub_conn_, kTopic, on_msg, &sink_), "subscribe");
    nats_check(natsConnection_Flush(sub_conn_), "flush");
  }
  ~NatsSystem() override {
    natsSubscription_Unsubscribe(sub_);
    natsSubscription_Destroy(sub_);
    natsConnection_Destroy(sub_conn_);
    natsConnection_Destroy(pub_);
  }
  void publish(const std::string& body) override {
    const std::string& w = wire_.of(body);
    nats_check(natsConnection_Publish(pub_, kTopic, w.data(), static_cast<int>(w.size())),
               "publish");
  }
  void flush() override { natsConnection_FlushTimeout(pub_, 5000); }

 private:
  static void on_msg(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
    static_cast<Sink*>(closure)->deliver(natsMsg_GetData(m),
                                         static_cast<std::size_t>(natsMsg_GetDataLength(m)));
    natsMsg_Destroy(m);
  }
  Sink sink_;
  Wire wire_;
  natsConnection* pub_ = nullptr;
  natsConnection* sub_conn_ = nullptr;
  natsSubscription* sub_ = nullptr;
};

// ---- Kafka: mock cluster, settings both sides share ---------------------------------------------

// Producer and consumer properties used by the plugin (through its "config" option) and by the
// bare client alike.
const std::vector<std::pair<std::string, std::string>> kKafkaCommon = {
    {"acks", "all"},                   // wait for all in-sync replicas
    {"linger.ms", "1"},                // batch for up to 1 ms
    {"batch.num.messages", "10000"},   // records per batch
    {"compression.codec", "none"},     // no compression
    {"enable.idempotence", "false"},   // librdkafka default
    {"fetch.wait.max.ms", "1"},        // consumer long-poll bound
    {"session.timeout.ms", "6000"},    // quick group join
    {"heartbeat.interval.ms", "500"},  //
    {"log_level", "3"},                // errors only
};

class MockCluster {
 public:
  explicit MockCluster(int partitions) {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk_) {
      std::fprintf(stderr, "micro-bench-pubsub: mock cluster host: %s\n", err);
      std::exit(1);
    }
    mc_ = rd_kafka_mock_cluster_new(rk_, 3);
    if (!mc_ || rd_kafka_mock_topic_create(mc_, kTopic, partitions, 3) != 0) {
      std::fprintf(stderr, "micro-bench-pubsub: cannot create the mock cluster\n");
      std::exit(1);
    }
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(mc_);
    rd_kafka_destroy(rk_);
  }
  std::string bootstrap() const { return rd_kafka_mock_cluster_bootstraps(mc_); }

 private:
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* mc_ = nullptr;
};

// sync_commit: the plugin's commit_interval_ms 0 (a synchronous commit per message).
std::string kafka_plugin_options(bool sync_commit) {
  std::string c = "{";
  for (const auto& [k, v] : kKafkaCommon)
    c += (c.size() > 1 ? "," : "") + ("\"" + k + "\":\"" + v + "\"");
  return R"({"config":)" + c + R"(},"initial_offset":"earliest")" +
         (sync_commit ? R"(,"commit_interval_ms":0})" : "}");
}

class KafkaSystem final : public System {
 public:
  KafkaSystem(const std::string& bootstrap, Recorder& rec, bool envelope)
      : sink_{rec, envelope, {}}, wire_(envelope) {
    char err[512];
    // Producer with a delivery-report thread, as the plugin has.
    rd_kafka_conf_t* pc = conf(bootstrap);
    rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);
    if (!producer_) die(err);
    // High-level consumer in a fresh group from the earliest offset; at-least-once the
    // idiomatic librdkafka way: the offset is stored after the message was handled and
    // committed in the background (enable.auto.commit, every auto.commit.interval.ms).
    rd_kafka_conf_t* cc = conf(bootstrap);
    set(cc, "group.id", "bench-bare-" + std::to_string(now_ns()));
    set(cc, "auto.offset.reset", "earliest");
    set(cc, "enable.auto.commit", "true");
    set(cc, "enable.auto.offset.store", "false");
    set(cc, "auto.commit.interval.ms", "1000");  // the plugin's commit_interval_ms default
    consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof err);
    if (!consumer_) die(err);
    rd_kafka_poll_set_consumer(consumer_);
    auto* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, kTopic, RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(consumer_, list) != RD_KAFKA_RESP_ERR_NO_ERROR) die("subscribe");
    rd_kafka_topic_partition_list_destroy(list);
    running_ = true;
    poller_ = std::thread([this] {
      while (running_) rd_kafka_poll(producer_, 100);
    });
    consumer_thread_ = std::thread([this] {
      while (running_) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_, 100);
        if (!m) continue;
        if (!m->err) {
          sink_.deliver(static_cast<const char*>(m->payload), m->len);
          rd_kafka_offset_store(m->rkt, m->partition, m->offset);  // offset + 1 after handling
        }
        rd_kafka_message_destroy(m);
      }
    });
  }
  ~KafkaSystem() override {
    running_ = false;
    poller_.join();
    consumer_thread_.join();
    rd_kafka_consumer_close(consumer_);
    rd_kafka_destroy(consumer_);
    rd_kafka_flush(producer_, 5000);
    rd_kafka_destroy(producer_);
  }
  void publish(const std::string& body) override {
    const std::string& w = wire_.of(body);
    auto e = rd_kafka_producev(
        producer_, RD_KAFKA_V_TOPIC(kTopic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(const_cast<char*>(w.data()), w.size()), RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) die(rd_kafka_err2str(e));
  }

 private:
  static void die(const char* what) {
    std::fprintf(stderr, "micro-bench-pubsub: kafka: %s\n", what);
    std::exit(1);
  }
  static void set(rd_kafka_conf_t* c, const std::string& k, const std::string& v) {
    char err[512];
    if (rd_kafka_conf_set(c, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) die(err);
  }
  static rd_kafka_conf_t* conf(const std::string& bootstrap) {
    rd_kafka_conf_t* c = rd_kafka_conf_new();
    set(c, "bootstrap.servers", bootstrap);
    for (const auto& [k, v] : kKafkaCommon) set(c, k, v);
    return c;
  }
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    if (m->err)
      std::fprintf(stderr, "micro-bench-pubsub: kafka delivery: %s\n", rd_kafka_err2str(m->err));
  }
  Sink sink_;
  Wire wire_;
  rd_kafka_t* producer_ = nullptr;
  rd_kafka_t* consumer_ = nullptr;
  std::atomic<bool> running_{false};
  std::thread poller_, consumer_thread_;
};

// ---- envelope cost alone ----------------------------------------------------------------------

// Times micro::broker::to_envelope / from_envelope (core) on the bench message,
// single-threaded, no broker, and checks the round trip.
int run_envelope(const Args& a) {
  micro::broker::Message m;
  m.header["Content-Type"] = "application/octet-stream";
  m.header["Micro-Topic"] = kTopic;
  m.body.assign(std::max<std::size_t>(a.size, 16), 'x');
  for (std::size_t i = 0; i < m.body.size(); ++i) m.body[i] = char(i * 37);
  const std::string env = micro::broker::to_envelope(m);
  const micro::broker::Message back = micro::broker::from_envelope(env);
  const bool same = back.body == m.body && back.header == m.header;
  std::size_t sink = 0;
  auto time = [&](auto&& fn) {
    auto t0 = Clock::now();
    for (uint64_t i = 0; i < a.n; ++i) sink += fn();
    return double(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count()) /
           double(a.n);
  };
  double enc = time([&] { return micro::broker::to_envelope(m).size(); });
  double dec = time([&] { return micro::broker::from_envelope(env).body.size(); });
  std::printf(
      "{\"system\":\"envelope\",\"messages\":%llu,\"bytes\":%zu,\"envelope_bytes\":%zu,"
      "\"core_encode_ns\":%.0f,\"core_decode_ns\":%.0f,\"round_trip\":%s,\"sink\":%zu}\n",
      static_cast<unsigned long long>(a.n), m.body.size(), env.size(), enc, dec,
      same ? "true" : "false", sink % 10);
  return same ? 0 : 1;
}

// ---- the run -----------------------------------------------------------------------------------

void fill(std::string& body, uint64_t seq) {
  int64_t t = now_ns();
  std::memcpy(body.data(), &seq, 8);
  std::memcpy(body.data() + 8, &t, 8);
}

int run(const Args& a) {
  if (a.system == "envelope") return run_envelope(a);
  Recorder rec(a.n);
  std::unique_ptr<MockCluster> mock;
  std::unique_ptr<System> sys;
  const std::string& s = a.system;
  if (s == "micro-kafka" || s == "micro-kafka-synccommit" || s == "micro-kafka-client" ||
      s == "kafka" || s == "kafka-envelope")
    mock = std::make_unique<MockCluster>(a.partitions);
  if (s == "micro-nats" || s == "micro-nats-client")
    sys = std::make_unique<MicroSystem>(
        micro_config(a.broker_use.empty() ? "nats" : a.broker_use, a.nats_url, "{}"), true,
        s == "micro-nats-client", rec);
  else if (s == "nats" || s == "nats-envelope")
    sys = std::make_unique<NatsSystem>(a.nats_url, rec, s == "nats-envelope");
  else if (s == "micro-kafka" || s == "micro-kafka-synccommit" || s == "micro-kafka-client")
    sys = std::make_unique<MicroSystem>(
        micro_config(a.broker_use.empty() ? "kafka" : a.broker_use, mock->bootstrap(),
                     kafka_plugin_options(s == "micro-kafka-synccommit")),
        true, s == "micro-kafka-client", rec);
  else if (s == "kafka" || s == "kafka-envelope")
    sys = std::make_unique<KafkaSystem>(mock->bootstrap(), rec, s == "kafka-envelope");
  else if (s == "micro-http")
    sys = std::make_unique<MicroSystem>(micro_config("http", "", "{}"), false, false, rec);
  else if (s == "micro-memory")
    sys = std::make_unique<MicroSystem>(micro_config("memory", "", "{}"), false, false, rec);
  else {
    std::fprintf(stderr, "micro-bench-pubsub: unknown --system %s\n", s.c_str());
    return 2;
  }

  std::string body(std::max<std::size_t>(a.size, 16), 'x');
  const auto stall = std::chrono::milliseconds(a.timeout_ms);

  // Warm-up: probes until the subscription delivers (group join, subscription propagation).
  bool live = false;
  for (auto until = Clock::now() + std::chrono::seconds(30); !live && Clock::now() < until;) {
    fill(body, kProbe);
    sys->publish(body);
    sys->flush();
    live = rec.wait_probe(std::chrono::milliseconds(200));
  }
  if (!live) {
    std::fprintf(stderr, "micro-bench-pubsub: %s: the subscription never went live\n", s.c_str());
    return 1;
  }
  // Let probes still in flight drain before timing.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));

  const int64_t t0 = now_ns();
  uint64_t published = 0;
  bool stalled = false;
  for (uint64_t i = 0; i < a.n; ++i) {
    if (a.window > 0 && i >= a.window && i - rec.delivered() >= a.window) {
      // Resume once at most window/2 are in flight (window 1: once all are delivered).
      if (!rec.wait_delivered(i - a.window / 2, stall)) {
        stalled = true;
        break;
      }
    }
    fill(body, i);
    sys->publish(body);
    ++published;
  }
  sys->flush();
  if (!stalled) rec.wait_delivered(published, stall);
  const uint64_t delivered = rec.delivered();
  const double secs = delivered ? double(rec.last_ns() - t0) / 1e9 : 0;
  auto lat = rec.latencies_ms();
  auto pct = [&](double p) {
    if (lat.empty()) return 0.0;
    auto i = static_cast<std::size_t>(std::ceil(p / 100.0 * double(lat.size())));
    return lat[std::min(lat.size() - 1, i == 0 ? 0 : i - 1)];
  };
  std::printf(
      "{\"system\":\"%s\",\"messages\":%llu,\"bytes\":%zu,\"window\":%llu,\"seconds\":%.6f,"
      "\"msgs_per_s\":%.1f,\"latency_ms\":{\"p50\":%.4f,\"p99\":%.4f,\"max\":%.4f},"
      "\"lost\":%llu,\"duplicates\":%llu}\n",
      (a.label.empty() ? s : a.label).c_str(), static_cast<unsigned long long>(a.n), body.size(),
      static_cast<unsigned long long>(a.window), secs, secs > 0 ? double(delivered) / secs : 0.0,
      pct(50), pct(99), lat.empty() ? 0.0 : lat.back(),
      static_cast<unsigned long long>(a.n - delivered),
      static_cast<unsigned long long>(rec.duplicates()));
  std::fflush(stdout);
  sys.reset();
  mock.reset();
  return 0;
}

bool parse(int argc, char** argv, Args& a) {
  for (int i = 1; i < argc; ++i) {
    std::string f = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "micro-bench-pubsub: %s needs a value\n", f.c_str());
      return false;
    }
    std::string v = argv[++i];
    if (f == "--system") {
      a.system = v;
      continue;
    }
    if (f == "--label") {
      a.label = v;
      continue;
    }
    if (f == "--broker-use") {
      a.broker_use = v;
      continue;
    }
    if (f == "--nats") {
      a.nats_url = v;
      continue;
    }
    char* end = nullptr;
    long long x = std::strtoll(v.c_str(), &end, 10);
    if (end == v.c_str() || *end || x < 0 || x > 100000000) {
      std::fprintf(stderr, "micro-bench-pubsub: bad number for %s: %s\n", f.c_str(), v.c_str());
      return false;
    }
    if (f == "-n" && x >= 1)
      a.n = static_cast<uint64_t>(x);
    else if (f == "--size" && x <= (64 << 20))
      a.size = static_cast<std::size_t>(x);
    else if (f == "--window")
      a.window = static_cast<uint64_t>(x);
    else if (f == "--timeout-ms" && x >= 1)
      a.timeout_ms = x;
    else if (f == "--partitions" && x >= 1 && x <= 64)
      a.partitions = static_cast<int>(x);
    else {
      std::fprintf(stderr, "micro-bench-pubsub: unknown or out-of-range flag %s\n", f.c_str());
      return false;
    }
  }
  if (a.system.empty()) {
    std::fprintf(stderr,
                 "usage: micro-bench-pubsub --system SYSTEM [-n N] [--size BYTES] [--window W] "
                 "[--nats URL] [--timeout-ms T] [--partitions P] [--broker-use NAME|PATH.so] "
                 "[--label L]\n");
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (!parse(argc, argv, a)) return 2;
  try {
    return run(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "micro-bench-pubsub: %s: %s\n", a.system.c_str(), e.what());
    return 1;
  }
}
