#include "nats_broker.h"

#include <nats/nats.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <shared_mutex>
#include <thread>
#include <vector>

namespace micro::plugins {
namespace {

constexpr const char* kDefaultUrl = "nats://127.0.0.1:4222";
constexpr auto kCloseWait = std::chrono::seconds(5);
// Delivered messages released together (see Sub::held).
constexpr std::size_t kReleaseBatch = 64;

std::string status_text(natsStatus s) {
  std::string text = natsStatus_GetText(s);
  const char* last = nats_GetLastError(nullptr);
  if (last && *last && text != last) text += std::string(" (") + last + ")";
  return text;
}

// Counts one kind of failure; logs the first and then one in `every`, with the count so far.
struct FailureLog {
  const char* what;
  std::atomic<uint64_t> count{0};
  std::atomic<uint64_t> every{100};
  explicit FailureLog(const char* w) : what(w) {}
  void record(const std::string& topic, const std::string& detail) {
    auto n = ++count;
    if (n == 1 || n % every == 0)
      std::fprintf(stderr, "broker nats: %s on topic %s (%llu so far): %s\n", what, topic.c_str(),
                   static_cast<unsigned long long>(n), detail.c_str());
  }
};

struct Settings {
  int64_t connect_timeout_ms = 2000;
  int64_t reconnect_wait_ms = 2000;
  int max_reconnects = -1;
  int reconnect_buffer_bytes = 8 << 20;
  int pending_msgs_limit = 65536;
  int pending_bytes_limit = 64 << 20;
  std::string token, user, password;
  bool tls = false;
  std::string ca_file, cert_file, key_file;
};

// What the connection callbacks see. Owned by a heap shared_ptr that the closed callback (the
// last callback libnats makes for a connection) releases.
struct ConnState {
  std::mutex mu;
  std::condition_variable cv;
  bool closed = false;
  std::atomic<bool> closing{false};
  // The live subscriptions and their topics, for the error handler.
  std::map<natsSubscription*, std::string> topics;
};

void on_disconnected(natsConnection*, void* closure) {
  auto& cs = **static_cast<std::shared_ptr<ConnState>*>(closure);
  if (!cs.closing) std::fprintf(stderr, "broker nats: disconnected, reconnecting\n");
}

void on_reconnected(natsConnection* nc, void*) {
  char url[256] = {0};
  natsConnection_GetConnectedUrl(nc, url, sizeof url);
  std::fprintf(stderr, "broker nats: reconnected to %s\n", url);
}

void on_closed(natsConnection*, void* closure) {
  auto* p = static_cast<std::shared_ptr<ConnState>*>(closure);
  auto cs = *p;
  delete p;
  if (!cs->closing) std::fprintf(stderr, "broker nats: connection closed (reconnects exhausted)\n");
  {
    std::lock_guard lk(cs->mu);
    cs->closed = true;
  }
  cs->cv.notify_all();
}

void on_error(natsConnection*, natsSubscription* sub, natsStatus err, void* closure) {
  if (err == NATS_SLOW_CONSUMER && sub) {
    // libnats reports this later, on its own thread, without holding the subscription: it may
    // be destroyed already. unsubscribe() removes it from `topics` (under mu) before that.
    auto& cs = **static_cast<std::shared_ptr<ConnState>*>(closure);
    std::lock_guard lk(cs.mu);
    auto it = cs.topics.find(sub);
    if (it == cs.topics.end()) return;  // unsubscribe() logged the total
    int64_t dropped = 0;
    natsSubscription_GetDropped(sub, &dropped);
    std::fprintf(stderr,
                 "broker nats: slow consumer on topic %s: pending limit reached, %lld messages "
                 "dropped so far\n",
                 it->second.c_str(), static_cast<long long>(dropped));
    return;
  }
  std::fprintf(stderr, "broker nats: asynchronous error: %s\n", natsStatus_GetText(err));
}

class NatsEvent final : public broker::Event {
 public:
  NatsEvent(std::string topic, broker::Message m) : topic_(std::move(topic)), m_(std::move(m)) {}
  const std::string& topic() const override { return topic_; }
  const broker::Message& message() const override { return m_; }
  void ack() override {}
  const Error* error() const override { return nullptr; }

 private:
  std::string topic_;
  broker::Message m_;
};

// One subscription's state, shared by the Subscriber and libnats' callback closure.
struct Sub {
  std::string topic;
  broker::SubscribeOptions options;
  broker::Handler handler;
  std::shared_ptr<FailureLog> handler_failures, bad_envelopes;

