// codec-protobuf: application/protobuf, the raw serialised bytes of a protobuf message, no
// framing (go-micro codec/proto). Raw bytes pass through; JSON text cannot be encoded.
#pragma once

#include "micro/codec.h"

namespace micro::plugins {

class ProtobufCodec final : public Codec {
 public:
  std::string name() const override { return "protobuf"; }
  void init(const Options& options) override { options_ = options; }
  Options options() const override { return options_; }
  const std::vector<std::string>& content_types() const override {
    static const std::vector<std::string> types{"application/protobuf"};
    return types;
  }
  void marshal(const codec::Payload& in, std::string& out) const override;
  void unmarshal(std::string_view data, const codec::Payload& out) const override;

 private:
  Options options_;
};

}  // namespace micro::plugins
