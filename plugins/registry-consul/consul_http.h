// registry-consul: a minimal blocking HTTP/1.1 client for Consul's agent API (Boost.Beast).
// One connection per request (blocking queries hold theirs for up to `wait`), addresses tried in
// order, X-Consul-Token sent when set.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "micro/component.h"

namespace boost::asio {
class io_context;
}

namespace micro::plugins::consul {

struct Response {
  unsigned status = 0;
  std::string body;
  uint64_t index = 0;  ///< X-Consul-Index, 0 when absent
};

/// Lets another thread abort a request in flight. Threads: cancel() from any thread.
class Canceller {
 public:
  /// Aborts the current request (it throws Error{closed}) and every later one. Never throws.
  void cancel() noexcept;
  bool cancelled() const;

 private:
  friend class Http;
  mutable std::mutex mu_;
  bool cancelled_ = false;
  boost::asio::io_context* current_ = nullptr;
};

/// Thread-safe (no shared mutable state besides the configuration, set before use).
class Http {
 public:
  Http(std::vector<std::string> addrs, std::string token, std::chrono::milliseconds timeout);

  /// Sends method target (with body when not empty) to the first address that answers.
  /// extra = additional time allowed on top of the timeout (blocking queries).
  /// Throws Error{unavailable} when no address answers, Error{closed} when cancelled.
  /// Any HTTP status is returned, not thrown.
  Response request(std::string_view method, const std::string& target, const std::string& body,
                   std::chrono::milliseconds extra = {}, Canceller* cancel = nullptr) const;

  const std::vector<std::string>& addrs() const { return addrs_; }

 private:
  std::vector<std::string> addrs_;
  std::string token_;
  std::chrono::milliseconds timeout_;
};

/// Percent-encodes a path segment.
std::string escape(std::string_view s);

}  // namespace micro::plugins::consul
