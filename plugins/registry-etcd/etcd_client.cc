#include "etcd_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>

#include "micro/log.h"

namespace micro::plugins::etcd {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr size_t kMaxIdle = 8;
constexpr uint64_t kBodyLimit = 64u << 20;

/// A transport failure (no answer from this endpoint): the caller may try the next one.
struct ConnError {
  std::string what;
};

/// etcd's gRPC status code to an Errc.
Errc errc_of_grpc(int code) {
  switch (code) {
    case 3: return Errc::bad_request;    // InvalidArgument (also: bad user or password)
    case 5: return Errc::not_found;      // NotFound (lease)
    case 6: return Errc::conflict;       // AlreadyExists
    case 7: return Errc::forbidden;      // PermissionDenied
    case 16: return Errc::unauthorized;  // Unauthenticated
    case 8:                              // ResourceExhausted
    case 13: return Errc::internal;
    default: return Errc::unavailable;  // Unavailable, DeadlineExceeded, Canceled, ...
  }
}

EtcdError error_from_body(unsigned status, const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  int code = 0;
  std::string msg = body.substr(0, 200);
  if (j.is_object()) {
    if (j.contains("code") && j["code"].is_number_integer()) code = j["code"].get<int>();
    if (j.contains("message") && j["message"].is_string())
      msg = j["message"].get<std::string>();
    else if (j.contains("error") && j["error"].is_string())
      msg = j["error"].get<std::string>();
  }
  Errc e = code ? errc_of_grpc(code) : (status == 404 ? Errc::not_found : Errc::unavailable);
  return EtcdError(e, "registry-etcd: etcd: " + msg, code);
}

}  // namespace

struct Client::Tls {
  asio::ssl::context ctx{asio::ssl::context::tls_client};
};

/// One connection with its own io_context, so that blocking calls with deadlines run on the
/// calling thread (async operations driven by run(), bounded by tcp_stream's expiry).
struct Conn {
  asio::io_context ioc;
  std::optional<beast::tcp_stream> tcp;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buf;
  size_t endpoint = 0;
  std::string host_header;
  std::optional<http::response_parser<http::buffer_body>> stream_parser;

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *tcp; }
  template <class F>
  void with(F&& f) {
    if (tls)
      f(*tls);
    else
      f(*tcp);
  }
  /// Runs the pending operations until they complete or the io_context is stopped.
  void run() {
    ioc.restart();
    ioc.run();
  }
};

Stream::Stream(std::unique_ptr<Conn> c) : c_(std::move(c)) {}
Stream::~Stream() = default;

void Stream::cancel() noexcept {
  std::lock_guard lock(mu_);
  cancelled_ = true;
  c_->ioc.stop();
}

nlohmann::json Stream::next() {
  auto& p = *c_->stream_parser;
  char tmp[16384];
  for (;;) {
    const auto nl = pending_.find('\n');
    if (nl != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded()) throw Error(Errc::unavailable, "registry-etcd: bad stream message");
      return j;
    }
    if (p.is_done()) {
      // A last object without a newline.
      if (!pending_.empty()) {
        auto j = nlohmann::json::parse(pending_, nullptr, false);
        pending_.clear();
        if (!j.is_discarded()) return j;
      }
      throw Error(Errc::unavailable, "registry-etcd: etcd ended the stream");
    }
    {
      std::lock_guard lock(mu_);
      if (cancelled_) throw Error(Errc::closed, "registry-etcd: stream cancelled");
      c_->ioc.restart();
    }
    p.get().body().data = tmp;
    p.get().body().size = sizeof tmp;
    error_code ec;
    bool done = false;
    c_->lowest().expires_never();
    c_->with([&](auto& s) {
      http::async_read_some(s, c_->buf, p, [&](error_code e, size_t) {
        ec = e;
        done = true;
      });
    });
    c_->ioc.run();
    {
      std::lock_guard lock(mu_);
      if (cancelled_ || !done) throw Error(Errc::closed, "registry-etcd: stream cancelled");
    }
    if (ec == http::error::need_buffer) ec = {};
    if (ec) throw Error(Errc::unavailable, "registry-etcd: stream: " + ec.message());
    pending_.append(tmp, sizeof tmp - p.get().body().size);
  }
}

