#include "http_broker.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <thread>

#include "http_server.h"

namespace micro::plugins {
namespace {

using http_broker::Response;

constexpr const char* kService = "micro.http.broker";
constexpr const char* kBroadcast = "ff.http.broadcast";

std::string uuid4() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  uint64_t a, b;
  {
    std::lock_guard lk(mu);
    a = rng();
    b = rng();
  }
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char s[37];
  std::snprintf(s, sizeof s, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return s;
}

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() &&
               std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string url_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// The value of key in the query of target ("/?id=x&y=z"), "" if absent.
std::string query_value(const std::string& target, const std::string& key) {
  auto q = target.find('?');
  if (q == std::string::npos) return {};
  std::string_view rest(target);
  rest.remove_prefix(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    auto pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == key)
      return eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return {};
}

struct Sub {
  std::string topic;
  std::string node_id;
  std::string version;
  broker::SubscribeOptions options;
  broker::Handler handler;
  std::mutex mu;
  std::condition_variable idle;
  int running = 0;
  bool active = true;
};

thread_local const Sub* t_current = nullptr;  // the subscription whose handler this thread runs

class HttpEvent final : public broker::Event {
 public:
  HttpEvent(const std::string& topic, const broker::Message& m) : topic_(topic), m_(m) {}
  const std::string& topic() const override { return topic_; }
  const broker::Message& message() const override { return m_; }
  void ack() override {}
  const Error* error() const override { return nullptr; }

 private:
  const std::string& topic_;
  const broker::Message& m_;
};

}  // namespace

struct HttpBroker::Core {
  std::shared_ptr<Registry> registry;
  const std::string id = uuid4();

  mutable std::mutex mu;
  Options options;
  std::string bind_address = "127.0.0.1:0";
  std::chrono::seconds ttl{60};
  std::chrono::seconds interval{30};
  std::chrono::milliseconds cache_ttl{1000};
  int post_timeout_ms = 5000;
  bool stopped = false;
  std::unique_ptr<http_broker::Server> server;
  std::string address;
  http_broker::Client client;
  std::map<std::string, std::shared_ptr<Sub>> subs;  // by node id

  std::thread refresher;
  std::condition_variable refresh_cv;
  bool refresh_stop = false;

  std::mutex cache_mu;
  bool cache_valid = false;
  Clock::time_point cache_at;
  std::vector<registry::Service> cache;

  std::atomic<uint64_t> bad_envelopes{0};
  std::atomic<uint64_t> handler_failures{0};

  registry::Service record(const Sub& s, const std::string& addr) const {
    registry::Service svc;
    svc.name = kService;
    svc.version = s.version;
    svc.nodes.push_back(
        {s.node_id, addr, {{"secure", "false"}, {"broker", "http"}, {"topic", s.topic}}});
    return svc;
  }

  void invalidate() {
    std::lock_guard lk(cache_mu);
    cache_valid = false;
  }

  std::vector<registry::Service> lookup() {
    std::lock_guard lk(cache_mu);
    if (cache_valid && Clock::now() - cache_at < cache_ttl) return cache;
    try {
      cache = registry->get_service(kService);
    } catch (const Error& e) {
      if (e.errc() != Errc::not_found) throw;
      cache.clear();
    }
    cache_valid = true;
    cache_at = Clock::now();
    return cache;
  }

  Response handle(const http_broker::Request& req) {
    if (req.method != "POST") return {405, "POST only\n"};
    std::string id = query_value(req.target, "id");
    std::vector<std::shared_ptr<Sub>> targets;
    {
      std::lock_guard lk(mu);
      auto it = subs.find(id);
      if (it != subs.end()) targets.push_back(it->second);
    }
    if (targets.empty()) return {404, "no subscriber " + id + "\n"};
    broker::Message m;
    try {
      m = broker::from_envelope(req.body);
    } catch (const Error& e) {
      auto n = ++bad_envelopes;
      if (n == 1 || n % 100 == 0)
        std::fprintf(stderr, "broker http: bad envelope for %s (%llu so far): %s\n", id.c_str(),
                     static_cast<unsigned long long>(n), e.what());
      return {400, std::string(e.what()) + "\n"};
    }
    Response out{200, ""};
    for (auto& s : targets) {
      {
        std::lock_guard lk(s->mu);
        if (!s->active) continue;
        ++s->running;
      }
      HttpEvent ev(s->topic, m);
      t_current = s.get();
      try {
        s->handler(ev);
      } catch (const std::exception& e) {
        out = {500, std::string(e.what()) + "\n"};
      } catch (...) {
        out = {500, "handler failed\n"};
      }
      t_current = nullptr;
      if (out.status == 500) {
        auto n = ++handler_failures;
        if (n == 1 || n % 100 == 0)
          std::fprintf(stderr, "broker http: a handler of topic %s threw (%llu so far): %s",
                       s->topic.c_str(), static_cast<unsigned long long>(n), out.body.c_str());
      }
      {
        std::lock_guard lk(s->mu);
        --s->running;
      }
      s->idle.notify_all();
    }
    return out;
  }

