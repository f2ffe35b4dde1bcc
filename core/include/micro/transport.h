// Transport: how messages move between a client and a server (go-micro transport/transport.go).
// A message is a header map plus a body; a Socket carries messages in both directions.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "micro/component.h"
#include "micro/metadata.h"

namespace micro::transport {

/// One framed message. Header names compare case-insensitively.
struct Message {
  Metadata header;
  std::string body;
};

struct DialOptions {
  /// The connection carries a stream: replies are not paired with requests.
  bool stream = false;
  /// Connect timeout.
  std::chrono::milliseconds timeout{5000};
};

struct ListenOptions {};

/// A connection. Ownership: whoever holds the pointer; destruction closes it.
class Socket {
 public:
  virtual ~Socket();

  /// Receives the next message into m. Blocks until one arrives, the deadline passes or the
  /// connection ends. Threads: one receiver at a time, concurrent with send() and close().
  /// Throws Error: Errc::timeout (deadline passed; the socket stays usable only if no bytes
  /// of a message were read), Errc::closed (peer or close()), Errc::too_large,
  /// Errc::bad_request (malformed framing); after any but timeout the socket is unusable.
  virtual void recv(Message& m, Deadline deadline = no_deadline) = 0;

  /// Sends one message. Thread-safe: concurrent senders are serialised, messages are never
  /// interleaved. Throws Error: Errc::closed or Errc::unavailable (write failed).
  virtual void send(const Message& m) = 0;

  /// Closes the connection; a blocked recv() returns with Errc::closed. Idempotent, any thread.
  virtual void close() noexcept = 0;

  /// "host:port" of this end and of the peer. Never throws.
  virtual std::string local() const = 0;
  virtual std::string remote() const = 0;
};

/// A bound listening endpoint.
class Listener {
 public:
  virtual ~Listener();

  /// The bound address "host:port" (with the real port when listening on port 0).
  virtual std::string addr() const = 0;

  /// Stops accepting: a blocked accept() returns. Sockets already handed out stay open.
  /// Idempotent, any thread, never throws.
  virtual void close() noexcept = 0;

  /// Accepts connections until close(), calling fn once per connection on a thread the
  /// transport owns (fn may block for the life of the connection). Blocks the caller.
  /// Throws Error only when the listener fails for good (not for one bad connection).
  virtual void accept(const std::function<void(std::shared_ptr<Socket>)>& fn) = 0;
};

}  // namespace micro::transport

namespace micro {

class Transport : public Component {
 public:
  struct Options {
    /// Default addresses (MICRO_TRANSPORT_ADDRESS); rarely used by transports.
    std::vector<std::string> addrs;
    /// Per-operation I/O timeout; 0 = the plugin's own defaults.
    std::chrono::milliseconds timeout{0};
    /// The plugin's own options as a JSON object, validated against its schema, defaults filled.
    std::string plugin_options = "{}";
  };

  /// Applies options. Called once before start(). Throws Error{config} on a bad value.
  virtual void init(const Options& options) = 0;
  virtual Options options() const = 0;

  /// Connects to addr ("host:port" or a transport-specific URL). Thread-safe.
  /// Throws Error: Errc::unavailable (refused, unreachable), Errc::timeout.
  virtual std::unique_ptr<transport::Socket> dial(std::string_view addr,
                                                  const transport::DialOptions& opts = {}) = 0;

  /// Binds addr ("host:0" picks a free port). Thread-safe.
  /// Throws Error: Errc::unavailable (address in use, bad address).
  virtual std::unique_ptr<transport::Listener> listen(
      std::string_view addr, const transport::ListenOptions& opts = {}) = 0;
};

}  // namespace micro
