#include "micro/plugin.h"
#include "memory_broker.h"

namespace {
class Factory final : public micro::plugin::Factory {
 public:
  std::unique_ptr<micro::Component> create(micro::plugin::Host&) const override {
    return std::make_unique<micro::plugins::MemoryBroker>();
  }
};
}  // namespace

// Options: see README.md.
MICRO_PLUGIN(broker, "memory", "0.1.0",
             "in-process pub/sub with queue groups and a bounded queue per subscriber",
             "Apache-2.0", "[]",
             R"({"type":"object","properties":{)"
             R"("queue_size":{"type":"integer","minimum":1,"default":10000},)"
             R"("error_log_every":{"type":"integer","minimum":1,"default":100}}})",
             Factory)
