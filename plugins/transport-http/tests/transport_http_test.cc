// transport-http loaded through the plugin loader: message round trips, keep-alive, unpaired
// responses, header names, deadlines, close(), stop() and the connection limit.
#include <catch2/catch.hpp>

#include "http_test_util.h"

using namespace httptest;
using Catch::Matchers::Contains;
using micro::Errc;

TEST_CASE("echo round trip carries headers and body") {
  auto t = make_transport();
  Server srv(t, echo);
  auto c = t->dial(srv.addr());
  Message m;
  m.header["micro-id"] = "7";
  m.header["Content-Type"] = "application/json";
  m.body = R"({"name":"John"})";
  c->send(m);
  Message r;
  c->recv(r, micro::Clock::now() + 5s);
  CHECK(r.body == m.body);
  CHECK(micro::get(r.header, "Micro-Id") == "7");
  CHECK(micro::get(r.header, "content-type") == "application/json");
  CHECK(r.header.count("Content-Length") == 1);
  CHECK(c->remote() == srv.addr());
  CHECK_THAT(c->local(), Contains("127.0.0.1:"));
}

TEST_CASE("an empty body round trips with Content-Length 0") {
  auto t = make_transport();
  Server srv(t, echo);
  auto c = t->dial(srv.addr());
  Message m;
  m.header["Micro-Error"] = "EOS";
  c->send(m);
  Message r;
  c->recv(r, micro::Clock::now() + 5s);
  CHECK(r.body.empty());
  CHECK(micro::get(r.header, "Content-Length") == "0");
  CHECK(micro::get(r.header, "Micro-Error") == "EOS");
}

TEST_CASE("one connection carries many sequential messages") {
  auto t = make_transport();
  Server srv(t, echo);
  auto c = t->dial(srv.addr());
  for (int i = 0; i < 2000; ++i) {
    Message m;
    m.header["Micro-Id"] = std::to_string(i);
    m.body = std::string(static_cast<std::size_t>(i % 97), 'x') + std::to_string(i);
    c->send(m);
    Message r;
    c->recv(r, micro::Clock::now() + 5s);
    REQUIRE(r.body == m.body);
    REQUIRE(micro::get(r.header, "Micro-Id") == std::to_string(i));
  }
  CHECK(srv.accepted() == 1);
}

TEST_CASE("one request can get several responses") {
  auto t = make_transport();
  Server srv(t, [](std::shared_ptr<Socket> s) {
    Message m;
    s->recv(m);
    for (int i = 0; i < 3; ++i) {
      Message r;
      r.header["Micro-Stream"] = "1";
      r.body = "part" + std::to_string(i);
      s->send(r);
    }
    Message more;
    s->recv(more);  // until the client closes
  });
  auto c = t->dial(srv.addr(), {.stream = true});
  c->send(Message{{{"Micro-Stream", "1"}}, ""});
  for (int i = 0; i < 3; ++i) {
    Message r;
    c->recv(r, micro::Clock::now() + 5s);
    CHECK(r.body == "part" + std::to_string(i));
  }
}

TEST_CASE("header names arrive canonical and match without regard to case") {
  auto t = make_transport();
  Inbox inbox;
  Server srv(t, [&](std::shared_ptr<Socket> s) {
    Message m;
    s->recv(m);
    inbox.push(m);
    s->send(Message{{{"x-MICRO-trace-ID", "abc"}}, "ok"});
    s->recv(m);
  });
  auto c = t->dial(srv.addr());
  c->send(Message{{{"MICRO-SERVICE", "greeter"}, {"micro-endpoint", "Greeter.Hello"}}, "{}"});
  Message got;
  REQUIRE(inbox.pop(got));
  CHECK(got.header.count("Micro-Service") == 1);
  bool canonical = false;
  for (auto& [k, v] : got.header)
    if (k == "Micro-Service" && v == "greeter") canonical = true;
  CHECK(canonical);
  CHECK(micro::get(got.header, "micro-endpoint") == "Greeter.Hello");
  CHECK(got.header.count("Host") == 0);  // Go moves Host out of the header map
  Message r;
  c->recv(r, micro::Clock::now() + 5s);
  bool resp_canonical = false;
  for (auto& [k, v] : r.header)
    if (k == "X-Micro-Trace-Id" && v == "abc") resp_canonical = true;
  CHECK(resp_canonical);
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
  CHECK(r.body.size() == m.body.size());
  CHECK(r.body == m.body);
}

