#include "fake_consul.h"

#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace micro::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;
using namespace std::chrono_literals;

struct FakeConsul::Net {
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::mutex mu;
  std::list<std::shared_ptr<tcp::socket>> sockets;
  std::list<std::thread> threads;
};

std::chrono::milliseconds parse_go_duration(const std::string& s) {
  std::chrono::milliseconds total{0};
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
    if (j == i) return std::chrono::milliseconds(-1);
    const double v = std::stod(s.substr(i, j - i));
    size_t k = j;
    while (k < s.size() && std::isalpha(static_cast<unsigned char>(s[k]))) ++k;
    const std::string unit = s.substr(j, k - j);
    double ms = 0;
    if (unit == "ms") {
      ms = v;
    } else if (unit == "s") {
      ms = v * 1000;
    } else if (unit == "m") {
      ms = v * 60000;
    } else if (unit == "h") {
      ms = v * 3600000;
    } else {
      return std::chrono::milliseconds(-1);
    }
    total += std::chrono::milliseconds(static_cast<long>(ms));
    i = k;
  }
  return total;
}

FakeConsul::FakeConsul(int port, std::string token) : token_(std::move(token)), net_(new Net) {
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port));
  net_->acceptor.open(ep.protocol());
  net_->acceptor.set_option(asio::socket_base::reuse_address(true));
  net_->acceptor.bind(ep);
  net_->acceptor.listen();
  port_ = net_->acceptor.local_endpoint().port();
  acceptor_ = std::thread([this] { accept_loop(); });
  ticker_ = std::thread([this] { tick(); });
}

FakeConsul::~FakeConsul() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  {
    // Wake the blocking accept() with a connection of our own.
    asio::io_context ioc;
    tcp::socket s(ioc);
    boost::system::error_code ec;
    s.connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_)), ec);
    acceptor_.join();
  }
  ticker_.join();
  {
    std::lock_guard lock(net_->mu);
    for (auto& s : net_->sockets) ::shutdown(s->native_handle(), SHUT_RDWR);
  }
  for (auto& t : net_->threads) t.join();
  boost::system::error_code ec;
  net_->acceptor.close(ec);
}

void FakeConsul::accept_loop() {
  for (;;) {
    auto sock = std::make_shared<tcp::socket>(net_->ioc);
    boost::system::error_code ec;
    net_->acceptor.accept(*sock, ec);
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    if (ec) continue;
    std::lock_guard lock(net_->mu);
    net_->sockets.push_back(sock);
    net_->threads.emplace_back([this, sock] {
      beast::flat_buffer buf;
      for (;;) {
        http::request<http::string_body> req;
        boost::system::error_code e;
        http::read(*sock, buf, req, e);
        if (e) break;
        auto tok = req.find("X-Consul-Token");
        const std::string token = tok == req.end() ? "" : std::string(tok->value());
        Reply r =
            handle(std::string(req.method_string()), std::string(req.target()), req.body(), token);
        http::response<http::string_body> res{static_cast<http::status>(r.status), 11};
        res.set(http::field::content_type, "application/json");
        {
          std::lock_guard lock(mu_);
          res.set("X-Consul-Index", std::to_string(index_));
        }
        res.keep_alive(req.keep_alive());
        res.body() = r.body;
        res.prepare_payload();
        http::write(*sock, res, e);
        if (e || !req.keep_alive()) break;
      }
      boost::system::error_code e;
      sock->shutdown(tcp::socket::shutdown_both, e);
    });
  }
}

void FakeConsul::bump() {
  ++index_;
  cv_.notify_all();
}

void FakeConsul::set_status(Svc& s, const std::string& status) {
  if (s.status == status) return;
  s.status = status;
  if (status == "critical") s.critical_since = Clock::now();
  bump();
}

void FakeConsul::tick() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, 20ms);
    const auto now = Clock::now();
    for (auto it = services_.begin(); it != services_.end();) {
      auto& s = it->second;
      if (s.has_ttl && s.status != "critical" && now > s.last_pass + s.ttl)
        set_status(s, "critical");
      if (s.status == "critical" && s.deregister_after.count() > 0 &&
          now > s.critical_since + s.deregister_after) {
        it = services_.erase(it);
        bump();
      } else {
        ++it;
      }
    }
  }
}

json FakeConsul::registration(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = services_.find(id);
  return it == services_.end() ? json() : it->second.body;
}

void FakeConsul::put(const json& body) {
  auto r = handle("PUT", "/v1/agent/service/register", body.dump(), token_);
  std::lock_guard lock(mu_);
  auto it = services_.find(body.value("ID", std::string()));
  if (it != services_.end()) {
    it->second.status = "passing";
    it->second.last_pass = Clock::now();
    bump();
  }
  (void)r;
}

void FakeConsul::set_check(const std::string& id, const std::string& status) {
  std::lock_guard lock(mu_);
  auto it = services_.find(id);
  if (it != services_.end()) set_status(it->second, status);
}

int FakeConsul::requests(const std::string& prefix) const {
  std::lock_guard lock(mu_);
  int n = 0;
  for (const auto& [path, c] : requests_) {
    if (path.rfind(prefix, 0) == 0) n += c;
  }
  return n;
}

