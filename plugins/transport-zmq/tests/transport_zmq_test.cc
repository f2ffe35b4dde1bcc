// transport-zmq loaded through the plugin loader: round trips, many channels on one
// connection, streams, deadlines, close, restarts, refused input, limits, ipc and CURVE.
#include <catch2/catch.hpp>
#include <map>

#include "zmq_test_util.h"

using namespace zmqtest;
using Catch::Matchers::Contains;
using micro::Errc;

TEST_CASE("echo round trip carries headers and body") {
  auto t = make_transport();
  Server srv(t, echo);
  auto c = t->dial(srv.addr());
  Message m;
  m.header["Micro-Id"] = "7";
  m.header["Content-Type"] = "application/json";
  m.body = R"({"name":"John"})";
  c->send(m);
  Message r;
  c->recv(r, micro::Clock::now() + 5s);
  CHECK(r.body == m.body);
  CHECK(micro::get(r.header, "micro-id") == "7");
  CHECK(micro::get(r.header, "Content-Type") == "application/json");
  CHECK(c->remote() == srv.addr());
  c->send(Message{});  // an empty message too
  c->recv(r, micro::Clock::now() + 5s);
  CHECK(r.body.empty());
  CHECK(r.header.empty());
}

TEST_CASE("listen on port 0 reports the real port") {
  auto t = make_transport();
  auto l = t->listen("127.0.0.1:0");
  const auto a = l->addr();
  REQUIRE(a.rfind("127.0.0.1:", 0) == 0);
  CHECK(std::stoi(a.substr(10)) > 0);
  CHECK(errc_of([&] { t->listen(a); }) == Errc::unavailable);  // in use
  CHECK(errc_of([&] { t->listen("nonsense"); }) == Errc::unavailable);
  l->close();
  t->stop();
}

