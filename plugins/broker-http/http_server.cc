#include "http_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <list>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "micro/errors.h"

namespace micro::plugins::http_broker {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

constexpr std::size_t kMaxBody = 64 * 1024 * 1024;

tcp::endpoint parse_endpoint(const std::string& address, const char* what) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos)
    throw Error(Errc::config,
                std::string("broker http: ") + what + " \"" + address + "\" is not host:port");
  std::string host = address.substr(0, colon);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  unsigned port = 0;
  auto ps = address.substr(colon + 1);
  auto [p, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), port);
  boost::system::error_code aec;
  auto ip = asio::ip::make_address(host, aec);
  if (ec != std::errc() || p != ps.data() + ps.size() || port > 65535 || aec)
    throw Error(Errc::config, std::string("broker http: ") + what + " \"" + address +
                                  "\" is not a numeric host:port");
  return {ip, static_cast<unsigned short>(port)};
}

std::string endpoint_string(const tcp::endpoint& ep) {
  auto a = ep.address();
  if (a.is_unspecified()) a = asio::ip::make_address("127.0.0.1");
  std::string host = a.to_string();
  if (a.is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(ep.port());
}

void set_timeouts(int fd, int ms) {
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

struct Server::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::string address;
  RequestHandler handler;
  int wake[2] = {-1, -1};
  std::atomic<bool> stopping{false};
  std::thread accept_thread;

  struct Conn {
    tcp::socket socket;
    std::thread thread;
    std::atomic<bool> done{false};
    explicit Conn(tcp::socket s) : socket(std::move(s)) {}
  };
  std::mutex mu;
  std::list<std::unique_ptr<Conn>> conns;

  void serve(Conn* c) {
    beast::flat_buffer buf;
    boost::system::error_code ec;
    while (!stopping) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(kMaxBody);
      bhttp::read(c->socket, buf, parser, ec);
      if (ec) break;
      auto& req = parser.get();
      Request r{std::string(req.method_string()), std::string(req.target()), std::move(req.body())};
      Response out = handler(r);
      bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(out.status),
                                              req.version()};
      res.set(bhttp::field::content_type, "text/plain");
      res.body() = std::move(out.body);
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      bhttp::write(c->socket, res, ec);
      if (ec || !res.keep_alive()) break;
    }
    c->socket.shutdown(tcp::socket::shutdown_both, ec);
    c->done = true;
  }

  // Joins finished connection threads. Caller holds mu.
  void reap() {
    for (auto it = conns.begin(); it != conns.end();) {
      if ((*it)->done) {
        (*it)->thread.join();
        it = conns.erase(it);
      } else {
        ++it;
      }
    }
  }

  void accept_loop() {
    while (!stopping) {
      pollfd p[2] = {{acceptor.native_handle(), POLLIN, 0}, {wake[0], POLLIN, 0}};
      if (::poll(p, 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (stopping) break;
      if ((p[0].revents & POLLIN) == 0) continue;
      boost::system::error_code ec;
      tcp::socket s(io);
      acceptor.accept(s, ec);
      if (ec) {
        if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
        ::poll(nullptr, 0, 50);  // out of descriptors or similar: back off
        continue;
      }
      s.non_blocking(false, ec);
      set_timeouts(s.native_handle(), 60000);  // idle keep-alive connections end after 60 s
      std::lock_guard lk(mu);
      reap();
      if (stopping) break;
      auto c = std::make_unique<Conn>(std::move(s));
      Conn* raw = c.get();
      c->thread = std::thread([this, raw] { serve(raw); });
      conns.push_back(std::move(c));
    }
  }
};

Server::Server(const std::string& address, RequestHandler handler)
    : impl_(std::make_shared<Impl>()) {
  auto ep = parse_endpoint(address, "address");
  impl_->handler = std::move(handler);
  boost::system::error_code ec;
  impl_->acceptor.open(ep.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(ep, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) impl_->acceptor.non_blocking(true, ec);
  if (ec)
    throw Error(Errc::unavailable,
                "broker http: cannot listen on " + address + ": " + ec.message());
  impl_->address = endpoint_string(impl_->acceptor.local_endpoint());
  if (::pipe2(impl_->wake, O_CLOEXEC) != 0) throw Error(Errc::internal, "broker http: pipe failed");
  impl_->accept_thread = std::thread([impl = impl_.get()] { impl->accept_loop(); });
}

Server::~Server() {
  impl_->stopping = true;
  char one = 1;
  [[maybe_unused]] auto n = ::write(impl_->wake[1], &one, 1);
  impl_->accept_thread.join();
  std::list<std::unique_ptr<Impl::Conn>> conns;
  {
    std::lock_guard lk(impl_->mu);
    conns.swap(impl_->conns);
  }
  for (auto& c : conns) ::shutdown(c->socket.native_handle(), SHUT_RDWR);
  for (auto& c : conns) c->thread.join();
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
  ::close(impl_->wake[0]);
  ::close(impl_->wake[1]);
}

const std::string& Server::address() const { return impl_->address; }

struct Client::Impl {
  struct Idle {
    std::unique_ptr<tcp::socket> socket;
    std::chrono::steady_clock::time_point since;
  };
  asio::io_context io;  // only owns the sockets: every operation is synchronous
  std::mutex mu;
  std::map<std::string, std::vector<Idle>> idle;

  std::unique_ptr<tcp::socket> take(const std::string& address) {
    std::lock_guard lk(mu);
    auto it = idle.find(address);
    if (it == idle.end()) return nullptr;
    auto now = std::chrono::steady_clock::now();
    while (!it->second.empty()) {
      Idle i = std::move(it->second.back());
      it->second.pop_back();
      if (now - i.since < std::chrono::seconds(30)) return std::move(i.socket);
    }
    return nullptr;
  }

  void give_back(const std::string& address, std::unique_ptr<tcp::socket> s) {
    std::lock_guard lk(mu);
    auto& list = idle[address];
    if (list.size() < 16) list.push_back({std::move(s), std::chrono::steady_clock::now()});
  }
};

Client::Client() : impl_(std::make_unique<Impl>()) {}
Client::~Client() = default;

int Client::post(const std::string& address, const std::string& target, const std::string& body,
                 int timeout_ms) {
  auto ep = parse_endpoint(address, "node address");
  bhttp::request<bhttp::string_body> req{bhttp::verb::post, target, 11};
  req.set(bhttp::field::host, address);
  req.set(bhttp::field::content_type, "application/json");
  req.keep_alive(true);
  req.body() = body;
  req.prepare_payload();
  boost::system::error_code ec;
  auto fail = [&](const char* what) {
    bool timed_out = ec == asio::error::would_block || ec == asio::error::try_again ||
                     ec == asio::error::timed_out;
    return Error(timed_out ? Errc::timeout : Errc::unavailable,
                 std::string("broker http: ") + what + " " + address + ": " + ec.message());
  };
  for (int attempt = 0;; ++attempt) {
    auto s = attempt == 0 ? impl_->take(address) : nullptr;
    const bool reused = s != nullptr;
    if (!s) {
      s = std::make_unique<tcp::socket>(impl_->io);
      s->open(ep.protocol(), ec);
      if (ec) throw fail("cannot open a socket for");
      set_timeouts(s->native_handle(), timeout_ms);
      s->connect(ep, ec);
      if (ec) throw fail("cannot connect to");
    } else {
      set_timeouts(s->native_handle(), timeout_ms);
    }
    bhttp::write(*s, req, ec);
    if (ec && reused) continue;  // the peer closed the idle connection: nothing was sent
    if (ec) throw fail("cannot send to");
    beast::flat_buffer buf;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(*s, buf, res, ec);
    // A reused connection closed before any answer: the peer had closed it while idle.
    if (ec && reused && buf.size() == 0 &&
        (ec == bhttp::error::end_of_stream || ec == asio::error::connection_reset ||
         ec == asio::error::eof || ec == asio::error::broken_pipe))
      continue;
    if (ec) throw fail("no answer from");
    if (res.keep_alive()) impl_->give_back(address, std::move(s));
    return static_cast<int>(res.result_int());
  }
}

}  // namespace micro::plugins::http_broker
