// Shared helpers of the registry-consul tests: the plugin loaded through the Loader, services,
// errors, zlib+hex written independently of the plugin's codec.
#pragma once

#include <zlib.h>

#include <catch2/catch.hpp>
#include <functional>
#include <memory>
#include <string>

#include "fake_consul.h"
#include "micro/errors.h"
#include "micro/registry.h"
#include "plugin_host.h"
#include "registry_helpers.h"
#include "support.h"

namespace consul_test {

/// registry-consul from the built .so, initialised on addr and started.
inline std::shared_ptr<micro::Registry> open(
    const std::string& addr, std::string plugin_options = R"({"wait_s":2})",
    std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) {
  auto r = micro::test::create_plugin<micro::Registry>(micro::plugin::Kind::registry, "consul");
  r->init(micro::Registry::Options{{addr}, timeout, std::move(plugin_options)});
  r->start();
  return r;
}

inline micro::registry::Service service(const std::string& name, const std::string& node_id,
                                        const std::string& address = "127.0.0.1:8080",
                                        const std::string& version = "1.0.0") {
  auto s = micro::test::registry_service(name, node_id, address, version,
                                         {{"protocol", "mucp"}, {"registry", "consul"}});
  s.endpoints[0].request = micro::registry::Value{"Request", "Request", {{"name", "string", {}}}};
  return s;
}

using micro::test::ttl;

using micro::test::errc_of;

using micro::test::has_node;

/// hex(zlib(data)) as go-micro's encoding.go writes it (computed here, not by the plugin).
inline std::string go_enc(const std::string& data) {
  uLongf n = compressBound(data.size());
  std::string z(n, '\0');
  REQUIRE(compress(reinterpret_cast<Bytef*>(z.data()), &n,
                   reinterpret_cast<const Bytef*>(data.data()), data.size()) == Z_OK);
  z.resize(n);
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : z) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

}  // namespace consul_test
