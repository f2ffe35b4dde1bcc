// broker-nats loaded through the plugin loader against a real nats-server: delivery, broadcast,
// queue groups, go-micro's envelope on the wire, bad payloads, failing handlers, slow consumers,
// server restarts.
#include <fcntl.h>
#include <nats/nats.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "broker_inbox.h"
#include "micro/broker.h"
#include "micro/errors.h"
#include "nats_server.h"
#include "plugin_host.h"
#include "support.h"

using Catch::Matchers::Contains;
using micro::test::NatsServer;
using micro::test::wait_for;

namespace {

// Loads and initialises the plugin; connects when start.
std::shared_ptr<micro::Broker> load_broker(std::vector<std::string> addrs,
                                           const std::string& options = "{}", bool start = true) {
  micro::Broker::Options o;
  o.addrs = std::move(addrs);
  return micro::test::load_plugin<micro::Broker>(
      micro::plugin::Kind::broker, "nats", options, micro::test::no_host(),
      start ? micro::test::Start::yes : micro::test::Start::no, std::move(o));
}

micro::broker::Message msg(const std::string& body) { return micro::test::json_message(body); }

using micro::test::Inbox;

// A plain libnats connection, independent of the plugin.
struct RawNats {
  natsConnection* nc = nullptr;
  explicit RawNats(const std::string& url) {
    REQUIRE(natsConnection_ConnectTo(&nc, url.c_str()) == NATS_OK);
  }
  ~RawNats() { natsConnection_Destroy(nc); }
  void publish(const std::string& subject, const std::string& data) {
    REQUIRE(natsConnection_Publish(nc, subject.c_str(), data.data(),
                                   static_cast<int>(data.size())) == NATS_OK);
    REQUIRE(natsConnection_Flush(nc) == NATS_OK);
  }
};

// Redirects stderr (fd 2) to a file while alive; text() reads what was written so far.
class StderrCapture {
 public:
  StderrCapture() : path_(dir_ / "stderr") {
    std::fflush(stderr);
    saved_ = ::dup(2);
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, 2);
    ::close(fd);
  }
  ~StderrCapture() {
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
  }
  std::string text() const { return micro::test::read_file(path_); }

 private:
  micro::test::TempDir dir_;
  std::filesystem::path path_;
  int saved_ = -1;
};

// Publishes probe messages until sub sees one: the subscription is live on the server.
void await_live(micro::Broker& b, const std::string& topic, Inbox& inbox) {
  static std::atomic<int> i{0};  // unique probes: an old one must not count
  REQUIRE(wait_for([&] {
    std::string probe = "probe-" + std::to_string(i++);
    b.publish(topic, msg(probe));
    return wait_for([&] { return inbox.has(probe); }, std::chrono::milliseconds(200));
  }));
}

}  // namespace

TEST_CASE("broker nats loads through the loader and fills its option defaults") {
  auto b = load_broker({}, "{}", false);
  CHECK(b->name() == "nats");
  CHECK(b->address() == "nats://127.0.0.1:4222");
  auto o = b->options().plugin_options;
  CHECK_THAT(o, Contains("\"max_reconnects\":-1"));
  CHECK_THAT(o, Contains("\"reconnect_wait_ms\":2000"));
  CHECK_THAT(o, Contains("\"pending_msgs_limit\":65536"));
}

TEST_CASE("broker nats accepts host:port and comma lists as addresses") {
  auto b = load_broker({"127.0.0.1:1, nats://127.0.0.1:2", "127.0.0.1:3"}, "{}", false);
  CHECK(b->address() == "nats://127.0.0.1:1,nats://127.0.0.1:2,nats://127.0.0.1:3");
}

TEST_CASE("broker nats connect fails with unavailable naming the URL when no server listens") {
  int port = micro::test::free_port();
  std::string url = "nats://127.0.0.1:" + std::to_string(port);
  auto b = load_broker({url}, R"({"connect_timeout_ms":500})", false);
  auto t0 = std::chrono::steady_clock::now();
  try {
    b->connect();
    FAIL("connect succeeded");
  } catch (const micro::Error& e) {
    CHECK(e.errc() == micro::Errc::unavailable);
    CHECK_THAT(e.detail(), Contains(url));
  }
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  CHECK_THROWS_AS(b->publish("events", msg("x")), micro::Error);
}

