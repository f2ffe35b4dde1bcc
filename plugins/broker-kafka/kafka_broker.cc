#include "kafka_broker.h"

#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>
#include <vector>

namespace micro::plugins {
namespace {

struct Settings {
  std::string bootstrap = "127.0.0.1:9092";
  std::vector<std::pair<std::string, std::string>> config;  // extra librdkafka properties
  int flush_timeout_ms = 10000;
  int poll_interval_ms = 100;
  std::string initial_offset = "earliest";
  int retry_backoff_ms = 100;
  int retry_backoff_max_ms = 5000;
  uint64_t max_attempts = 0;  // 0 = retry for ever
  uint64_t log_every = 100;
  // > 0: handled offsets are stored and committed in the background this often
  // (auto.commit.interval.ms); 0: a synchronous commit after each handled message.
  int commit_interval_ms = 1000;
};

// Counters shared by the broker and its subscriptions; logs the 1st and every Nth failure.
struct Counters {
  std::atomic<uint64_t> delivered{0}, delivery_failures{0}, handler_failures{0}, commit_failures{0};
  std::atomic<uint64_t> log_every{100};
  void log(std::atomic<uint64_t>& counter, const std::string& what) {
    auto n = ++counter;
    if (n == 1 || n % log_every == 0)
      std::fprintf(stderr, "broker kafka: %s (%llu so far)\n", what.c_str(),
                   static_cast<unsigned long long>(n));
  }
};

std::string rk_err(rd_kafka_resp_err_t e) { return rd_kafka_err2str(e); }

// A librdkafka configuration: the extra properties first, then `fixed` (which win).
// Throws Error{config} naming the property librdkafka refused.
rd_kafka_conf_t* make_conf(const Settings& s,
                           const std::vector<std::pair<std::string, std::string>>& fixed) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  auto set = [&](const std::string& k, const std::string& v, const char* where) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw Error(Errc::config, std::string("broker kafka: ") + where + k + ": " + err);
    }
  };
  set("bootstrap.servers", s.bootstrap, "");
  for (auto& [k, v] : s.config) set(k, v, "config.");
  for (auto& [k, v] : fixed) set(k, v, "");
  return conf;
}

// Delivery reports of the producer (run by rd_kafka_poll/flush on the poller thread).
void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* c = static_cast<Counters*>(opaque);
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++c->delivered;
    return;
  }
  c->log(c->delivery_failures, "delivery to topic " + std::string(rd_kafka_topic_name(m->rkt)) +
                                   " failed: " + rk_err(m->err));
}

// Results of the background commits (served by rd_kafka_consumer_poll on the worker thread).
void on_commit(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets,
               void* opaque) {
  auto* c = static_cast<Counters*>(opaque);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET) {
    // The request went through; a partition may still have been refused.
    for (int i = 0; offsets && i < offsets->cnt; ++i)
      if (offsets->elems[i].err)
        c->log(c->commit_failures, "commit of " + std::string(offsets->elems[i].topic) + "[" +
                                       std::to_string(offsets->elems[i].partition) +
                                       "] failed: " + rk_err(offsets->elems[i].err));
    return;
  }
  c->log(c->commit_failures, "offset commit failed: " + rk_err(err));
}

// One subscription: a consumer handle and the thread that polls it and runs the handler.
struct Sub : std::enable_shared_from_this<Sub> {
  std::string topic;
  broker::SubscribeOptions options;
  broker::Handler handler;
  Settings settings;
  std::shared_ptr<Counters> counters;
  rd_kafka_t* rk = nullptr;

  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::condition_variable cv;  // wakes the back-off on stop
  std::mutex join_mu;
  std::thread worker;
  std::thread::id worker_id;

  // Redelivery bookkeeping for the message that failed last.
  int32_t failed_partition = -1;
  int64_t failed_offset = -1;
  uint64_t attempts = 0;

  void start() {
    worker = std::thread([self = shared_from_this()] { self->run(); });
    worker_id = worker.get_id();
  }

  // Stops delivery; joins the thread unless called from it (then it is detached and closes
  // the consumer itself once the handler returns).
  void shut() {
    stopping = true;
    cv.notify_all();
    std::lock_guard j(join_mu);
    if (!worker.joinable()) return;
    if (std::this_thread::get_id() == worker_id)
      worker.detach();
    else
      worker.join();
  }

