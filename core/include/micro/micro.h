// The user-facing API: create a Service, declare typed handlers, call services.
//
//   auto svc = micro::new_service("greeter", argc, argv);
//   svc->server().handle(micro::handler("Greeter", {
//       micro::unary<HelloRequest, HelloResponse>("Hello",
//           [](micro::Context&, const HelloRequest& in, HelloResponse& out) { ... }),
//   }));
//   return svc->run();
//
// Message types may be protobuf messages, nlohmann::json (services without .proto files) or
// std::string (raw bytes).
#pragma once

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "micro/client.h"
#include "micro/config.h"
#include "micro/errors.h"
#include "micro/server.h"
#include "micro/service.h"

namespace micro {

/// Creates a service named name (config service.name, when set, wins). Reads --config FILE
/// (or MICRO_CONFIG) and the MICRO_* environment. Throws Error{config} or PluginError.
std::unique_ptr<Service> new_service(std::string name, int argc = 0, char** argv = nullptr);
/// Creates a service from an explicit config (no argv, no environment).
std::unique_ptr<Service> new_service(std::string name, Config config);

class Runtime;
/// The default (mucp) client over rt's plugins, for programs that call but do not serve
/// (the `micro` command, tests). rt must outlive it. from_service: sent as Micro-From-Service.
std::unique_ptr<Client> new_client(Runtime& rt, std::string from_service = {});
/// The default (mucp) server over rt's plugins. rt must outlive it. Call init() then start().
std::unique_ptr<Server> new_server(Runtime& rt);

/// The client and server options a Config gives (its client and server sections).
Client::Options client_options(const Config& c);
Server::Options server_options(const Config& c, const std::string& name);

namespace typed {

template <class T>
inline constexpr bool is_proto = std::is_base_of_v<google::protobuf::Message, T>;
template <class T>
inline constexpr bool is_json = std::is_same_v<T, nlohmann::json>;
template <class T>
inline constexpr bool is_bytes = std::is_same_v<T, std::string>;
template <class T>
inline constexpr bool supported = is_proto<T> || is_json<T> || is_bytes<T>;

/// Decodes into v through read(const codec::Payload&).
template <class T, class Read>
void decode(Read&& read, T& v) {
  static_assert(supported<T>, "message types are protobuf messages, nlohmann::json or std::string");
  if constexpr (is_proto<T>) {
    read(codec::Payload::proto(v));
  } else if constexpr (is_json<T>) {
    std::string text;
    read(codec::Payload::json(text));
    v = nlohmann::json::parse(text.empty() ? std::string("null") : text, nullptr, false);
    if (v.is_discarded()) throw errors::bad_request("go.micro.codec", "body is not valid JSON");
  } else {
    read(codec::Payload::bytes(v));
  }
}

/// Encodes v through write(const codec::Payload&).
template <class T, class Write>
void encode(Write&& write, const T& v) {
  static_assert(supported<T>, "message types are protobuf messages, nlohmann::json or std::string");
  if constexpr (is_proto<T>) {
    write(codec::Payload::proto(v));
  } else if constexpr (is_json<T>) {
    const std::string text = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    write(codec::Payload::json(text));
  } else {
    write(codec::Payload::bytes(v));
  }
}

/// The registry description of a message type.
registry::Value describe_proto(const google::protobuf::Descriptor* d, const std::string& name);
template <class T>
registry::Value describe(const std::string& name) {
  if constexpr (is_proto<T>)
    return describe_proto(T::descriptor(), name);
  else if constexpr (is_json<T>)
    return registry::Value{name, "json", {}};
  else
    return registry::Value{name, "bytes", {}};
}

}  // namespace typed

/// Sends messages of one type on a server stream.
template <class Out>
class StreamWriter {
 public:
  explicit StreamWriter(server::Stream& s) : s_(s) {}
  void send(const Out& m) {
    typed::encode([&](const codec::Payload& p) { s_.send(p); }, m);
  }

 private:
  server::Stream& s_;
};

/// Both directions of a server stream.
template <class In, class Out>
class ServerStream : public StreamWriter<Out> {
 public:
  explicit ServerStream(server::Stream& s) : StreamWriter<Out>(s), s_(s) {}
  /// False after the client's end of stream.
  bool recv(In& m) {
    bool got = false;
    typed::decode([&](const codec::Payload& p) { got = s_.recv(p); }, m);
    return got;
  }

