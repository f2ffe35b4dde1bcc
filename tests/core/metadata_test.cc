// Header maps: the inline case-insensitive comparator agrees with a plain byte-by-byte reference
// on every pair, including long shared prefixes (the 8-byte fast path) and case-only
// differences at every position; maps keyed by it find names in any case.
#include <catch2/catch.hpp>

#include <random>

#include "micro/metadata.h"

namespace {

int reference(std::string_view a, std::string_view b) {
  auto low = [](char c) {
    return static_cast<unsigned char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
  };
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i)
    if (low(a[i]) != low(b[i])) return low(a[i]) < low(b[i]) ? -1 : 1;
  return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
}

}  // namespace

TEST_CASE("CaseInsensitiveLess agrees with the byte-by-byte reference") {
  const micro::CaseInsensitiveLess less;
  std::mt19937 rng(42);
  const std::string alphabet = "aAbBzZ-_^~@`[{09\x80\xff";
  auto random_string = [&](std::size_t len) {
    std::string s;
    for (std::size_t i = 0; i < len; ++i) s += alphabet[rng() % alphabet.size()];
    return s;
  };
  for (int k = 0; k < 20000; ++k) {
    std::string a = random_string(rng() % 24);
    std::string b;
    switch (k % 4) {
      case 0: b = random_string(rng() % 24); break;
      case 1: b = a; break;  // equal bytes
      case 2:                // one case flip
        b = a;
        if (!b.empty()) {
          char& c = b[rng() % b.size()];
          if (c >= 'a' && c <= 'z')
            c = char(c - 32);
          else if (c >= 'A' && c <= 'Z')
            c = char(c + 32);
        }
        break;
      default: b = a.substr(0, a.size() / 2) + random_string(rng() % 12); break;  // shared prefix
    }
    const int want = reference(a, b);
    INFO("a=" << a << " b=" << b);
    REQUIRE(less(a, b) == (want < 0));
    REQUIRE(less(b, a) == (want > 0));
  }
}

TEST_CASE("CaseInsensitiveLess does not fold non-letters that differ by the 0x20 bit") {
  const micro::CaseInsensitiveLess less;
  for (auto [x, y] : {std::pair{"a^", "a~"}, {"x_", "x\x7f"}, {"@", "`"}, {"[", "{"}}) {
    CHECK((less(x, y) || less(y, x)));  // distinct keys
  }
  CHECK(!less("MICRO-ENDPOINT-LONGER-THAN-8", "micro-endpoint-longer-than-8"));
  CHECK(!less("micro-endpoint-longer-than-8", "MICRO-ENDPOINT-LONGER-THAN-8"));
}

TEST_CASE("a Metadata map finds a header in any case and keeps one entry per name") {
  micro::Metadata md;
  md.emplace("Micro-Endpoint", "Greeter.Hello");
  md.emplace("X-Micro-Endpoint", "Greeter.Hello");
  md.emplace("Content-Type", "application/json");
  CHECK(micro::get(md, "micro-endpoint") == "Greeter.Hello");
  CHECK(micro::get(md, "MICRO-ENDPOINT") == "Greeter.Hello");
  CHECK(micro::get(md, "content-TYPE") == "application/json");
  CHECK(micro::get(md, "Micro-Endpoin").empty());
  CHECK(!md.emplace("CONTENT-TYPE", "x").second);
  CHECK(md.size() == 3);
}
