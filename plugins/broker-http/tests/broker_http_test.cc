// broker-http loaded through the plugin loader: two brokers over one registry-memory instance.
#include <catch2/catch.hpp>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <mutex>
#include <set>

#include "micro/broker.h"
#include "micro/errors.h"
#include "micro/registry.h"
#include "plugin_host.h"
#include "support.h"

using micro::test::wait_for;

namespace {

std::shared_ptr<micro::Registry> load_registry() {
  return micro::test::load_plugin<micro::Registry>(micro::plugin::Kind::registry, "memory");
}

std::shared_ptr<micro::Broker> load_broker(std::shared_ptr<micro::Registry> reg,
                                           const std::string& options = "{}") {
  micro::test::Host host(std::move(reg));
  return micro::test::load_plugin<micro::Broker>(micro::plugin::Kind::broker, "http", options,
                                                 host);
}

micro::broker::Message msg(const std::string& body) {
  micro::broker::Message m;
  m.header["Content-Type"] = "application/json";
  m.body = body;
  return m;
}

// Forwards to a registry, counting get_service calls.
class CountingRegistry final : public micro::Registry {
 public:
  explicit CountingRegistry(std::shared_ptr<micro::Registry> r) : r_(std::move(r)) {}
  std::atomic<int> lookups{0};
  std::string name() const override { return r_->name(); }
  void init(const Options& o) override { r_->init(o); }
  Options options() const override { return r_->options(); }
  void register_service(const micro::registry::Service& s,
                        const micro::registry::RegisterOptions& o) override {
    r_->register_service(s, o);
  }
  void deregister(const micro::registry::Service& s) override { r_->deregister(s); }
  std::vector<micro::registry::Service> get_service(std::string_view name) override {
    ++lookups;
    return r_->get_service(name);
  }
  std::vector<micro::registry::Service> list_services() override { return r_->list_services(); }
  std::unique_ptr<micro::registry::Watcher> watch(const micro::registry::WatchOptions& o) override {
    return r_->watch(o);
  }

 private:
  std::shared_ptr<micro::Registry> r_;
};

struct Inbox {
  std::mutex mu;
  std::vector<std::string> bodies;
  std::vector<std::string> topics;
  micro::broker::Handler handler() {
    return [this](micro::broker::Event& e) {
      std::lock_guard lk(mu);
      bodies.push_back(e.message().body);
      auto t = e.message().header.find("Micro-Topic");
      topics.push_back(t == e.message().header.end() ? "" : t->second);
    };
  }
  std::size_t size() {
    std::lock_guard lk(mu);
    return bodies.size();
  }
};

struct Pair {
  std::shared_ptr<micro::Registry> reg = load_registry();
  std::shared_ptr<micro::Broker> a = load_broker(reg);
  std::shared_ptr<micro::Broker> b = load_broker(reg);
};

// POSTs body raw to http://address/target; returns the status.
int raw_post(const std::string& address, const std::string& target, const std::string& body) {
  namespace asio = boost::asio;
  namespace http = boost::beast::http;
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  auto colon = address.rfind(':');
  s.connect({asio::ip::make_address(address.substr(0, colon)),
             static_cast<unsigned short>(std::stoi(address.substr(colon + 1)))});
  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, address);
  req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  http::write(s, req);
  boost::beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  return static_cast<int>(res.result_int());
}

}  // namespace

TEST_CASE("broker http delivers a message published by another broker, Micro-Topic forced") {
  Pair p;
  Inbox in;
  auto sub = p.b->subscribe("events", in.handler());
  p.a->publish("events", msg("{\"n\":1}"));
  REQUIRE(wait_for([&] { return in.size() == 1; }));
  CHECK(in.bodies[0] == "{\"n\":1}");
  CHECK(in.topics[0] == "events");
}

TEST_CASE("broker http publishing with no subscriber succeeds") {
  Pair p;
  CHECK_NOTHROW(p.a->publish("nobody", msg("x")));
}

TEST_CASE("broker http registers go-micro's exact subscriber record") {
  Pair p;
  Inbox in, q;
  auto s1 = p.b->subscribe("events", in.handler());
  auto s2 = p.a->subscribe("jobs", q.handler(), {"workers", true});
  auto versions = p.reg->get_service("micro.http.broker");
  std::map<std::string, micro::registry::Node> by_version;
  for (auto& v : versions) {
    CHECK(v.name == "micro.http.broker");
    for (auto& n : v.nodes) by_version[v.version] = n;
  }
  REQUIRE(by_version.count("ff.http.broadcast") == 1);
  REQUIRE(by_version.count("workers") == 1);
  auto& n = by_version["ff.http.broadcast"];
  CHECK(n.address == p.b->address());
  CHECK(n.id.rfind("events-", 0) == 0);
  CHECK(n.metadata ==
        micro::StringMap{{"secure", "false"}, {"broker", "http"}, {"topic", "events"}});
  CHECK(by_version["workers"].metadata.at("topic") == "jobs");
  CHECK(by_version["workers"].id.rfind("jobs-", 0) == 0);
}

TEST_CASE("broker http broadcasts to every subscriber of the topic") {
  Pair p;
  Inbox x, y, other;
  auto s1 = p.a->subscribe("events", x.handler());
  auto s2 = p.b->subscribe("events", y.handler());
  auto s3 = p.b->subscribe("other", other.handler());
  for (int i = 0; i < 5; ++i) p.a->publish("events", msg(std::to_string(i)));
  REQUIRE(wait_for([&] { return x.size() == 5 && y.size() == 5; }));
  CHECK(other.size() == 0);
}

