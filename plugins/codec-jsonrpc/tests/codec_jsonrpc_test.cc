// codec-jsonrpc loaded through the plugin loader: go-micro's JSON-RPC envelope both ways
// (spec/gomicro-wire.md §3.2), header-vs-envelope priority, malformed envelopes.
#include <catch2/catch.hpp>

#include "greeting.pb.h"
#include "micro/codec.h"
#include "micro/errors.h"
#include "plugin_host.h"
#include "support.h"

using micro::codec::MessageType;
using micro::codec::Payload;
using microtest::jsonrpc::Greeting;

namespace {

std::shared_ptr<micro::Codec> codec() {
  static std::shared_ptr<micro::Codec> c = micro::test::load_plugin<micro::Codec>(
      micro::plugin::Kind::codec, "jsonrpc", "{}", micro::test::no_host(), micro::test::Start::no);
  return c;
}

void require_bad_request(const std::function<void()>& f) {
  micro::test::require_error(f, micro::Errc::bad_request, "codec jsonrpc");
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

Greeting bob() {
  Greeting g;
  g.set_name("bob");
  g.set_count(9007199254740993LL);  // 2^53 + 1: must survive as an exact JSON number
  return g;
}

micro::codec::Message read(const std::string& body, MessageType type, micro::Metadata header = {}) {
  micro::transport::Message in;
  in.header = std::move(header);
  in.body = body;
  micro::codec::Message m;
  codec()->read_header(in, m, type);
  return m;
}

}  // namespace

TEST_CASE("codec jsonrpc loads through the loader and serves application/json-rpc") {
  CHECK(codec()->name() == "jsonrpc");
  REQUIRE(codec()->content_types().size() == 1);
  CHECK(codec()->content_types()[0] == "application/json-rpc");
}

TEST_CASE("codec jsonrpc writes a request envelope with the message in params and mucp headers") {
  micro::transport::Message out;
  const Greeting g = bob();
  const Payload p = Payload::proto(g);
  codec()->write(msg(MessageType::request), &p, out);
  CHECK(out.body ==
        R"({"method":"Greeter.Hello","params":[{"name":"bob","count":9007199254740993}],"id":"7"})"
        "\n");
  CHECK(micro::get(out.header, "Micro-Id") == "7");
  CHECK(micro::get(out.header, "Micro-Endpoint") == "Greeter.Hello");
  CHECK(micro::get(out.header, "Micro-Service") == "greeter");
  CHECK(micro::get(out.header, "Content-Type") == "application/json-rpc");
}

TEST_CASE("codec jsonrpc writes params [null] for a request without a body") {
  micro::transport::Message out;
  codec()->write(msg(MessageType::request, "0"), nullptr, out);
  CHECK(out.body == "{\"method\":\"Greeter.Hello\",\"params\":[null],\"id\":\"0\"}\n");
}

TEST_CASE("codec jsonrpc keeps JSON text and raw JSON bytes byte for byte inside the envelope") {
  micro::transport::Message out;
  const std::string text = "{ \"a\" : 1.50, \"b\": \"x y\" }";
  const Payload p = Payload::json(text);
  codec()->write(msg(MessageType::request), &p, out);
  CHECK(out.body ==
        "{\"method\":\"Greeter.Hello\",\"params\":[{\"a\":1.50,\"b\":\"x y\"}],\"id\":\"7\"}\n");
  const std::string raw = "[1, 2]\n";
  const Payload b = Payload::bytes(raw);
  codec()->write(msg(MessageType::response), &b, out);
  CHECK(out.body == "{\"id\":\"7\",\"result\":[1,2],\"error\":null}\n");
}

TEST_CASE("codec jsonrpc refuses raw bytes that are not JSON inside the envelope") {
  const std::string raw = "\x01\x02 not json";
  const Payload b = Payload::bytes(raw);
  micro::transport::Message out;
  require_bad_request([&] { codec()->write(msg(MessageType::request), &b, out); });
}

TEST_CASE("codec jsonrpc writes a response envelope with result and null error") {
  micro::transport::Message out;
  Greeting g;
  g.set_name("hi");
  const Payload p = Payload::proto(g);
  codec()->write(msg(MessageType::response), &p, out);
  CHECK(out.body == "{\"id\":\"7\",\"result\":{\"name\":\"hi\"},\"error\":null}\n");
  CHECK(micro::get(out.header, "Micro-Id") == "7");
  CHECK(micro::get(out.header, "X-Micro-Id") == "7");
  CHECK(micro::get(out.header, "Content-Type") == "application/json-rpc");
}

TEST_CASE("codec jsonrpc writes an error envelope with null result and the error as a string") {
  auto m = msg(MessageType::error);
  m.error = R"({"id":"go.micro.server","code":404,"detail":"nope","status":"Not Found"})";
  micro::transport::Message out;
  codec()->write(m, nullptr, out);
  CHECK(out.body ==
        "{\"id\":\"7\",\"result\":null,\"error\":"
        "\"{\\\"id\\\":\\\"go.micro.server\\\",\\\"code\\\":404,\\\"detail\\\":"
        "\\\"nope\\\",\\\"status\\\":\\\"Not Found\\\"}\"}\n");
  CHECK(micro::get(out.header, "Micro-Error") == m.error);
}

TEST_CASE("codec jsonrpc reads method, endpoint, id and params[0] from a request without headers") {
  const std::string body =
      "{\"method\":\"Greeter.Hello\",\"params\":[ {\"name\":\"al\", \"count\":\"12\"} "
      "],\"id\":\"3\"}\n";
  auto m = read(body, MessageType::request);
  CHECK(m.method == "Greeter.Hello");
  CHECK(m.endpoint == "Greeter.Hello");
  CHECK(m.id == "3");
  CHECK(m.body == "{\"name\":\"al\", \"count\":\"12\"}");
  Greeting g;
  codec()->read_body(m, Payload::proto(g));
  CHECK(g.name() == "al");
  CHECK(g.count() == 12);
}

TEST_CASE("codec jsonrpc prefers the mucp headers over the request envelope") {
  const std::string body = "{\"method\":\"Greeter.Hello\",\"params\":[{}],\"id\":\"3\"}\n";
  auto m = read(body, MessageType::request, {{"Micro-Endpoint", "Other.Call"}, {"Micro-Id", "9"}});
  CHECK(m.endpoint == "Other.Call");
  CHECK(m.method == "Other.Call");
  CHECK(m.id == "9");
}

TEST_CASE("codec jsonrpc accepts a numeric request id and missing params") {
  auto m = read("{\"method\":\"A.b\",\"id\":12}", MessageType::request);
  CHECK(m.id == "12");
  CHECK(m.body == "null");
  Greeting g;
  g.set_name("stale");
  codec()->read_body(m, Payload::proto(g));
  CHECK(g.name().empty());
}

TEST_CASE("codec jsonrpc reads result and error from a response envelope") {
  auto ok =
      read("{\"id\":\"7\",\"result\":{\"name\":\"x\",\"tags\":[\"a\",\"]\"]},\"error\":null}\n",
           MessageType::response);
  CHECK(ok.error.empty());
  CHECK(ok.id == "7");
  CHECK(ok.body == "{\"name\":\"x\",\"tags\":[\"a\",\"]\"]}");
  auto failed = read("{\"id\":\"7\",\"result\":null,\"error\":\"boom\"}\n", MessageType::response,
                     {{"Micro-Error", "from header"}});
  CHECK(failed.error == "boom");  // the envelope's error wins, as in go-micro's client
  auto blank = read("{\"id\":\"7\",\"result\":null,\"error\":\"\"}\n", MessageType::response);
  CHECK(blank.error == "unspecified error");
}

TEST_CASE("codec jsonrpc refuses a response whose error is not a string") {
  require_bad_request(
      [] { read("{\"id\":\"1\",\"result\":null,\"error\":{\"code\":1}}", MessageType::response); });
  require_bad_request(
      [] { read("{\"id\":\"1\",\"result\":null,\"error\":5}", MessageType::response); });
}

TEST_CASE("codec jsonrpc refuses malformed and truncated envelopes") {
  const std::string good = "{\"method\":\"A.b\",\"params\":[{\"name\":\"x\"}],\"id\":\"1\"}\n";
  for (std::size_t n = 1; n + 1 < good.size(); ++n)
    require_bad_request([&] { read(good.substr(0, n), MessageType::request); });
  require_bad_request([] { read("[1,2]", MessageType::request); });
  require_bad_request(
      [] { read("{\"method\":\"A.b\",\"params\":{\"a\":1}}", MessageType::request); });
  require_bad_request([] { read("{\"method\":5,\"params\":[]}", MessageType::request); });
  require_bad_request(
      [] { read("{\"method\":\"A.b\",\"params\":[],\"id\":[1]}", MessageType::request); });
}

TEST_CASE("codec jsonrpc passes empty bodies and text/plain replies through without an envelope") {
  auto empty = read("", MessageType::request, {{"Micro-Endpoint", "A.b"}, {"Micro-Error", "EOS"}});
  CHECK(empty.endpoint == "A.b");
  CHECK(empty.error == "EOS");
  auto plain =
      read("Unsupported Content-Type: x", MessageType::response, {{"Content-Type", "text/plain"}});
  CHECK(plain.body == "Unsupported Content-Type: x");
}

TEST_CASE("codec jsonrpc round-trips a protobuf request and response") {
  Greeting g = bob();
  g.add_tags("a");
  g.add_tags("b\"c");
  micro::transport::Message wire;
  const Payload p = Payload::proto(g);
  codec()->write(msg(MessageType::request, "41"), &p, wire);
  micro::codec::Message m;
  wire.header.erase("Micro-Id");  // the id must also come back from the envelope
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

TEST_CASE("codec jsonrpc marshals values like codec json (events are not framed)") {
  const Greeting g = bob();
  std::string out;
  codec()->marshal(Payload::proto(g), out);
  CHECK(out == "{\"name\":\"bob\",\"count\":9007199254740993}\n");
  Greeting back;
  codec()->unmarshal(out, Payload::proto(back));
  CHECK(back.count() == g.count());
  micro::transport::Message ev;
  const Payload p = Payload::proto(g);
  codec()->write(msg(MessageType::event), &p, ev);
  CHECK(ev.body == out);
  require_bad_request([] {
    std::string s;
    codec()->unmarshal("{nope", Payload::json(s));
  });
}
