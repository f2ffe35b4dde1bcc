#include "micro/plugin.h"
#include "etcd_registry.h"

namespace {
class Factory final : public micro::plugin::Factory {
 public:
  std::unique_ptr<micro::Component> create(micro::plugin::Host&) const override {
    return std::make_unique<micro::plugins::EtcdRegistry>();
  }
};
}  // namespace

MICRO_PLUGIN(
    registry, "etcd", "0.1.0",
    "go-micro compatible etcd v3 registry over the etcd JSON gateway (HTTP/1.1)", "Apache-2.0",
    "[]",
    R"({"type":"object","properties":{)"
    R"("username":{"type":"string","default":"","description":"etcd user, else ETCD_USERNAME; empty = no auth"},)"
    R"("password":{"type":"string","default":"","description":"etcd password, else ETCD_PASSWORD"},)"
    R"("ca_file":{"type":"string","default":"","description":"TLS: CA bundle; set = https to every address without http://"},)"
    R"("cert_file":{"type":"string","default":"","description":"TLS: client certificate, PEM"},)"
    R"("key_file":{"type":"string","default":"","description":"TLS: client key, PEM"},)"
    R"("tls_insecure":{"type":"boolean","default":false,"description":"TLS: do not verify the server certificate"}}})",
    Factory)
