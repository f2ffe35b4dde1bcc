// Client: calls services, opens streams, publishes events (go-micro client/client.go).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "micro/codec.h"
#include "micro/component.h"
#include "micro/context.h"
#include "micro/selector.h"

namespace micro::client {

struct Request {
  std::string service;       ///< registered service name
  std::string endpoint;      ///< "Handler.Method"
  std::string content_type;  ///< "" = the client's default
};

struct CallOptions {
  std::chrono::milliseconds timeout{0};  ///< 0 = Client::Options::request_timeout
  int retries = -1;                      ///< -1 = Client::Options::retries
  std::string address;                   ///< call this node directly, skipping the selector
  selector::SelectOptions select;
};

struct PublishOptions {
  std::string content_type;  ///< "" = the client's default
};

/// A bidirectional stream of one call, on a connection of its own. Threads: one sender and
/// one receiver may run concurrently. Destruction closes it.
class Stream {
 public:
  virtual ~Stream();
  /// Sends one message. Throws Error (closed, unavailable, the server's error).
  virtual void send(const codec::Payload& m) = 0;
  /// Receives one message; false at the server's end of stream. Throws Error (the server's
  /// error, timeout at the call deadline, closed).
  virtual bool recv(const codec::Payload& m) = 0;
  /// Tells the server no more messages follow (go-micro's EOS). Idempotent.
  virtual void close_send() = 0;
  /// Ends the stream (sends EOS if not yet sent) and closes its connection. Never throws.
  virtual void close() noexcept = 0;
  /// Headers of the first reply (empty before one arrived).
  virtual const Metadata& header() const = 0;
};

/// The call as wrappers see it: one attempt against one node.
using CallFunc = std::function<void(Context& ctx, const registry::Node& node, const Request& req,
                                    const codec::Payload& in, const codec::Payload& out,
                                    const CallOptions& opts)>;
/// Middleware around each attempt (logging, metrics, auth): returns the wrapped function.
using CallWrapper = std::function<CallFunc(CallFunc next)>;

}  // namespace micro::client

namespace micro {

class Client : public Component {
 public:
  struct Options {
    std::string content_type = "application/json";
    int retries = 1;
    std::chrono::milliseconds request_timeout{5000};
    std::size_t pool_size = 100;
    std::chrono::seconds pool_ttl{60};
    /// Applied to each attempt, the first wrapper outermost.
    std::vector<client::CallWrapper> wrappers;
    std::string plugin_options = "{}";
  };
  /// Applies options (wrappers included). Call before the first call(), not concurrently with
  /// calls. Throws Error{config} on a bad value.
  virtual void init(const Options& options) = 0;
  virtual Options options() const = 0;

  /// Calls req.endpoint of req.service with in, decoding the reply into out. Retries with
  /// another node on transport errors (dial, send, the connection lost before the reply: the
  /// handler may have run if the server died mid-call) and 503s; a timeout (408) or a 500 is
  /// returned, not retried (go-micro retries those too). Thread-safe.
  /// ctx is the caller's: during the call its deadline is the call's (the caller's, capped by
  /// the timeout) and is restored on return; wrappers get this ctx, so metadata a wrapper adds
  /// stays in it for later attempts and after the call; ctx.response_metadata is the reply's.
  /// Throws Error: the server's error, Errc::timeout, Errc::unavailable, Errc::not_found.
  virtual void call(Context& ctx, const client::Request& req, const codec::Payload& in,
                    const codec::Payload& out, const client::CallOptions& opts = {}) = 0;

  /// Opens a stream to one node of req.service. Thread-safe. Throws Error as call().
  virtual std::unique_ptr<client::Stream> stream(Context& ctx, const client::Request& req,
                                                 const client::CallOptions& opts = {}) = 0;

  /// Publishes msg on topic through the broker. Thread-safe. Throws Error{unavailable}.
  virtual void publish(Context& ctx, std::string_view topic, const codec::Payload& msg,
                       const client::PublishOptions& opts = {}) = 0;
};

}  // namespace micro