uint64_t FakeConsul::index() const {
  std::lock_guard lock(mu_);
  return index_;
}

namespace {
std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}
}  // namespace

FakeConsul::Reply FakeConsul::handle(const std::string& method, const std::string& target,
                                     const std::string& body, const std::string& token) {
  const auto q = target.find('?');
  const std::string path = unescape(target.substr(0, q));
  std::map<std::string, std::string> query;
  if (q != std::string::npos) {
    std::string rest = target.substr(q + 1);
    size_t i = 0;
    while (i <= rest.size()) {
      size_t amp = rest.find('&', i);
      if (amp == std::string::npos) amp = rest.size();
      const std::string kv = rest.substr(i, amp - i);
      const auto eq = kv.find('=');
      if (!kv.empty()) query[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
      i = amp + 1;
    }
  }
  std::unique_lock lock(mu_);
  ++requests_[path];
  if (!token_.empty() && token != token_) return {403, "ACL not found"};
  auto starts = [&](const char* p) { return path.rfind(p, 0) == 0; };
  if (method == "PUT" && path == "/v1/agent/service/register") {
    auto j = json::parse(body, nullptr, false);
    if (!j.is_object() || !j.contains("Name") || !j["Name"].is_string()) {
      return {400, "Request decode failed"};
    }
    const std::string id = j.value("ID", j["Name"].get<std::string>());
    Svc s;
    s.body = j;
    if (j.contains("Check") && j["Check"].is_object() && j["Check"].contains("TTL")) {
      s.has_ttl = true;
      s.ttl = parse_go_duration(j["Check"]["TTL"].get<std::string>());
      if (j["Check"].contains("DeregisterCriticalServiceAfter")) {
        s.deregister_after =
            parse_go_duration(j["Check"]["DeregisterCriticalServiceAfter"].get<std::string>());
      }
      s.status = "critical";  // Consul's TTL checks start critical
      s.critical_since = Clock::now();
    }
    services_[id] = s;
    bump();
    return {200, ""};
  }
  if (method == "PUT" && starts("/v1/agent/service/deregister/")) {
    const std::string id = path.substr(std::string("/v1/agent/service/deregister/").size());
    if (!services_.erase(id)) return {404, "Unknown service ID \"" + id + "\""};
    bump();
    return {200, ""};
  }
  if (method == "PUT" && starts("/v1/agent/check/pass/")) {
    const std::string check = path.substr(std::string("/v1/agent/check/pass/").size());
    auto it = check.rfind("service:", 0) == 0 ? services_.find(check.substr(8)) : services_.end();
    if (it == services_.end() || !it->second.has_ttl) {
      return {404, "Unknown check ID \"" + check + "\""};
    }
    it->second.last_pass = Clock::now();
    set_status(it->second, "passing");
    return {200, ""};
  }
  if (method != "GET") return {405, "method not allowed"};
  const bool health = starts("/v1/health/service/");
  if (!health && path != "/v1/catalog/services") return {404, "no such endpoint"};
  // Blocking query: wait until the index passes the one given, or the wait elapses.
  if (query.count("index")) {
    const uint64_t idx = std::stoull(query["index"]);
    auto wait = query.count("wait") ? parse_go_duration(query["wait"]) : 300000ms;
    if (wait.count() < 0) return {400, "bad wait"};
    const auto until = Clock::now() + wait;
    cv_.wait_until(lock, until, [&] { return stopping_ || index_ > idx; });
  }
  json out;
  if (health) {
    const std::string name = path.substr(std::string("/v1/health/service/").size());
    out = json::array();
    for (const auto& [id, s] : services_) {
      if (s.body.value("Name", "") != name) continue;
      json svc = {{"ID", id},
                  {"Service", name},
                  {"Tags", s.body.value("Tags", json::array())},
                  {"Address", s.body.value("Address", "")},
                  {"Meta", s.body.value("Meta", json::object())},
                  {"Port", s.body.value("Port", 0)}};
      json checks = json::array({{{"Node", "fake"},
                                  {"CheckID", "serfHealth"},
                                  {"Status", "passing"},
                                  {"ServiceID", ""}}});
      if (s.has_ttl || s.status != "passing") {
        checks.push_back({{"Node", "fake"},
                          {"CheckID", "service:" + id},
                          {"Status", s.status},
                          {"ServiceID", id}});
      }
      out.push_back({{"Node", {{"Node", "fake"}, {"Address", "127.0.0.1"}, {"Datacenter", "dc1"}}},
                     {"Service", svc},
                     {"Checks", checks}});
    }
  } else {
    out = {{"consul", json::array()}};
    for (const auto& [id, s] : services_) {
      auto& tags = out[s.body.value("Name", "")];
      if (tags.is_null()) tags = json::array();
      for (const auto& t : s.body.value("Tags", json::array())) {
        if (std::find(tags.begin(), tags.end(), t) == tags.end()) tags.push_back(t);
      }
    }
  }
  return {200, out.dump()};
}

}  // namespace micro::test
