#include "micro/metadata.h"

namespace micro {
namespace {
constexpr char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }
constexpr char upper(char c) noexcept { return (c >= 'a' && c <= 'z') ? char(c - 'a' + 'A') : c; }
}  // namespace

std::string canonical_header(std::string_view name) {
  std::string out(name);
  bool up = true;
  for (char& c : out) {
    c = up ? upper(c) : lower(c);
    up = (c == '-');
  }
  return out;
}

}  // namespace micro