  std::mutex mu;
  std::condition_variable cv;
  bool complete = false;  // libnats will not call the handler again
  bool done = false;      // unsubscribe() ran
  std::atomic<bool> stopping{false};
  std::atomic<std::thread::id> delivery_thread{};
  std::atomic<int64_t> reported_dropped{0};
  natsSubscription* ns = nullptr;
  std::shared_ptr<ConnState> conn;
  // Handled messages not yet given back to libnats; only the delivery thread touches it.
  // natsMsg_Destroy hands each message to libnats' process-wide garbage-collector thread and
  // wakes that thread (a futex wake) whenever it sleeps, which it does between any two messages
  // that take longer to handle than it takes to free one: one wake-up per message. Releasing
  // them together, when no message is pending or kReleaseBatch have piled up, costs one.
  std::vector<natsMsg*> held;

  ~Sub() { release(); }
  void release() {
    for (natsMsg* m : held) natsMsg_Destroy(m);
    held.clear();
  }

  void report_dropped(natsSubscription* s, const char* when) {
    int64_t dropped = 0;
    if (natsSubscription_GetDropped(s, &dropped) != NATS_OK) return;
    int64_t prev = reported_dropped.load();
    if (dropped > prev && reported_dropped.compare_exchange_strong(prev, dropped))
      std::fprintf(stderr, "broker nats: slow consumer on topic %s: %lld messages dropped %s\n",
                   topic.c_str(), static_cast<long long>(dropped), when);
  }
};

void on_message(natsConnection*, natsSubscription* ns, natsMsg* msg, void* closure) {
  Sub& s = **static_cast<std::shared_ptr<Sub>*>(closure);
  s.delivery_thread = std::this_thread::get_id();
  std::string subject = natsMsg_GetSubject(msg);
  std::string_view data(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
  if (!s.stopping) {
    broker::Message m;
    bool ok = true;
    try {
      m = broker::from_envelope(data);
    } catch (const std::exception& e) {
      // go-micro hands undecodable payloads to its error handler only, never to the handler.
      ok = false;
      s.bad_envelopes->record(
          subject, std::string(e.what()) + " (" + std::to_string(data.size()) + " bytes, dropped)");
    }
    if (ok) {
      NatsEvent ev(subject, std::move(m));
      try {
        s.handler(ev);
      } catch (const std::exception& e) {
        s.handler_failures->record(subject, e.what());
      } catch (...) {
        s.handler_failures->record(subject, "unknown exception");
      }
    }
  }
  s.held.push_back(msg);
  int pending = 0, pending_bytes = 0;
  if (s.stopping || s.held.size() >= kReleaseBatch ||
      natsSubscription_GetPending(ns, &pending, &pending_bytes) != NATS_OK || pending == 0) {
    s.release();
    if (!s.stopping) s.report_dropped(ns, "so far");  // unsubscribe() reports the total
  }
}

void on_complete(void* closure) {
  auto* p = static_cast<std::shared_ptr<Sub>*>(closure);
  auto s = *p;
  delete p;
  s->release();  // no delivery follows
  {
    std::lock_guard lk(s->mu);
    s->complete = true;
  }
  s->cv.notify_all();
}

class NatsSubscriber final : public broker::Subscriber {
 public:
  explicit NatsSubscriber(std::shared_ptr<Sub> sub) : sub_(std::move(sub)) {}
  ~NatsSubscriber() override {
    try {
      unsubscribe();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "broker nats: %s\n", e.what());
    }
  }
  const std::string& topic() const override { return sub_->topic; }
  const broker::SubscribeOptions& options() const override { return sub_->options; }

  void unsubscribe() override {
    natsSubscription* ns = nullptr;
    {
      std::lock_guard lk(sub_->mu);
      if (sub_->done) return;
      sub_->done = true;
      ns = sub_->ns;
      sub_->ns = nullptr;
    }
    sub_->stopping = true;
    sub_->report_dropped(ns, "in total");
    natsStatus st = natsSubscription_Unsubscribe(ns);
    if (std::this_thread::get_id() != sub_->delivery_thread.load()) {
      std::unique_lock lk(sub_->mu);
      if (!sub_->cv.wait_for(lk, kCloseWait, [&] { return sub_->complete; }))
        std::fprintf(stderr, "broker nats: a handler of topic %s still runs after %llds\n",
                     sub_->topic.c_str(), static_cast<long long>(kCloseWait.count()));
    }
    {
      std::lock_guard lk(sub_->conn->mu);
      sub_->conn->topics.erase(ns);
    }
    natsSubscription_Destroy(ns);
    // A closed connection already ended the subscription: nothing to tell the server.
    if (st != NATS_OK && st != NATS_CONNECTION_CLOSED && st != NATS_INVALID_SUBSCRIPTION)
      throw Error(Errc::unavailable, "broker nats: unsubscribe from " + sub_->topic +
                                         " not sent: " + natsStatus_GetText(st));
  }

 private:
  std::shared_ptr<Sub> sub_;
};

std::vector<std::string> server_urls(const std::vector<std::string>& addrs) {
  std::vector<std::string> urls;
  for (const auto& a : addrs) {
    std::size_t pos = 0;
    while (pos <= a.size()) {
      auto comma = a.find(',', pos);
      if (comma == std::string::npos) comma = a.size();
      std::string u = a.substr(pos, comma - pos);
      auto b = u.find_first_not_of(" \t"), e = u.find_last_not_of(" \t");
      u = b == std::string::npos ? std::string() : u.substr(b, e - b + 1);
      if (!u.empty()) urls.push_back(u.find("://") == std::string::npos ? "nats://" + u : u);
      pos = comma + 1;
    }
  }
  if (urls.empty()) urls.emplace_back(kDefaultUrl);
  return urls;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

}  // namespace

struct NatsBroker::Core {
  mutable std::shared_mutex mu;  // exclusive: connect/disconnect; shared: use of nc
  Options options;
  Settings settings;
  std::vector<std::string> urls{kDefaultUrl};
  natsConnection* nc = nullptr;
  std::shared_ptr<ConnState> conn;
  bool stopped = false;
  std::shared_ptr<FailureLog> handler_failures = std::make_shared<FailureLog>("a handler threw");
  std::shared_ptr<FailureLog> bad_envelopes =
      std::make_shared<FailureLog>("a payload is not a go-micro envelope");
};

NatsBroker::NatsBroker() : core_(std::make_shared<Core>()) {}

NatsBroker::~NatsBroker() { stop(); }

void NatsBroker::init(const Options& options) {
  auto o = nlohmann::json::parse(options.plugin_options.empty() ? "{}" : options.plugin_options,
                                 nullptr, false);
  if (o.is_discarded() || !o.is_object())
    throw Error(Errc::config, "broker nats: options are not a JSON object");
  Settings s;
  try {
    s.connect_timeout_ms = o.value("connect_timeout_ms", s.connect_timeout_ms);
    s.reconnect_wait_ms = o.value("reconnect_wait_ms", s.reconnect_wait_ms);
    s.max_reconnects = o.value("max_reconnects", s.max_reconnects);
    s.reconnect_buffer_bytes = o.value("reconnect_buffer_bytes", s.reconnect_buffer_bytes);
    s.pending_msgs_limit = o.value("pending_msgs_limit", s.pending_msgs_limit);
    s.pending_bytes_limit = o.value("pending_bytes_limit", s.pending_bytes_limit);
    s.token = o.value("token", "");
    s.user = o.value("user", "");
    s.password = o.value("password", "");
    auto tls = o.value("tls", nlohmann::json::object());
    s.tls = tls.value("enabled", false);
    s.ca_file = tls.value("ca_file", "");
    s.cert_file = tls.value("cert_file", "");
    s.key_file = tls.value("key_file", "");
    uint64_t every = o.value("error_log_every", uint64_t{100});
    core_->handler_failures->every = std::max<uint64_t>(1, every);
    core_->bad_envelopes->every = std::max<uint64_t>(1, every);
  } catch (const nlohmann::json::exception& e) {
    throw Error(Errc::config, std::string("broker nats: bad option: ") + e.what());
  }
  if (s.cert_file.empty() != s.key_file.empty())
    throw Error(Errc::config, "broker nats: tls.cert_file and tls.key_file go together");
  std::unique_lock lk(core_->mu);
  core_->options = options;
  core_->settings = s;
  core_->urls = server_urls(options.addrs);
}

Broker::Options NatsBroker::options() const {
  std::shared_lock lk(core_->mu);
  return core_->options;
}

std::string NatsBroker::address() const {
  std::shared_lock lk(core_->mu);
  return join(core_->urls);
}

void NatsBroker::connect() {
  std::unique_lock lk(core_->mu);
  if (core_->stopped) throw Error(Errc::closed, "broker nats: stopped");
  if (core_->nc && !natsConnection_IsClosed(core_->nc)) return;
  if (core_->nc) {  // closed by libnats after the reconnects ran out
    natsConnection_Destroy(core_->nc);
    core_->nc = nullptr;
  }
  const auto& s = core_->settings;
  std::string urls = join(core_->urls);
  natsOptions* opts = nullptr;
  auto check = [&](natsStatus st, const char* what) {
    if (st == NATS_OK) return;
    std::string text = status_text(st);
    natsOptions_Destroy(opts);
    throw Error(Errc::config, std::string("broker nats: ") + what + ": " + text);
  };
  check(natsOptions_Create(&opts), "cannot create options");
  std::vector<const char*> servers;
  for (const auto& u : core_->urls) servers.push_back(u.c_str());
  check(natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size())),
        ("bad address " + urls).c_str());
  check(natsOptions_SetNoRandomize(opts, true), "no-randomize");
  check(natsOptions_SetTimeout(opts, s.connect_timeout_ms), "connect_timeout_ms");
  check(natsOptions_SetAllowReconnect(opts, true), "allow reconnect");
  check(natsOptions_SetMaxReconnect(opts, s.max_reconnects), "max_reconnects");
  check(natsOptions_SetReconnectWait(opts, s.reconnect_wait_ms), "reconnect_wait_ms");
  check(natsOptions_SetReconnectBufSize(opts, s.reconnect_buffer_bytes), "reconnect_buffer_bytes");
  check(natsOptions_SetMaxPendingMsgs(opts, s.pending_msgs_limit), "pending_msgs_limit");
  if (!s.token.empty()) check(natsOptions_SetToken(opts, s.token.c_str()), "token");
  if (!s.user.empty())
    check(natsOptions_SetUserInfo(opts, s.user.c_str(), s.password.c_str()), "user");
  if (s.tls) {
    check(natsOptions_SetSecure(opts, true), "tls.enabled");
    if (!s.ca_file.empty())
      check(natsOptions_LoadCATrustedCertificates(opts, s.ca_file.c_str()),
            ("tls.ca_file " + s.ca_file).c_str());
    if (!s.cert_file.empty())
      check(natsOptions_LoadCertificatesChain(opts, s.cert_file.c_str(), s.key_file.c_str()),
            ("tls.cert_file " + s.cert_file).c_str());
  }
  auto cs = std::make_shared<ConnState>();
  auto* closure = new std::shared_ptr<ConnState>(cs);
  natsOptions_SetErrorHandler(opts, on_error, closure);
  natsOptions_SetDisconnectedCB(opts, on_disconnected, closure);
  natsOptions_SetReconnectedCB(opts, on_reconnected, nullptr);
  natsOptions_SetClosedCB(opts, on_closed, closure);
  natsConnection* nc = nullptr;
  natsStatus st = natsConnection_Connect(&nc, opts);
  natsOptions_Destroy(opts);
  if (st != NATS_OK) {
    std::string text = status_text(st);
    delete closure;
    throw Error(Errc::unavailable, "broker nats: cannot connect to " + urls + ": " + text);
  }
  core_->nc = nc;
  core_->conn = cs;
}

