// codec-protorpc: application/proto-rpc, go-micro's legacy framed protobuf codec
// (codec/protorpc, spec/gomicro-wire.md §3.2). A go-micro client uses it instead of
// application/protobuf when the target node has no "protocol" metadata; a go-micro server uses
// it (also for application/octet-stream) for requests without mucp headers. Each body is two
// frames, each a 4-byte big-endian length and that many bytes:
//   request:  [len][Request{string service_method = 1; fixed64 seq = 2;}]  [len][payload]
//   response: [len][Response{service_method = 1; seq = 2; string error = 3;}] [len][payload]
// seq is Micro-Id as a decimal integer (0 if it is not one); the payload is empty for errors.
// The mucp headers are written alongside, as by the base Codec. Events are bare protobuf.
#pragma once

#include "micro/codec.h"

namespace micro::plugins {

/// Stateless and thread-safe after init(); every failure is Error{bad_request} "codec protorpc:
/// ...".
class ProtoRpcCodec final : public Codec {
 public:
  std::string name() const override { return "protorpc"; }
  void init(const Options& options) override { options_ = options; }
  Options options() const override { return options_; }
  const std::vector<std::string>& content_types() const override {
    static const std::vector<std::string> types{"application/proto-rpc"};
    return types;
  }

  /// The bare value, as codec-protobuf writes it: protobuf messages and raw bytes; JSON text is
  /// refused (no message type to encode it with).
  void marshal(const codec::Payload& in, std::string& out) const override;
  void unmarshal(std::string_view data, const codec::Payload& out) const override;

  /// Reads the mucp headers, then the two frames: service_method fills method/endpoint and seq
  /// (as decimal) fills id where the headers leave them empty; a response's error wins over
  /// Micro-Error; body = the payload frame. An empty body or an event has no frames.
  /// Throws Error{bad_request} on a truncated or malformed frame.
  void read_header(transport::Message in, codec::Message& out,
                   codec::MessageType type) const override;

  /// Writes the mucp headers and the two frames (payload empty for errors and for no body).
  void write(codec::Message m, const codec::Payload* body, transport::Message& out) const override;

 private:
  Options options_;
};

}  // namespace micro::plugins
