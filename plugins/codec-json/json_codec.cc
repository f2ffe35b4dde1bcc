#include "json_codec.h"

#include "json_convert.h"

namespace micro::plugins {

void JsonCodec::marshal(const codec::Payload& in, std::string& out) const {
  json_convert::encode(in, out, "codec json");
  // go-micro's json.Encoder ends every value with a newline; raw bytes pass through unchanged.
  if (in.kind() != codec::Payload::Kind::bytes) out += '\n';
}

void JsonCodec::unmarshal(std::string_view data, const codec::Payload& out) const {
  json_convert::decode(data, out, "codec json");
}

}  // namespace micro::plugins