void NatsBroker::disconnect() noexcept {
  natsConnection* nc = nullptr;
  std::shared_ptr<ConnState> cs;
  {
    std::unique_lock lk(core_->mu);
    nc = core_->nc;
    cs = core_->conn;
    core_->nc = nullptr;
    core_->conn.reset();
  }
  if (!nc) return;
  cs->closing = true;
  if (natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED)
    natsConnection_FlushTimeout(nc, std::chrono::milliseconds(kCloseWait).count());
  natsConnection_Close(nc);
  {
    // Wait for the closed callback so no callback into this library is left pending.
    std::unique_lock lk(cs->mu);
    cs->cv.wait_for(lk, kCloseWait, [&] { return cs->closed; });
  }
  natsConnection_Destroy(nc);
}

void NatsBroker::stop() noexcept {
  disconnect();
  std::unique_lock lk(core_->mu);
  core_->stopped = true;
}

void NatsBroker::publish(std::string_view topic, const broker::Message& m,
                         const broker::PublishOptions&) {
  std::string subject(topic);
  if (subject.empty()) throw Error(Errc::bad_request, "broker nats: empty topic");
  std::string payload = broker::to_envelope(m);
  std::shared_lock lk(core_->mu);
  if (core_->stopped) throw Error(Errc::closed, "broker nats: stopped");
  if (!core_->nc)
    throw Error(Errc::unavailable, "broker nats: not connected to " + join(core_->urls));
  natsStatus st = natsConnection_Publish(core_->nc, subject.c_str(), payload.data(),
                                         static_cast<int>(payload.size()));
  if (st == NATS_OK) return;
  std::string what = "broker nats: publish to " + subject + " failed: ";
  switch (st) {
    case NATS_MAX_PAYLOAD:
      throw Error(Errc::too_large, what + std::to_string(payload.size()) +
                                       " bytes exceed the server's max payload of " +
                                       std::to_string(natsConnection_GetMaxPayload(core_->nc)));
    case NATS_INSUFFICIENT_BUFFER:
      throw Error(Errc::unavailable, what + "reconnecting and the reconnect buffer (" +
                                         std::to_string(core_->settings.reconnect_buffer_bytes) +
                                         " bytes) is full");
    case NATS_INVALID_SUBJECT: throw Error(Errc::bad_request, what + "invalid subject");
    default: throw Error(Errc::unavailable, what + status_text(st));
  }
}

