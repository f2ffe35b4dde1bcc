// codec-protobuf loaded through the plugin loader: raw protobuf bytes, bytes, and JSON refused.
#include <catch2/catch.hpp>

#include "greeting.pb.h"
#include "micro/codec.h"
#include "micro/errors.h"
#include "plugin_host.h"
#include "support.h"

using Catch::Matchers::Contains;
using micro::codec::Payload;
using microtest::protobuf::Greeting;

namespace {

std::shared_ptr<micro::Codec> proto_codec() {
  static std::shared_ptr<micro::Codec> codec = micro::test::load_plugin<micro::Codec>(
      micro::plugin::Kind::codec, "protobuf", "{}", micro::test::no_host(), micro::test::Start::no);
  return codec;
}

Greeting sample() {
  Greeting g;
  g.set_name("ann");
  g.set_count(-9007199254740993LL);
  g.add_tags("a");
  g.add_tags("b");
  return g;
}

}  // namespace

TEST_CASE("codec protobuf loads through the loader and serves application/protobuf") {
  auto c = proto_codec();
  CHECK(c->name() == "protobuf");
  REQUIRE(c->content_types().size() == 1);
  CHECK(c->content_types()[0] == "application/protobuf");
}

TEST_CASE("codec protobuf writes the serialised message bytes") {
  std::string out;
  proto_codec()->marshal(Payload::proto(sample()), out);
  CHECK(out == sample().SerializeAsString());
}

TEST_CASE("codec protobuf round-trips a message") {
  std::string wire;
  proto_codec()->marshal(Payload::proto(sample()), wire);
  Greeting back;
  proto_codec()->unmarshal(wire, Payload::proto(back));
  CHECK(back.name() == "ann");
  CHECK(back.count() == -9007199254740993LL);
  REQUIRE(back.tags_size() == 2);
  CHECK(back.tags(1) == "b");
}

TEST_CASE("codec protobuf decodes an empty body into the default message") {
  Greeting g = sample();
  proto_codec()->unmarshal("", Payload::proto(g));
  CHECK(g.ByteSizeLong() == 0);
}

TEST_CASE("codec protobuf passes raw bytes through unchanged both ways") {
  std::string raw(
      "\x0a\x03"
      "abc\x00\xff",
      7);
  std::string out;
  proto_codec()->marshal(Payload::bytes(raw), out);
  CHECK(out == raw);
  std::string back;
  proto_codec()->unmarshal(raw, Payload::bytes(back));
  CHECK(back == raw);
}

TEST_CASE("codec protobuf refuses JSON text in both directions") {
  std::string json = "{\"name\":\"x\"}";
  std::string out;
  try {
    proto_codec()->marshal(Payload::json(json), out);
    FAIL("expected bad_request");
  } catch (const micro::Error& e) {
    CHECK(e.errc() == micro::Errc::bad_request);
    CHECK_THAT(e.what(), Contains("without a message type"));
  }
  CHECK_THROWS_MATCHES(proto_codec()->unmarshal("\x0a\x01x", Payload::json(out)), micro::Error,
                       Catch::Predicate<micro::Error>([](const micro::Error& e) {
                         return e.errc() == micro::Errc::bad_request;
                       }));
}

TEST_CASE("codec protobuf refuses a body that is not a valid message") {
  Greeting g;
  // Field 1, length-delimited, claims 100 bytes but has 1.
  std::string bad("\x0a\x64x", 3);
  try {
    proto_codec()->unmarshal(bad, Payload::proto(g));
    FAIL("expected bad_request");
  } catch (const micro::Error& e) {
    CHECK(e.errc() == micro::Errc::bad_request);
    CHECK_THAT(e.what(), Contains("codec protobuf") && Contains("microtest.protobuf.Greeting"));
  }
}
