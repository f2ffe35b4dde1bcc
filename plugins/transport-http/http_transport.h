// transport-http: go-micro's HTTP transport (spec/gomicro-wire.md §1). Each message is one
// HTTP/1.1 message on a persistent TCP (or TLS) connection: requests POST / from the dialler,
// "200 OK" responses from the listener, not paired, Content-Length framing, canonical header
// names. One thread per accepted connection, owned by the transport.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "http_options.h"
#include "micro/transport.h"
#include "shared.h"

namespace micro::plugins::http {

class HttpListener final : public transport::Listener {
 public:
  /// Takes ownership of the bound, listening, non-blocking fd.
  HttpListener(std::shared_ptr<Shared> shared, int fd);
  ~HttpListener() override;

  std::string addr() const override { return addr_; }
  void close() noexcept override;
  void accept(const std::function<void(std::shared_ptr<transport::Socket>)>& fn) override;

 private:
  const std::shared_ptr<Shared> shared_;
  const int fd_;
  const int wake_fd_;  // eventfd written by close()
  std::string addr_;
  std::atomic<bool> closed_{false};
  /// Open connections accepted here (max_connections); sockets decrement it when closed.
  const std::shared_ptr<std::atomic<std::size_t>> active_;
};

class HttpTransport final : public Transport {
 public:
  HttpTransport() = default;
  ~HttpTransport() override;

  std::string name() const override { return "http"; }
  void init(const Options& options) override;
  Options options() const override;
  void start() override {}
  /// Closes every listener and socket this transport made and joins its connection threads.
  void stop() noexcept override;

  std::unique_ptr<transport::Socket> dial(std::string_view addr,
                                          const transport::DialOptions& opts = {}) override;
  std::unique_ptr<transport::Listener> listen(std::string_view addr,
                                              const transport::ListenOptions& opts = {}) override;

 private:
  std::shared_ptr<Shared> shared() const;

  mutable std::mutex mu_;
  Options options_;
  std::shared_ptr<Shared> shared_;  // set by init()
};

/// Splits "host:port", "[v6]:port" or "http://host:port/" into host and port. Throws
/// Error{unavailable} on a malformed address.
void split_host_port(std::string_view addr, std::string& host, std::string& port);

}  // namespace micro::plugins::http