 private:
  server::Stream& s_;
};

/// A unary endpoint: f(Context&, const Req&, Rsp&).
template <class Req, class Rsp, class F>
server::Endpoint unary(std::string method, F f) {
  server::Endpoint ep;
  ep.description.name = std::move(method);
  ep.description.request = typed::describe<Req>("Request");
  ep.description.response = typed::describe<Rsp>("Response");
  ep.unary = [f = std::move(f)](Context& ctx, const server::Request& r, server::Response& w) {
    Req req{};
    typed::decode([&](const codec::Payload& p) { r.read(p); }, req);
    Rsp rsp{};
    f(ctx, req, rsp);
    typed::encode([&](const codec::Payload& p) { w.write(p); }, rsp);
  };
  return ep;
}

/// A server-streaming endpoint: one request, many replies. f(Context&, const Req&,
/// StreamWriter<Rsp>&).
template <class Req, class Rsp, class F>
server::Endpoint server_stream(std::string method, F f) {
  server::Endpoint ep;
  ep.description.name = std::move(method);
  ep.description.request = typed::describe<Req>("Request");
  ep.description.response = typed::describe<Rsp>("Response");
  ep.stream = [f = std::move(f)](Context& ctx, const server::Request&, server::Stream& s) {
    ServerStream<Req, Rsp> st(s);
    Req req{};
    if (!st.recv(req))
      throw errors::bad_request("go.micro.server", "stream ended before its request");
    StreamWriter<Rsp>& w = st;
    f(ctx, req, w);
  };
  return ep;
}

/// A bidirectional (or client-streaming) endpoint: f(Context&, ServerStream<Req, Rsp>&).
template <class Req, class Rsp, class F>
server::Endpoint bidi_stream(std::string method, F f) {
  server::Endpoint ep;
  ep.description.name = std::move(method);
  ep.description.request = typed::describe<Req>("Request");
  ep.description.response = typed::describe<Rsp>("Response");
  ep.stream = [f = std::move(f)](Context& ctx, const server::Request&, server::Stream& s) {
    ServerStream<Req, Rsp> st(s);
    f(ctx, st);
  };
  return ep;
}

/// A handler named name ("Greeter"); each endpoint's method becomes "Greeter.<method>".
server::Handler handler(std::string name, std::vector<server::Endpoint> endpoints);

/// A subscriber to topic: f(Context&, const T&). queue "" = every instance gets every message.
template <class T, class F>
server::Subscriber subscriber(std::string topic, F f, std::string queue = {}) {
  server::Subscriber s;
  s.topic = topic;
  s.queue = std::move(queue);
  s.description.name = topic;
  s.description.request = typed::describe<T>("Message");
  s.fn = [f = std::move(f)](Context& ctx, const server::Request& r) {
    T v{};
    typed::decode([&](const codec::Payload& p) { r.read(p); }, v);
    f(ctx, v);
  };
  return s;
}

/// Calls service.endpoint with req and returns the reply. Throws Error.
template <class Rsp, class Req>
Rsp call(Client& c, Context& ctx, const std::string& service, const std::string& endpoint,
         const Req& req, const client::CallOptions& opts = {},
         const std::string& content_type = {}) {
  Rsp rsp{};
  std::string req_text, rsp_text;
  auto in = [&]() -> codec::Payload {
    if constexpr (typed::is_proto<Req>)
      return codec::Payload::proto(req);
    else if constexpr (typed::is_json<Req>)
      return codec::Payload::json(req_text = req.dump());
    else
      return codec::Payload::bytes(req);
  }();
  typed::decode(
      [&](const codec::Payload& out) {
        c.call(ctx, {service, endpoint, content_type}, in, out, opts);
      },
      rsp);
  return rsp;
}

/// The client side of a typed stream.
template <class Req, class Rsp>
class ClientStream {
 public:
  explicit ClientStream(std::unique_ptr<client::Stream> s) : s_(std::move(s)) {}
  void send(const Req& m) {
    typed::encode([&](const codec::Payload& p) { s_->send(p); }, m);
  }
  /// False at the server's end of stream.
  bool recv(Rsp& m) {
    bool got = false;
    typed::decode([&](const codec::Payload& p) { got = s_->recv(p); }, m);
    return got;
  }
  void close_send() { s_->close_send(); }
  void close() noexcept { s_->close(); }
  const Metadata& header() const { return s_->header(); }

 private:
  std::unique_ptr<client::Stream> s_;
};

template <class Req, class Rsp>
ClientStream<Req, Rsp> stream(Client& c, Context& ctx, const std::string& service,
                              const std::string& endpoint, const client::CallOptions& opts = {},
                              const std::string& content_type = {}) {
  return ClientStream<Req, Rsp>(c.stream(ctx, {service, endpoint, content_type}, opts));
}

/// Publishes msg on topic through the client's broker. Throws Error.
template <class T>
void publish(Client& c, Context& ctx, const std::string& topic, const T& msg,
             const std::string& content_type = {}) {
  typed::encode([&](const codec::Payload& p) { c.publish(ctx, topic, p, {content_type}); }, msg);
}

}  // namespace micro
