// Header maps. Go canonicalises HTTP header names (Micro-Id, micro-id and MICRO-ID are one key),
// so every header and metadata map in micro-cpp compares names without regard to ASCII case.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace micro {

/// Orders strings by ASCII case-insensitive comparison. Transparent: finds by string_view.
struct CaseInsensitiveLess {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept;
};

/// Header or metadata map: case-insensitive keys, values as sent.
using Metadata = std::map<std::string, std::string, CaseInsensitiveLess>;

/// Go's canonical MIME header form: "micro-id" -> "Micro-Id".
std::string canonical_header(std::string_view name);

/// The value for key, or "" when absent.
inline std::string_view get(const Metadata& md, std::string_view key) {
  auto it = md.find(key);
  return it == md.end() ? std::string_view{} : std::string_view{it->second};
}

}  // namespace micro