TEST_CASE("recv past its deadline throws timeout and the socket stays usable") {
  auto t = make_transport();
  Server srv(t, echo);
  auto c = t->dial(srv.addr());
  Message r;
  auto start = micro::Clock::now();
  CHECK(errc_of([&] { c->recv(r, micro::Clock::now() + 100ms); }) == Errc::timeout);
  CHECK(micro::Clock::now() - start >= 100ms);
  c->send(Message{{}, "still there"});
  c->recv(r, micro::Clock::now() + 5s);
  CHECK(r.body == "still there");
}

TEST_CASE("close() from another thread wakes a blocked recv with closed") {
  auto t = make_transport();
  Server srv(t, echo);
  auto c = t->dial(srv.addr());
  std::atomic<bool> entered{false};
  Errc got = Errc::ok;
  std::thread th([&] {
    Message r;
    entered = true;
    got = errc_of([&] { c->recv(r); });
  });
  REQUIRE(micro::test::wait_for([&] { return entered.load(); }));
  std::this_thread::sleep_for(50ms);  // let it block in poll(); the result is the same if not
  c->close();
  c->close();  // idempotent
  th.join();
  CHECK(got == Errc::closed);
  CHECK(errc_of([&] { c->send(Message{}); }) == Errc::closed);
}

TEST_CASE("closing a server socket wakes its blocked recv") {
  auto t = make_transport();
  std::shared_ptr<Socket> held;
  std::mutex mu;
  Server srv(t, [&](std::shared_ptr<Socket> s) {
    {
      std::lock_guard<std::mutex> lk(mu);
      held = s;
    }
    Message m;
    s->recv(m);
  });
  auto c = t->dial(srv.addr());
  REQUIRE(micro::test::wait_for([&] {
    std::lock_guard<std::mutex> lk(mu);
    return held != nullptr;
  }));
  {
    std::lock_guard<std::mutex> lk(mu);
    held->close();
  }
  REQUIRE(micro::test::wait_for([&] { return srv.has_error(Errc::closed); }));
  Message r;
  CHECK(errc_of([&] { c->recv(r, micro::Clock::now() + 5s); }) == Errc::closed);
}

TEST_CASE("concurrent sends are never interleaved") {
  auto t = make_transport();
  Inbox inbox;
  Server srv(t, [&](std::shared_ptr<Socket> s) {
    for (;;) {
      Message m;
      s->recv(m);
      inbox.push(std::move(m));
    }
  });
  auto c = t->dial(srv.addr());
  std::vector<std::thread> senders;
  for (int k = 0; k < 4; ++k) {
    senders.emplace_back([&, k] {
      for (int i = 0; i < 200; ++i) {
        Message m;
        m.header["Sender"] = std::to_string(k);
        m.body = std::string(static_cast<std::size_t>(5000 + k), static_cast<char>('a' + k));
        c->send(m);
      }
    });
  }
  for (auto& th : senders) th.join();
  for (int i = 0; i < 800; ++i) {
    Message m;
    REQUIRE(inbox.pop(m));
    int k = std::stoi(std::string(micro::get(m.header, "Sender")));
    REQUIRE(m.body == std::string(static_cast<std::size_t>(5000 + k), static_cast<char>('a' + k)));
  }
}

