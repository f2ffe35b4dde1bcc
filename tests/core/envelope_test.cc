// go-micro's broker envelope (spec/gomicro-wire.md §5.2): exact keys, standard padded base64.
#include <catch2/catch.hpp>

#include "micro/broker.h"

using micro::broker::from_envelope;
using micro::broker::Message;
using micro::broker::to_envelope;

TEST_CASE("the envelope is go-micro's JSON with Header and padded base64 Body") {
  Message m;
  m.header.emplace("Content-Type", "application/json");
  m.header.emplace("Micro-Topic", "events");
  m.body = "{\"a\":1}\n";
  CHECK(to_envelope(m) ==
        R"({"Header":{"Content-Type":"application/json","Micro-Topic":"events"},"Body":"eyJhIjoxfQo="})");
}

TEST_CASE("bodies of every length survive the round trip, binary included") {
  for (std::size_t n = 0; n < 40; ++n) {
    Message m;
    for (std::size_t i = 0; i < n; ++i) m.body += char((i * 37 + n) & 0xff);
    m.header.emplace("Micro-Id", std::to_string(n));
    Message back = from_envelope(to_envelope(m));
    CHECK(back.body == m.body);
    CHECK(back.header == m.header);
  }
}

TEST_CASE("an envelope written by Go is read, header key case kept") {
  Message m = from_envelope(R"({"Header":{"Micro-ID":"x","Content-Type":"application/protobuf"},"Body":"CgNmb28="})");
  CHECK(m.body == std::string("\x0a\x03" "foo"));
  CHECK(m.header.begin()->first == "Content-Type");
  CHECK(micro::get(m.header, "micro-id") == "x");
}

TEST_CASE("what is not an envelope is refused with bad_request") {
  for (const char* bad : {"", "nope", "[]", R"({"Body":"eA=="})", R"({"Header":{},"Body":"e"})",
                          R"({"Header":{},"Body":"e!=="})", R"({"Header":{"a":1},"Body":""})"}) {
    INFO(bad);
    try {
      from_envelope(bad);
      FAIL("accepted");
    } catch (const micro::Error& e) {
      CHECK(e.errc() == micro::Errc::bad_request);
    }
  }
}
