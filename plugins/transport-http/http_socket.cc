#include "http_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <boost/beast/http/read.hpp>
#include <charconv>
#include <cstring>

#include "message_parser.h"
#include "micro/errors.h"

namespace micro::plugins::http {
namespace {

namespace asio_error = boost::asio::error;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// RFC 7230 token characters.
// RFC 9110 token characters: visible ASCII except the separators.
constexpr auto kTokenChars = [] {
  std::array<bool, 256> t{};
  for (int c = 33; c < 127; ++c) t[static_cast<std::size_t>(c)] = true;
  for (char c : std::string_view("\"(),/:;<=>?@[\\]{}")) t[static_cast<unsigned char>(c)] = false;
  return t;
}();

bool valid_name(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!kTokenChars[c]) return false;
  return true;
}

bool valid_value(std::string_view s) {
  for (unsigned char c : s)
    if (c == '\r' || c == '\n' || c == '\0') return false;
  return true;
}

// Written by us (Content-Length, Host) or meaningless with Content-Length framing. Sizes first:
// most names are none of these and cost one switch.
bool skipped_on_send(std::string_view k, bool client) {
  switch (k.size()) {
    case 4: return client && iequals(k, "Host");
    case 7: return iequals(k, "Trailer");
    case 14: return iequals(k, "Content-Length");
    case 17: return iequals(k, "Transfer-Encoding");
    default: return false;
  }
}

// Go's canonical MIME form, in place: "micro-id" -> "Micro-Id".
void canonicalise(char* p, std::size_t n) {
  bool up = true;
  for (std::size_t i = 0; i < n; ++i) {
    char c = p[i];
    if (up && c >= 'a' && c <= 'z')
      c = static_cast<char>(c - 'a' + 'A');
    else if (!up && c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
    p[i] = c;
    up = c == '-';
  }
}

std::string name_of(int fd, bool peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int r = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
               : ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return r == 0 ? sockaddr_string(&ss) : std::string();
}

}  // namespace

std::string sockaddr_string(const void* sa) {
  char host[INET6_ADDRSTRLEN] = {};
  auto* s = static_cast<const sockaddr*>(sa);
  if (s->sa_family == AF_INET) {
    auto* in = static_cast<const sockaddr_in*>(sa);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (s->sa_family == AF_INET6) {
    auto* in6 = static_cast<const sockaddr_in6*>(sa);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return {};
}

HttpSocket::HttpSocket(std::shared_ptr<Shared> shared, int fd, SSL* ssl, Role role,
                       std::string host, std::shared_ptr<std::atomic<std::size_t>> active)
    : shared_(std::move(shared)),
      opts_(shared_->opts),
      conn_(fd, ssl),
      role_(role),
      host_(std::move(host)),
      active_(std::move(active)),
      local_(name_of(fd, false)),
      remote_(name_of(fd, true)) {
  if (active_) active_->fetch_add(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lk(shared_->mu);
  shared_->sockets.insert(this);
  if (shared_->stopped) close();
}

HttpSocket::~HttpSocket() {
  close();
  std::lock_guard<std::mutex> lk(shared_->mu);
  shared_->sockets.erase(this);
}

void HttpSocket::close() noexcept {
  if (conn_.shutdown() && active_) active_->fetch_sub(1, std::memory_order_relaxed);
}

std::string HttpSocket::what(const std::string& s) const {
  return std::string("transport http: ") +
         (role_ == Role::client ? "connection to " : "connection from ") + remote_ + ": " + s;
}

void HttpSocket::throw_closed(const std::string& why) const {
  throw Error(Errc::closed, what(why));
}

void HttpSocket::handshake(Deadline deadline) {
  error_code ec;
  conn_.handshake(role_ == Role::server, deadline, ec);
  if (!ec) return;
  close();
  if (ec == asio_error::timed_out) throw Error(Errc::timeout, what("TLS handshake timed out"));
  throw Error(Errc::unavailable, what("TLS handshake failed: " + ec.message()));
}

void HttpSocket::recv(transport::Message& m, Deadline deadline) {
  if (conn_.closed()) throw_closed("socket closed");
  const bool idle_closes = role_ == Role::server && deadline == no_deadline;
  const Deadline idle = idle_closes ? Clock::now() + opts_.idle_timeout : deadline;
  conn_.begin_message(idle, deadline, opts_.read_timeout, buf_.size() > 0);
  m.header.clear();
  m.body.clear();
  if (role_ == Role::server)
    read_message<true>(m, idle_closes);
  else
    read_message<false>(m, idle_closes);
}

template <bool isRequest>
void HttpSocket::read_message(transport::Message& m, bool idle_closes) {
  MessageParser<isRequest> p(m, opts_.max_header_count);
  p.header_limit(opts_.max_header_bytes);
  p.body_limit(opts_.max_body_bytes);
  error_code ec;
  bhttp::read_header(conn_, buf_, p, ec);
  if (!ec && !p.is_done()) {
    auto len = p.content_length();
    if (len && !p.chunked())
      read_body(m.body, static_cast<std::size_t>(*len), ec);
    else
      bhttp::read(conn_, buf_, p, ec);
  }
  if (ec) fail_read(ec, idle_closes);
  if constexpr (!isRequest) {
    // go-micro: any status but 200 is an error "<status line>: <body>".
    if (p.status() != 200) throw Error(Errc::unavailable, p.status_line() + ": " + m.body);
  }
}

// Content-Length body: take what is buffered, then read the rest straight into the body.
void HttpSocket::read_body(std::string& body, std::size_t len, error_code& ec) {
  body.resize(len);
  std::size_t have = std::min(buf_.size(), len);
  std::memcpy(body.data(), buf_.data().data(), have);
  buf_.consume(have);
  while (have < len) {
    std::size_t n = conn_.read(body.data() + have, len - have, ec);
    if (ec) {
      if (ec == asio_error::eof) ec = bhttp::error::partial_message;
      return;
    }
    have += n;
  }
}

void HttpSocket::fail_read(const error_code& ec, bool idle_closes) {
  if (ec == asio_error::operation_aborted || conn_.closed()) throw_closed("socket closed");
  if (ec == asio_error::timed_out) {
    if (!conn_.started()) {
      if (idle_closes) {
        close();
        throw_closed("idle for idle_timeout_ms (" + std::to_string(opts_.idle_timeout.count()) +
                     " ms); connection closed");
      }
      // Nothing of a message was read: the socket stays usable.
      throw Error(Errc::timeout, what("recv deadline passed"));
    }
    reject(408, "Request Timeout", "message incomplete within read_timeout_ms\n");
    close();
    throw Error(Errc::timeout, what("message incomplete when the read deadline passed "
                                    "(read_timeout_ms " +
                                    std::to_string(opts_.read_timeout.count()) + ")"));
  }
  if (ec == bhttp::error::end_of_stream) {
    close();
    throw_closed("peer closed the connection");
  }
  if (ec == bhttp::error::partial_message || ec == asio_error::eof ||
      ec.category() == boost::system::system_category()) {
    close();
    throw_closed("connection lost mid-message: " + ec.message());
  }
  if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
    reject(431, "Request Header Fields Too Large", "header too large\n");
    close();
    throw Error(Errc::too_large,
                what("header exceeds max_header_bytes (" + std::to_string(opts_.max_header_bytes) +
                     ") or max_header_count (" + std::to_string(opts_.max_header_count) + ")"));
  }
  if (ec == bhttp::error::body_limit) {
    reject(413, "Payload Too Large", "body too large\n");
    close();
    throw Error(Errc::too_large,
                what("body exceeds max_body_bytes (" + std::to_string(opts_.max_body_bytes) + ")"));
  }
  reject(400, "Bad Request", "bad request: " + ec.message() + "\n");
  close();
  throw Error(Errc::bad_request, what("malformed HTTP message: " + ec.message()));
}

void HttpSocket::reject(int status, const char* reason, const std::string& text) noexcept {
  if (role_ != Role::server) return;
  try {
    std::string r = "HTTP/1.1 " + std::to_string(status) + " " + reason +
                    "\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    "Content-Length: " +
                    std::to_string(text.size()) + "\r\n\r\n" + text;
    iovec iov{r.data(), r.size()};
    error_code ec;
    {
      std::lock_guard<std::mutex> lk(send_mu_);
      auto limit = std::min<Clock::duration>(opts_.write_timeout, std::chrono::seconds(2));
      conn_.write_all(&iov, 1, Clock::now() + limit, ec);
    }
    // Drain what the peer still sends so our response is not destroyed by a RST. A stalled
    // peer (408) is not waited for.
    if (!ec && status != 408) conn_.linger(Clock::now() + std::chrono::seconds(1), 1u << 20);
  } catch (...) {
  }
}

void HttpSocket::send(const transport::Message& m) {
  std::lock_guard<std::mutex> lk(send_mu_);
  if (conn_.closed()) throw_closed("socket closed");
  head_.clear();
  if (role_ == Role::client) {
    head_ += "POST / HTTP/1.1\r\nHost: ";
    head_ += host_;
    head_ += "\r\n";
  } else {
    head_ += "HTTP/1.1 200 OK\r\n";
  }
  for (const auto& [k, v] : m.header) {
    // Written by us (Content-Length, Host) or meaningless with Content-Length framing.
    if (skipped_on_send(k, role_ == Role::client)) continue;
    if (!valid_name(k)) throw Error(Errc::bad_request, what("invalid header name \"" + k + "\""));
    if (!valid_value(v))
      throw Error(Errc::bad_request, what("header " + k + ": value contains CR, LF or NUL"));
    std::size_t at = head_.size();
    head_ += k;
    canonicalise(head_.data() + at, k.size());
    head_ += ": ";
    head_ += v;
    head_ += "\r\n";
  }
  char num[24];
  auto [end, _] = std::to_chars(num, num + sizeof num, m.body.size());
  head_ += "Content-Length: ";
  head_.append(num, end);
  head_ += "\r\n\r\n";

  iovec iov[2];
  int n = 1;
  // Small bodies go in the same buffer (one TLS record); otherwise one gathered write.
  if (m.body.size() <= 4096)
    head_ += m.body;
  else
    iov[n++] = {const_cast<char*>(m.body.data()), m.body.size()};
  iov[0] = {head_.data(), head_.size()};
  error_code ec;
  conn_.write_all(iov, n, Clock::now() + opts_.write_timeout, ec);
  if (!ec) return;
  close();  // a partial write breaks the framing
  if (ec == asio_error::operation_aborted) throw_closed("socket closed");
  if (ec == asio_error::timed_out)
    throw Error(Errc::unavailable, what("write timed out (write_timeout_ms " +
                                        std::to_string(opts_.write_timeout.count()) + ")"));
  throw Error(Errc::unavailable, what("write failed: " + ec.message()));
}

}  // namespace micro::plugins::http