std::unique_ptr<broker::Subscriber> NatsBroker::subscribe(std::string_view topic, broker::Handler h,
                                                          const broker::SubscribeOptions& o) {
  if (topic.empty()) throw Error(Errc::bad_request, "broker nats: empty topic");
  if (!h) throw Error(Errc::bad_request, "broker nats: no handler for topic " + std::string(topic));
  auto s = std::make_shared<Sub>();
  s->topic = std::string(topic);
  s->options = o;
  s->handler = std::move(h);
  s->handler_failures = core_->handler_failures;
  s->bad_envelopes = core_->bad_envelopes;

  std::shared_lock lk(core_->mu);
  if (core_->stopped) throw Error(Errc::closed, "broker nats: stopped");
  if (!core_->nc)
    throw Error(Errc::unavailable, "broker nats: not connected to " + join(core_->urls));
  auto* closure = new std::shared_ptr<Sub>(s);
  natsSubscription* ns = nullptr;
  // Hold s->mu so that a message arriving at once sees ns set.
  std::unique_lock sl(s->mu);
  natsStatus st =
      o.queue.empty()
          ? natsConnection_Subscribe(&ns, core_->nc, s->topic.c_str(), on_message, closure)
          : natsConnection_QueueSubscribe(&ns, core_->nc, s->topic.c_str(), o.queue.c_str(),
                                          on_message, closure);
  if (st != NATS_OK) {
    delete closure;
    throw Error(st == NATS_INVALID_SUBJECT || st == NATS_INVALID_QUEUE_NAME ? Errc::bad_request
                                                                            : Errc::unavailable,
                "broker nats: subscribe to " + s->topic + " failed: " + status_text(st));
  }
  s->ns = ns;
  s->conn = core_->conn;
  {
    std::lock_guard cl(s->conn->mu);
    s->conn->topics[ns] = s->topic;
  }
  const auto& cfg = core_->settings;
  natsSubscription_SetPendingLimits(ns, cfg.pending_msgs_limit, cfg.pending_bytes_limit);
  if (natsSubscription_SetOnCompleteCB(ns, on_complete, closure) != NATS_OK) {
    // Closed already (the connection went away): libnats will not call back; free it here.
    s->complete = true;
    sl.unlock();
    {
      std::lock_guard cl(s->conn->mu);
      s->conn->topics.erase(ns);
    }
    natsSubscription_Unsubscribe(ns);
    natsSubscription_Destroy(ns);
    s->ns = nullptr;
    delete closure;
    throw Error(Errc::unavailable, "broker nats: subscription to " + s->topic + " closed at once");
  }
  sl.unlock();
  // Live on the server when this returns (while reconnecting, libnats resends it later).
  if (natsConnection_Status(core_->nc) == NATS_CONN_STATUS_CONNECTED)
    natsConnection_FlushTimeout(core_->nc, cfg.connect_timeout_ms);
  return std::make_unique<NatsSubscriber>(s);
}

}  // namespace micro::plugins
