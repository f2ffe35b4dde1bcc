// Key functions of the interfaces (so their type info lives in libmicro_core once) and the
// default mucp framing of Codec.
#include "micro/broker.h"
#include "micro/client.h"
#include "micro/codec.h"
#include "micro/plugin.h"
#include "micro/registry.h"
#include "micro/selector.h"
#include "micro/server.h"
#include "micro/service.h"
#include "micro/transport.h"

namespace micro {

Component::~Component() = default;
transport::Socket::~Socket() = default;
transport::Listener::~Listener() = default;
registry::Watcher::~Watcher() = default;
broker::Event::~Event() = default;
broker::Subscriber::~Subscriber() = default;
client::Stream::~Stream() = default;
server::Request::~Request() = default;
server::Response::~Response() = default;
server::Stream::~Stream() = default;
Service::~Service() = default;
plugin::Host::~Host() = default;
plugin::Factory::~Factory() = default;

namespace {
// go-micro's getHeader: the plain name, else the X- prefixed copy.
std::string_view header_or_x(const Metadata& h, std::string_view plain, std::string_view x) {
  auto v = get(h, plain);
  return v.empty() ? get(h, x) : v;
}
}  // namespace

void Codec::read_header(transport::Message in, codec::Message& out, codec::MessageType type) const {
  out.type = type;
  out.id = std::string(get(in.header, "Micro-Id"));
  out.target = std::string(header_or_x(in.header, "Micro-Service", "X-Micro-Service"));
  out.method = std::string(header_or_x(in.header, "Micro-Method", "X-Micro-Method"));
  out.endpoint = std::string(header_or_x(in.header, "Micro-Endpoint", "X-Micro-Endpoint"));
  if (out.method.empty()) out.method = out.endpoint;
  if (out.endpoint.empty()) out.endpoint = out.method;
  out.error = std::string(header_or_x(in.header, "Micro-Error", "X-Micro-Error"));
  out.header = std::move(in.header);
  out.body = std::move(in.body);
}

void Codec::read_body(const codec::Message& m, const codec::Payload& out) const {
  unmarshal(m.body, out);
}

void Codec::write(codec::Message m, const codec::Payload* body, transport::Message& out) const {
  out.header = std::move(m.header);
  const bool reply = m.type == codec::MessageType::response || m.type == codec::MessageType::error;
  // In name order, each insert hinted where the previous one went: O(1) when the caller's
  // metadata holds none of these names (the usual case), correct in any case.
  auto at = out.header.end();
  auto set = [&](const char* name, const std::string& v) {
    if (!v.empty()) at = std::next(out.header.insert_or_assign(at, name, v));
  };
  if (body != nullptr) set("Content-Type", content_types().front());
  set("Micro-Endpoint", m.endpoint);
  set("Micro-Error", m.error);
  set("Micro-Id", m.id);
  set("Micro-Method", m.method);
  set("Micro-Service", m.target);
  if (reply) {
    set("X-Micro-Endpoint", m.endpoint);
    set("X-Micro-Error", m.error);
    set("X-Micro-Id", m.id);
    set("X-Micro-Method", m.method);
    set("X-Micro-Service", m.target);
  }
  out.body.clear();
  if (body != nullptr) marshal(*body, out.body);
}

namespace plugin {

std::string_view to_string(Kind k) noexcept {
  switch (k) {
    case Kind::transport: return "transport";
    case Kind::codec: return "codec";
    case Kind::registry: return "registry";
    case Kind::selector: return "selector";
    case Kind::broker: return "broker";
    case Kind::client: return "client";
    case Kind::server: return "server";
  }
  return "unknown";
}

std::optional<Kind> kind_from_string(std::string_view s) noexcept {
  for (Kind k : {Kind::transport, Kind::codec, Kind::registry, Kind::selector, Kind::broker,
                 Kind::client, Kind::server}) {
    if (to_string(k) == s) return k;
  }
  return std::nullopt;
}

}  // namespace plugin
}  // namespace micro
