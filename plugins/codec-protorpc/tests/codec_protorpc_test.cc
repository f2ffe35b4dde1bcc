// codec-protorpc loaded through the plugin loader: go-micro's length-prefixed envelope both ways
// (spec/gomicro-wire.md §3.2), header-vs-envelope priority, truncated and garbage frames.
#include <catch2/catch.hpp>

#include "greeting.pb.h"
#include "micro/codec.h"
#include "micro/errors.h"
#include "plugin_host.h"
#include "support.h"

using micro::codec::MessageType;
using micro::codec::Payload;
using microtest::protorpc::Greeting;
using namespace std::string_literals;

namespace {

std::shared_ptr<micro::Codec> codec() {
  static std::shared_ptr<micro::Codec> c = micro::test::load_plugin<micro::Codec>(
      micro::plugin::Kind::codec, "protorpc", "{}", micro::test::no_host(), micro::test::Start::no);
  return c;
}

void require_bad_request(const std::function<void()>& f) {
  micro::test::require_error(f, micro::Errc::bad_request, "codec protorpc");
}

micro::codec::Message msg(MessageType type, std::string id = "7") {
  micro::codec::Message m;
  m.type = type;
  m.id = std::move(id);
  m.target = "greeter";
  m.method = "Greeter.Hello";
  m.endpoint = "Greeter.Hello";
  return m;
}

micro::codec::Message read(const std::string& body, MessageType type, micro::Metadata header = {}) {
  micro::transport::Message in;
  in.header = std::move(header);
  in.body = body;
  micro::codec::Message m;
  codec()->read_header(in, m, type);
  return m;
}

// Hand-built wire pieces.
const std::string kMethod = "\x0a\x0dGreeter.Hello"s;               // field 1, 13 bytes
const std::string kSeq7 = "\x11\x07\x00\x00\x00\x00\x00\x00\x00"s;  // field 2, fixed64 7
const std::string kBob =
    "\x0a\x03"
    "bob"s;  // Greeting{name: "bob"}

std::string frame(const std::string& data) {
  const auto n = static_cast<uint32_t>(data.size());
  std::string out{static_cast<char>(n >> 24), static_cast<char>(n >> 16 & 0xff),
                  static_cast<char>(n >> 8 & 0xff), static_cast<char>(n & 0xff)};
  return out + data;
}

Greeting bob() {
  Greeting g;
  g.set_name("bob");
  return g;
}

}  // namespace

TEST_CASE("codec protorpc loads through the loader and serves application/proto-rpc") {
  CHECK(codec()->name() == "protorpc");
  REQUIRE(codec()->content_types().size() == 1);
  CHECK(codec()->content_types()[0] == "application/proto-rpc");
}

TEST_CASE("codec protorpc writes a request as two length-prefixed frames") {
  const Greeting g = bob();
  const Payload p = Payload::proto(g);
  micro::transport::Message out;
  codec()->write(msg(MessageType::request), &p, out);
  const std::string want = "\x00\x00\x00\x18"s + kMethod + kSeq7 + "\x00\x00\x00\x05"s + kBob;
  CHECK(out.body == want);
  CHECK(micro::get(out.header, "Micro-Id") == "7");
  CHECK(micro::get(out.header, "Micro-Endpoint") == "Greeter.Hello");
  CHECK(micro::get(out.header, "Content-Type") == "application/proto-rpc");
}

TEST_CASE("codec protorpc writes seq 0 (omitted) for an id that is not a decimal number") {
  micro::transport::Message out;
  codec()->write(msg(MessageType::request, "abc"), nullptr, out);
  CHECK(out.body == frame(kMethod) + frame(""));
  codec()->write(msg(MessageType::request, "18446744073709551615"), nullptr, out);
  CHECK(out.body == frame(kMethod + "\x11\xff\xff\xff\xff\xff\xff\xff\xff"s) + frame(""));
}

TEST_CASE("codec protorpc writes a response with its payload and an error with an empty payload") {
  const Greeting g = bob();
  const Payload p = Payload::proto(g);
  micro::transport::Message out;
  codec()->write(msg(MessageType::response), &p, out);
  CHECK(out.body == frame(kMethod + kSeq7) + frame(kBob));
  auto e = msg(MessageType::error);
  e.error = "boom";
  codec()->write(e, &p, out);
  CHECK(out.body == frame(kMethod + kSeq7 +
                          "\x1a\x04"
                          "boom"s) +
                        "\x00\x00\x00\x00"s);
  CHECK(micro::get(out.header, "Micro-Error") == "boom");
}

TEST_CASE("codec protorpc reads method, endpoint, id and payload from a request without headers") {
  auto m = read(frame(kMethod + kSeq7) + frame(kBob), MessageType::request);
  CHECK(m.method == "Greeter.Hello");
  CHECK(m.endpoint == "Greeter.Hello");
  CHECK(m.id == "7");
  CHECK(m.body == kBob);
  Greeting g;
  codec()->read_body(m, Payload::proto(g));
  CHECK(g.name() == "bob");
}