TEST_CASE("broker nats delivers a published message with its header and body") {
  NatsServer server;
  auto b = load_broker({server.url()});
  std::mutex mu;
  std::vector<micro::broker::Message> got;
  std::string topic;
  auto sub = b->subscribe("events", [&](micro::broker::Event& e) {
    std::lock_guard lk(mu);
    got.push_back(e.message());
    topic = e.topic();
  });
  auto m = msg(std::string("bin\0ary", 7));
  m.header["Micro-Id"] = "id-1";
  b->publish("events", m);
  REQUIRE(wait_for([&] {
    std::lock_guard lk(mu);
    return !got.empty();
  }));
  std::lock_guard lk(mu);
  CHECK(topic == "events");
  CHECK(got[0].body == m.body);
  CHECK(got[0].header.at("Micro-Id") == "id-1");
  CHECK(got[0].header.at("Content-Type") == "application/json");
}

TEST_CASE("broker nats broadcast reaches every plain subscriber") {
  NatsServer server;
  auto b = load_broker({server.url()});
  Inbox a, c;
  auto s1 = b->subscribe("events", a.handler());
  auto s2 = b->subscribe("events", c.handler());
  for (int i = 0; i < 20; ++i) b->publish("events", msg(std::to_string(i)));
  REQUIRE(wait_for([&] { return a.size() == 20 && c.size() == 20; }));
}

TEST_CASE("broker nats queue group members share messages exactly once in total") {
  NatsServer server;
  auto b = load_broker({server.url()});
  auto pub = load_broker({server.url()});
  Inbox a, c, all;
  auto s1 = b->subscribe("jobs", a.handler(), {.queue = "workers"});
  auto s2 = b->subscribe("jobs", c.handler(), {.queue = "workers"});
  auto s3 = b->subscribe("jobs", all.handler());
  constexpr int n = 200;
  for (int i = 0; i < n; ++i) pub->publish("jobs", msg(std::to_string(i)));
  REQUIRE(wait_for([&] { return all.size() == n && a.size() + c.size() == n; }));
  std::set<std::string> seen(a.bodies.begin(), a.bodies.end());
  seen.insert(c.bodies.begin(), c.bodies.end());
  CHECK(seen.size() == n);
  CHECK(a.size() > 0);
  CHECK(c.size() > 0);
}

TEST_CASE("broker nats puts exactly go-micro's JSON envelope on the wire") {
  NatsServer server;
  RawNats raw(server.url());
  natsSubscription* rs = nullptr;
  REQUIRE(natsConnection_SubscribeSync(&rs, raw.nc, "events") == NATS_OK);
  REQUIRE(natsConnection_Flush(raw.nc) == NATS_OK);
  auto b = load_broker({server.url()});
  auto m = msg("{\"a\":1}\n");
  m.header["Micro-Id"] = "5f0c";
  b->publish("events", m);
  natsMsg* got = nullptr;
  REQUIRE(natsSubscription_NextMsg(&got, rs, 5000) == NATS_OK);
  std::string payload(natsMsg_GetData(got), static_cast<std::size_t>(natsMsg_GetDataLength(got)));
  CHECK(std::string(natsMsg_GetSubject(got)) == "events");
  natsMsg_Destroy(got);
  natsSubscription_Destroy(rs);
  auto j = nlohmann::json::parse(payload);
  REQUIRE(j.is_object());
  CHECK(j.size() == 2);
  CHECK(j["Header"] == nlohmann::json({{"Content-Type", "application/json"},
                                       {"Micro-Topic", "events"},
                                       {"Micro-Id", "5f0c"}}));
  CHECK(j["Body"] == "eyJhIjoxfQo=");  // standard base64 of {"a":1}\n, padded
  CHECK(payload == micro::broker::to_envelope(m));
}

