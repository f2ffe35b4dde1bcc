#include "micro/plugin.h"
#include "memory_registry.h"

namespace {
class Factory final : public micro::plugin::Factory {
 public:
  std::unique_ptr<micro::Component> create(micro::plugin::Host&) const override {
    return std::make_unique<micro::plugins::MemoryRegistry>();
  }
};
}  // namespace

MICRO_PLUGIN(registry, "memory", "0.1.0", "in-process registry with TTL expiry and watch",
             "Apache-2.0", "[]", R"({"type":"object","properties":{}})", Factory)