TEST_CASE("many channels on one connection from several threads get their own replies") {
  auto t = make_transport();
  Server srv(t, echo);
  constexpr int kThreads = 6, kChannels = 4, kCalls = 150;
  std::atomic<int> ok{0}, bad{0};
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      std::vector<std::unique_ptr<Socket>> socks;
      for (int c = 0; c < kChannels; ++c) socks.push_back(t->dial(srv.addr()));
      for (int i = 0; i < kCalls; ++i) {
        for (int c = 0; c < kChannels; ++c) {  // several requests in flight at once
          const std::string tag =
              std::to_string(th) + "/" + std::to_string(c) + "/" + std::to_string(i);
          socks[static_cast<size_t>(c)]->send(Message{{{"Micro-Id", tag}}, tag});
        }
        for (int c = 0; c < kChannels; ++c) {
          const std::string tag =
              std::to_string(th) + "/" + std::to_string(c) + "/" + std::to_string(i);
          Message r;
          socks[static_cast<size_t>(c)]->recv(r, micro::Clock::now() + 10s);
          (r.body == tag && micro::get(r.header, "Micro-Id") == tag ? ok : bad)++;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(bad == 0);
  CHECK(ok == kThreads * kChannels * kCalls);
  CHECK(srv.accepted() == kThreads * kChannels);  // one logical connection per channel
}

TEST_CASE("one request can get several replies") {
  auto t = make_transport();
  Server srv(t, [](std::shared_ptr<Socket> s) {
    Message m;
    s->recv(m);
    for (int i = 0; i < 3; ++i)
      s->send(Message{{{"Micro-Stream", "1"}}, "part" + std::to_string(i)});
    s->recv(m);  // until the client closes
  });
  auto c = t->dial(srv.addr(), {.stream = true});
  c->send(Message{{{"Micro-Stream", "1"}}, ""});
  for (int i = 0; i < 3; ++i) {
    Message r;
    c->recv(r, micro::Clock::now() + 5s);
    CHECK(r.body == "part" + std::to_string(i));
  }
  c->close();
  REQUIRE(micro::test::wait_for(
      [&] { return srv.has_error(Errc::closed); }));  // the handler saw the close
}

TEST_CASE("a large body within the limit round trips") {
  auto t = make_transport();
  Server srv(t, echo);
  auto c = t->dial(srv.addr());
  Message m;
  m.body.resize(12u << 20);
  for (std::size_t i = 0; i < m.body.size(); ++i) m.body[i] = static_cast<char>(i * 31 + 7);
  c->send(m);
  Message r;
  c->recv(r, micro::Clock::now() + 20s);
  CHECK(r.body == m.body);
}

TEST_CASE("recv past its deadline throws timeout and the channel stays usable") {
  auto t = make_transport();
  Server srv(t, echo);
  auto c = t->dial(srv.addr());
  Message r;
  const auto start = micro::Clock::now();
  CHECK(errc_of([&] { c->recv(r, micro::Clock::now() + 100ms); }) == Errc::timeout);
  CHECK(micro::Clock::now() - start >= 100ms);
  c->send(Message{{}, "still there"});
  c->recv(r, micro::Clock::now() + 5s);
  CHECK(r.body == "still there");
}

TEST_CASE("close() from another thread wakes a blocked recv with closed") {
  auto t = make_transport();
  Server srv(t, [](std::shared_ptr<Socket> s) {
    Message m;
    s->recv(m);
    s->recv(m);
  });
  std::shared_ptr<Socket> c = t->dial(srv.addr());
  c->send(Message{{}, "x"});
  std::thread closer([&] {
    std::this_thread::sleep_for(100ms);  // let recv block first
    c->close();
  });
  Message r;
  CHECK(errc_of([&] { c->recv(r, micro::Clock::now() + 10s); }) == Errc::closed);
  closer.join();
  CHECK(errc_of([&] { c->send(Message{}); }) == Errc::closed);
}

TEST_CASE("the server closing a channel ends the client's recv with closed") {
  auto t = make_transport();
  Server srv(t, [](std::shared_ptr<Socket> s) {
    Message m;
    s->recv(m);
    s->send(Message{{}, "bye"});
    s->close();
  });
  auto c = t->dial(srv.addr());
  c->send(Message{{}, "hi"});
  Message r;
  c->recv(r, micro::Clock::now() + 5s);  // what was sent before the close still arrives
  CHECK(r.body == "bye");
  CHECK(errc_of([&] { c->recv(r, micro::Clock::now() + 5s); }) == Errc::closed);
}

TEST_CASE("dialling an address with no listener fails with unavailable, not a hang") {
  auto t = make_transport();
  const auto start = micro::Clock::now();
  CHECK(errc_of([&] { t->dial("127.0.0.1:" + std::to_string(micro::test::free_port())); }) ==
        Errc::unavailable);
  CHECK(micro::Clock::now() - start < 3s);
  CHECK(errc_of([&] { t->dial("udp://127.0.0.1:1"); }) == Errc::unavailable);
}

TEST_CASE("after a server restart in-flight calls fail and new calls reconnect") {
  const int port = micro::test::free_port();
  const std::string addr = "127.0.0.1:" + std::to_string(port);
  auto client = make_transport(R"({"heartbeat_ms":200})");
  auto st1 = make_transport();
  auto srv1 = std::make_unique<Server>(
      st1,
      [](std::shared_ptr<Socket> s) {
        Message m;
        s->recv(m);
        if (m.body == "hang")
          s->recv(m);  // never answers
        else
          s->send(m);
        s->recv(m);
      },
      addr);
  REQUIRE(round_trip(*client, addr));
  auto inflight = client->dial(addr);
  inflight->send(Message{{}, "hang"});
  REQUIRE(micro::test::wait_for([&] { return srv1->accepted() == 2; }));
  srv1->shutdown();
  const auto start = micro::Clock::now();
  Message r;
  const auto e = errc_of([&] { inflight->recv(r, micro::Clock::now() + 20s); });
  CHECK((e == Errc::closed || e == Errc::unavailable));
  CHECK(micro::Clock::now() - start < 5s);

  auto st2 = make_transport();
  Server srv2(st2, echo, addr);
  bool ok = micro::test::wait_for([&] {
    try {
      return round_trip(*client, addr, "again");
    } catch (const micro::Error&) {
      return false;
    }
  });
  CHECK(ok);
}

TEST_CASE("garbage, truncated and unknown messages are refused while calls go on") {
  auto t = make_transport();
  Server srv(t, echo);
  zmq::context_t ctx;
  zmq::socket_t raw(ctx, zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.connect("tcp://" + srv.addr());
  send_frames(raw, {"garbage"});                                       // one frame
  send_frames(raw, {channel_frame(1), "x", "y", "z"});                 // too many frames
  send_frames(raw, {"short", header_frame("a", "b"), "body"});         // bad channel id
  send_frames(raw, {channel_frame(2), "\x7f"});                        // unknown control op
  send_frames(raw, {channel_frame(3), "\x00\x00\x00\x05zz", "body"});  // malformed header
  auto reply = recv_frames(raw);  // the malformed header is answered by a close control
  REQUIRE(reply.size() == 2);
  CHECK(reply[0] == channel_frame(3));
  CHECK(reply[1] == std::string(1, '\x01'));
  // A well-formed message on the same raw connection is served.
  send_frames(raw, {channel_frame(4), header_frame("Micro-Id", "4"), "hello"});
  reply = recv_frames(raw);
  REQUIRE(reply.size() == 3);
  CHECK(reply[0] == channel_frame(4));
  CHECK(reply[2] == "hello");
  CHECK(round_trip(*t, srv.addr()));
  CHECK(srv.accepted() == 2);  // only the well-formed channel 4 and the round trip
}

TEST_CASE("a peer that connects and sends nothing, or sends non-zmq bytes, does not stop calls") {
  auto t = make_transport();
  Server srv(t, echo);
  zmq::context_t ctx;
  zmq::socket_t silent(ctx, zmq::socket_type::dealer);
  silent.set(zmq::sockopt::linger, 0);
  silent.connect("tcp://" + srv.addr());
  zmq::socket_t stream(ctx, zmq::socket_type::stream);  // raw TCP bytes
  stream.set(zmq::sockopt::linger, 0);
  stream.connect("tcp://" + srv.addr());
  const std::string id = stream.get(zmq::sockopt::routing_id);
  send_frames(stream, {id, "GET / HTTP/1.1\r\n\r\n\xff\xff\xff\xff garbage"});
  CHECK(round_trip(*t, srv.addr()));
  CHECK(srv.accepted() == 1);
}

TEST_CASE("messages over max_message_bytes are refused on both sides") {
  auto t = make_transport(R"({"max_message_bytes":1024})");
  Server srv(t, echo);
  auto c = t->dial(srv.addr());
  CHECK(errc_of([&] { c->send(Message{{}, std::string(2000, 'x')}); }) == Errc::too_large);
  c->send(Message{{}, std::string(1000, 'y')});  // the channel is still fine
  Message r;
  c->recv(r, micro::Clock::now() + 5s);
  CHECK(r.body.size() == 1000);
  // A raw peer without the limit sends an oversized frame: libzmq drops that peer only.
  zmq::context_t ctx;
  zmq::socket_t raw(ctx, zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.connect("tcp://" + srv.addr());
  send_frames(raw, {channel_frame(9), header_frame("a", "b"), std::string(100000, 'z')});
  CHECK(recv_frames(raw, 300ms).empty());
  CHECK(round_trip(*t, srv.addr()));
  CHECK(srv.accepted() == 2);
}

TEST_CASE("a full send queue fails send with unavailable instead of growing") {
  // A raw ROUTER that never reads: the client's queues fill up.
  zmq::context_t ctx;
  zmq::socket_t sink(ctx, zmq::socket_type::router);
  sink.set(zmq::sockopt::linger, 0);
  sink.set(zmq::sockopt::rcvhwm, 1);
  sink.set(zmq::sockopt::rcvbuf, 4096);
  sink.bind("tcp://127.0.0.1:*");
  const std::string addr = sink.get(zmq::sockopt::last_endpoint);
  auto t = make_transport(R"({"sndhwm":4,"heartbeat_ms":0})");
  auto c = t->dial(addr);
  const std::string big(256 * 1024, 'b');
  std::string why;
  for (int i = 0; i < 2000 && why.empty(); ++i) {
    try {
      c->send(Message{{}, big});
    } catch (const micro::Error& e) {
      CHECK(e.errc() == Errc::unavailable);
      why = e.what();
    }
  }
  CHECK_THAT(why, Contains("send queue full"));
  t->stop();
}

TEST_CASE("idle channels are closed by the server") {
  auto t = make_transport(R"({"idle_timeout_ms":200})");
  Server srv(t, echo);
  auto c = t->dial(srv.addr());
  c->send(Message{{}, "x"});
  Message r;
  c->recv(r, micro::Clock::now() + 5s);
  CHECK(errc_of([&] { c->recv(r, micro::Clock::now() + 5s); }) == Errc::closed);
  REQUIRE(micro::test::wait_for([&] { return srv.has_error(Errc::closed); }));
}

TEST_CASE("logical connections beyond max_connections are refused") {
  auto t = make_transport(R"({"max_connections":2})");
  Server srv(t, echo);
  auto a = t->dial(srv.addr());
  auto b = t->dial(srv.addr());
  a->send(Message{{}, "a"});
  b->send(Message{{}, "b"});
  Message r;
  a->recv(r, micro::Clock::now() + 5s);
  b->recv(r, micro::Clock::now() + 5s);
  auto c = t->dial(srv.addr());
  c->send(Message{{}, "c"});
  CHECK(errc_of([&] { c->recv(r, micro::Clock::now() + 5s); }) == Errc::closed);
  a->close();
  REQUIRE(micro::test::wait_for([&] {
    try {
      return round_trip(*t, srv.addr());
    } catch (const micro::Error&) {
      return false;
    }
  }));
}

TEST_CASE("ipc:// addresses work") {
  micro::test::TempDir dir;
  const std::string addr = "ipc://" + (dir / "sock").string();
  auto t = make_transport();
  Server srv(t, echo, addr);
  CHECK(srv.addr() == addr);
  CHECK(round_trip(*t, addr, "over ipc"));
}

TEST_CASE("CURVE encrypts when keys are configured and refuses a wrong server key") {
  char spub[41], ssec[41], opub[41], osec[41];
  REQUIRE(zmq_curve_keypair(spub, ssec) == 0);
  REQUIRE(zmq_curve_keypair(opub, osec) == 0);
  auto st = make_transport(std::string(R"({"curve":{"secret_key":")") + ssec + R"("}})");
  Server srv(st, echo);
  auto good = make_transport(std::string(R"({"curve":{"server_key":")") + spub + R"("}})");
  CHECK(round_trip(*good, srv.addr(), "secret"));
  auto wrong = make_transport(std::string(R"({"curve":{"server_key":")") + opub + R"("}})");
  CHECK(errc_of([&] { wrong->dial(srv.addr(), {.timeout = 2000ms}); }) != Errc::ok);
  auto plain = make_transport();
  CHECK(errc_of([&] { plain->dial(srv.addr(), {.timeout = 2000ms}); }) != Errc::ok);
}

TEST_CASE("bad options are refused with config errors") {
  CHECK(errc_of([] { make_transport(R"({"curve":{"server_key":"short"}})"); }) == Errc::config);
  CHECK(errc_of([] { make_transport(R"({"sndhwm":0})"); }) != Errc::ok);
}