  void refresh_loop() {
    std::unique_lock lk(mu);
    while (!refresh_stop) {
      refresh_cv.wait_for(lk, interval, [&] { return refresh_stop; });
      if (refresh_stop) break;
      std::vector<registry::Service> records;
      for (auto& [id, s] : subs) records.push_back(record(*s, address));
      lk.unlock();
      for (auto& r : records) {
        try {
          registry->register_service(r, {ttl});
        } catch (const std::exception& e) {
          std::fprintf(stderr, "broker http: cannot re-register %s: %s\n", r.nodes[0].id.c_str(),
                       e.what());
        }
      }
      lk.lock();
    }
  }

  // Stops the handlers of s and waits for running ones (not from its own handler).
  static void quiesce(Sub& s) {
    std::unique_lock lk(s.mu);
    s.active = false;
    if (t_current == &s) return;
    s.idle.wait(lk, [&] { return s.running == 0; });
  }
};

namespace {

class HttpSubscriber final : public broker::Subscriber {
 public:
  HttpSubscriber(std::weak_ptr<HttpBroker::Core> core, std::shared_ptr<Sub> sub)
      : core_(std::move(core)), sub_(std::move(sub)) {}
  ~HttpSubscriber() override {
    try {
      unsubscribe();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "broker http: %s\n", e.what());
    }
  }
  const std::string& topic() const override { return sub_->topic; }
  const broker::SubscribeOptions& options() const override { return sub_->options; }
  void unsubscribe() override {
    if (done_.exchange(true)) return;
    auto core = core_.lock();
    std::string addr;
    bool registered = false;
    if (core) {
      std::lock_guard lk(core->mu);
      auto it = core->subs.find(sub_->node_id);
      if (it != core->subs.end() && it->second == sub_) core->subs.erase(it);
      addr = core->address;
      registered = core->server != nullptr;
    }
    HttpBroker::Core::quiesce(*sub_);
    if (core && registered) {
      core->invalidate();
      try {
        core->registry->deregister(core->record(*sub_, addr));
      } catch (const std::exception& e) {
        throw Error(Errc::unavailable,
                    "broker http: cannot deregister " + sub_->node_id + ": " + e.what());
      }
    }
  }

 private:
  std::weak_ptr<HttpBroker::Core> core_;
  std::shared_ptr<Sub> sub_;
  std::atomic<bool> done_{false};
};

}  // namespace

HttpBroker::HttpBroker(std::shared_ptr<Registry> registry) : core_(std::make_shared<Core>()) {
  if (!registry) throw Error(Errc::config, "broker http: no registry");
  core_->registry = std::move(registry);
}

HttpBroker::~HttpBroker() { stop(); }

void HttpBroker::init(const Options& options) {
  auto o = nlohmann::json::parse(options.plugin_options.empty() ? "{}" : options.plugin_options,
                                 nullptr, false);
  if (o.is_discarded() || !o.is_object())
    throw Error(Errc::config, "broker http: options are not a JSON object");
  std::lock_guard lk(core_->mu);
  core_->options = options;
  try {
    core_->bind_address = o.value("address", std::string("127.0.0.1:0"));
    if (!options.addrs.empty() && !o.contains("address")) core_->bind_address = options.addrs[0];
    core_->ttl = std::chrono::seconds(o.value("register_ttl", 60));
    core_->interval = std::chrono::seconds(o.value("register_interval", 30));
    core_->cache_ttl = std::chrono::milliseconds(o.value("lookup_cache_ms", 1000));
    core_->post_timeout_ms = o.value("post_timeout_ms", 5000);
  } catch (const nlohmann::json::exception& e) {
    throw Error(Errc::config, std::string("broker http: bad option: ") + e.what());
  }
}

Broker::Options HttpBroker::options() const {
  std::lock_guard lk(core_->mu);
  return core_->options;
}

std::string HttpBroker::address() const {
  std::lock_guard lk(core_->mu);
  return core_->address;
}

void HttpBroker::connect() {
  std::vector<registry::Service> records;
  std::chrono::seconds ttl;
  {
    std::lock_guard lk(core_->mu);
    if (core_->stopped) throw Error(Errc::closed, "broker http: stopped");
    if (core_->server) return;
    ttl = core_->ttl;
    Core* c = core_.get();
    core_->server = std::make_unique<http_broker::Server>(
        core_->bind_address, [c](const http_broker::Request& r) { return c->handle(r); });
    core_->address = core_->server->address();
    for (auto& [id, s] : core_->subs) records.push_back(core_->record(*s, core_->address));
    core_->refresh_stop = false;
    core_->refresher = std::thread([c] { c->refresh_loop(); });
  }
  for (auto& r : records) core_->registry->register_service(r, {ttl});
}

