// Helpers for the transport-http tests: the plugin loaded through the loader, a listener
// running accept() on a thread, and raw loopback sockets for byte-exact checks.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "micro/errors.h"
#include "micro/loader.h"
#include "micro/transport.h"
#include "support.h"

namespace httptest {

using micro::transport::Message;
using micro::transport::Socket;
using namespace std::chrono_literals;

class NoHost final : public micro::plugin::Host {
 public:
  std::shared_ptr<micro::Registry> registry() override { throw none(); }
  std::shared_ptr<micro::Transport> transport() override { throw none(); }
  std::shared_ptr<micro::Broker> broker() override { throw none(); }
  std::shared_ptr<micro::Selector> selector() override { throw none(); }
  std::shared_ptr<micro::Codec> codec(std::string_view) override { throw none(); }

 private:
  static micro::Error none() { return micro::Error(micro::Errc::plugin, "not required"); }
};

inline micro::plugin::Loader& loader() {
  static micro::plugin::Loader l(micro::plugin::LoaderOptions{{micro::test::plugin_dir()}});
  return l;
}

/// A started http transport from the .so, with plugin options (JSON text).
inline std::shared_ptr<micro::Transport> make_transport(const std::string& options = "{}") {
  NoHost host;
  auto d = loader().find(micro::plugin::Kind::transport, "http");
  auto t = std::dynamic_pointer_cast<micro::Transport>(loader().create(d, host));
  if (!t) throw std::runtime_error("plugin is not a micro::Transport");
  micro::Transport::Options o;
  o.plugin_options = micro::plugin::validate_options(d.options_schema, options, "transport http");
  t->init(o);
  t->start();
  return t;
}

/// Listens on 127.0.0.1:0 and runs accept(handler) on a thread; records the Errc of every
/// exception a handler's recv() throws. The destructor stops the transport, which closes every
/// socket and joins the connection threads, so no handler outlives this object.
class Server {
 public:
  using Handler = std::function<void(std::shared_ptr<Socket>)>;
  Server(std::shared_ptr<micro::Transport> t, Handler h)
      : transport_(t), listener_(t->listen("127.0.0.1:0")) {
    handler_ = [this, h](std::shared_ptr<Socket> s) {
      ++accepted_;
      try {
        h(std::move(s));
      } catch (const micro::Error& e) {
        std::lock_guard<std::mutex> lk(mu_);
        errors_.push_back(e.errc());
        messages_.push_back(e.what());
      }
    };
    thread_ = std::thread([this] { listener_->accept(handler_); });
  }
  ~Server() {
    listener_->close();
    thread_.join();
    transport_->stop();
  }
  std::string addr() const { return listener_->addr(); }
  int port() const { return std::stoi(addr().substr(addr().rfind(':') + 1)); }
  int accepted() const { return accepted_.load(); }
  bool has_error(micro::Errc e) {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto x : errors_)
      if (x == e) return true;
    return false;
  }
  std::string error_text() {
    std::lock_guard<std::mutex> lk(mu_);
    std::string s;
    for (auto& m : messages_) s += m + "\n";
    return s;
  }

 private:
  std::shared_ptr<micro::Transport> transport_;
  std::unique_ptr<micro::transport::Listener> listener_;
  Handler handler_;
  std::thread thread_;
  std::atomic<int> accepted_{0};
  std::mutex mu_;
  std::vector<micro::Errc> errors_;
  std::vector<std::string> messages_;
};

/// Echoes every request as one response until recv throws (rethrown for the Server to record).
inline void echo(std::shared_ptr<Socket> s) {
  for (;;) {
    Message m;
    s->recv(m);
    s->send(m);
  }
}

/// A thread-safe queue of messages received by handlers.
class Inbox {
 public:
  void push(Message m) {
    std::lock_guard<std::mutex> lk(mu_);
    q_.push_back(std::move(m));
    cv_.notify_all();
  }
  bool pop(Message& m, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock<std::mutex> lk(mu_);
    if (!cv_.wait_for(lk, timeout, [&] { return !q_.empty(); })) return false;
    m = std::move(q_.front());
    q_.pop_front();
    return true;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Message> q_;
};

// ---- raw sockets ----

inline int raw_connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

inline void raw_write(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    auto n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

/// Reads until EOF (or error) or timeout. eof is set when the peer closed.
inline std::string raw_read_all(int fd, std::chrono::milliseconds timeout, bool* eof = nullptr) {
  std::string out;
  auto end = std::chrono::steady_clock::now() + timeout;
  if (eof) *eof = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return out;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[65536];
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      if (eof) *eof = true;
      return out;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
}

/// Reads until `until` occurs in the data (or timeout / EOF).
inline std::string raw_read_until(int fd, const std::string& until,
                                  std::chrono::milliseconds timeout = 5s) {
  std::string out;
  auto end = std::chrono::steady_clock::now() + timeout;
  while (out.find(until) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[65536];
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

struct Fd {
  int fd;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  operator int() const { return fd; }
};

template <class F>
micro::Errc errc_of(F&& f) {
  try {
    f();
  } catch (const micro::Error& e) {
    return e.errc();
  }
  return micro::Errc::ok;
}

}  // namespace httptest
