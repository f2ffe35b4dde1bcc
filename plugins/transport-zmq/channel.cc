#include "channel.h"

#include <unistd.h>

#include <cstring>

namespace micro::plugins::zmqt {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

bool Inbox::push(transport::Message m, bool notify) {
  {
    std::lock_guard lock(mu_);
    if (failed_ || q_.size() >= limit_) return false;
    q_.push_back(std::move(m));
  }
  last_activity = now_ms();
  // Notified after the unlock: a waiter woken under the lock would block on it at once and
  // need a second wake-up (this runs on the connection's I/O thread, for every message).
  // One waiter: a channel's recv() is called by one thread at a time.
  if (notify) cv_.notify_one();
  return true;
}

void Inbox::fail(Errc errc, std::string why, bool discard) {
  {
    std::lock_guard lock(mu_);
    if (discard) q_.clear();
    if (failed_) return;
    failed_ = true;
    errc_ = errc;
    why_ = std::move(why);
  }
  cv_.notify_all();
}

void Inbox::recv(transport::Message& m, Deadline deadline) {
  std::unique_lock lock(mu_);
  auto ready = [&] { return !q_.empty() || failed_; };
  if (deadline == no_deadline)
    cv_.wait(lock, ready);
  else if (!cv_.wait_until(lock, deadline, ready))
    throw Error(Errc::timeout, "zmq: recv deadline exceeded");
  if (!q_.empty()) {
    m = std::move(q_.front());
    q_.pop_front();
    last_activity = now_ms();
    return;
  }
  throw Error(errc_, why_);
}

void Inbox::check() const {
  std::lock_guard lock(mu_);
  if (failed_) throw Error(errc_, why_);
}

bool Inbox::failed() const {
  std::lock_guard lock(mu_);
  return failed_;
}

Outbox::Outbox(size_t limit) : limit_(limit), fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (fd_ < 0) throw Error(Errc::internal, std::string("zmq: eventfd: ") + std::strerror(errno));
}

Outbox::~Outbox() { ::close(fd_); }

void Outbox::wake() noexcept {
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(fd_, &one, sizeof one);
}

// Only the push that makes the queue non-empty writes the eventfd. Every read of the eventfd
// is followed by a take() that empties the queue under the lock, so an item pushed onto a
// non-empty queue is taken by the take() that follows the wake-up of the item before it, and
// an item pushed onto an empty queue writes a wake-up that stays until the next read. The
// pushes in between cost no system call.
void Outbox::push(OutItem item) {
  item.queued_ms = now_ms();
  bool first;
  {
    std::lock_guard lock(mu_);
    if (shut_) throw Error(Errc::closed, "zmq: connection closed");
    if (pending_ >= limit_)
      throw Error(Errc::unavailable,
                  "zmq: send queue full (" + std::to_string(limit_) + " messages waiting, sndhwm)");
    ++pending_;
    first = q_.empty();
    q_.push_back(std::move(item));
  }
  if (first) wake();
}

void Outbox::push_control(OutItem item) noexcept {
  item.close = true;
  item.queued_ms = now_ms();
  bool first;
  {
    std::lock_guard lock(mu_);
    if (shut_) return;
    first = q_.empty();
    q_.push_back(std::move(item));
  }
  if (first) wake();
}

void Outbox::take(std::deque<OutItem>& out, bool signalled) {
  if (signalled) {
    uint64_t v;
    [[maybe_unused]] auto n = ::read(fd_, &v, sizeof v);
  }
  std::lock_guard lock(mu_);
  while (!q_.empty()) {
    out.push_back(std::move(q_.front()));
    q_.pop_front();
  }
}

void Outbox::done(size_t n) {
  std::lock_guard lock(mu_);
  pending_ = n > pending_ ? 0 : pending_ - n;
}

void Outbox::shut() noexcept {
  {
    std::lock_guard lock(mu_);
    shut_ = true;
  }
  wake();
}

bool Outbox::empty() const {
  std::lock_guard lock(mu_);
  return q_.empty();
}

bool Outbox::is_shut() const {
  std::lock_guard lock(mu_);
  return shut_;
}

}  // namespace micro::plugins::zmqt
