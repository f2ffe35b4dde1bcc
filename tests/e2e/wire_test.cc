// go-micro's exact bytes on the HTTP port (spec/gomicro-wire.md §1-§3), and bad input that must
// get an error reply or a closed connection while the server keeps serving others.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "e2e.h"
#include "greeter.pb.h"
#include "micro/metadata.h"
#include "micro/registry.h"

using namespace micro::test;
using nlohmann::json;

namespace {

struct HttpResponse {
  std::string status_line;
  int status = 0;
  micro::Metadata headers;
  std::string body;
};

class Raw {
 public:
  explicit Raw(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~Raw() { ::close(fd_); }
  void send(const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
      auto n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;  // the server may close early: that is checked by read()
      off += std::size_t(n);
    }
  }
  // Reads one HTTP response; nullopt when the connection closed first or nothing came in time.
  std::optional<HttpResponse> read(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    std::size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill(end)) return std::nullopt;
    HttpResponse r;
    std::string head = buf_.substr(0, head_end);
    buf_.erase(0, head_end + 4);
    auto eol = head.find("\r\n");
    r.status_line = head.substr(0, eol);
    r.status = std::stoi(r.status_line.substr(9, 3));
    std::size_t pos = eol == std::string::npos ? head.size() : eol + 2;
    while (pos < head.size()) {
      auto e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      auto line = head.substr(pos, e - pos);
      auto colon = line.find(':');
      auto v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      r.headers.emplace(line.substr(0, colon), v);
      pos = e + 2;
    }
    std::size_t len =
        std::stoul(std::string(micro::get(r.headers, "Content-Length").empty()
                                   ? "0"
                                   : std::string(micro::get(r.headers, "Content-Length"))));
    while (buf_.size() < len)
      if (!fill(end)) return std::nullopt;
    r.body = buf_.substr(0, len);
    buf_.erase(0, len);
    return r;
  }
  // True when the peer closed the connection (after any pending response bytes).
  bool closed(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    buf_.clear();
    while (true) {
      char b[4096];
      pollfd p{fd_, POLLIN, 0};
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      end - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0 || ::poll(&p, 1, int(left)) <= 0) return false;
      auto n = ::recv(fd_, b, sizeof b, 0);
      if (n <= 0) return true;
    }
  }

 private:
  bool fill(std::chrono::steady_clock::time_point end) {
    char b[65536];
    pollfd p{fd_, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    end - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0 || ::poll(&p, 1, int(left)) <= 0) return false;
    auto n = ::recv(fd_, b, sizeof b, 0);
    if (n <= 0) return false;
    buf_.append(b, std::size_t(n));
    return true;
  }
  int fd_ = -1;
  std::string buf_;
};

std::string request(const std::string& body,
                    std::vector<std::pair<std::string, std::string>> headers) {
  std::string r = "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Go-http-client/1.1\r\n";
  for (auto& [k, v] : headers) r += k + ": " + v + "\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return r;
}

std::vector<std::pair<std::string, std::string>> hello_headers(const std::string& ct,
                                                               const std::string& id = "7") {
  return {{"Content-Type", ct},
          {"Accept", ct},
          {"Micro-Id", id},
          {"Micro-Service", "greeter"},
          {"Micro-Endpoint", "Greeter.Hello"},
          {"Micro-Method", "Greeter.Hello"},
          {"Timeout", "5000000000"}};
}

struct Greeter {
  Cluster c;
  int port = free_port();
  std::unique_ptr<Process> p =
      c.start("greeter-server", {{"MICRO_SERVER_ADDRESS", "127.0.0.1:" + std::to_string(port)}},
              "greeter", "Greeter.Hello");

  // The server still answers a normal call on a new connection.
  void still_serving() {
    Raw r(port);
    r.send(request("{\"name\":\"again\"}\n", hello_headers("application/json")));
    auto rsp = r.read();
    REQUIRE(rsp);
    CHECK(rsp->body == "{\"msg\":\"Hello again\"}\n");
  }
};

}  // namespace

TEST_CASE("a go-micro JSON request gets go-micro's JSON reply") {
  Greeter g;
  Raw r(g.port);
  r.send(request("{\"name\":\"John\"}\n", hello_headers("application/json")));
  auto rsp = r.read();
  REQUIRE(rsp);
  CHECK(rsp->status == 200);
  CHECK(rsp->status_line == "HTTP/1.1 200 OK");
  CHECK(micro::get(rsp->headers, "Micro-Id") == "7");
  CHECK(micro::get(rsp->headers, "Content-Type") == "application/json");
  CHECK(micro::get(rsp->headers, "Micro-Error").empty());
  CHECK(rsp->body == "{\"msg\":\"Hello John\"}\n");

  // Many sequential calls on one kept-alive connection, ids spelled Micro-ID as v4.10+ does.
  for (int i = 0; i < 20; ++i) {
    auto h = hello_headers("application/json");
    h[2] = {"Micro-ID", std::to_string(100 + i)};
    r.send(request("{\"name\":\"n" + std::to_string(i) + "\"}\n", h));
    auto next = r.read();
    REQUIRE(next);
    CHECK(next->body == "{\"msg\":\"Hello n" + std::to_string(i) + "\"}\n");
    CHECK(micro::get(next->headers, "Micro-Id") == std::to_string(100 + i));
  }
}

