// transport-http: a connected, non-blocking TCP socket (optionally TLS) whose blocking reads and
// writes wait in ::poll() until a deadline, and which close() wakes from any thread. It is the
// SyncReadStream / SyncWriteStream that Beast's synchronous parser reads from: Beast's own sync
// operations on a blocking socket have no timeouts.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <mutex>
#include <string>

#include "micro/component.h"

typedef struct ssl_st SSL;

namespace micro::plugins::http {

using error_code = boost::system::error_code;

class Conn {
 public:
  /// Takes ownership of fd (already non-blocking) and of ssl (may be null: plain TCP).
  Conn(int fd, SSL* ssl) noexcept : fd_(fd), ssl_(ssl) {}
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  /// Deadlines of the next message read: `idle` until its first byte, then
  /// min(`cap`, first byte + read_timeout). `started` = bytes of it are already buffered.
  /// Called by the one reader before each message.
  void begin_message(Deadline idle, Deadline cap, Clock::duration read_timeout, bool started) {
    idle_ = idle;
    cap_ = cap;
    read_timeout_ = read_timeout;
    started_ = false;
    if (started) start_now();
  }
  /// True once a byte of the current message was read.
  bool started() const noexcept { return started_; }

  /// Reads at most n bytes (at least 1 unless ec is set). ec: eof, timed_out, operation_aborted
  /// (close() was called), or a system error.
  std::size_t read(void* p, std::size_t n, error_code& ec);
  /// Writes all of iov (cnt buffers) before deadline. Not thread-safe: callers serialise.
  void write_all(const iovec* iov, int cnt, Deadline deadline, error_code& ec);
  /// TLS handshake (no-op without TLS).
  void handshake(bool server, Deadline deadline, error_code& ec);
  /// Best effort graceful end after an error response: stop writing, read and discard what the
  /// peer still sends (bounded by deadline and max_bytes) so the response is not lost to a RST.
  void linger(Deadline deadline, std::size_t max_bytes) noexcept;

  /// Wakes blocked reads and writes; later ones fail with operation_aborted. Idempotent, any
  /// thread. Returns true on the first call only. The fd itself is closed by the destructor.
  bool shutdown() noexcept;
  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }
  int fd() const noexcept { return fd_; }

  // --- Beast SyncReadStream / SyncWriteStream ---
  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers, error_code& ec) {
    auto b = boost::asio::buffer_sequence_begin(buffers);
    auto e = boost::asio::buffer_sequence_end(buffers);
    for (; b != e; ++b) {
      boost::asio::mutable_buffer mb(*b);
      if (mb.size() > 0) return read(mb.data(), mb.size(), ec);
    }
    ec = {};
    return 0;
  }
  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers) {
    error_code ec;
    std::size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  template <class ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& buffers, error_code& ec) {
    auto b = boost::asio::buffer_sequence_begin(buffers);
    auto e = boost::asio::buffer_sequence_end(buffers);
    for (; b != e; ++b) {
      boost::asio::const_buffer cb(*b);
      if (cb.size() == 0) continue;
      iovec v{const_cast<void*>(cb.data()), cb.size()};
      write_all(&v, 1, no_deadline, ec);
      return ec ? 0 : cb.size();
    }
    ec = {};
    return 0;
  }
  template <class ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& buffers) {
    error_code ec;
    std::size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  void start_now() noexcept {
    started_ = true;
    Deadline d =
        read_timeout_ == Clock::duration::max() ? no_deadline : Clock::now() + read_timeout_;
    msg_ = d < cap_ ? d : cap_;
  }
  /// Waits for events on fd until deadline; false with ec = timed_out / operation_aborted.
  bool wait(short events, Deadline deadline, error_code& ec);
  /// One TLS operation under io_mu_; returns >0 done, 0 with `want` set (POLLIN/POLLOUT), or
  /// -1 with ec set.
  template <class Op>
  long tls_op(Op op, short& want, error_code& ec);

  int fd_;
  SSL* ssl_;
  std::mutex io_mu_;  // TLS only: OpenSSL objects are not safe for concurrent read and write
  std::atomic<bool> closed_{false};
  Deadline idle_ = no_deadline, cap_ = no_deadline, msg_ = no_deadline;
  Clock::duration read_timeout_ = Clock::duration::max();
  bool started_ = false;
};

}  // namespace micro::plugins::http
