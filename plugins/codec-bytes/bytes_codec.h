// codec-bytes: application/octet-stream, raw bytes passed through (go-micro codec/bytes).
#pragma once

#include "micro/codec.h"

namespace micro::plugins {

class BytesCodec final : public Codec {
 public:
  std::string name() const override { return "bytes"; }
  void init(const Options& options) override { options_ = options; }
  Options options() const override { return options_; }
  const std::vector<std::string>& content_types() const override {
    static const std::vector<std::string> types{"application/octet-stream"};
    return types;
  }
  void marshal(const codec::Payload& in, std::string& out) const override;
  void unmarshal(std::string_view data, const codec::Payload& out) const override;

 private:
  Options options_;
};

}  // namespace micro::plugins
