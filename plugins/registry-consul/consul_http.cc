#include "consul_http.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>

#include "micro/errors.h"

namespace micro::plugins::consul {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

void Canceller::cancel() noexcept {
  std::lock_guard lock(mu_);
  cancelled_ = true;
  if (current_) current_->stop();
}

bool Canceller::cancelled() const {
  std::lock_guard lock(mu_);
  return cancelled_;
}

Http::Http(std::vector<std::string> addrs, std::string token, std::chrono::milliseconds timeout)
    : addrs_(std::move(addrs)), token_(std::move(token)), timeout_(timeout) {
  for (auto& a : addrs_) {
    if (a.rfind("http://", 0) == 0) a = a.substr(7);
    while (!a.empty() && a.back() == '/') a.pop_back();
  }
  if (addrs_.empty()) addrs_.push_back("127.0.0.1:8500");
}

std::string escape(std::string_view s) {
  static const char* d = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += d[c >> 4];
      out += d[c & 15];
    }
  }
  return out;
}

Response Http::request(std::string_view method, const std::string& target, const std::string& body,
                       std::chrono::milliseconds extra, Canceller* cancel) const {
  std::string last;
  for (const auto& addr : addrs_) {
    const auto colon = addr.rfind(':');
    const std::string host = colon == std::string::npos ? addr : addr.substr(0, colon);
    const std::string port = colon == std::string::npos ? "8500" : addr.substr(colon + 1);
    asio::io_context ioc;
    if (cancel) {
      std::lock_guard lock(cancel->mu_);
      if (cancel->cancelled_) throw Error(Errc::closed, "registry-consul: watch stopped");
      cancel->current_ = &ioc;
    }
    struct Reset {
      Canceller* c;
      ~Reset() {
        if (c) {
          std::lock_guard lock(c->mu_);
          c->current_ = nullptr;
        }
      }
    } reset{cancel};
    beast::tcp_stream stream(ioc);
    error_code ec;
    tcp::resolver resolver(ioc);
    auto results = resolver.resolve(host, port, ec);
    if (ec) {
      last = "resolve " + addr + ": " + ec.message();
      continue;
    }
    http::request<http::string_body> req{
        http::string_to_verb(boost::beast::string_view(method.data(), method.size())), target, 11};
    req.set(http::field::host, addr);
    req.set(http::field::user_agent, "micro-cpp registry-consul");
    if (!token_.empty()) req.set("X-Consul-Token", token_);
    req.keep_alive(false);
    if (!body.empty() || method == "PUT") {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
      req.prepare_payload();
    }
    beast::flat_buffer buf;
    http::response_parser<http::string_body> p;
    p.body_limit(64u << 20);
    bool done = false;
    stream.expires_after(timeout_ + extra);
    stream.async_connect(results, [&](error_code e, const tcp::endpoint&) {
      if (e) {
        ec = e;
        done = true;
        return;
      }
      http::async_write(stream, req, [&](error_code e2, size_t) {
        if (e2) {
          ec = e2;
          done = true;
          return;
        }
        http::async_read(stream, buf, p, [&](error_code e3, size_t) {
          ec = e3;
          done = true;
        });
      });
    });
    ioc.run();
    if (cancel && cancel->cancelled()) throw Error(Errc::closed, "registry-consul: watch stopped");
    if (!done || ec) {
      last = std::string(method) + " " + target + " to " + addr + ": " +
             (done ? ec.message() : "stopped");
      continue;
    }
    Response r;
    r.status = p.get().result_int();
    r.body = p.get().body();
    auto idx = p.get().find("X-Consul-Index");
    if (idx != p.get().end()) {
      try {
        r.index = std::stoull(std::string(idx->value()));
      } catch (...) {
        r.index = 0;
      }
    }
    return r;
  }
  throw Error(Errc::unavailable, "registry-consul: consul unreachable: " + last);
}

}  // namespace micro::plugins::consul