TEST_CASE("connections over max_connections are closed and the others keep working") {
  auto t = make_transport(R"({"max_connections":2})");
  Server srv(t, echo);
  auto round_trip = [](Socket& s, const std::string& body) {
    s.send(Message{{}, body});
    Message r;
    s.recv(r, micro::Clock::now() + 5s);
    return r.body;
  };
  auto a = t->dial(srv.addr());
  auto b = t->dial(srv.addr());
  CHECK(round_trip(*a, "a") == "a");
  CHECK(round_trip(*b, "b") == "b");
  auto c = t->dial(srv.addr());
  CHECK(errc_of([&] { round_trip(*c, "c"); }) == Errc::closed);
  CHECK(round_trip(*a, "a2") == "a2");
  CHECK(round_trip(*b, "b2") == "b2");
  a->close();
  CHECK(micro::test::wait_for([&] {
    try {
      auto d = t->dial(srv.addr());
      return round_trip(*d, "d") == "d";
    } catch (const micro::Error&) {
      return false;
    }
  }));
}

TEST_CASE("an idle server connection is closed after idle_timeout_ms") {
  auto t = make_transport(R"({"idle_timeout_ms":200})");
  Server srv(t, echo);
  auto c = t->dial(srv.addr());
  Message r;
  CHECK(errc_of([&] { c->recv(r, micro::Clock::now() + 5s); }) == Errc::closed);
  CHECK(micro::test::wait_for([&] { return srv.has_error(Errc::closed); }));
}

TEST_CASE("stop() closes listeners and sockets and joins connection threads") {
  auto t = make_transport();
  auto l = t->listen("127.0.0.1:0");
  std::thread acceptor([&] { l->accept(echo); });
  auto c = t->dial(l->addr());
  c->send(Message{{}, "x"});
  Message r;
  c->recv(r, micro::Clock::now() + 5s);
  t->stop();
  acceptor.join();  // accept() returned
  CHECK(errc_of([&] { c->recv(r, micro::Clock::now() + 5s); }) == Errc::closed);
  CHECK(errc_of([&] { t->dial(l->addr()); }) == Errc::closed);
}

TEST_CASE("dialling a closed port fails with unavailable") {
  auto t = make_transport();
  int port = micro::test::free_port();
  CHECK(errc_of([&] { t->dial("127.0.0.1:" + std::to_string(port)); }) == Errc::unavailable);
  CHECK(errc_of([&] { t->dial("no-port-here"); }) == Errc::unavailable);
}

TEST_CASE("listen on port 0 reports the bound port") {
  auto t = make_transport();
  auto l = t->listen("127.0.0.1:0");
  CHECK_THAT(l->addr(), Contains("127.0.0.1:"));
  CHECK(l->addr() != "127.0.0.1:0");
  CHECK(errc_of([&] { t->listen(l->addr()); }) == Errc::unavailable);  // in use
}

TEST_CASE("a non-200 response is an unavailable error with the status line and body") {
  auto t = make_transport();
  int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(lfd, 4) == 0);
  socklen_t len = sizeof a;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
  Fd lguard(lfd);
  auto c = t->dial("127.0.0.1:" + std::to_string(ntohs(a.sin_port)));
  Fd s(::accept(lfd, nullptr, nullptr));
  c->send(Message{{}, "hi"});
  std::string req = raw_read_until(s, "\r\n\r\nhi");
  CHECK(req.rfind("POST / HTTP/1.1\r\nHost: 127.0.0.1:", 0) == 0);
  raw_write(s,
            "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops"
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  Message r;
  try {
    c->recv(r, micro::Clock::now() + 5s);
    FAIL("expected an error");
  } catch (const micro::Error& e) {
    CHECK(e.errc() == Errc::unavailable);
    CHECK(std::string(e.what()) == "500 Internal Server Error: oops");
  }
  c->recv(r, micro::Clock::now() + 5s);  // framing intact: the next response reads fine
  CHECK(r.body == "ok");
}
