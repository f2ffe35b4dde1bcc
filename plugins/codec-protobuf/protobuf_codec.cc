#include "protobuf_codec.h"

#include <google/protobuf/message.h>

#include <climits>

#include "micro/errors.h"

namespace micro::plugins {
namespace {

Error no_json() {
  return Error(Errc::bad_request,
               "codec protobuf: a JSON value cannot be encoded as protobuf without a message "
               "type; pass a protobuf message, raw bytes, or use application/json");
}

}  // namespace

void ProtobufCodec::marshal(const codec::Payload& in, std::string& out) const {
  switch (in.kind()) {
    case codec::Payload::Kind::bytes: out = in.text(); return;
    case codec::Payload::Kind::json: throw no_json();
    case codec::Payload::Kind::proto:
      if (!in.message().SerializeToString(&out))
        throw Error(Errc::bad_request, "codec protobuf: cannot serialise " +
                                           in.message().GetTypeName() +
                                           " (missing required fields or too large)");
      return;
  }
}

void ProtobufCodec::unmarshal(std::string_view data, const codec::Payload& out) const {
  switch (out.kind()) {
    case codec::Payload::Kind::bytes: out.text().assign(data); return;
    case codec::Payload::Kind::json: throw no_json();
    case codec::Payload::Kind::proto:
      if (data.size() > static_cast<std::size_t>(INT_MAX))
        throw Error(Errc::too_large, "codec protobuf: body larger than 2 GiB");
      if (!out.message().ParseFromArray(data.data(), static_cast<int>(data.size())))
        throw Error(Errc::bad_request,
                    "codec protobuf: body is not a valid " + out.message().GetTypeName());
      return;
  }
}

}  // namespace micro::plugins
