// Codec: how a value becomes a message body and back (go-micro codec/codec.go). Two forms:
// marshal/unmarshal on a value, and the framing form read_header/read_body/write that maps a
// transport message to an RPC message (overridden by framing codecs such as json-rpc).
#pragma once

#include <string>
#include <string_view>

#include "micro/component.h"
#include "micro/metadata.h"
#include "micro/transport.h"

namespace google::protobuf {
class Message;
}

namespace micro::codec {

/// A non-owning view of a value a codec writes from or reads into: raw bytes, JSON text, or a
/// protobuf message. The viewed object must outlive the call it is passed to.
class Payload {
 public:
  enum class Kind { bytes, json, proto };

  static Payload bytes(std::string& data) { return {Kind::bytes, &data}; }
  static Payload bytes(const std::string& data) {
    return {Kind::bytes, const_cast<std::string*>(&data)};
  }
  /// JSON text (one value, no framing).
  static Payload json(std::string& text) { return {Kind::json, &text}; }
  static Payload json(const std::string& text) {
    return {Kind::json, const_cast<std::string*>(&text)};
  }
  static Payload proto(google::protobuf::Message& m) { return {Kind::proto, &m}; }
  static Payload proto(const google::protobuf::Message& m) {
    return {Kind::proto, const_cast<google::protobuf::Message*>(&m)};
  }

  Kind kind() const noexcept { return kind_; }
  /// The bytes or JSON text. Precondition: kind() != proto.
  std::string& text() const noexcept { return *static_cast<std::string*>(ptr_); }
  /// The protobuf message. Precondition: kind() == proto.
  google::protobuf::Message& message() const noexcept {
    return *static_cast<google::protobuf::Message*>(ptr_);
  }

 private:
  Payload(Kind k, void* p) : kind_(k), ptr_(p) {}
  Kind kind_;
  void* ptr_;
};

enum class MessageType { error, request, response, event };

/// An RPC message as the rpc client and server see it (go-micro codec.Message).
struct Message {
  std::string id;
  MessageType type = MessageType::request;
  std::string target;    ///< service
  std::string method;    ///< "Handler.Method"
  std::string endpoint;  ///< "Handler.Method"
  std::string error;     ///< Micro-Error: go-micro error JSON, plain text, or "EOS"
  Metadata header;
  std::string body;  ///< the encoded body, as framed by this codec
};

}  // namespace micro::codec

namespace micro {

class Codec : public Component {
 public:
  struct Options {
    /// The plugin's own options as a JSON object, validated, defaults filled.
    std::string plugin_options = "{}";
  };
  virtual void init(const Options& options) = 0;
  virtual Options options() const = 0;

  /// The MIME types this codec serves, first one canonical ("application/json").
  /// The reference stays valid for the codec's lifetime (a static or member vector).
  virtual const std::vector<std::string>& content_types() const = 0;

  /// Encodes a value into out (replacing its contents). Thread-safe, stateless.
  /// Throws Error{bad_request} when the value's kind cannot be encoded by this codec.
  virtual void marshal(const codec::Payload& in, std::string& out) const = 0;

  /// Decodes data into the value viewed by out. Thread-safe, stateless.
  /// Throws Error{bad_request} on malformed data, naming the codec and what failed.
  virtual void unmarshal(std::string_view data, const codec::Payload& out) const = 0;

  /// Framing form. Fills out's routing fields and header from a transport message; body is
  /// kept encoded in out.body. Thread-safe, stateless. The default reads go-micro's mucp headers
  /// (Micro-Id, Micro-Endpoint, ...). Throws Error{bad_request} on a malformed frame. Ownership: in
  /// is taken by value so that its header and body move into out without a copy on the hot path;
  /// pass std::move(msg) unless the caller still needs msg.
  virtual void read_header(transport::Message in, codec::Message& out,
                           codec::MessageType type) const;

  /// Decodes the body of a message read by read_header. Default: unmarshal(m.body, out).
  virtual void read_body(const codec::Message& m, const codec::Payload& out) const;

  /// Writes m (routing fields, header) and the encoded body (nullptr = empty) into a transport
  /// message, replacing out's contents. Thread-safe, stateless. The default sets go-micro's
  /// mucp headers.
  /// Throws Error{bad_request}. Ownership: m is taken by value so that its header moves into
  /// out; pass std::move(m) unless the caller still needs m (a stream's template, say).
  virtual void write(codec::Message m, const codec::Payload* body, transport::Message& out) const;
};

}  // namespace micro
