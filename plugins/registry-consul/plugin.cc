#include "micro/plugin.h"
#include "consul_registry.h"

namespace {
class Factory final : public micro::plugin::Factory {
 public:
  std::unique_ptr<micro::Component> create(micro::plugin::Host&) const override {
    return std::make_unique<micro::plugins::ConsulRegistry>();
  }
};
}  // namespace

// clang-format off
MICRO_PLUGIN(
    registry, "consul", "0.1.0",
    "go-micro compatible Consul registry over the Consul HTTP agent API", "Apache-2.0", "[]",
    R"({"type":"object","properties":{)"
    R"("token":{"type":"string","default":"","description":"X-Consul-Token, else CONSUL_HTTP_TOKEN; empty = none"},)"
    R"("wait_s":{"type":"integer","default":30,"description":"blocking query wait of watches, seconds, 1 to 600"},)"
    R"("tls":{"type":"boolean","default":false,"description":"HTTPS to Consul: not implemented yet, true is refused"}}})",
    Factory)
// clang-format on
