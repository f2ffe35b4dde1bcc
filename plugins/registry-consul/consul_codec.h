// registry-consul: go-micro's Consul encoding (spec/gomicro-wire.md §4.3). Tags t-/e-/v- carry
// hex(zlib(...)) of node metadata pairs, endpoints and the version; the agent registration body;
// decoding of /v1/health/service entries into registry::Service values grouped by version.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "micro/registry.h"

namespace micro::plugins::consul {

/// zlib stream of data at the default level. Throws Error{internal}.
std::string zlib_compress(std::string_view data);
/// Inflates a zlib stream. Throws Error{bad_request} on corrupt input.
std::string zlib_decompress(std::string_view data);
std::string hex_encode(std::string_view data);
/// Throws Error{bad_request} on odd length or a non-hex digit.
std::string hex_decode(std::string_view hex);

/// Go's time.Duration.String() for whole seconds: 90s -> "1m30s", 3600s -> "1h0m0s", 0 -> "0s".
std::string go_duration(std::chrono::seconds d);

/// The tags of one node: one "t-" per metadata key, one "e-" per endpoint, one "v-".
std::vector<std::string> encode_tags(const registry::Service& s, const registry::Node& n);

/// What the tags of one entry decode to. Bad tags are skipped and named in `skipped`.
struct DecodedTags {
  StringMap metadata;
  std::vector<registry::Endpoint> endpoints;
  std::string version;
  std::vector<std::string> skipped;  ///< "<tag prefix>: <why>" per tag that did not decode
};
DecodedTags decode_tags(const std::vector<std::string>& tags);

/// The PUT /v1/agent/service/register body for node n of s (TTL check when ttl > 0).
/// Throws Error{bad_request} when the node address has no numeric port.
nlohmann::json registration(const registry::Service& s, const registry::Node& n,
                            std::chrono::seconds ttl);

/// The services (one per version) in a /v1/health/service/<name> answer: entries with a
/// critical check or another service name are dropped. Bad tags are logged and skipped.
std::vector<registry::Service> services_from_health(std::string_view name,
                                                    const nlohmann::json& entries);

}  // namespace micro::plugins::consul
