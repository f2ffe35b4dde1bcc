// transport-http on the wire: go-micro's exact request bytes, the HTTP error responses for
// limits and malformed input, the read timeout against a stalled client, and TLS.
#include <catch2/catch.hpp>

#include "http_test_util.h"

using namespace httptest;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using micro::Errc;

namespace {

const std::string kGoRequest =
    "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nMicro-Id: 1\r\n"
    "Micro-Service: greeter\r\nMicro-Endpoint: Greeter.Hello\r\nMicro-Method: Greeter.Hello\r\n"
    "Content-Length: 16\r\n\r\n{\"name\":\"John\"}\n";

std::string post(std::size_t body_len, const std::string& extra = "") {
  return "POST / HTTP/1.1\r\nHost: x\r\n" + extra + "Content-Length: " + std::to_string(body_len) +
         "\r\n\r\n";
}

/// Echo server whose sockets record their errors, plus a working second connection check.
struct Fixture {
  std::shared_ptr<micro::Transport> t;
  Server srv;
  explicit Fixture(const std::string& opts) : t(make_transport(opts)), srv(t, echo) {}
  bool other_connection_works() {
    auto c = t->dial(srv.addr());
    c->send(Message{{}, "alive"});
    Message r;
    c->recv(r, micro::Clock::now() + 5s);
    return r.body == "alive";
  }
};

}  // namespace

TEST_CASE("go-micro's request bytes become the expected Message and the reply is HTTP/1.1 200") {
  auto t = make_transport();
  Inbox inbox;
  Server srv(t, [&](std::shared_ptr<Socket> s) {
    for (;;) {
      Message m;
      s->recv(m);
      std::string id(micro::get(m.header, "Micro-Id"));
      inbox.push(std::move(m));
      s->send(Message{{{"Content-Type", "application/json"}, {"Micro-Id", id}},
                      "{\"msg\":\"Hello John\"}\n"});
    }
  });
  Fd fd(raw_connect(srv.port()));
  REQUIRE(fd >= 0);
  for (int round = 0; round < 2; ++round) {  // keep-alive: the same bytes twice
    raw_write(fd, kGoRequest);
    Message m;
    REQUIRE(inbox.pop(m));
    CHECK(m.body == "{\"name\":\"John\"}\n");
    CHECK(micro::get(m.header, "Content-Type") == "application/json");
    CHECK(micro::get(m.header, "Micro-Id") == "1");
    CHECK(micro::get(m.header, "Micro-Service") == "greeter");
    CHECK(micro::get(m.header, "Micro-Endpoint") == "Greeter.Hello");
    CHECK(micro::get(m.header, "Micro-Method") == "Greeter.Hello");
    CHECK(m.header.count("Host") == 0);

    std::string body = "{\"msg\":\"Hello John\"}\n";
    std::string resp = raw_read_until(fd, body);
    CHECK_THAT(resp, StartsWith("HTTP/1.1 200 OK\r\n"));
    CHECK_THAT(resp, Contains("\r\nContent-Length: " + std::to_string(body.size()) + "\r\n"));
    CHECK_THAT(resp, Contains("\r\nContent-Type: application/json\r\n"));
    CHECK_THAT(resp, Contains("\r\nMicro-Id: 1\r\n"));
    CHECK(resp.size() == resp.find("\r\n\r\n") + 4 + body.size());
  }
}

