#include "micro/plugin.h"
#include "protobuf_codec.h"

namespace {
class Factory final : public micro::plugin::Factory {
 public:
  std::unique_ptr<micro::Component> create(micro::plugin::Host&) const override {
    return std::make_unique<micro::plugins::ProtobufCodec>();
  }
};
}  // namespace

MICRO_PLUGIN(codec, "protobuf", "0.1.0",
             "application/protobuf: raw protobuf bytes of the message (go-micro codec/proto)",
             "Apache-2.0", "[]", R"({"type":"object","properties":{}})", Factory)
