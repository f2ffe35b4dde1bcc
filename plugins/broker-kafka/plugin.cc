#include "micro/plugin.h"
#include "kafka_broker.h"

namespace {
class Factory final : public micro::plugin::Factory {
 public:
  std::unique_ptr<micro::Component> create(micro::plugin::Host&) const override {
    return std::make_unique<micro::plugins::KafkaBroker>();
  }
};
}  // namespace

// Options: see README.md.
MICRO_PLUGIN(broker, "kafka", "0.1.0",
             "Kafka pub/sub on librdkafka: go-micro's JSON envelope, consumer groups, "
             "at-least-once delivery",
             "Apache-2.0", "[]",
             R"({"type":"object","properties":{)"
             R"("config":{"type":"object","additionalProperties":true,"default":{}},)"
             R"("flush_timeout_ms":{"type":"integer","minimum":0,"default":10000},)"
             R"("poll_interval_ms":{"type":"integer","minimum":1,"default":100},)"
             R"("initial_offset":{"type":"string","enum":["earliest","latest"],)"
             R"("default":"earliest"},)"
             R"("retry_backoff_ms":{"type":"integer","minimum":1,"default":100},)"
             R"("retry_backoff_max_ms":{"type":"integer","minimum":1,"default":5000},)"
             R"("max_attempts":{"type":"integer","minimum":0,"default":0},)"
             R"("commit_interval_ms":{"type":"integer","minimum":0,"default":1000},)"
             R"("error_log_every":{"type":"integer","minimum":1,"default":100}}})",
             Factory)
