#include "bytes_codec.h"

#include <google/protobuf/message.h>

#include "micro/errors.h"

namespace micro::plugins {

void BytesCodec::marshal(const codec::Payload& in, std::string& out) const {
  switch (in.kind()) {
    case codec::Payload::Kind::bytes:
    case codec::Payload::Kind::json: out = in.text(); return;
    case codec::Payload::Kind::proto:
      if (!in.message().SerializeToString(&out))
        throw Error(Errc::bad_request,
                    "codec bytes: cannot serialise " + in.message().GetTypeName());
      return;
  }
}

void BytesCodec::unmarshal(std::string_view data, const codec::Payload& out) const {
  switch (out.kind()) {
    case codec::Payload::Kind::bytes:
    case codec::Payload::Kind::json: out.text().assign(data); return;
    case codec::Payload::Kind::proto:
      if (!out.message().ParseFromArray(data.data(), static_cast<int>(data.size())))
        throw Error(Errc::bad_request,
                    "codec bytes: body is not a valid " + out.message().GetTypeName());
      return;
  }
}

}  // namespace micro::plugins
