// The plugin's descriptor and factory, nothing else. The descriptor is read from the file by
// the host before the library is loaded; the factory is reached through micro_plugin_entry().
#include "micro/plugin.h"
#include "echo_codec.h"

namespace {
class Factory final : public micro::plugin::Factory {
 public:
  std::unique_ptr<micro::Component> create(micro::plugin::Host&) const override {
    return std::make_unique<acme::EchoCodec>();
  }
};
}  // namespace

MICRO_PLUGIN(codec, "acme.echo", "0.1.0",
             "application/x-acme-echo: bytes behind an optional prefix", "Apache-2.0", "[]",
             R"({"type":"object","properties":{
                   "prefix":{"type":"string","default":"","description":"written before every body"}}})",
             Factory)
