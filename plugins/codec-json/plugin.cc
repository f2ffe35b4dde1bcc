#include "micro/plugin.h"
#include "json_codec.h"

namespace {
class Factory final : public micro::plugin::Factory {
 public:
  std::unique_ptr<micro::Component> create(micro::plugin::Host&) const override {
    return std::make_unique<micro::plugins::JsonCodec>();
  }
};
}  // namespace

MICRO_PLUGIN(codec, "json", "0.1.0",
             "application/json: one JSON value and a newline (go-micro codec/json)", "Apache-2.0",
             "[]", R"({"type":"object","properties":{}})", Factory)