TEST_CASE("broker nats decodes an envelope written by a go-micro publisher") {
  NatsServer server;
  auto b = load_broker({server.url()});
  Inbox inbox;
  std::string header;
  auto sub = b->subscribe("events", [&](micro::broker::Event& e) {
    header = e.message().header.at("Micro-Topic");
    inbox.handler()(e);
  });
  await_live(*b, "events", inbox);
  RawNats raw(server.url());
  raw.publish("events",
              R"({"Header":{"Content-Type":"application/protobuf","Micro-Topic":"events"},)"
              R"("Body":"aGVsbG8="})");
  REQUIRE(wait_for([&] { return inbox.has("hello"); }));
  CHECK(header == "events");
}

TEST_CASE("broker nats counts a payload that is not an envelope and keeps the subscriber") {
  NatsServer server;
  auto b = load_broker({server.url()});
  Inbox inbox;
  auto sub = b->subscribe("events", inbox.handler());
  await_live(*b, "events", inbox);
  auto before = inbox.size();
  StderrCapture err;
  RawNats raw(server.url());
  raw.publish("events", "not json at all");
  raw.publish("events", R"({"Header":{},"Body":"%%%"})");
  b->publish("events", msg("after"));
  REQUIRE(wait_for([&] { return inbox.has("after"); }));
  CHECK(inbox.size() == before + 1);  // the bad payloads never reached the handler
  auto text = err.text();
  CHECK_THAT(text, Contains("not a go-micro envelope on topic events (1 so far)"));
}

TEST_CASE("broker nats counts a throwing handler and keeps delivering") {
  NatsServer server;
  auto b = load_broker({server.url()});
  std::atomic<int> calls{0};
  StderrCapture err;
  auto sub = b->subscribe("events", [&](micro::broker::Event& e) {
    ++calls;
    if (e.message().body == "boom") throw std::runtime_error("kaput");
  });
  b->publish("events", msg("boom"));
  b->publish("events", msg("fine"));
  REQUIRE(wait_for([&] { return calls == 2; }));
  CHECK_THAT(err.text(), Contains("a handler threw on topic events (1 so far): kaput"));
}

TEST_CASE("broker nats stops delivery on unsubscribe") {
  NatsServer server;
  auto b = load_broker({server.url()});
  Inbox inbox, other;
  auto sub = b->subscribe("events", inbox.handler());
  auto keep = b->subscribe("events", other.handler());
  await_live(*b, "events", inbox);
  sub->unsubscribe();
  sub->unsubscribe();  // idempotent
  auto n = inbox.size();
  b->publish("events", msg("late"));
  REQUIRE(wait_for([&] { return other.has("late"); }));
  CHECK(inbox.size() == n);
}

TEST_CASE("broker nats publish after disconnect throws unavailable") {
  NatsServer server;
  auto b = load_broker({server.url()});
  b->disconnect();
  try {
    b->publish("events", msg("x"));
    FAIL("publish succeeded");
  } catch (const micro::Error& e) {
    CHECK(e.errc() == micro::Errc::unavailable);
  }
  b->connect();
  CHECK_NOTHROW(b->publish("events", msg("x")));
}

TEST_CASE("broker nats slow subscriber drops are logged and do not stall the others") {
  NatsServer server;
  // The slow subscriber's broker keeps at most 5 pending messages; the fast one the default.
  auto slow_b = load_broker({server.url()}, R"({"pending_msgs_limit":5})");
  auto b = load_broker({server.url()});
  StderrCapture err;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> slow_got{0};
  auto slow = slow_b->subscribe("events", [&](micro::broker::Event&) {
    ++slow_got;
    std::unique_lock lk(mu);
    cv.wait_for(lk, std::chrono::seconds(20), [&] { return release; });
  });
  Inbox fast;
  auto f = b->subscribe("events", fast.handler());
  await_live(*b, "events", fast);
  REQUIRE(wait_for([&] { return slow_got > 0; }));  // the slow handler now blocks
  auto base = fast.size();
  constexpr int n = 300;
  for (int i = 0; i < n; ++i) b->publish("events", msg(std::to_string(i)));
  REQUIRE(wait_for([&] { return fast.size() == base + n; }));
  {
    std::lock_guard lk(mu);
    release = true;
  }
  cv.notify_all();
  slow->unsubscribe();
  CHECK(slow_got < n);
  auto text = err.text();
  CHECK_THAT(text, Contains("slow consumer on topic events"));
  CHECK_THAT(text, Contains("messages dropped"));
}

