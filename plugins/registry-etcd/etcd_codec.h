// registry-etcd: the small pure pieces: base64 (etcd's gateway carries keys and values as
// base64 strings), go-micro's key layout, etcd's int64-as-string JSON numbers.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "micro/registry.h"

namespace micro::plugins::etcd {

/// go-micro's key prefix (spec/gomicro-wire.md §4.2).
inline constexpr std::string_view kPrefix = "/micro/registry/";

/// Standard base64 with padding.
std::string base64_encode(std::string_view in);
/// Decodes standard (or URL-safe) base64; nullopt when the text is not base64.
std::optional<std::string> base64_decode(std::string_view in);

/// The end of a prefix range: the prefix with its last byte incremented ("\0" = all keys).
std::string prefix_end(std::string_view prefix);

/// '/' replaced by '-', as go-micro does for service names and node ids in keys.
std::string key_part(std::string_view s);
/// /micro/registry/<service>/
std::string service_prefix(std::string_view service);
/// /micro/registry/<service>/<node id>
std::string node_key(std::string_view service, std::string_view node_id);

/// An int64 field of a gateway response: a JSON string ("12") or number; absent = 0.
int64_t json_i64(const nlohmann::json& obj, const char* field);

/// host:port with the default port 2379 added when missing; scheme "http://" / "https://"
/// stripped into tls. Throws Error{config} for an empty address.
struct Endpoint {
  std::string host;
  std::string port;
  bool tls = false;
  std::string text() const { return host + ":" + port; }
};
Endpoint parse_endpoint(std::string_view addr);

/// A key-value of a gateway response ({"key":b64,"value":b64,...}) decoded as go-micro's
/// Service with one node. A bad value (not base64, not JSON, no node, a node without an
/// address) gives nullopt and one log line naming the key. key_out receives the decoded key.
std::optional<registry::Service> decode_kv(const nlohmann::json& kv,
                                           std::string* key_out = nullptr);

/// Adds s to out: its nodes merged into the entry of the same name and version (go-micro).
void merge(std::vector<registry::Service>& out, registry::Service s);

}  // namespace micro::plugins::etcd