Client::Client(ClientConfig config) : config_(std::move(config)) {
  if (config_.endpoints.empty()) config_.endpoints.push_back(parse_endpoint("127.0.0.1:2379"));
  bool any_tls = false;
  for (const auto& e : config_.endpoints) any_tls = any_tls || e.tls;
  if (any_tls) {
    tls_ = std::make_unique<Tls>();
    error_code ec;
    if (!config_.ca_file.empty()) {
      tls_->ctx.load_verify_file(config_.ca_file, ec);
    } else {
      tls_->ctx.set_default_verify_paths(ec);
    }
    if (ec) throw Error(Errc::config, "registry.etcd.ca_file: " + ec.message());
    if (!config_.cert_file.empty()) {
      tls_->ctx.use_certificate_chain_file(config_.cert_file, ec);
      if (ec) throw Error(Errc::config, "registry.etcd.cert_file: " + ec.message());
      tls_->ctx.use_private_key_file(config_.key_file, asio::ssl::context::pem, ec);
      if (ec) throw Error(Errc::config, "registry.etcd.key_file: " + ec.message());
    }
    tls_->ctx.set_verify_mode(config_.tls_insecure ? asio::ssl::verify_none
                                                   : asio::ssl::verify_peer);
  }
}

Client::~Client() = default;

std::map<std::string, uint64_t> Client::requests_by_path() const {
  std::lock_guard lock(mu_);
  return by_path_;
}

void Client::count(std::string_view path) {
  requests_.fetch_add(1);
  std::lock_guard lock(mu_);
  ++by_path_[std::string(path)];
}

std::unique_ptr<Conn> Client::take(size_t endpoint, Deadline d, bool& reused) {
  {
    std::lock_guard lock(mu_);
    for (auto it = idle_.begin(); it != idle_.end(); ++it) {
      if ((*it)->endpoint == endpoint) {
        auto c = std::move(*it);
        idle_.erase(it);
        reused = true;
        return c;
      }
    }
  }
  reused = false;
  return connect(endpoint, d);
}

std::unique_ptr<Conn> Client::connect(size_t endpoint, Deadline d) {
  const auto& ep = config_.endpoints[endpoint];
  auto c = std::make_unique<Conn>();
  c->endpoint = endpoint;
  c->host_header = ep.text();
  if (ep.tls) {
    if (!tls_) throw ConnError{"TLS not configured"};
    c->tls.emplace(c->ioc, tls_->ctx);
  } else {
    c->tcp.emplace(c->ioc);
  }
  tcp::resolver resolver(c->ioc);
  error_code ec;
  auto results = resolver.resolve(ep.host, ep.port, ec);
  if (ec) throw ConnError{"resolve " + ep.text() + ": " + ec.message()};
  c->lowest().expires_at(d);
  bool done = false;
  c->lowest().async_connect(results, [&](error_code e, const tcp::endpoint&) {
    ec = e;
    done = true;
  });
  c->run();
  if (!done || ec) throw ConnError{"connect " + ep.text() + ": " + ec.message()};
  c->lowest().socket().set_option(asio::socket_base::keep_alive(true), ec);
  c->lowest().socket().set_option(tcp::no_delay(true), ec);
  if (c->tls) {
    if (!SSL_set_tlsext_host_name(c->tls->native_handle(), ep.host.c_str())) {
      throw ConnError{"TLS SNI for " + ep.text()};
    }
    if (!config_.tls_insecure)
      c->tls->set_verify_callback(asio::ssl::host_name_verification(ep.host));
    done = false;
    c->tls->async_handshake(asio::ssl::stream_base::client, [&](error_code e) {
      ec = e;
      done = true;
    });
    c->run();
    if (!done || ec) throw ConnError{"TLS handshake with " + ep.text() + ": " + ec.message()};
  }
  return c;
}

void Client::give_back(std::unique_ptr<Conn> c) {
  std::lock_guard lock(mu_);
  if (idle_.size() < kMaxIdle) idle_.push_back(std::move(c));
}

std::string Client::token(size_t endpoint, Deadline d) {
  if (config_.username.empty()) return {};
  {
    std::lock_guard lock(mu_);
    if (!token_.empty()) return token_;
  }
  nlohmann::json body = {{"name", config_.username}, {"password", config_.password}};
  auto r = call_once(endpoint, "/v3/auth/authenticate", body.dump(), d, false);
  if (!r.contains("token") || !r["token"].is_string()) {
    throw Error(Errc::unauthorized, "registry-etcd: etcd gave no auth token");
  }
  std::lock_guard lock(mu_);
  token_ = r["token"].get<std::string>();
  return token_;
}

