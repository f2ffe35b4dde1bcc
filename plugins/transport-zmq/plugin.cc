#include "micro/plugin.h"
#include "zmq_transport.h"

namespace {
class Factory final : public micro::plugin::Factory {
 public:
  std::unique_ptr<micro::Component> create(micro::plugin::Host&) const override {
    return std::make_unique<micro::plugins::zmqt::ZmqTransport>();
  }
};
}  // namespace

MICRO_PLUGIN(
    transport, "zmq", "0.1.0",
    "ZeroMQ transport: ROUTER server, one shared DEALER per address, many channels per connection",
    "Apache-2.0", "[]",
    R"js({"type":"object","properties":{
  "sndhwm":{"type":"integer","minimum":1,"default":1000,
    "description":"ZMQ_SNDHWM and the bound of each send queue; beyond it send fails with send queue full"},
  "rcvhwm":{"type":"integer","minimum":1,"default":1000,
    "description":"ZMQ_RCVHWM and the bound of each channel's receive queue"},
  "max_message_bytes":{"type":"integer","minimum":64,"default":16777216,
    "description":"largest header or body frame (ZMQ_MAXMSGSIZE); larger sends fail with too_large"},
  "idle_timeout_ms":{"type":"integer","minimum":1,"default":120000,
    "description":"server: close a logical connection with no traffic for this long"},
  "max_connections":{"type":"integer","minimum":1,"default":10000,
    "description":"server: open logical connections per listener; more are refused"},
  "linger_ms":{"type":"integer","minimum":-1,"default":1000,
    "description":"ZMQ_LINGER: how long messages still queued may flush when a socket closes"},
  "heartbeat_ms":{"type":"integer","minimum":0,"default":1000,
    "description":"ZMTP heartbeat interval; a peer silent for 3x is disconnected; 0 = off"},
  "send_timeout_ms":{"type":"integer","minimum":1,"default":5000,
    "description":"a message the peer does not take for this long fails its channel"},
  "curve":{"type":"object","default":{},"properties":{
    "server_key":{"type":"string","default":"",
      "description":"dialling: the server's Z85 public key; turns CURVE on"},
    "public_key":{"type":"string","default":"",
      "description":"dialling: this client's Z85 public key (an ephemeral pair when empty)"},
    "secret_key":{"type":"string","default":"",
      "description":"listening: the server's Z85 secret key, turns CURVE on; dialling: the client's"}}}}})js",
    Factory)
