// The two queues between the callers' threads and a connection's I/O thread: an Inbox per
// logical channel (messages routed to it by the I/O thread, waited on by recv()) and one
// Outbox per ZeroMQ socket (messages handed to the I/O thread, which alone touches zmq).
#pragma once

#include <sys/eventfd.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "micro/errors.h"
#include "micro/transport.h"

namespace micro::plugins::zmqt {

/// Monotonic milliseconds, for idle accounting.
int64_t now_ms();

/// Messages for one logical channel. Thread-safe.
class Inbox {
 public:
  explicit Inbox(size_t limit) : limit_(limit) {}
  /// Queues a message; false when the inbox holds `limit` messages already or is failed.
  /// With notify false the reader is not woken: the caller calls notify() later (the I/O
  /// threads route a whole batch of messages first, then wake the readers).
  bool push(transport::Message m, bool notify = true);
  /// Wakes the reader.
  void notify() { cv_.notify_one(); }
  /// Fails the channel: recv() returns what is queued (unless discard) and then throws
  /// Error{errc, why}. The first failure wins.
  void fail(Errc errc, std::string why, bool discard = false);
  /// Waits for the next message (see transport::Socket::recv for the errors).
  void recv(transport::Message& m, Deadline deadline);
  /// Throws the failure, if any.
  void check() const;
  bool failed() const;
  std::atomic<int64_t> last_activity{now_ms()};

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<transport::Message> q_;
  size_t limit_;
  bool failed_ = false;
  Errc errc_ = Errc::closed;
  std::string why_;
};

/// One item for the I/O thread: a data message or a close control for (peer, channel).
struct OutItem {
  std::string peer;  ///< ROUTER routing id; empty on the client side
  uint64_t channel = 0;
  bool close = false;
  std::string header;
  std::string body;
  int64_t queued_ms = 0;
};

/// The queue to an I/O thread with an eventfd that wakes its zmq poll. Thread-safe.
class Outbox {
 public:
  explicit Outbox(size_t limit);
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  /// Queues a data item. Throws Error{unavailable} "send queue full" when `limit` data items
  /// wait already, Error{closed} after shut().
  void push(OutItem item);
  /// Queues a close control; never throws, never refused (dropped only after shut()).
  void push_control(OutItem item) noexcept;
  /// Moves everything queued to out (appending) and marks the I/O thread awake. Clears the
  /// eventfd first when signalled (the I/O thread's poll saw it readable): a wake-up written
  /// later stays for the next poll.
  void take(std::deque<OutItem>& out, bool signalled = true);
  /// Called by the I/O thread before it polls: false when items are queued already (poll
  /// without waiting, then take()); true when the queue is empty, and from then until the
  /// next take() the first push writes the eventfd. While the I/O thread is awake (between
  /// take() and prepare_sleep()) pushes cost no system call: it takes them on its next turn.
  bool prepare_sleep();
  /// Refuses further items and wakes the I/O thread.
  void shut() noexcept;
  bool is_shut() const;
  /// Nothing queued (items taken by the I/O thread do not count).
  bool empty() const;
  /// Called by the I/O thread when it sent (or dropped) n data items it had taken.
  void done(size_t n);
  int fd() const { return fd_; }
  void wake() noexcept;

 private:
  mutable std::mutex mu_;
  std::deque<OutItem> q_;
  size_t limit_;
  size_t pending_ = 0;  // data items queued or held by the I/O thread
  bool shut_ = false;
  bool sleeping_ = false;   // the I/O thread may be waiting in poll
  bool signalled_ = false;  // the eventfd was written since it went to sleep
  int fd_;
};

/// An I/O thread's receive step: takes up to 1024 queued multipart messages without blocking
/// and hands each to on_message(frame count). Frames past index `last` are read into
/// frames[last] (the count still tells on_message the message was malformed). The readers the
/// batch queued into (collected in to_wake by on_message) are woken once it is all routed: a
/// reader woken earlier would often preempt this thread in the middle of the batch.
template <class OnMessage>
void drain_batch(zmq::socket_t& sock, std::vector<zmq::message_t>& frames, size_t last,
                 std::vector<std::shared_ptr<Inbox>>& to_wake, OnMessage on_message) {
  struct Wake {
    std::vector<std::shared_ptr<Inbox>>& v;
    ~Wake() {
      for (auto& in : v) in->notify();
      v.clear();
    }
  } wake{to_wake};
  for (int budget = 0; budget < 1024; ++budget) {
    size_t n = 0;
    bool more = true;
    while (more) {
      zmq::message_t& f = frames[std::min(n, last)];
      if (!sock.recv(f, n == 0 ? zmq::recv_flags::dontwait : zmq::recv_flags::none)) break;
      more = f.more();
      ++n;
    }
    if (n == 0) break;
    on_message(n);
  }
}

}  // namespace micro::plugins::zmqt