  // Marks m handled: stores offset + 1 for the background commit, or (commit_interval_ms 0)
  // commits it synchronously. Returns false and counts when librdkafka or the cluster refused
  // (a stored offset is refused when the partition is no longer assigned to this consumer).
  bool commit(const rd_kafka_message_t* m) {
    auto e = settings.commit_interval_ms > 0
                 ? rd_kafka_offset_store(m->rkt, m->partition, m->offset)
                 : rd_kafka_commit_message(rk, m, 0);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return true;
    counters->log(counters->commit_failures,
                  "commit of " + topic + "[" + std::to_string(m->partition) + "]@" +
                      std::to_string(m->offset) + " failed: " + rk_err(e));
    return false;
  }

  bool backoff(int ms) {
    std::unique_lock lk(mu);
    return !cv.wait_for(lk, std::chrono::milliseconds(ms), [&] { return stopping.load(); });
  }

  void run();
  bool deliver(const rd_kafka_message_t* m);  // false when the handler threw
  void redeliver(const rd_kafka_message_t* m);
};

class KafkaEvent final : public broker::Event {
 public:
  KafkaEvent(Sub& sub, const rd_kafka_message_t* m) : sub_(sub), m_(m) {
    try {
      msg_ = broker::from_envelope(
          std::string_view(static_cast<const char*>(m->payload), m->payload ? m->len : 0));
    } catch (const Error& e) {
      error_ = std::make_unique<Error>(e);
    }
  }
  const std::string& topic() const override { return sub_.topic; }
  const broker::Message& message() const override { return msg_; }
  void ack() override {
    if (!sub_.commit(m_))
      throw Error(Errc::unavailable,
                  "broker kafka: commit of a message of topic " + sub_.topic + " failed");
    acked = true;
  }
  const Error* error() const override { return error_.get(); }
  bool acked = false;

 private:
  Sub& sub_;
  const rd_kafka_message_t* m_;
  broker::Message msg_;
  std::unique_ptr<Error> error_;
};

bool Sub::deliver(const rd_kafka_message_t* m) {
  KafkaEvent ev(*this, m);
  try {
    handler(ev);
  } catch (const std::exception& e) {
    counters->log(counters->handler_failures,
                  "a handler of topic " + topic + " threw: " + e.what());
    return false;
  } catch (...) {
    counters->log(counters->handler_failures, "a handler of topic " + topic + " threw");
    return false;
  }
  if (options.auto_ack && !ev.acked) commit(m);
  return true;
}

// After a failure: rewinds the partition to m so the next poll returns it again, then waits
// the back-off (doubling per attempt). When the rewind fails, retries here instead so that a
// later commit cannot skip m.
void Sub::redeliver(const rd_kafka_message_t* m) {
  if (m->partition == failed_partition && m->offset == failed_offset) {
    ++attempts;
  } else {
    failed_partition = m->partition;
    failed_offset = m->offset;
    attempts = 1;
  }
  auto delay = [&](uint64_t n) {
    int64_t d = settings.retry_backoff_ms;
    for (uint64_t i = 1; i < n && d < settings.retry_backoff_max_ms; ++i) d *= 2;
    return static_cast<int>(std::min<int64_t>(d, settings.retry_backoff_max_ms));
  };
  auto give_up = [&] {
    if (settings.max_attempts == 0 || attempts < settings.max_attempts) return false;
    std::fprintf(stderr, "broker kafka: giving up on %s[%d]@%lld after %llu attempts\n",
                 topic.c_str(), m->partition, static_cast<long long>(m->offset),
                 static_cast<unsigned long long>(attempts));
    if (options.auto_ack) commit(m);
    failed_partition = -1;
    return true;
  };
  if (give_up()) return;
  auto* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), m->partition)->offset = m->offset;
  rd_kafka_error_t* err = rd_kafka_seek_partitions(rk, list, 5000);
  bool seek_ok = !err && list->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR;
  rd_kafka_topic_partition_list_destroy(list);
  if (err) rd_kafka_error_destroy(err);
  if (seek_ok) {
    backoff(delay(attempts));
    return;
  }
  // No rewind: keep this message here until it succeeds, we stop, or we give up.
  while (backoff(delay(attempts))) {
    if (deliver(m)) {
      failed_partition = -1;
      return;
    }
    ++attempts;
    if (give_up()) return;
  }
}

void Sub::run() {
  while (!stopping) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, settings.poll_interval_ms);
    if (!m) continue;
    if (m->err) {
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        std::fprintf(stderr, "broker kafka: consumer of topic %s: %s\n", topic.c_str(),
                     rd_kafka_message_errstr(m));
    } else if (deliver(m)) {
      if (m->partition == failed_partition && m->offset == failed_offset) failed_partition = -1;
    } else if (!stopping) {
      redeliver(m);
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  rk = nullptr;
}

