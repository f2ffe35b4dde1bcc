// codec-json: application/json as go-micro writes it: one JSON value followed by "\n".
// The value encoding lives in json_convert.h (shared with codec-jsonrpc).
// Protobuf messages are written with proto field names, enums as numbers, 64-bit integers as
// JSON numbers and zero values omitted (go-micro's encoding/json on generated structs), and
// read from either original or lowerCamel names, 64-bit integers as numbers or strings.
#pragma once

#include "micro/codec.h"

namespace micro::plugins {

class JsonCodec final : public Codec {
 public:
  std::string name() const override { return "json"; }
  void init(const Options& options) override { options_ = options; }
  Options options() const override { return options_; }
  const std::vector<std::string>& content_types() const override {
    static const std::vector<std::string> types{"application/json"};
    return types;
  }
  void marshal(const codec::Payload& in, std::string& out) const override;
  void unmarshal(std::string_view data, const codec::Payload& out) const override;

 private:
  Options options_;
};

}  // namespace micro::plugins
