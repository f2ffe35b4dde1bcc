#include "conn.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/ssl/error.hpp>
#include <cerrno>

namespace micro::plugins::http {
namespace asio_error = boost::asio::error;

Conn::~Conn() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (fd_ >= 0) ::close(fd_);
}

bool Conn::shutdown() noexcept {
  if (closed_.exchange(true, std::memory_order_acq_rel)) return false;
  // Wakes a poll() in another thread (POLLHUP); the fd stays valid until the destructor.
  ::shutdown(fd_, SHUT_RDWR);
  return true;
}

bool Conn::wait(short events, Deadline deadline, error_code& ec) {
  for (;;) {
    if (closed()) {
      ec = asio_error::operation_aborted;
      return false;
    }
    int timeout_ms = -1;
    if (deadline != no_deadline) {
      auto left = deadline - Clock::now();
      if (left <= Clock::duration::zero()) {
        ec = asio_error::timed_out;
        return false;
      }
      // Round up so we never spin on a sub-millisecond remainder.
      timeout_ms = static_cast<int>(
          std::min<long long>(std::chrono::ceil<std::chrono::milliseconds>(left).count(), 1 << 30));
    }
    pollfd p{fd_, events, 0};
    int r = ::poll(&p, 1, timeout_ms);
    if (r > 0) return true;  // ready, or HUP/ERR: the next I/O call reports it
    if (r < 0 && errno != EINTR) {
      ec = error_code(errno, boost::system::system_category());
      return false;
    }
  }
}

template <class Op>
long Conn::tls_op(Op op, short& want, error_code& ec) {
  std::lock_guard<std::mutex> lk(io_mu_);
  ERR_clear_error();
  errno = 0;
  int r = op();
  if (r > 0) return r;
  switch (SSL_get_error(ssl_, r)) {
    case SSL_ERROR_WANT_READ: want = POLLIN; return 0;
    case SSL_ERROR_WANT_WRITE: want = POLLOUT; return 0;
    case SSL_ERROR_ZERO_RETURN: ec = asio_error::eof; return -1;
    case SSL_ERROR_SYSCALL:
      if (errno == 0 || errno == EPIPE || errno == ECONNRESET)
        ec = asio_error::eof;
      else
        ec = error_code(errno, boost::system::system_category());
      return -1;
    default:
      ec = error_code(static_cast<int>(ERR_get_error()), boost::asio::error::get_ssl_category());
      if (!ec) ec = asio_error::eof;
      return -1;
  }
}

std::size_t Conn::read(void* p, std::size_t n, error_code& ec) {
  ec = {};
  for (;;) {
    if (closed()) {
      ec = asio_error::operation_aborted;
      return 0;
    }
    short want = POLLIN;
    long r;
    if (ssl_ != nullptr) {
      int len = static_cast<int>(std::min<std::size_t>(n, 1 << 30));
      r = tls_op([&] { return SSL_read(ssl_, p, len); }, want, ec);
      if (r < 0) {
        if (closed()) ec = asio_error::operation_aborted;
        return 0;
      }
    } else {
      r = ::recv(fd_, p, n, 0);
      if (r == 0) {
        ec = closed() ? error_code(asio_error::operation_aborted) : error_code(asio_error::eof);
        return 0;
      }
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          ec = closed() ? error_code(asio_error::operation_aborted)
                        : error_code(errno, boost::system::system_category());
          return 0;
        }
        r = 0;
      }
    }
    if (r > 0) {
      if (!started_) start_now();
      return static_cast<std::size_t>(r);
    }
    if (!wait(want, started_ ? msg_ : idle_, ec)) return 0;
  }
}

void Conn::write_all(const iovec* iov_in, int cnt, Deadline deadline, error_code& ec) {
  ec = {};
  iovec iov[8];
  cnt = std::min(cnt, 8);
  std::copy(iov_in, iov_in + cnt, iov);
  int i = 0;
  while (i < cnt) {
    if (iov[i].iov_len == 0) {
      ++i;
      continue;
    }
    if (closed()) {
      ec = asio_error::operation_aborted;
      return;
    }
    short want = POLLOUT;
    long r;
    if (ssl_ != nullptr) {
      int len = static_cast<int>(std::min<std::size_t>(iov[i].iov_len, 1 << 30));
      r = tls_op([&] { return SSL_write(ssl_, iov[i].iov_base, len); }, want, ec);
      if (r < 0) return;
    } else {
      msghdr msg{};
      msg.msg_iov = iov + i;
      msg.msg_iovlen = static_cast<std::size_t>(cnt - i);
      r = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          ec = closed() ? error_code(asio_error::operation_aborted)
                        : error_code(errno, boost::system::system_category());
          return;
        }
        r = 0;
      }
    }
    if (r > 0) {
      auto left = static_cast<std::size_t>(r);
      while (i < cnt && left >= iov[i].iov_len) left -= iov[i++].iov_len;
      if (i < cnt) {
        iov[i].iov_base = static_cast<char*>(iov[i].iov_base) + left;
        iov[i].iov_len -= left;
      }
      continue;
    }
    if (!wait(want, deadline, ec)) return;
  }
}

void Conn::handshake(bool server, Deadline deadline, error_code& ec) {
  ec = {};
  if (ssl_ == nullptr) return;
  {
    std::lock_guard<std::mutex> lk(io_mu_);
    if (server)
      SSL_set_accept_state(ssl_);
    else
      SSL_set_connect_state(ssl_);
  }
  for (;;) {
    short want = POLLIN;
    long r = tls_op([&] { return SSL_do_handshake(ssl_); }, want, ec);
    if (r > 0) return;
    if (r < 0) return;
    if (!wait(want, deadline, ec)) return;
  }
}

void Conn::linger(Deadline deadline, std::size_t max_bytes) noexcept {
  ::shutdown(fd_, SHUT_WR);
  if (ssl_ != nullptr) return;  // TLS: the record layer makes draining pointless
  char sink[16384];
  std::size_t total = 0;
  while (total < max_bytes) {
    long r = ::recv(fd_, sink, sizeof sink, 0);
    if (r > 0) {
      total += static_cast<std::size_t>(r);
      continue;
    }
    if (r == 0) return;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return;
    error_code ec;
    if (!wait(POLLIN, deadline, ec)) return;
  }
}

}  // namespace micro::plugins::http