std::string unique_group() {
  static std::atomic<uint64_t> seq{0};
  auto now = std::chrono::system_clock::now().time_since_epoch().count();
  return "micro-" + std::to_string(now) + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(++seq);
}

}  // namespace

struct KafkaBroker::Core {
  mutable std::mutex mu;
  Options options;
  Settings settings;
  std::shared_ptr<Counters> counters = std::make_shared<Counters>();
  rd_kafka_t* producer = nullptr;
  std::thread poller;
  std::atomic<bool> polling{false};
  bool stopped = false;
  std::vector<std::shared_ptr<Sub>> subs;

  void remove(const std::shared_ptr<Sub>& s) {
    std::lock_guard lk(mu);
    std::erase(subs, s);
  }
};

namespace {

class KafkaSubscriber final : public broker::Subscriber {
 public:
  KafkaSubscriber(std::weak_ptr<KafkaBroker::Core> core, std::shared_ptr<Sub> sub)
      : core_(std::move(core)), sub_(std::move(sub)) {}
  ~KafkaSubscriber() override { unsubscribe(); }
  const std::string& topic() const override { return sub_->topic; }
  const broker::SubscribeOptions& options() const override { return sub_->options; }
  void unsubscribe() override {
    if (auto core = core_.lock()) core->remove(sub_);
    sub_->shut();
  }

 private:
  std::weak_ptr<KafkaBroker::Core> core_;
  std::shared_ptr<Sub> sub_;
};

}  // namespace

KafkaBroker::KafkaBroker() : core_(std::make_shared<Core>()) {}

KafkaBroker::~KafkaBroker() { stop(); }

void KafkaBroker::init(const Options& options) {
  auto o = nlohmann::json::parse(options.plugin_options.empty() ? "{}" : options.plugin_options,
                                 nullptr, false);
  if (o.is_discarded() || !o.is_object())
    throw Error(Errc::config, "broker kafka: options are not a JSON object");
  Settings s;
  std::string servers;
  for (auto& a : options.addrs) {
    if (a.empty()) continue;
    servers += (servers.empty() ? "" : ",") + a;
  }
  if (!servers.empty()) s.bootstrap = servers;
  if (auto c = o.find("config"); c != o.end() && !c->is_null()) {
    if (!c->is_object()) throw Error(Errc::config, "broker kafka: config must be an object");
    for (auto& [k, v] : c->items()) {
      if (v.is_string())
        s.config.emplace_back(k, v.get<std::string>());
      else if (v.is_number() || v.is_boolean())
        s.config.emplace_back(k, v.dump());
      else
        throw Error(Errc::config, "broker kafka: config." + k + ": must be a string or number");
    }
  }
  s.flush_timeout_ms = o.value("flush_timeout_ms", 10000);
  s.poll_interval_ms = std::max(1, o.value("poll_interval_ms", 100));
  s.initial_offset = o.value("initial_offset", std::string("earliest"));
  if (s.initial_offset != "earliest" && s.initial_offset != "latest")
    throw Error(Errc::config, "broker kafka: initial_offset must be earliest or latest");
  s.retry_backoff_ms = std::max(1, o.value("retry_backoff_ms", 100));
  s.retry_backoff_max_ms = std::max(s.retry_backoff_ms, o.value("retry_backoff_max_ms", 5000));
  s.max_attempts = o.value("max_attempts", uint64_t{0});
  s.log_every = std::max<uint64_t>(1, o.value("error_log_every", uint64_t{100}));
  s.commit_interval_ms = std::max(0, o.value("commit_interval_ms", 1000));
  rd_kafka_conf_destroy(make_conf(s, {}));  // let librdkafka validate every property now
  std::lock_guard lk(core_->mu);
  core_->options = options;
  core_->settings = std::move(s);
  core_->counters->log_every = core_->settings.log_every;
}

Broker::Options KafkaBroker::options() const {
  std::lock_guard lk(core_->mu);
  return core_->options;
}

std::string KafkaBroker::address() const {
  std::lock_guard lk(core_->mu);
  return core_->settings.bootstrap;
}

KafkaBroker::Stats KafkaBroker::stats() const {
  auto& c = *core_->counters;
  return {c.delivered.load(), c.delivery_failures.load(), c.handler_failures.load(),
          c.commit_failures.load()};
}

