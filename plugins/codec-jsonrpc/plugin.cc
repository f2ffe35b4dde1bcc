#include "micro/plugin.h"
#include "jsonrpc_codec.h"

namespace {
class Factory final : public micro::plugin::Factory {
 public:
  std::unique_ptr<micro::Component> create(micro::plugin::Host&) const override {
    return std::make_unique<micro::plugins::JsonRpcCodec>();
  }
};
}  // namespace

MICRO_PLUGIN(codec, "jsonrpc", "0.1.0",
             "application/json-rpc: go-micro's legacy JSON-RPC 1.0 envelope (codec/jsonrpc)",
             "Apache-2.0", "[]", R"({"type":"object","properties":{}})", Factory)
