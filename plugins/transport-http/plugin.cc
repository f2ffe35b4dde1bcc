#include "micro/plugin.h"
#include "http_transport.h"

namespace {
class Factory final : public micro::plugin::Factory {
 public:
  std::unique_ptr<micro::Component> create(micro::plugin::Host&) const override {
    return std::make_unique<micro::plugins::http::HttpTransport>();
  }
};
}  // namespace

MICRO_PLUGIN(
    transport, "http", "0.1.0",
    "go-micro HTTP/1.1 transport: POST / requests, 200 responses, keep-alive, optional TLS",
    "Apache-2.0", "[]",
    R"js({"type":"object","properties":{
  "max_body_bytes":{"type":"integer","minimum":0,"default":16777216,
    "description":"largest message body accepted (413 on the server side)"},
  "max_header_bytes":{"type":"integer","minimum":64,"default":16384,
    "description":"largest start line plus header block (431)"},
  "max_header_count":{"type":"integer","minimum":1,"default":100,
    "description":"most header fields in one message (431)"},
  "read_timeout_ms":{"type":"integer","minimum":1,"default":10000,
    "description":"a message must be complete this long after its first byte"},
  "idle_timeout_ms":{"type":"integer","minimum":1,"default":120000,
    "description":"server: close a connection idle this long; keep above 60000 for Go clients"},
  "write_timeout_ms":{"type":"integer","minimum":1,"default":10000,
    "description":"a send must complete within this time"},
  "max_connections":{"type":"integer","minimum":1,"default":10000,
    "description":"open accepted connections per listener; more are closed at once"},
  "tls":{"type":"object","default":{},"properties":{
    "enabled":{"type":"boolean","default":false},
    "cert_file":{"type":"string","default":""},
    "key_file":{"type":"string","default":""},
    "ca_file":{"type":"string","default":""},
    "insecure_skip_verify":{"type":"boolean","default":false}}}}})js",
    Factory)