void KafkaBroker::connect() {
  std::lock_guard lk(core_->mu);
  if (core_->stopped) throw Error(Errc::closed, "broker kafka: stopped");
  if (core_->producer) return;
  rd_kafka_conf_t* conf = make_conf(core_->settings, {});
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_conf_set_opaque(conf, core_->counters.get());
  char err[512];
  rd_kafka_t* p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!p) {
    rd_kafka_conf_destroy(conf);
    throw Error(Errc::unavailable, std::string("broker kafka: cannot create producer: ") + err);
  }
  core_->producer = p;
  core_->polling = true;
  int interval = core_->settings.poll_interval_ms;
  core_->poller = std::thread([core = core_.get(), p, interval] {
    while (core->polling) rd_kafka_poll(p, interval);
  });
}

void KafkaBroker::disconnect() noexcept {
  rd_kafka_t* p = nullptr;
  std::thread poller;
  int timeout = 0;
  {
    std::lock_guard lk(core_->mu);
    std::swap(p, core_->producer);
    if (!p) return;
    core_->polling = false;
    poller = std::move(core_->poller);
    timeout = core_->settings.flush_timeout_ms;
  }
  if (poller.joinable()) poller.join();
  rd_kafka_flush(p, timeout);
  if (int left = rd_kafka_outq_len(p); left > 0) {
    std::fprintf(stderr,
                 "broker kafka: disconnect: %d messages/requests not flushed in %d ms, "
                 "dropping them\n",
                 left, timeout);
    rd_kafka_purge(p, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(p, 0);  // their delivery reports count them as failed
  }
  rd_kafka_destroy(p);
}

void KafkaBroker::stop() noexcept {
  disconnect();
  std::vector<std::shared_ptr<Sub>> subs;
  {
    std::lock_guard lk(core_->mu);
    core_->stopped = true;
    subs.swap(core_->subs);
  }
  for (auto& s : subs) s->shut();
}

void KafkaBroker::publish(std::string_view topic, const broker::Message& m,
                          const broker::PublishOptions&) {
  if (topic.empty()) throw Error(Errc::bad_request, "broker kafka: empty topic");
  std::string value = broker::to_envelope(m);
  std::string t(topic);
  std::lock_guard lk(core_->mu);  // keeps the producer alive against disconnect()
  if (core_->stopped) throw Error(Errc::closed, "broker kafka: stopped");
  if (!core_->producer) throw Error(Errc::unavailable, "broker kafka: not connected");
  auto e = rd_kafka_producev(core_->producer, RD_KAFKA_V_TOPIC(t.c_str()),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_END);
  if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  std::string what = "broker kafka: publish to " + t + ": " + rk_err(e);
  if (e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) throw Error(Errc::too_large, what);
  throw Error(Errc::unavailable, what);
}

std::unique_ptr<broker::Subscriber> KafkaBroker::subscribe(std::string_view topic,
                                                           broker::Handler h,
                                                           const broker::SubscribeOptions& o) {
  if (topic.empty()) throw Error(Errc::bad_request, "broker kafka: empty topic");
  if (!h)
    throw Error(Errc::bad_request, "broker kafka: no handler for topic " + std::string(topic));
  auto s = std::make_shared<Sub>();
  s->topic = std::string(topic);
  s->options = o;
  s->handler = std::move(h);
  std::lock_guard lk(core_->mu);
  if (core_->stopped) throw Error(Errc::closed, "broker kafka: stopped");
  s->settings = core_->settings;
  s->counters = core_->counters;
  const int interval = s->settings.commit_interval_ms;
  std::vector<std::pair<std::string, std::string>> fixed = {
      {"group.id", o.queue.empty() ? unique_group() : o.queue},
      {"enable.auto.commit", interval > 0 ? "true" : "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", s->settings.initial_offset}};
  if (interval > 0) fixed.emplace_back("auto.commit.interval.ms", std::to_string(interval));
  rd_kafka_conf_t* conf = make_conf(s->settings, fixed);
  rd_kafka_conf_set_offset_commit_cb(conf, on_commit);
  rd_kafka_conf_set_opaque(conf, s->counters.get());
  char err[512];
  s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!s->rk) {
    rd_kafka_conf_destroy(conf);
    throw Error(Errc::unavailable, std::string("broker kafka: cannot create consumer: ") + err);
  }
  rd_kafka_poll_set_consumer(s->rk);
  auto* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, s->topic.c_str(), RD_KAFKA_PARTITION_UA);
  auto e = rd_kafka_subscribe(s->rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_destroy(s->rk);
    throw Error(Errc::unavailable,
                "broker kafka: cannot subscribe to " + s->topic + ": " + rk_err(e));
  }
  s->start();
  core_->subs.push_back(s);
  return std::make_unique<KafkaSubscriber>(core_, s);
}

}  // namespace micro::plugins
