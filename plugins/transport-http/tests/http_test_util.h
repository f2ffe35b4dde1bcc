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
#include "micro/transport.h"
#include "plugin_host.h"
#include "support.h"
#include "transport_server.h"

namespace httptest {

using micro::transport::Message;
using micro::transport::Socket;
using namespace std::chrono_literals;

/// A started http transport from the .so, with plugin options (JSON text). The .so stays loaded
/// for the whole run (micro::test::plugin_loader()): an Error thrown by the plugin is an object
/// whose vtable lives in the plugin, and it may outlive every transport instance.
inline std::shared_ptr<micro::Transport> make_transport(const std::string& options = "{}") {
  return micro::test::load_plugin<micro::Transport>(micro::plugin::Kind::transport, "http",
                                                    options);
}

using Server = micro::test::TransportServer;
using micro::test::echo;

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

using micro::test::errc_of;

}  // namespace httptest
