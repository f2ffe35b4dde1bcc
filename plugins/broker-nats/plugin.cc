#include "micro/plugin.h"
#include "nats_broker.h"

namespace {
class Factory final : public micro::plugin::Factory {
 public:
  std::unique_ptr<micro::Component> create(micro::plugin::Host&) const override {
    return std::make_unique<micro::plugins::NatsBroker>();
  }
};
}  // namespace

// Options: see README.md.
MICRO_PLUGIN(broker, "nats", "0.1.0",
             "NATS pub/sub (libnats) with go-micro's JSON envelope, queue groups and reconnect",
             "Apache-2.0", "[]",
             R"js({"type":"object","properties":{
  "connect_timeout_ms":{"type":"integer","minimum":1,"default":2000,
    "description":"bound on one (re)connect attempt"},
  "reconnect_wait_ms":{"type":"integer","minimum":0,"default":2000,
    "description":"pause between reconnect attempts"},
  "max_reconnects":{"type":"integer","minimum":-1,"default":-1,
    "description":"reconnect attempts per server before giving up; -1 = forever"},
  "reconnect_buffer_bytes":{"type":"integer","minimum":0,"default":8388608,
    "description":"publishes buffered while reconnecting; beyond it publish throws"},
  "pending_msgs_limit":{"type":"integer","minimum":1,"default":65536,
    "description":"messages queued per subscription before they are dropped (slow consumer)"},
  "pending_bytes_limit":{"type":"integer","minimum":1,"default":67108864,
    "description":"bytes queued per subscription before messages are dropped"},
  "token":{"type":"string","default":""},
  "user":{"type":"string","default":""},
  "password":{"type":"string","default":""},
  "error_log_every":{"type":"integer","minimum":1,"default":100,
    "description":"log the 1st handler exception or bad envelope, then every Nth"},
  "tls":{"type":"object","default":{},"properties":{
    "enabled":{"type":"boolean","default":false},
    "ca_file":{"type":"string","default":""},
    "cert_file":{"type":"string","default":""},
    "key_file":{"type":"string","default":""}}}}})js",
             Factory)
