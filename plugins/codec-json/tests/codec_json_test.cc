// codec-json loaded through the plugin loader: JSON text, raw bytes and protobuf messages.
#include <catch2/catch.hpp>

#include "micro/codec.h"
#include "micro/errors.h"
#include "plugin_host.h"
#include "sample.pb.h"
#include "support.h"

using micro::codec::Payload;
using microtest::json::Sample;

namespace {

std::shared_ptr<micro::Codec> json_codec() {
  static std::shared_ptr<micro::Codec> codec = micro::test::load_plugin<micro::Codec>(
      micro::plugin::Kind::codec, "json", "{}", micro::test::no_host(), micro::test::Start::no);
  return codec;
}

std::string marshal(const Payload& p) {
  std::string out;
  json_codec()->marshal(p, out);
  return out;
}

void require_bad_request(const std::function<void()>& f) {
  micro::test::require_error(f, micro::Errc::bad_request, "codec json");
}

Sample full_sample() {
  Sample s;
  s.set_user_name("bob");
  s.set_big_id(9007199254740993LL);  // 2^53 + 1: not representable as a double
  s.set_big_unsigned(18446744073709551615ULL);
  s.set_color(microtest::json::GREEN);
  s.mutable_inner()->set_label("in");
  s.mutable_inner()->set_big(-5);
  s.add_items()->set_big(7);
  s.add_ids(1);
  s.add_ids(-2);
  (*s.mutable_counts())["a"] = 3;
  return s;
}

}  // namespace

TEST_CASE("codec json loads through the loader and serves application/json") {
  auto c = json_codec();
  CHECK(c->name() == "json");
  REQUIRE(c->content_types().size() == 1);
  CHECK(c->content_types()[0] == "application/json");
}

TEST_CASE("codec json compacts a JSON value and appends a newline") {
  std::string in = "{ \"a\" : [1, 2.50 ,\n 3e2] , \"s\" : \"x y\\\" z\" }";
  CHECK(marshal(Payload::json(in)) == "{\"a\":[1,2.50,3e2],\"s\":\"x y\\\" z\"}\n");
}

TEST_CASE("codec json refuses to encode text that is not JSON") {
  std::string in = "{\"a\":";
  require_bad_request([&] { marshal(Payload::json(in)); });
}

TEST_CASE("codec json decodes a body without its trailing newline") {
  std::string out;
  json_codec()->unmarshal("{\"a\": 1}\n", Payload::json(out));
  CHECK(out == "{\"a\": 1}");
}

TEST_CASE("codec json refuses a malformed or empty JSON body") {
  std::string out;
  require_bad_request([&] { json_codec()->unmarshal("{\"a\":1", Payload::json(out)); });
  require_bad_request([&] { json_codec()->unmarshal("\n", Payload::json(out)); });
  require_bad_request([&] { json_codec()->unmarshal("{} {}", Payload::json(out)); });
}

TEST_CASE("codec json passes raw bytes through unchanged both ways") {
  std::string raw("not json \x00\xff\n", 13);
  CHECK(marshal(Payload::bytes(raw)) == raw);
  std::string out;
  json_codec()->unmarshal(raw, Payload::bytes(out));
  CHECK(out == raw);
}

TEST_CASE("codec json writes a message with proto names, numeric enums and 64-bit numbers") {
  CHECK(marshal(Payload::proto(full_sample())) ==
        "{\"user_name\":\"bob\",\"big_id\":9007199254740993,"
        "\"big_unsigned\":18446744073709551615,\"color\":2,"
        "\"inner\":{\"label\":\"in\",\"big\":-5},\"items\":[{\"big\":7}],\"ids\":[1,-2],"
        "\"counts\":{\"a\":3}}\n");
}

TEST_CASE("codec json omits zero values of a message") {
  Sample s;
  CHECK(marshal(Payload::proto(s)) == "{}\n");
  s.set_small(0);
  s.set_flag(true);
  CHECK(marshal(Payload::proto(s)) == "{\"flag\":true}\n");
}

TEST_CASE("codec json reads lowerCamel names, int64 strings and ignores unknown keys") {
  Sample s;
  json_codec()->unmarshal(
      "{\"userName\":\"amy\",\"bigId\":\"-12\",\"big_unsigned\":5,\"color\":1,"
      "\"inner\":{\"big\":\"9007199254740993\"},\"ids\":[\"3\",4],\"nope\":{\"x\":1}}\n",
      Payload::proto(s));
  CHECK(s.user_name() == "amy");
  CHECK(s.big_id() == -12);
  CHECK(s.big_unsigned() == 5);
  CHECK(s.color() == microtest::json::RED);
  CHECK(s.inner().big() == 9007199254740993LL);
  REQUIRE(s.ids_size() == 2);
  CHECK(s.ids(0) == 3);
  CHECK(s.ids(1) == 4);
}

TEST_CASE("codec json round-trips a message") {
  auto in = full_sample();
  auto text = marshal(Payload::proto(in));
  Sample out;
  json_codec()->unmarshal(text, Payload::proto(out));
  CHECK(out.SerializeAsString() == in.SerializeAsString());
}

TEST_CASE("codec json decodes an empty body into the default message") {
  auto s = full_sample();
  json_codec()->unmarshal("", Payload::proto(s));
  CHECK(s.ByteSizeLong() == 0);
}

TEST_CASE("codec json refuses a body that is not a valid message") {
  Sample s;
  require_bad_request([&] { json_codec()->unmarshal("{\"user_name\":", Payload::proto(s)); });
  require_bad_request([&] { json_codec()->unmarshal("{\"small\":\"abc\"}", Payload::proto(s)); });
}
