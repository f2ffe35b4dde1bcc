// Server: serves handlers and subscribers, registers itself (go-micro server/server.go).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "micro/broker.h"
#include "micro/codec.h"
#include "micro/component.h"
#include "micro/context.h"
#include "micro/registry.h"

namespace micro::server {

/// A request being served. Owned by the server for the duration of the handler call.
class Request {
 public:
  virtual ~Request();
  virtual const std::string& service() const = 0;
  virtual const std::string& endpoint() const = 0;
  virtual const std::string& content_type() const = 0;
  /// The encoded body as received.
  virtual const std::string& body() const = 0;
  /// Decodes the body with the request's codec. Throws Error{bad_request}.
  virtual void read(const codec::Payload& out) const = 0;
};

/// The reply of a unary call. Owned by the server.
class Response {
 public:
  virtual ~Response();
  /// Encodes the reply with the request's codec. The last write wins. Throws Error{bad_request}.
  virtual void write(const codec::Payload& in) = 0;
};

/// The server side of a stream. Threads: one sender and one receiver may run concurrently.
class Stream {
 public:
  virtual ~Stream();
  /// Receives the client's next message; false after the client's EOS.
  /// Throws Error{timeout} at the call deadline, Error{closed} when the client went away.
  virtual bool recv(const codec::Payload& out) = 0;
  /// Sends one message. Throws Error{closed}.
  virtual void send(const codec::Payload& in) = 0;
};

/// Handler functions throw micro::Error to answer with that error (any other exception
/// becomes a 500 from "go.micro.server").
using UnaryFn = std::function<void(Context&, const Request&, Response&)>;
using StreamFn = std::function<void(Context&, const Request&, Stream&)>;
/// A subscriber sees each message as a Request: service() and endpoint() are the topic, read()
/// decodes the body with the codec of its Content-Type.
using SubscriberFn = std::function<void(Context&, const Request&)>;

/// Middleware (logging, metrics, auth): returns the wrapped function.
using HandlerWrapper = std::function<UnaryFn(UnaryFn)>;
using StreamWrapper = std::function<StreamFn(StreamFn)>;
using SubscriberWrapper = std::function<SubscriberFn(SubscriberFn)>;

/// One endpoint: exactly one of unary and stream is set.
struct Endpoint {
  registry::Endpoint description;  ///< name "Handler.Method", request/response types
  UnaryFn unary;
  StreamFn stream;
};

/// A named group of endpoints ("Greeter" with "Greeter.Hello", "Greeter.Stream").
struct Handler {
  std::string name;
  std::vector<Endpoint> endpoints;
};

struct Subscriber {
  std::string topic;
  std::string queue;  ///< "" = every instance gets every message
  SubscriberFn fn;
  registry::Endpoint description;
};

}  // namespace micro::server

namespace micro {

class Server : public Component {
 public:
  struct Options {
    std::string name = "go.micro.server";
    std::string version = "latest";
    std::string id;              ///< node id; "" = "<name>-<uuid>"
    std::string address = ":0";  ///< listen address (MICRO_SERVER_ADDRESS)
    std::string advertise;       ///< address to register, "" = the bound one
    StringMap metadata;          ///< node metadata added to the defaults
    std::chrono::seconds register_ttl{90};
    std::chrono::seconds register_interval{30};
    std::chrono::milliseconds drain_timeout{5000};
    std::vector<server::HandlerWrapper> handler_wrappers;
    std::vector<server::StreamWrapper> stream_wrappers;
    std::vector<server::SubscriberWrapper> subscriber_wrappers;
    std::string plugin_options = "{}";
  };
  /// Applies options. Before start() only (throws Error{conflict} after). Handler wrappers
  /// apply to handlers added after init(). Throws Error{config} on a bad value.
  virtual void init(const Options& options) = 0;
  virtual Options options() const = 0;

  /// Adds a handler. Before start() only. Throws Error{conflict} on a duplicate endpoint.
  virtual void handle(server::Handler h) = 0;
  /// Adds a subscriber. Before start() only. Throws Error{conflict}.
  virtual void subscribe(server::Subscriber s) = 0;

  /// The address the server listens on ("host:port"), "" before start(). Thread-safe.
  virtual std::string address() const = 0;
};

}  // namespace micro
