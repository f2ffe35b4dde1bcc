// transport-http: one HTTP/1.1 connection carrying go-micro transport messages. A client socket
// sends requests (POST /) and receives responses; a server socket receives requests and sends
// "200 OK" responses. Requests and responses are not paired: either side may send any number
// of messages, each a complete HTTP message with Content-Length.
#pragma once

#include <atomic>
#include <boost/beast/core/flat_buffer.hpp>
#include <memory>
#include <mutex>
#include <string>

#include "conn.h"
#include "micro/transport.h"
#include "shared.h"

namespace micro::plugins::http {

class HttpSocket final : public transport::Socket {
 public:
  enum class Role { client, server };

  /// Registers with shared (for stop()). host: the Host header of a client's requests.
  /// active: the listener's connection counter, decremented once on close (server only).
  HttpSocket(std::shared_ptr<Shared> shared, int fd, SSL* ssl, Role role, std::string host,
             std::shared_ptr<std::atomic<std::size_t>> active = nullptr);
  ~HttpSocket() override;

  void recv(transport::Message& m, Deadline deadline = no_deadline) override;
  void send(const transport::Message& m) override;
  void close() noexcept override;
  std::string local() const override { return local_; }
  std::string remote() const override { return remote_; }

  /// TLS handshake before first use (no-op without TLS). Throws Error.
  void handshake(Deadline deadline);

 private:
  template <bool isRequest>
  void read_message(transport::Message& m, bool idle_closes);
  void read_body(std::string& body, std::size_t len, error_code& ec);
  [[noreturn]] void fail_read(const error_code& ec, bool idle_closes);
  /// Server: answers a bad request with an error response and Connection: close, then closes.
  void reject(int status, const char* reason, const std::string& text) noexcept;
  [[noreturn]] void throw_closed(const std::string& why) const;
  std::string what(const std::string& s) const;

  const std::shared_ptr<Shared> shared_;
  const HttpOptions& opts_;
  Conn conn_;
  const Role role_;
  const std::string host_;
  const std::shared_ptr<std::atomic<std::size_t>> active_;
  std::string local_, remote_;

  boost::beast::flat_buffer buf_;  // reader only

  std::mutex send_mu_;
  std::string head_;  // under send_mu_
};

/// "host:port" of a socket address ("[v6]:port" for IPv6).
std::string sockaddr_string(const void* sa);

}  // namespace micro::plugins::http
