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

void Codec::read_header(const transport::Message& in, codec::Message& out,
                        codec::MessageType type) const {
  out.type = type;
  out.header = in.header;
  out.id = std::string(get(in.header, "Micro-Id"));
  out.target = std::string(header_or_x(in.header, "Micro-Service", "X-Micro-Service"));
  out.method = std::string(header_or_x(in.header, "Micro-Method", "X-Micro-Method"));
  out.endpoint = std::string(header_or_x(in.header, "Micro-Endpoint", "X-Micro-Endpoint"));
  if (out.method.empty()) out.method = out.endpoint;
  if (out.endpoint.empty()) out.endpoint = out.method;
  out.error = std::string(header_or_x(in.header, "Micro-Error", "X-Micro-Error"));
  out.body = in.body;
}

void Codec::read_body(const codec::Message& m, const codec::Payload& out) const {
  unmarshal(m.body, out);
}

void Codec::write(const codec::Message& m, const codec::Payload* body,
                  transport::Message& out) const {
  out.header = m.header;
  const bool reply = m.type == codec::MessageType::response || m.type == codec::MessageType::error;
  auto set = [&](const char* name, const char* xname, const std::string& v) {
    if (v.empty()) return;
    out.header.insert_or_assign(name, v);
    if (reply) out.header.insert_or_assign(xname, v);
  };
  set("Micro-Id", "X-Micro-Id", m.id);
  set("Micro-Service", "X-Micro-Service", m.target);
  set("Micro-Method", "X-Micro-Method", m.method);
  set("Micro-Endpoint", "X-Micro-Endpoint", m.endpoint);
  set("Micro-Error", "X-Micro-Error", m.error);
  out.body.clear();
  if (body != nullptr) {
    marshal(*body, out.body);
    out.header.insert_or_assign("Content-Type", content_types().front());
  }
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
