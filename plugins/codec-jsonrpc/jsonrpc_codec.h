// codec-jsonrpc: application/json-rpc, go-micro's legacy framed JSON codec (codec/jsonrpc,
// spec/gomicro-wire.md §3.2). A go-micro client uses it instead of application/json when the
// target node has no "protocol" metadata; a go-micro server uses it for requests without mucp
// headers. Each body is one JSON object and "\n":
//   request:  {"method":"Greeter.Hello","params":[<request>],"id":"<Micro-Id>"}
//   response: {"id":"<id>","result":<reply or null>,"error":null | "<error string>"}
// The mucp headers (Micro-Id, Micro-Endpoint, ...) are written alongside, as by the base Codec.
// Values inside the envelope use codec-json's encoding (json_convert.h).
#pragma once

#include "micro/codec.h"

namespace micro::plugins {

/// Stateless and thread-safe after init(); every failure is Error{bad_request} "codec jsonrpc:
/// ...".
class JsonRpcCodec final : public Codec {
 public:
  std::string name() const override { return "jsonrpc"; }
  void init(const Options& options) override { options_ = options; }
  Options options() const override { return options_; }
  const std::vector<std::string>& content_types() const override {
    static const std::vector<std::string> types{"application/json-rpc"};
    return types;
  }

  /// The bare value, as codec-json writes it (used for events, which go-micro does not frame).
  void marshal(const codec::Payload& in, std::string& out) const override;
  void unmarshal(std::string_view data, const codec::Payload& out) const override;

  /// Reads the mucp headers, then the envelope. Requests: the envelope's method and id fill
  /// method/endpoint/id where the headers leave them empty; body = params[0] as JSON text
  /// ("null" when absent). Responses: error = the envelope's error string (non-string: bad
  /// request), else Micro-Error; body = result text ("null" when absent). An empty body, an
  /// event, or a text/plain response carries no envelope and is passed through.
  void read_header(transport::Message in, codec::Message& out,
                   codec::MessageType type) const override;

  /// Writes the mucp headers and the envelope: a request with params [body or null], a
  /// response/error with result = body (null for errors and for no body) and error = m.error.
  void write(codec::Message m, const codec::Payload* body, transport::Message& out) const override;

 private:
  Options options_;
};

}  // namespace micro::plugins
