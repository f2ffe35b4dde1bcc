// acme.echo: an example third-party codec, application/x-acme-echo. The body is the value's
// bytes (JSON text as is, a protobuf message serialised) behind an optional prefix, so the
// codec has one option to show how options reach a plugin.
#pragma once

#include <string>

#include "micro/codec.h"

namespace acme {

class EchoCodec final : public micro::Codec {
 public:
  /// The name this plugin is selected by, as in its descriptor.
  std::string name() const override { return "acme.echo"; }

  /// options.plugin_options is JSON text already validated against the schema in plugin.cc
  /// and with defaults filled, so "prefix" is always present. Called once, before any use.
  void init(const Options& options) override;
  Options options() const override { return options_; }
  const std::vector<std::string>& content_types() const override {
    static const std::vector<std::string> types{"application/x-acme-echo"};
    return types;
  }

  /// Thread-safe (no state changes after init). Throws micro::Error{bad_request}.
  void marshal(const micro::codec::Payload& in, std::string& out) const override;
  void unmarshal(std::string_view data, const micro::codec::Payload& out) const override;

 private:
  Options options_;
  std::string prefix_;
};

}  // namespace acme