nlohmann::json Client::call_once(size_t endpoint, std::string_view path, const std::string& body,
                                 Deadline d, bool with_token) {
  const std::string tok = with_token ? token(endpoint, d) : std::string();
  // A pooled connection may have been closed by etcd meanwhile: one retry on a fresh one.
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    auto c = take(endpoint, d, reused);
    http::request<http::string_body> req{http::verb::post, std::string(path), 11};
    req.set(http::field::host, c->host_header);
    req.set(http::field::content_type, "application/json");
    if (!tok.empty()) req.set(http::field::authorization, tok);
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    http::response_parser<http::string_body> p;
    p.body_limit(kBodyLimit);
    error_code ec;
    bool done = false;
    c->lowest().expires_at(d);
    count(path);
    c->with([&](auto& s) {
      http::async_write(s, req, [&](error_code e, size_t) {
        if (e) {
          ec = e;
          done = true;
          return;
        }
        http::async_read(s, c->buf, p, [&](error_code e2, size_t) {
          ec = e2;
          done = true;
        });
      });
    });
    c->run();
    if (!done || ec) {
      if (reused && attempt == 0 && ec != beast::error::timeout) continue;
      throw ConnError{"POST " + std::string(path) + " to " + config_.endpoints[endpoint].text() +
                      ": " + (done ? ec.message() : "stopped")};
    }
    auto res = p.release();
    const bool keep = res.keep_alive();
    if (keep) give_back(std::move(c));
    if (res.result() != http::status::ok) {
      throw error_from_body(res.result_int(), res.body());
    }
    auto j = nlohmann::json::parse(res.body(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      throw Error(Errc::internal, "registry-etcd: etcd answered " + std::string(path) +
                                      " with something that is not a JSON object");
    }
    return j;
  }
}

nlohmann::json Client::call_on(size_t endpoint, std::string_view path, const std::string& body,
                               Deadline d) {
  try {
    return call_once(endpoint, path, body, d, true);
  } catch (const EtcdError& e) {
    // Simple tokens expire (--auth-token-ttl): authenticate again once.
    if (e.grpc_code() != 16 || config_.username.empty()) throw;
    {
      std::lock_guard lock(mu_);
      token_.clear();
    }
    return call_once(endpoint, path, body, d, true);
  }
}

nlohmann::json Client::call(std::string_view path, const nlohmann::json& body) {
  const auto start = Clock::now();
  const auto deadline = start + config_.timeout;
  const size_t n = config_.endpoints.size();
  const std::string text = body.dump();
  std::string last;
  const size_t first = current_.load();
  for (size_t i = 0; i < n; ++i) {
    const size_t ep = (first + i) % n;
    const auto now = Clock::now();
    if (now >= deadline) break;
    // A fair share of what is left (at least 500 ms): an address that refused at once leaves
    // its share to the others, which may be waiting out a leader election.
    const auto slice =
        std::max<Clock::duration>((deadline - now) / long(n - i), std::chrono::milliseconds(500));
    const Deadline d = i + 1 == n ? deadline : std::min(deadline, now + slice);
    try {
      auto r = call_on(ep, path, text, d);
      current_.store(ep);
      return r;
    } catch (const ConnError& e) {
      last = e.what;
    } catch (const EtcdError& e) {
      if (e.grpc_code() != 14 && e.grpc_code() != 4) throw;  // Unavailable / DeadlineExceeded
      last = e.what();
    }
  }
  throw Error(Errc::unavailable,
              "registry-etcd: no etcd endpoint answered " + std::string(path) + ": " + last);
}

std::unique_ptr<Stream> Client::open_stream(std::string_view path, const nlohmann::json& body) {
  const auto deadline = Clock::now() + config_.timeout;
  const size_t n = config_.endpoints.size();
  const std::string text = body.dump();
  std::string last;
  const size_t first = current_.load();
  for (size_t i = 0; i < n; ++i) {
    const size_t ep = (first + i) % n;
    try {
      const std::string tok = token(ep, deadline);
      auto c = connect(ep, deadline);  // streams never use a pooled connection
      http::request<http::string_body> req{http::verb::post, std::string(path), 11};
      req.set(http::field::host, c->host_header);
      req.set(http::field::content_type, "application/json");
      if (!tok.empty()) req.set(http::field::authorization, tok);
      req.body() = text;
      req.prepare_payload();
      error_code ec;
      bool done = false;
      c->stream_parser.emplace();
      c->stream_parser->body_limit(boost::none);
      c->lowest().expires_at(deadline);
      count(path);
      c->with([&](auto& s) {
        http::async_write(s, req, [&](error_code e, size_t) {
          if (e) {
            ec = e;
            done = true;
            return;
          }
          http::async_read_header(s, c->buf, *c->stream_parser, [&](error_code e2, size_t) {
            ec = e2;
            done = true;
          });
        });
      });
      c->run();
      if (!done || ec) throw ConnError{"POST " + std::string(path) + ": " + ec.message()};
      if (c->stream_parser->get().result() != http::status::ok) {
        throw ConnError{"POST " + std::string(path) + ": HTTP " +
                        std::to_string(c->stream_parser->get().result_int())};
      }
      current_.store(ep);
      return std::make_unique<Stream>(std::move(c));
    } catch (const ConnError& e) {
      last = e.what;
    } catch (const EtcdError& e) {
      if (e.grpc_code() != 14 && e.grpc_code() != 4) throw;
      last = e.what();
    }
  }
  throw Error(Errc::unavailable, "registry-etcd: cannot open " + std::string(path) + ": " + last);
}

}  // namespace micro::plugins::etcd
