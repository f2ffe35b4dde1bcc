#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "http_socket.h"
#include "http_transport.h"
#include "micro/errors.h"
#include "tls.h"

namespace micro::plugins::http {

namespace {
std::string bound_addr(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return sockaddr_string(&ss);
}
}  // namespace

HttpListener::HttpListener(std::shared_ptr<Shared> shared, int fd)
    : shared_(std::move(shared)),
      fd_(fd),
      wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      addr_(bound_addr(fd)),
      active_(std::make_shared<std::atomic<std::size_t>>(0)) {
  if (wake_fd_ < 0) {
    int e = errno;
    ::close(fd_);
    throw Error(Errc::internal, std::string("transport http: eventfd: ") + std::strerror(e));
  }
  std::lock_guard<std::mutex> lk(shared_->mu);
  shared_->listeners.insert(this);
  if (shared_->stopped) close();
}

HttpListener::~HttpListener() {
  close();
  {
    std::lock_guard<std::mutex> lk(shared_->mu);
    shared_->listeners.erase(this);
  }
  ::close(wake_fd_);
  ::close(fd_);
}

void HttpListener::close() noexcept {
  if (closed_.exchange(true)) return;
  std::uint64_t one = 1;
  [[maybe_unused]] auto r = ::write(wake_fd_, &one, sizeof one);
}

void HttpListener::accept(const std::function<void(std::shared_ptr<transport::Socket>)>& fn) {
  const HttpOptions& o = shared_->opts;
  while (!closed_.load()) {
    pollfd p[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int r = ::poll(p, 2, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw Error(Errc::unavailable, std::string("transport http: poll on listener ") + addr_ +
                                         ": " + std::strerror(errno));
    }
    if (closed_.load()) break;
    if ((p[0].revents & POLLIN) == 0) continue;
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) {
      int e = errno;
      if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR || e == ECONNABORTED || e == EPROTO)
        continue;
      if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
        // Out of descriptors: back off instead of spinning; existing connections go on.
        pollfd w{wake_fd_, POLLIN, 0};
        ::poll(&w, 1, 100);
        continue;
      }
      if (closed_.load()) break;
      throw Error(Errc::unavailable,
                  std::string("transport http: accept on ") + addr_ + ": " + std::strerror(e));
    }
    if (active_->load(std::memory_order_relaxed) >= o.max_connections) {
      ::close(c);  // over max_connections: refuse this one, keep the others
      continue;
    }
    int one = 1;
    ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::shared_ptr<HttpSocket> sock;
    try {
      SSL* ssl = shared_->tls ? shared_->tls->server_ssl(c) : nullptr;
      sock = std::make_shared<HttpSocket>(shared_, c, ssl, HttpSocket::Role::server, std::string(),
                                          active_);
    } catch (const Error&) {
      ::close(c);
      continue;
    }
    bool tls = shared_->tls != nullptr;
    auto read_timeout = o.read_timeout;
    bool ok = shared_->spawn([fn, sock, tls, read_timeout]() mutable {
      try {
        if (tls) sock->handshake(Clock::now() + read_timeout);
        fn(std::move(sock));
      } catch (...) {
        // A failed handshake, or an exception fn let escape: this connection ends, the
        // listener goes on (there is no caller left to report it to).
      }
      sock.reset();
    });
    if (!ok) sock->close();
  }
}

}  // namespace micro::plugins::http
