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

// The eventfd is written only when the I/O thread may be asleep (prepare_sleep() found the
// queue empty) and only once until it takes the queue again; a push while it is awake costs
// no system call, as prepare_sleep() sees the item before it sleeps. All under mu_.
void Outbox::push(OutItem item) {
  item.queued_ms = now_ms();
  bool wake_it;
  {
    std::lock_guard lock(mu_);
    if (shut_) throw Error(Errc::closed, "zmq: connection closed");
    if (pending_ >= limit_)
      throw Error(Errc::unavailable,
                  "zmq: send queue full (" + std::to_string(limit_) + " messages waiting, sndhwm)");
    ++pending_;
    q_.push_back(std::move(item));
    wake_it = sleeping_ && !signalled_;
    if (wake_it) signalled_ = true;
  }
  if (wake_it) wake();
}

void Outbox::push_control(OutItem item) noexcept {
  item.close = true;
  item.queued_ms = now_ms();
  bool wake_it;
  {
    std::lock_guard lock(mu_);
    if (shut_) return;
    q_.push_back(std::move(item));
    wake_it = sleeping_ && !signalled_;
    if (wake_it) signalled_ = true;
  }
  if (wake_it) wake();
}

void Outbox::take(std::deque<OutItem>& out, bool signalled) {
  if (signalled) {
    uint64_t v;
    [[maybe_unused]] auto n = ::read(fd_, &v, sizeof v);
  }
  std::lock_guard lock(mu_);
  sleeping_ = false;
  signalled_ = false;
  while (!q_.empty()) {
    out.push_back(std::move(q_.front()));
    q_.pop_front();
  }
}

bool Outbox::prepare_sleep() {
  std::lock_guard lock(mu_);
  if (!q_.empty()) return false;
  sleeping_ = true;
  return true;
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