TEST_CASE("broker http delivers each message to exactly one member of a queue group") {
  Pair p;
  Inbox x, y, all;
  auto s1 = p.a->subscribe("events", x.handler(), {"workers", true});
  auto s2 = p.b->subscribe("events", y.handler(), {"workers", true});
  auto s3 = p.b->subscribe("events", all.handler());
  constexpr int kMessages = 40;
  for (int i = 0; i < kMessages; ++i) p.a->publish("events", msg(std::to_string(i)));
  REQUIRE(wait_for([&] { return all.size() == kMessages && x.size() + y.size() == kMessages; }));
  std::multiset<std::string> seen(x.bodies.begin(), x.bodies.end());
  seen.insert(y.bodies.begin(), y.bodies.end());
  for (int i = 0; i < kMessages; ++i) CHECK(seen.count(std::to_string(i)) == 1);
  CHECK(x.size() > 0);  // random choice: 40 picks all on one node has probability 2^-39
  CHECK(y.size() > 0);
}

TEST_CASE("broker http answers 400 to a bad envelope and the subscriber keeps working") {
  Pair p;
  Inbox in;
  auto sub = p.b->subscribe("events", in.handler());
  auto n = p.reg->get_service("micro.http.broker").at(0).nodes.at(0);
  CHECK(raw_post(n.address, "/?id=" + n.id, "not an envelope") == 400);
  CHECK(raw_post(n.address, "/?id=someone-else", micro::broker::to_envelope(msg("x"))) == 404);
  CHECK(in.size() == 0);
  p.a->publish("events", msg("after"));
  REQUIRE(wait_for([&] { return in.size() == 1; }));
  CHECK(in.bodies[0] == "after");
}

TEST_CASE("broker http answers 500 when the handler throws and keeps the subscriber") {
  Pair p;
  Inbox in;
  auto h = in.handler();
  auto sub = p.b->subscribe("events", [&](micro::broker::Event& e) {
    if (e.message().body == "bad") throw std::runtime_error("handler failed on purpose");
    h(e);
  });
  CHECK_THROWS_AS(p.a->publish("events", msg("bad")), micro::Error);
  p.a->publish("events", msg("good"));
  REQUIRE(wait_for([&] { return in.size() == 1; }));
  CHECK(in.bodies[0] == "good");
}

TEST_CASE("broker http stops delivery and deregisters after unsubscribe") {
  Pair p;
  Inbox in, probe;
  auto sub = p.b->subscribe("events", in.handler());
  p.a->publish("events", msg("1"));
  REQUIRE(wait_for([&] { return in.size() == 1; }));
  sub->unsubscribe();
  sub->unsubscribe();  // idempotent
  CHECK_THROWS_AS(p.reg->get_service("micro.http.broker"), micro::Error);
  auto witness = p.a->subscribe("events", probe.handler());
  p.a->publish("events", msg("2"));
  REQUIRE(wait_for([&] { return probe.size() == 1; }));
  CHECK(in.size() == 1);
}

TEST_CASE("broker http publish fails naming the node when the subscriber is unreachable") {
  Pair p;
  micro::registry::Service s;
  s.name = "micro.http.broker";
  s.version = "ff.http.broadcast";
  s.nodes.push_back({"events-dead",
                     "127.0.0.1:" + std::to_string(micro::test::free_port()),
                     {{"secure", "false"}, {"broker", "http"}, {"topic", "events"}}});
  p.reg->register_service(s, {});
  try {
    p.a->publish("events", msg("x"));
    FAIL("expected unavailable");
  } catch (const micro::Error& e) {
    CHECK(e.errc() == micro::Errc::unavailable);
    CHECK_THAT(e.what(), Catch::Matchers::Contains("events-dead"));
  }
}

TEST_CASE("broker http disconnect deregisters every subscriber") {
  Pair p;
  Inbox in;
  auto sub = p.b->subscribe("events", in.handler());
  REQUIRE_NOTHROW(p.reg->get_service("micro.http.broker"));
  p.b->disconnect();
  CHECK_THROWS_AS(p.reg->get_service("micro.http.broker"), micro::Error);
  CHECK(p.b->address().empty());
}

TEST_CASE("broker http reuses a registry lookup across publishes within lookup_cache_ms") {
  auto reg = load_registry();
  auto counting = std::make_shared<CountingRegistry>(reg);
  auto pub = load_broker(counting, R"({"lookup_cache_ms":60000})");
  auto subs = load_broker(reg);
  Inbox in;
  auto sub = subs->subscribe("events", in.handler());
  for (int i = 0; i < 20; ++i) pub->publish("events", msg(std::to_string(i)));
  REQUIRE(wait_for([&] { return in.size() == 20; }));
  CHECK(counting->lookups == 1);
}

TEST_CASE("broker http re-registers its subscribers before their TTL expires") {
  auto reg = load_registry();
  auto b = load_broker(reg, R"({"register_ttl":2,"register_interval":1})");
  Inbox in;
  auto sub = b->subscribe("events", in.handler());
  auto gone = [&] {
    try {
      return reg->get_service("micro.http.broker").empty();
    } catch (const micro::Error&) {
      return true;
    }
  };
  // Without the refresh the node would expire after 2 s.
  CHECK_FALSE(wait_for(gone, std::chrono::milliseconds(3500)));
  sub->unsubscribe();
  CHECK(gone());
}
