#include "micro/plugin.h"
#include "bytes_codec.h"

namespace {
class Factory final : public micro::plugin::Factory {
 public:
  std::unique_ptr<micro::Component> create(micro::plugin::Host&) const override {
    return std::make_unique<micro::plugins::BytesCodec>();
  }
};
}  // namespace

MICRO_PLUGIN(codec, "bytes", "0.1.0", "application/octet-stream: raw bytes, unchanged",
             "Apache-2.0", "[]", R"({"type":"object","properties":{}})", Factory)