TEST_CASE("a go-micro protobuf request gets a protobuf reply, and protobuf is the default") {
  Greeter g;
  greeter::HelloRequest req;
  req.set_name("Proto");
  Raw r(g.port);
  r.send(request(req.SerializeAsString(), hello_headers("application/protobuf")));
  auto rsp = r.read();
  REQUIRE(rsp);
  CHECK(micro::get(rsp->headers, "Content-Type") == "application/protobuf");
  greeter::HelloResponse out;
  REQUIRE(out.ParseFromString(rsp->body));
  CHECK(out.msg() == "Hello Proto");

  auto h = hello_headers("application/protobuf");
  h.erase(h.begin(), h.begin() + 2);  // no Content-Type, no Accept
  r.send(request(req.SerializeAsString(), h));
  rsp = r.read();
  REQUIRE(rsp);
  greeter::HelloResponse out2;
  REQUIRE(out2.ParseFromString(rsp->body));
  CHECK(out2.msg() == "Hello Proto");
}

TEST_CASE("handler errors travel in Micro-Error with status 200 and an empty body") {
  Greeter g;
  Raw r(g.port);
  r.send(request("{\"name\":\"\"}\n", hello_headers("application/json")));
  auto rsp = r.read();
  REQUIRE(rsp);
  CHECK(rsp->status == 200);
  CHECK(rsp->body.empty());
  auto err = parse_json(std::string(micro::get(rsp->headers, "Micro-Error")));
  CHECK(err["code"] == 400);
  CHECK(err["id"] == "greeter");
  CHECK(err["detail"] == "name is required");
  CHECK(err["status"] == "Bad Request");
  CHECK(micro::get(rsp->headers, "X-Micro-Error") == micro::get(rsp->headers, "Micro-Error"));
}

TEST_CASE("a stream follows go-micro's frames: first body dropped, replies, then EOS") {
  Greeter g;
  Raw r(g.port);
  auto h = hello_headers("application/json", "3");
  h[4] = {"Micro-Endpoint", "Greeter.Stream"};
  h[5] = {"Micro-Method", "Greeter.Stream"};
  h.push_back({"Micro-Stream", "3"});
  r.send(request("{}\n", h));  // the generated Go client's empty first message
  r.send(request("{\"count\":2}\n", h));
  for (int i = 0; i < 2; ++i) {
    auto rsp = r.read();
    REQUIRE(rsp);
    CHECK(micro::get(rsp->headers, "Micro-Id") == "3");
    CHECK(parse_json(rsp->body)["msg"] == "message " + std::to_string(i));
  }
  auto eos = r.read();
  REQUIRE(eos);
  CHECK(micro::get(eos->headers, "Micro-Error") == "EOS");
}

TEST_CASE("bad input gets an error reply or a closed connection, and the server keeps serving") {
  Greeter g;
  SECTION("malformed request line") {
    Raw r(g.port);
    r.send("GARBAGE\r\n\r\n");
    auto rsp = r.read();
    if (rsp) CHECK(rsp->status == 400);
    CHECK(r.closed());
  }
  SECTION("huge headers") {
    Raw r(g.port);
    r.send("POST / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(1 << 20, 'a') +
           "\r\nContent-Length: 0\r\n\r\n");
    auto rsp = r.read();
    if (rsp) CHECK(rsp->status == 431);
    CHECK(r.closed());
  }
  SECTION("a body past the limit") {
    Raw r(g.port);
    r.send(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
        "1000000000\r\n\r\n{");
    auto rsp = r.read();
    REQUIRE(rsp);
    CHECK(rsp->status == 413);
    CHECK(r.closed());
  }
  SECTION("garbage Timeout") {
    Raw r(g.port);
    auto h = hello_headers("application/json");
    h[6] = {"Timeout", "soon"};
    r.send(request("{\"name\":\"x\"}\n", h));
    auto rsp = r.read();
    REQUIRE(rsp);
    CHECK(parse_json(std::string(micro::get(rsp->headers, "Micro-Error")))["code"] == 400);
  }
  SECTION("unknown content type") {
    Raw r(g.port);
    r.send(request("x", hello_headers("application/x-unknown")));
    auto rsp = r.read();
    REQUIRE(rsp);
    CHECK(micro::get(rsp->headers, "Content-Type") == "text/plain");
    CHECK(rsp->body == "Unsupported Content-Type: application/x-unknown");
  }
  SECTION("unknown endpoint") {
    Raw r(g.port);
    auto h = hello_headers("application/json");
    h[4] = {"Micro-Endpoint", "Greeter.Nope"};
    h[5] = {"Micro-Method", "Greeter.Nope"};
    r.send(request("{}\n", h));
    auto rsp = r.read();
    REQUIRE(rsp);
    CHECK(parse_json(std::string(micro::get(rsp->headers, "Micro-Error")))["code"] == 404);
  }
  SECTION("malformed JSON body") {
    Raw r(g.port);
    r.send(request("{not json", hello_headers("application/json")));
    auto rsp = r.read();
    REQUIRE(rsp);
    CHECK(parse_json(std::string(micro::get(rsp->headers, "Micro-Error")))["code"] == 400);
  }
  g.still_serving();
}