void HttpBroker::disconnect() noexcept {
  std::unique_ptr<http_broker::Server> server;
  std::vector<registry::Service> records;
  std::thread refresher;
  {
    std::lock_guard lk(core_->mu);
    if (!core_->server) return;
    for (auto& [id, s] : core_->subs) records.push_back(core_->record(*s, core_->address));
    server = std::move(core_->server);
    core_->address.clear();
    core_->refresh_stop = true;
    refresher = std::move(core_->refresher);
  }
  core_->refresh_cv.notify_all();
  if (refresher.joinable()) refresher.join();
  for (auto& r : records) {
    try {
      core_->registry->deregister(r);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "broker http: cannot deregister %s: %s\n", r.nodes[0].id.c_str(),
                   e.what());
    }
  }
  core_->invalidate();
  server.reset();  // joins the connection threads, so no handler runs after this
}

void HttpBroker::stop() noexcept {
  disconnect();
  std::map<std::string, std::shared_ptr<Sub>> subs;
  {
    std::lock_guard lk(core_->mu);
    core_->stopped = true;
    subs.swap(core_->subs);
  }
  for (auto& [id, s] : subs) Core::quiesce(*s);
}

void HttpBroker::publish(std::string_view topic, const broker::Message& m,
                         const broker::PublishOptions&) {
  int timeout_ms;
  {
    std::lock_guard lk(core_->mu);
    if (core_->stopped) throw Error(Errc::closed, "broker http: stopped");
    timeout_ms = core_->post_timeout_ms;
  }
  if (topic.empty()) throw Error(Errc::bad_request, "broker http: empty topic");
  broker::Message msg = m;
  msg.header.insert_or_assign("Micro-Topic", std::string(topic));
  const std::string body = broker::to_envelope(msg);

  std::map<std::string, std::vector<registry::Node>> versions;
  for (auto& svc : core_->lookup()) {
    for (auto& n : svc.nodes) {
      auto t = n.metadata.find("topic");
      if (t != n.metadata.end() && t->second == topic) versions[svc.version].push_back(n);
    }
  }
  std::optional<Error> first;
  int failed = 0;
  // Returns true when the node took the message; a 404 means the node is gone (stale cache).
  auto send = [&](const registry::Node& n) {
    try {
      int status = core_->client.post(n.address, "/?id=" + url_encode(n.id), body, timeout_ms);
      if (status / 100 == 2) return true;
      core_->invalidate();
      if (status == 404) return false;
      throw Error(Errc::unavailable, "broker http: node " + n.id + " at " + n.address +
                                         " answered " + std::to_string(status));
    } catch (const Error& e) {
      core_->invalidate();
      ++failed;
      if (!first)
        first = Error(Errc::unavailable, "broker http: publish on " + std::string(topic) +
                                             " to node " + n.id + ": " + e.what());
      return false;
    }
  };
  thread_local std::mt19937 rng{std::random_device{}()};
  for (auto& [version, nodes] : versions) {
    if (version == kBroadcast) {
      for (auto& n : nodes) send(n);
    } else {
      std::shuffle(nodes.begin(), nodes.end(), rng);
      for (auto& n : nodes)
        if (send(n)) break;
    }
  }
  if (first) {
    if (failed == 1) throw *first;
    throw Error(Errc::unavailable, std::string(first->what()) + " (and " +
                                       std::to_string(failed - 1) + " more failed)");
  }
}

std::unique_ptr<broker::Subscriber> HttpBroker::subscribe(std::string_view topic, broker::Handler h,
                                                          const broker::SubscribeOptions& o) {
  if (topic.empty()) throw Error(Errc::bad_request, "broker http: empty topic");
  if (!h) throw Error(Errc::bad_request, "broker http: no handler for topic " + std::string(topic));
  connect();
  auto s = std::make_shared<Sub>();
  s->topic = std::string(topic);
  s->options = o;
  s->handler = std::move(h);
  s->version = o.queue.empty() ? kBroadcast : o.queue;
  registry::Service rec;
  std::chrono::seconds ttl;
  {
    std::lock_guard lk(core_->mu);
    if (core_->stopped) throw Error(Errc::closed, "broker http: stopped");
    // go-micro's id is "<topic>-<brokerId>"; a second live subscription of the same topic on
    // this broker gets a suffix so that each has its own registry node.
    std::string id = s->topic + "-" + core_->id;
    for (int n = 2; core_->subs.count(id); ++n)
      id = s->topic + "-" + core_->id + "-" + std::to_string(n);
    s->node_id = id;
    core_->subs[id] = s;
    rec = core_->record(*s, core_->address);
    ttl = core_->ttl;
  }
  try {
    core_->registry->register_service(rec, {ttl});
  } catch (const std::exception& e) {
    std::lock_guard lk(core_->mu);
    core_->subs.erase(s->node_id);
    throw Error(Errc::unavailable, "broker http: cannot register " + s->node_id + ": " + e.what());
  }
  core_->invalidate();
  return std::make_unique<HttpSubscriber>(core_, s);
}

}  // namespace micro::plugins