TEST_CASE("pipelined requests are read one message at a time") {
  auto t = make_transport();
  Inbox inbox;
  Server srv(t, [&](std::shared_ptr<Socket> s) {
    for (;;) {
      Message m;
      s->recv(m);
      inbox.push(std::move(m));
    }
  });
  Fd fd(raw_connect(srv.port()));
  raw_write(fd, post(3) + "one" + post(0) +
                    "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  Message a, b, c;
  REQUIRE(inbox.pop(a));
  REQUIRE(inbox.pop(b));
  REQUIRE(inbox.pop(c));
  CHECK(a.body == "one");
  CHECK(b.body.empty());
  CHECK(c.body == "abc");
  CHECK(c.header.count("Transfer-Encoding") == 0);
}

TEST_CASE("a body over max_body_bytes gets 413 and a closed connection; others go on") {
  Fixture f(R"({"max_body_bytes":1024})");
  Fd fd(raw_connect(f.srv.port()));
  raw_write(fd, post(4096) + std::string(4096, 'z'));
  bool eof = false;
  std::string resp = raw_read_all(fd, 5s, &eof);
  CHECK_THAT(resp, StartsWith("HTTP/1.1 413 "));
  CHECK_THAT(resp, Contains("Connection: close\r\n"));
  CHECK(eof);
  CHECK(micro::test::wait_for([&] { return f.srv.has_error(Errc::too_large); }));
  CHECK(f.other_connection_works());
}

TEST_CASE("a client socket sees the 413 as an unavailable error naming the status") {
  Fixture f(R"({"max_body_bytes":1024})");
  auto c = f.t->dial(f.srv.addr());
  c->send(Message{{}, std::string(2048, 'q')});
  Message r;
  try {
    c->recv(r, micro::Clock::now() + 5s);
    FAIL("expected an error");
  } catch (const micro::Error& e) {
    CHECK(e.errc() == Errc::unavailable);
    CHECK_THAT(e.what(), StartsWith("413 Payload Too Large: "));
  }
}

TEST_CASE("a header over max_header_bytes gets 431") {
  Fixture f(R"({"max_header_bytes":1024})");
  Fd fd(raw_connect(f.srv.port()));
  raw_write(fd, post(0, "X-Big: " + std::string(2000, 'h') + "\r\n"));
  bool eof = false;
  std::string resp = raw_read_all(fd, 5s, &eof);
  CHECK_THAT(resp, StartsWith("HTTP/1.1 431 "));
  CHECK(eof);
  CHECK(micro::test::wait_for([&] { return f.srv.has_error(Errc::too_large); }));
  CHECK(f.other_connection_works());
}

TEST_CASE("more header fields than max_header_count gets 431") {
  Fixture f(R"({"max_header_count":5})");
  std::string extra;
  for (int i = 0; i < 10; ++i) extra += "X-H" + std::to_string(i) + ": v\r\n";
  Fd fd(raw_connect(f.srv.port()));
  raw_write(fd, post(0, extra));
  std::string resp = raw_read_all(fd, 5s);
  CHECK_THAT(resp, StartsWith("HTTP/1.1 431 "));
}

TEST_CASE("a malformed request line gets 400 and bad_request") {
  Fixture f("{}");
  Fd fd(raw_connect(f.srv.port()));
  raw_write(fd, "THIS IS NOT HTTP\r\n\r\n");
  bool eof = false;
  std::string resp = raw_read_all(fd, 5s, &eof);
  CHECK_THAT(resp, StartsWith("HTTP/1.1 400 "));
  CHECK_THAT(resp, Contains("Connection: close\r\n"));
  CHECK(eof);
  CHECK(micro::test::wait_for([&] { return f.srv.has_error(Errc::bad_request); }));
  CHECK(f.other_connection_works());
}

TEST_CASE("garbage bytes close that connection only") {
  Fixture f("{}");
  std::string junk;
  for (int i = 0; i < 4096; ++i) junk += static_cast<char>((i * 7919 + 13) & 0xff);
  Fd fd(raw_connect(f.srv.port()));
  raw_write(fd, junk);
  bool eof = false;
  std::string resp = raw_read_all(fd, 5s, &eof);
  CHECK(eof);
  if (!resp.empty()) CHECK_THAT(resp, StartsWith("HTTP/1.1 4"));
  CHECK(f.other_connection_works());
}

TEST_CASE("a bad Content-Length gets 400") {
  Fixture f("{}");
  Fd fd(raw_connect(f.srv.port()));
  raw_write(fd, "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n");
  CHECK_THAT(raw_read_all(fd, 5s), StartsWith("HTTP/1.1 400 "));
}

TEST_CASE("a client that stops mid-body is closed after read_timeout_ms") {
  Fixture f(R"({"read_timeout_ms":300})");
  Fd fd(raw_connect(f.srv.port()));
  auto start = std::chrono::steady_clock::now();
  raw_write(fd, post(100) + "only ten b");
  bool eof = false;
  std::string resp = raw_read_all(fd, 5s, &eof);
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(eof);
  CHECK(took >= 250ms);
  CHECK(took < 4s);
  CHECK_THAT(resp, StartsWith("HTTP/1.1 408 "));
  CHECK(micro::test::wait_for([&] { return f.srv.has_error(Errc::timeout); }));
  CHECK(f.other_connection_works());
}

TEST_CASE("a client that sends headers slowly is closed after read_timeout_ms") {
  Fixture f(R"({"read_timeout_ms":300})");
  Fd fd(raw_connect(f.srv.port()));
  raw_write(fd, "POST / HTTP/1.1\r\nX-Slow: ");
  bool eof = false;
  raw_read_all(fd, 5s, &eof);
  CHECK(eof);
}

TEST_CASE("TLS round trip with a self-signed certificate") {
  micro::test::TempDir dir;
  auto cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
  auto res = micro::test::run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                               "1", "-subj", "/CN=localhost", "-addext",
                               "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert});
  REQUIRE(res.status == 0);
  auto server_t = make_transport(R"({"tls":{"enabled":true,"cert_file":")" + cert +
                                 R"(","key_file":")" + key + R"("}})");
  Server srv(server_t, echo);

  auto verifying = make_transport(R"({"tls":{"enabled":true,"ca_file":")" + cert + R"("}})");
  auto c = verifying->dial(srv.addr());
  for (int i = 0; i < 3; ++i) {
    Message m{{{"Micro-Id", std::to_string(i)}}, std::string(100000, static_cast<char>('a' + i))};
    c->send(m);
    Message r;
    c->recv(r, micro::Clock::now() + 5s);
    CHECK(r.body == m.body);
    CHECK(micro::get(r.header, "Micro-Id") == std::to_string(i));
  }

  // Without the CA the certificate is refused, unless verification is switched off.
  auto strict = make_transport(R"({"tls":{"enabled":true}})");
  CHECK(errc_of([&] { strict->dial(srv.addr()); }) == Errc::unavailable);
  auto lax = make_transport(R"({"tls":{"enabled":true,"insecure_skip_verify":true}})");
  auto c2 = lax->dial(srv.addr());
  c2->send(Message{{}, "lax"});
  Message r;
  c2->recv(r, micro::Clock::now() + 5s);
  CHECK(r.body == "lax");
}

TEST_CASE("tls.enabled without a certificate refuses to listen with a config error") {
  auto t = make_transport(R"({"tls":{"enabled":true}})");
  CHECK(errc_of([&] { t->listen("127.0.0.1:0"); }) == Errc::config);
}

TEST_CASE("unknown and invalid options are refused by the schema") {
  CHECK_THROWS_AS(make_transport(R"({"max_body_byte":1})"), micro::Error);
  CHECK_THROWS_AS(make_transport(R"({"read_timeout_ms":0})"), micro::Error);
  CHECK_THROWS_AS(make_transport(R"({"tls":{"enabled":"yes"}})"), micro::Error);
}