TEST_CASE("a legacy json-rpc request (no Micro-* headers) gets a json-rpc reply") {
  Greeter g;
  Raw r(g.port);
  r.send(request("{\"method\":\"Greeter.Hello\",\"params\":[{\"name\":\"Old\"}],\"id\":\"5\"}\n",
                 {{"Content-Type", "application/json"}}));
  auto rsp = r.read();
  REQUIRE(rsp);
  CHECK(micro::get(rsp->headers, "Content-Type") == "application/json-rpc");
  auto j = parse_json(rsp->body);
  CHECK(j["id"] == "5");
  CHECK(j["result"] == json{{"msg", "Hello Old"}});
  CHECK(j["error"].is_null());

  // An error travels in the envelope's error string.
  r.send(request("{\"method\":\"Greeter.Hello\",\"params\":[{\"name\":\"\"}],\"id\":\"6\"}\n",
                 {{"Content-Type", "application/json-rpc"}, {"Micro-Endpoint", "Greeter.Hello"}}));
  rsp = r.read();
  REQUIRE(rsp);
  auto e = parse_json(rsp->body);
  CHECK(e["result"].is_null());
  CHECK(parse_json(e["error"].get<std::string>())["code"] == 400);
}

TEST_CASE("a legacy proto-rpc request gets a proto-rpc reply") {
  Greeter g;
  greeter::HelloRequest req;
  req.set_name("Frame");
  // [u32 BE len][Request{service_method=1, seq=2 fixed64}][u32 BE len][payload]
  auto be32 = [](std::size_t n) {
    std::string s(4, '\0');
    s[0] = char((n >> 24) & 0xff), s[1] = char((n >> 16) & 0xff), s[2] = char((n >> 8) & 0xff),
    s[3] = char(n & 0xff);
    return s;
  };
  std::string env;
  env += char(0x0a);
  env += char(13);
  env += "Greeter.Hello";
  env += char(0x11);
  env += std::string("\x09\0\0\0\0\0\0\0", 8);  // seq 9, little-endian fixed64
  const std::string payload = req.SerializeAsString();
  const std::string body = be32(env.size()) + env + be32(payload.size()) + payload;
  Raw r(g.port);
  r.send(request(body, {{"Content-Type", "application/protobuf"}}));
  auto rsp = r.read();
  REQUIRE(rsp);
  CHECK(micro::get(rsp->headers, "Content-Type") == "application/proto-rpc");
  const std::string& b = rsp->body;
  REQUIRE(b.size() > 8);
  auto rd32 = [&](std::size_t off) {
    return (std::size_t(uint8_t(b[off])) << 24) | (std::size_t(uint8_t(b[off + 1])) << 16) |
           (std::size_t(uint8_t(b[off + 2])) << 8) | std::size_t(uint8_t(b[off + 3]));
  };
  const std::size_t env_len = rd32(0);
  REQUIRE(4 + env_len + 4 <= b.size());
  CHECK(b.substr(4, env_len).find("Greeter.Hello") != std::string::npos);
  const std::size_t pay_len = rd32(4 + env_len);
  greeter::HelloResponse out;
  REQUIRE(out.ParseFromString(b.substr(8 + env_len, pay_len)));
  CHECK(out.msg() == "Hello Frame");
}

TEST_CASE("our client speaks json-rpc to a node registered without protocol metadata") {
  Greeter g;
  // An old go-micro server's registration: no "protocol" key in the node metadata.
  micro::registry::Service old{
      "oldgreeter",
      "1.0",
      {},
      {},
      {{"oldgreeter-1", "127.0.0.1:" + std::to_string(g.port), {{"transport", "http"}}}}};
  const auto file = g.c.dir / "registry" / "oldgreeter" / "oldgreeter-1.json";
  write_file(file, micro::registry::to_json(old));
  // registry-file: a node is live while its file's mtime is in the future (README).
  std::filesystem::last_write_time(
      file, std::filesystem::file_time_type::clock::now() + std::chrono::hours(1));
  auto r = g.c.micro({"call", "oldgreeter", "Greeter.Hello", R"({"name":"Legacy"})", "-v"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(parse_json(r.out) == json{{"msg", "Hello Legacy"}});
  CHECK(r.err.find("application/json-rpc") != std::string::npos);
}
