#include "protorpc_codec.h"

#include <google/protobuf/message.h>

#include <charconv>
#include <climits>
#include <cstdint>

#include "micro/errors.h"

namespace micro::plugins {
namespace {

Error bad(const std::string& what) { return Error(Errc::bad_request, "codec protorpc: " + what); }

// --- the envelope messages, encoded by hand (proto3: zero values are omitted) ---

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

void put_string(std::string& out, int field, const std::string& s) {
  if (s.empty()) return;
  put_varint(out, static_cast<uint64_t>(field) << 3 | 2);
  put_varint(out, s.size());
  out += s;
}

void put_fixed64(std::string& out, int field, uint64_t v) {
  if (v == 0) return;
  put_varint(out, static_cast<uint64_t>(field) << 3 | 1);
  for (int i = 0; i < 8; ++i) out += static_cast<char>(v >> (8 * i) & 0xff);
}

struct Envelope {
  std::string service_method;
  uint64_t seq = 0;
  std::string error;
};

class Reader {
 public:
  Reader(std::string_view s, const char* what) : s_(s), what_(what) {}
  bool done() const { return i_ == s_.size(); }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (i_ >= s_.size()) throw bad(std::string(what_) + " is truncated inside a varint");
      const auto b = static_cast<uint8_t>(s_[i_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    throw bad(std::string(what_) + " has a varint longer than 10 bytes");
  }
  std::string_view bytes(uint64_t n) {
    if (n > s_.size() - i_) throw bad(std::string(what_) + " is truncated inside a field");
    auto v = s_.substr(i_, n);
    i_ += n;
    return v;
  }
  uint64_t fixed64() {
    auto b = bytes(8);
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(b[i]);
    return v;
  }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
  const char* what_;
};

// Decodes a Request or Response message; unknown fields are skipped, as protobuf does.
Envelope parse_envelope(std::string_view data, const char* what) {
  Envelope e;
  Reader r(data, what);
  while (!r.done()) {
    const uint64_t tag = r.varint();
    const uint64_t field = tag >> 3;
    const int wire = static_cast<int>(tag & 7);
    if (field == 0) throw bad(std::string(what) + " has field number 0");
    switch (wire) {
      case 0: r.varint(); break;
      case 1: {
        const uint64_t v = r.fixed64();
        if (field == 2) e.seq = v;
        break;
      }
      case 2: {
        auto v = r.bytes(r.varint());
        if (field == 1) e.service_method.assign(v);
        if (field == 3) e.error.assign(v);
        break;
      }
      case 5: r.bytes(4); break;
      default: throw bad(std::string(what) + " has unsupported wire type " + std::to_string(wire));
    }
  }
  return e;
}

// --- the frames: a 4-byte big-endian length and that many bytes ---

void put_frame(std::string& out, std::string_view data) {
  if (data.size() > UINT32_MAX)
    throw Error(Errc::too_large, "codec protorpc: frame larger than 4 GiB");
  const auto n = static_cast<uint32_t>(data.size());
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>(n >> shift & 0xff);
  out += data;
}

std::string_view take_frame(std::string_view& in, const char* what) {
  if (in.size() < 4)
    throw bad(std::string(what) + " frame is truncated: " + std::to_string(in.size()) +
              " of 4 length bytes");
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n = n << 8 | static_cast<uint8_t>(in[i]);
  in.remove_prefix(4);
  if (n > in.size())
    throw bad(std::string(what) + " frame is truncated: length " + std::to_string(n) + ", " +
              std::to_string(in.size()) + " bytes left");
  auto frame = in.substr(0, n);
  in.remove_prefix(n);
  return frame;
}

// go-micro's id(): Micro-Id as an unsigned decimal, 0 when it is not one.
uint64_t seq_of(const std::string& id) {
  uint64_t v = 0;
  const char* end = id.data() + id.size();
  auto r = std::from_chars(id.data(), end, v);
  return r.ec == std::errc() && r.ptr == end && !id.empty() ? v : 0;
}

Error no_json() {
  return bad(
      "a JSON value cannot be encoded as protobuf without a message type; pass a "
      "protobuf message, raw bytes, or use application/json-rpc");
}

}  // namespace

void ProtoRpcCodec::marshal(const codec::Payload& in, std::string& out) const {
  switch (in.kind()) {
    case codec::Payload::Kind::bytes: out = in.text(); return;
    case codec::Payload::Kind::json: throw no_json();
    case codec::Payload::Kind::proto:
      if (!in.message().SerializeToString(&out))
        throw bad("cannot serialise " + in.message().GetTypeName() +
                  " (missing required fields or too large)");
      return;
  }
}

void ProtoRpcCodec::unmarshal(std::string_view data, const codec::Payload& out) const {
  switch (out.kind()) {
    case codec::Payload::Kind::bytes: out.text().assign(data); return;
    case codec::Payload::Kind::json: throw no_json();
    case codec::Payload::Kind::proto:
      if (data.size() > static_cast<std::size_t>(INT_MAX))
        throw Error(Errc::too_large, "codec protorpc: body larger than 2 GiB");
      if (!out.message().ParseFromArray(data.data(), static_cast<int>(data.size())))
        throw bad("body is not a valid " + out.message().GetTypeName());
      return;
  }
}

void ProtoRpcCodec::read_header(transport::Message in, codec::Message& out,
                                codec::MessageType type) const {
  Codec::read_header(std::move(in), out, type);
  if (type == codec::MessageType::event || out.body.empty()) return;
  const bool request = type == codec::MessageType::request;
  const char* what = request ? "request envelope" : "response envelope";
  const std::string raw = std::move(out.body);  // the frames; out.body becomes the payload
  out.body.clear();
  std::string_view rest = raw;
  const auto env = parse_envelope(take_frame(rest, what), what);
  const auto payload = take_frame(rest, "payload");
  if (!rest.empty())
    throw bad(std::to_string(rest.size()) + " unexpected bytes after the payload frame");
  if (out.method.empty()) out.method = env.service_method;
  if (out.endpoint.empty()) out.endpoint = env.service_method;
  if (out.id.empty()) out.id = std::to_string(env.seq);
  if (!request && !env.error.empty()) out.error = env.error;
  out.body.assign(payload);
}

void ProtoRpcCodec::write(codec::Message m, const codec::Payload* body,
                          transport::Message& out) const {
  if (m.type == codec::MessageType::event) return Codec::write(std::move(m), body, out);
  Codec::write(m, nullptr, out);  // the mucp headers
  std::string env;
  put_string(env, 1, m.method.empty() ? m.endpoint : m.method);
  put_fixed64(env, 2, seq_of(m.id));
  if (m.type != codec::MessageType::request) put_string(env, 3, m.error);
  std::string payload;
  if (body != nullptr && m.type != codec::MessageType::error) marshal(*body, payload);
  out.body.clear();
  put_frame(out.body, env);
  put_frame(out.body, payload);
  out.header.insert_or_assign("Content-Type", content_types().front());
}

}  // namespace micro::plugins
