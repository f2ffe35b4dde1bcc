#include "micro/plugin.h"
#include "file_registry.h"

namespace {
class Factory final : public micro::plugin::Factory {
 public:
  std::unique_ptr<micro::Component> create(micro::plugin::Host&) const override {
    return std::make_unique<micro::plugins::FileRegistry>();
  }
};
}  // namespace

MICRO_PLUGIN(
    registry, "file", "0.1.0",
    "cross-process registry on one machine: one JSON file per node in a directory", "Apache-2.0",
    "[]",
    R"({"type":"object","properties":{)"
    R"("dir":{"type":"string","default":"","description":"registry directory; used when no registry address is set"},)"
    R"("expired_grace_s":{"type":"integer","default":60,"minimum":-1,"description":"remove files expired this long ago; -1 never"}}})",
    Factory)
