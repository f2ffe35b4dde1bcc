// registry-etcd: a small client of etcd's JSON gRPC gateway (etcd 3.4+: POST /v3/...), over
// HTTP/1.1 with Boost.Beast. Unary calls on pooled keep-alive connections with endpoint
// failover, and streaming responses (watch) as a sequence of JSON objects.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "etcd_codec.h"
#include "micro/component.h"
#include "micro/errors.h"

namespace micro::plugins::etcd {

struct ClientConfig {
  std::vector<Endpoint> endpoints;          ///< tried in order, starting at the last good one
  std::chrono::milliseconds timeout{5000};  ///< per call, all endpoints included
  std::string username;                     ///< etcd auth; empty = no auth
  std::string password;
  std::string ca_file;  ///< TLS: CA bundle for https:// endpoints (empty = system default)
  std::string cert_file;
  std::string key_file;
  bool tls_insecure = false;  ///< do not verify the server certificate
};

/// An error response of etcd: a micro::Error plus the gRPC status code etcd gave.
class EtcdError : public Error {
 public:
  EtcdError(Errc errc, std::string detail, int grpc_code)
      : Error(errc, std::move(detail)), grpc_code_(grpc_code) {}
  int grpc_code() const noexcept { return grpc_code_; }

 private:
  int grpc_code_;
};

struct Conn;

/// One streaming response (a watch): JSON objects separated by newlines.
/// Threads: next() from one thread; cancel() from any thread.
class Stream {
 public:
  explicit Stream(std::unique_ptr<Conn> c);
  ~Stream();
  /// The next object; blocks without limit. Throws Error{unavailable} when the stream ends or
  /// fails, Error{closed} after cancel().
  nlohmann::json next();
  /// Aborts a blocked next() and makes later ones throw Errc::closed. Never throws.
  void cancel() noexcept;

 private:
  std::unique_ptr<Conn> c_;
  std::string pending_;
  std::mutex mu_;
  bool cancelled_ = false;
};

/// The gateway client. All methods are thread-safe.
class Client {
 public:
  explicit Client(ClientConfig config);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// POSTs body to path (e.g. "/v3/kv/put") and returns the response object. Fails over to the
  /// next endpoint on connection errors and etcd's Unavailable. Throws Error{unavailable} when
  /// no endpoint answers by the deadline, EtcdError for etcd's error responses.
  nlohmann::json call(std::string_view path, const nlohmann::json& body);
  /// Opens a streaming POST (e.g. "/v3/watch") on its own connection, with failover.
  std::unique_ptr<Stream> open_stream(std::string_view path, const nlohmann::json& body);

  /// Requests sent so far (every HTTP request, authentication and stream opens included).
  uint64_t requests() const noexcept { return requests_.load(); }
  /// Requests sent so far per path.
  std::map<std::string, uint64_t> requests_by_path() const;
  const ClientConfig& config() const { return config_; }

 private:
  std::unique_ptr<Conn> take(size_t endpoint, Deadline d, bool& reused);
  std::unique_ptr<Conn> connect(size_t endpoint, Deadline d);
  void give_back(std::unique_ptr<Conn> c);
  nlohmann::json call_on(size_t endpoint, std::string_view path, const std::string& body,
                         Deadline d);
  nlohmann::json call_once(size_t endpoint, std::string_view path, const std::string& body,
                           Deadline d, bool with_token);
  std::string token(size_t endpoint, Deadline d);
  void count(std::string_view path);

  ClientConfig config_;
  std::atomic<size_t> current_{0};
  std::atomic<uint64_t> requests_{0};
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Conn>> idle_;
  std::map<std::string, uint64_t> by_path_;
  std::string token_;
  struct Tls;
  std::unique_ptr<Tls> tls_;
};

}  // namespace micro::plugins::etcd
