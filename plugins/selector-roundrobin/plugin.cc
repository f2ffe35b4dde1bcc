#include "micro/plugin.h"
#include "roundrobin_selector.h"

namespace {
class Factory final : public micro::plugin::Factory {
 public:
  std::unique_ptr<micro::Component> create(micro::plugin::Host& host) const override {
    return std::make_unique<micro::plugins::RoundRobinSelector>(host.registry());
  }
};
}  // namespace

// Options: see README.md (the descriptions there are the documentation of this schema).
MICRO_PLUGIN(selector, "roundrobin", "0.1.0",
             "each node in turn, rotating per service across calls and threads; retries go on "
             "to the next nodes; failing nodes are ejected by a breaker; version and metadata "
             "filters",
             "Apache-2.0", R"(["registry"])",
             R"({"type":"object","properties":{)"
             R"("cache_ttl_s":{"type":"number","minimum":0,"default":60},)"
             R"("failure_threshold":{"type":"integer","minimum":1,"default":3},)"
             R"("eject_s":{"type":"number","minimum":0,"default":10},)"
             R"("eject_max_s":{"type":"number","minimum":0,"default":300},)"
             R"("version":{"type":"string","default":""},)"
             R"("metadata":{"type":"object","additionalProperties":true,"default":{}}}})",
             Factory)
