// A small synchronous HTTP/1.1 server (Boost.Beast): one thread accepts, one thread per
// connection. Used by broker-http to receive POSTed messages.
#pragma once

#include <functional>
#include <memory>
#include <string>

namespace micro::plugins::http_broker {

struct Request {
  std::string method;
  std::string target;  ///< path and query, e.g. "/?id=events-123"
  std::string body;
};

struct Response {
  int status = 200;
  std::string body;
};

/// Called on a connection thread for each request. Must not throw.
using RequestHandler = std::function<Response(const Request&)>;

class Server {
 public:
  /// Binds address ("host:port", port 0 = any) and starts accepting.
  /// Throws Error{unavailable} naming the address when it cannot bind, Error{config} when the
  /// address is malformed.
  Server(const std::string& address, RequestHandler handler);
  /// Stops accepting, closes every connection and joins every thread.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// The bound "host:port".
  const std::string& address() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

/// POSTs to subscriber servers over kept-alive connections (a few idle ones per address, each
/// reused for up to 30 s). Thread-safe.
class Client {
 public:
  Client();
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// POSTs body to http://<address><target> with Content-Type application/json and returns the
  /// status. A reused connection the peer has closed is replaced once. Throws Error{unavailable}
  /// when the peer cannot be reached or answers garbage, Error{timeout} past timeout_ms.
  int post(const std::string& address, const std::string& target, const std::string& body,
           int timeout_ms);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace micro::plugins::http_broker
