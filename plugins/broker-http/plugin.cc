#include "micro/plugin.h"
#include "http_broker.h"

namespace {
class Factory final : public micro::plugin::Factory {
 public:
  std::unique_ptr<micro::Component> create(micro::plugin::Host& host) const override {
    return std::make_unique<micro::plugins::HttpBroker>(host.registry());
  }
};
}  // namespace

// Options: see README.md.
MICRO_PLUGIN(broker, "http", "0.1.0",
             "go-micro's default broker: subscribers in the registry, messages POSTed over HTTP",
             "Apache-2.0", R"(["registry"])",
             R"({"type":"object","properties":{)"
             R"("address":{"type":"string","default":"127.0.0.1:0"},)"
             R"("register_ttl":{"type":"integer","minimum":1,"default":60},)"
             R"("register_interval":{"type":"integer","minimum":1,"default":30},)"
             R"("lookup_cache_ms":{"type":"integer","minimum":0,"default":1000},)"
             R"("post_timeout_ms":{"type":"integer","minimum":1,"default":5000}}})",
             Factory)
