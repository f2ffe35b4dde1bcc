#include "micro/plugin.h"
#include "protorpc_codec.h"

namespace {
class Factory final : public micro::plugin::Factory {
 public:
  std::unique_ptr<micro::Component> create(micro::plugin::Host&) const override {
    return std::make_unique<micro::plugins::ProtoRpcCodec>();
  }
};
}  // namespace

MICRO_PLUGIN(codec, "protorpc", "0.1.0",
             "application/proto-rpc: go-micro's legacy length-prefixed protobuf envelope "
             "(codec/protorpc)",
             "Apache-2.0", "[]", R"({"type":"object","properties":{}})", Factory)