TEST_CASE("codec protorpc prefers the mucp headers over the request envelope") {
  auto m = read(frame(kMethod + kSeq7) + frame(kBob), MessageType::request,
                {{"Micro-Endpoint", "Other.Call"}, {"Micro-Id", "abc"}});
  CHECK(m.endpoint == "Other.Call");
  CHECK(m.method == "Other.Call");
  CHECK(m.id == "abc");
}

TEST_CASE("codec protorpc reads the error of a response, the envelope winning over Micro-Error") {
  auto m = read(frame(kMethod + kSeq7 +
                      "\x1a\x04"
                      "boom"s) +
                    frame(""),
                MessageType::response, {{"Micro-Error", "stale"}});
  CHECK(m.error == "boom");
  CHECK(m.id == "7");
  CHECK(m.body.empty());
  auto ok =
      read(frame(kSeq7) + frame(kBob), MessageType::response, {{"Micro-Error", "from header"}});
  CHECK(ok.error == "from header");
  CHECK(ok.body == kBob);
}

TEST_CASE("codec protorpc skips unknown envelope fields") {
  const std::string extra = "\x20\x96\x01"s + "\x2d\x01\x02\x03\x04"s + "\x32\x02xy"s;
  auto m = read(frame(extra + kMethod + kSeq7) + frame(kBob), MessageType::request);
  CHECK(m.method == "Greeter.Hello");
  CHECK(m.id == "7");
}

TEST_CASE("codec protorpc refuses every truncation of a frame") {
  const std::string good = frame(kMethod + kSeq7) + frame(kBob);
  for (std::size_t n = 1; n < good.size(); ++n)
    require_bad_request([&] { read(good.substr(0, n), MessageType::request); });
}

TEST_CASE("codec protorpc refuses garbage frames") {
  // Trailing bytes after the payload frame.
  require_bad_request([] { read(frame(kMethod) + frame(kBob) + "x", MessageType::request); });
  // A field truncated inside the envelope frame.
  require_bad_request([] { read(frame("\x0a\x10short"s) + frame(""), MessageType::request); });
  // Wire type 3 (groups) and field number 0.
  require_bad_request([] { read(frame("\x0b"s) + frame(""), MessageType::response); });
  require_bad_request([] { read(frame("\x02\x00"s) + frame(""), MessageType::response); });
  // A varint longer than 10 bytes.
  require_bad_request(
      [] { read(frame("\x20" + std::string(11, '\xff')) + frame(""), MessageType::request); });
  // A payload that is not the expected message.
  auto m = read(frame(kMethod) + frame("\xff\xff"s), MessageType::request);
  Greeting g;
  require_bad_request([&] { codec()->read_body(m, Payload::proto(g)); });
}

TEST_CASE("codec protorpc round-trips a protobuf request and response") {
  Greeting g = bob();
  g.set_count(-5);
  g.add_tags("a");
  const Payload p = Payload::proto(g);
  micro::transport::Message wire;
  codec()->write(msg(MessageType::request, "41"), &p, wire);
  wire.header.erase("Micro-Id");
  wire.header.erase("Micro-Endpoint");
  wire.header.erase("Micro-Method");
  micro::codec::Message m;
  codec()->read_header(wire, m, MessageType::request);
  CHECK(m.id == "41");
  CHECK(m.endpoint == "Greeter.Hello");
  Greeting back;
  codec()->read_body(m, Payload::proto(back));
  CHECK(back.SerializeAsString() == g.SerializeAsString());

  codec()->write(msg(MessageType::response, "41"), &p, wire);
  codec()->read_header(wire, m, MessageType::response);
  CHECK(m.error.empty());
  Greeting reply;
  codec()->read_body(m, Payload::proto(reply));
  CHECK(reply.SerializeAsString() == g.SerializeAsString());
}

TEST_CASE("codec protorpc marshals protobuf and bytes, refuses JSON text, leaves events unframed") {
  const Greeting g = bob();
  std::string out;
  codec()->marshal(Payload::proto(g), out);
  CHECK(out == kBob);
  const std::string raw = "\x01\x02"s;
  codec()->marshal(Payload::bytes(raw), out);
  CHECK(out == raw);
  const std::string text = "{}";
  require_bad_request([&] { codec()->marshal(Payload::json(text), out); });
  std::string sink;
  require_bad_request([&] { codec()->unmarshal("{}", Payload::json(sink)); });
  micro::transport::Message ev;
  const Payload p = Payload::proto(g);
  codec()->write(msg(MessageType::event), &p, ev);
  CHECK(ev.body == kBob);
  auto e = read(kBob, MessageType::event);
  CHECK(e.body == kBob);
}