TEST_CASE("broker nats resubscribes after a server restart, queue groups kept") {
  NatsServer server;
  auto b = load_broker({server.url()}, R"({"reconnect_wait_ms":100})");
  Inbox plain, qa, qb;
  auto s1 = b->subscribe("events", plain.handler());
  auto s2 = b->subscribe("jobs", qa.handler(), {.queue = "workers"});
  auto s3 = b->subscribe("jobs", qb.handler(), {.queue = "workers"});
  await_live(*b, "events", plain);

  server.kill();
  server.start();

  // Publishing through the reconnecting broker is buffered; probe until the resubscription
  // (sent in the same batch as the queue subscriptions) is live again.
  await_live(*b, "events", plain);
  auto pub = load_broker({server.url()});
  constexpr int n = 100;
  for (int i = 0; i < n; ++i) pub->publish("jobs", msg("job-" + std::to_string(i)));
  pub->publish("events", msg("after-restart"));
  bool done = wait_for([&] { return qa.size() + qb.size() == n && plain.has("after-restart"); });
  INFO("queue members got " << qa.size() << " + " << qb.size() << " of " << n
                            << "; broadcast got after-restart: " << plain.has("after-restart"));
  REQUIRE(done);
  std::set<std::string> seen(qa.bodies.begin(), qa.bodies.end());
  seen.insert(qb.bodies.begin(), qb.bodies.end());
  CHECK(seen.size() == n);
}

TEST_CASE("broker nats publish while reconnecting throws unavailable once the buffer is full") {
  NatsServer server;
  auto b =
      load_broker({server.url()}, R"({"reconnect_buffer_bytes":4096,"reconnect_wait_ms":60000})");
  server.kill();
  std::string detail;
  int published = 0;
  CHECK(wait_for([&] {
    try {
      b->publish("events", msg(std::string(1024, 'x')));
      ++published;
      return false;
    } catch (const micro::Error& e) {
      detail = e.detail();
      return e.errc() == micro::Errc::unavailable;
    }
  }));
  CHECK(published > 0);  // buffered at first
  CHECK_THAT(detail, Contains("reconnect buffer"));
}

TEST_CASE("broker nats publish above the server's max payload throws too_large") {
  NatsServer server;
  auto b = load_broker({server.url()});
  try {
    b->publish("events", msg(std::string(2 << 20, 'x')));
    FAIL("publish succeeded");
  } catch (const micro::Error& e) {
    CHECK(e.errc() == micro::Errc::too_large);
  }
}

TEST_CASE("broker nats handler may unsubscribe its own subscription") {
  NatsServer server;
  auto b = load_broker({server.url()});
  std::unique_ptr<micro::broker::Subscriber> sub;
  std::mutex mu;
  std::atomic<int> calls{0};
  std::unique_lock lk(mu);
  sub = b->subscribe("events", [&](micro::broker::Event&) {
    ++calls;
    std::lock_guard l(mu);
    sub->unsubscribe();
  });
  lk.unlock();
  Inbox other;
  auto keep = b->subscribe("events", other.handler());
  b->publish("events", msg("one"));
  b->publish("events", msg("two"));
  REQUIRE(wait_for([&] { return other.size() == 2 && calls > 0; }));
  CHECK(calls == 1);      // the second message is not handled after the unsubscribe
  std::lock_guard l(mu);  // the handler's unsubscribe() has returned
  sub.reset();
}
