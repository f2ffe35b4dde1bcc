#include "zmq_server.h"

#include "framing.h"
#include "micro/log.h"

namespace micro::plugins::zmqt {

namespace {
constexpr const char* kLog = "transport-zmq";

class ServerSocket final : public transport::Socket {
 public:
  ServerSocket(std::weak_ptr<Router> r, std::shared_ptr<Outbox> out, std::shared_ptr<Inbox> in,
               Router::Key key, std::string local, std::string remote, size_t max)
      : r_(std::move(r)),
        out_(std::move(out)),
        in_(std::move(in)),
        key_(std::move(key)),
        local_(std::move(local)),
        remote_(std::move(remote)),
        max_(max) {}
  ~ServerSocket() override { close(); }

  void recv(transport::Message& m, Deadline deadline) override { in_->recv(m, deadline); }

  void send(const transport::Message& m) override {
    try {
      in_->check();
    } catch (const Error& e) {
      log::debug(kLog, std::string("send on a failed channel: ") + e.what());
      throw;
    }
    OutItem item;
    item.peer = key_.first;
    item.channel = key_.second;
    item.header = encode_header(m.header);
    if (item.header.size() > max_ || m.body.size() > max_)
      throw Error(Errc::too_large, "zmq: message of " + std::to_string(m.body.size()) +
                                       " body bytes and " + std::to_string(item.header.size()) +
                                       " header bytes exceeds max_message_bytes " +
                                       std::to_string(max_));
    item.body = m.body;
    out_->push(std::move(item));
    in_->last_activity = now_ms();
  }

  void close() noexcept override {
    if (closed_.exchange(true)) return;
    in_->fail(Errc::closed, "zmq: socket closed", true);
    if (auto r = r_.lock()) r->close_channel(key_);
  }

  std::string local() const override { return local_; }
  std::string remote() const override { return remote_; }

 private:
  std::weak_ptr<Router> r_;
  std::shared_ptr<Outbox> out_;
  std::shared_ptr<Inbox> in_;
  Router::Key key_;
  std::string local_, remote_;
  size_t max_;
  std::atomic<bool> closed_{false};
};
}  // namespace

Router::Router(std::shared_ptr<zmq::context_t> ctx, const Options& opts,
               const std::string& endpoint, std::shared_ptr<Stats> stats)
    : ctx_(std::move(ctx)),
      opts_(opts),
      stats_(std::move(stats)),
      out_(std::make_shared<Outbox>(static_cast<size_t>(opts.sndhwm))) {
  try {
    sock_ = zmq::socket_t(*ctx_, zmq::socket_type::router);
    apply_socket_options(sock_, opts_);
    sock_.set(zmq::sockopt::router_mandatory, 1);  // EHOSTUNREACH / EAGAIN instead of silent drops
    if (!opts_.curve_secret_key.empty()) {
      sock_.set(zmq::sockopt::curve_server, 1);
      sock_.set(zmq::sockopt::curve_secretkey, opts_.curve_secret_key);
    }
    sock_.bind(endpoint);
    addr_ = from_endpoint(sock_.get(zmq::sockopt::last_endpoint));
  } catch (const zmq::error_t& e) {
    throw_zmq(Errc::unavailable, "zmq: cannot listen on " + from_endpoint(endpoint), e);
  }
  last_sweep_ = now_ms();
  thread_ = std::thread([this] { run(); });
}

Router::~Router() { stop(); }

void Router::accept(const std::function<void(std::shared_ptr<transport::Socket>)>& fn) {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return !pending_.empty() || !accepting_ || stop_; });
    if (!accepting_ || stop_) break;
    auto s = std::move(pending_.front());
    pending_.pop_front();
    reap(false);
    auto done = std::make_shared<std::atomic<bool>>(false);
    std::function<void(std::shared_ptr<transport::Socket>)> f = fn;
    handlers_.push_back(Handler{std::thread([f = std::move(f), s = std::move(s), done]() mutable {
                                  try {
                                    f(s);
                                  } catch (const std::exception& e) {
                                    log::debug(kLog,
                                               std::string("connection handler: ") + e.what());
                                  }
                                  s.reset();
                                  done->store(true);
                                }),
                                done});
  }
  auto left = std::move(pending_);
  lock.unlock();
  for (auto& s : left) s->close();
}

void Router::reap(bool all) {
  for (auto it = handlers_.begin(); it != handlers_.end();) {
    if (all || it->done->load()) {
      if (it->thread.get_id() == std::this_thread::get_id())
        it->thread.detach();
      else
        it->thread.join();
      it = handlers_.erase(it);
    } else {
      ++it;
    }
  }
}

void Router::close_listener() noexcept {
  {
    std::lock_guard lock(mu_);
    accepting_ = false;
    cv_.notify_all();
  }
  out_->wake();
}

void Router::stop() noexcept {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    accepting_ = false;
    cv_.notify_all();
  }
  out_->wake();
  if (thread_.joinable()) {
    if (thread_.get_id() == std::this_thread::get_id())
      thread_.detach();
    else {
      thread_.join();
      // The I/O thread closed the zmq sockets. Drop this reference to the context, so the
      // transport's stop() terminates it (zmq_ctx_term waits until libzmq has really closed
      // them) even while a Socket or Listener still holds this object: the port is free when
      // stop() returns.
      ctx_.reset();
    }
  }
  std::vector<Handler> hs;
  {
    std::lock_guard lock(mu_);
    hs.swap(handlers_);
  }
  for (auto& h : hs) {
    if (h.thread.get_id() == std::this_thread::get_id())
      h.thread.detach();
    else if (h.thread.joinable())
      h.thread.join();
  }
}

bool Router::finished() {
  std::lock_guard lock(mu_);
  if (!io_done_) return false;
  for (auto& h : handlers_)
    if (!h.done->load()) return false;
  return true;
}

void Router::close_channel(const Key& k) noexcept {
  {
    std::lock_guard lock(mu_);
    if (chans_.erase(k) == 0) return;
  }
  OutItem item;
  item.peer = k.first;
  item.channel = k.second;
  out_->push_control(std::move(item));
}

void Router::send_close(const std::string& peer, uint64_t chan) noexcept {
  try {
    const std::string ch = encode_channel(chan);
    const char op = static_cast<char>(kOpClose);
    if (sock_.send(zmq::buffer(peer), zmq::send_flags::dontwait | zmq::send_flags::sndmore)) {
      sock_.send(zmq::buffer(ch), zmq::send_flags::sndmore);
      sock_.send(zmq::buffer(&op, 1), zmq::send_flags::none);
    }
  } catch (const zmq::error_t&) {
    // The peer is gone: nothing to tell.
  }
}

void Router::refuse(const std::string& peer, uint64_t chan, const std::string& why) {
  ++stats_->refused;
  log::debug(kLog, "refused channel " + std::to_string(chan) + " on " + addr_ + ": " + why);
  send_close(peer, chan);
}

void Router::on_message(std::vector<zmq::message_t>& frames, size_t n) {
  // frames: [routing id][channel][header][body] or [routing id][channel][op]
  const std::string peer = frames[0].to_string();
  auto chan = n >= 3 ? decode_channel(frames[1].to_string_view()) : std::nullopt;
  if (!chan || (n != 3 && n != 4)) {
    ++stats_->dropped;
    log::debug(kLog, "dropped a malformed message of " + std::to_string(n) + " frames on " + addr_);
    return;
  }
  const Key key{peer, *chan};
  std::shared_ptr<Inbox> in;
  {
    std::lock_guard lock(mu_);
    if (auto it = chans_.find(key); it != chans_.end()) in = it->second.in;
  }
  if (n == 3) {
    const bool is_close =
        frames[2].size() == 1 && static_cast<unsigned char>(frames[2].data<char>()[0]) == kOpClose;
    if (!is_close) {
      ++stats_->dropped;
      log::debug(kLog, "dropped an unknown control message on " + addr_);
    } else if (in) {
      in->fail(Errc::closed, "zmq: connection closed by the client");
      std::lock_guard lock(mu_);
      chans_.erase(key);
    }
    return;
  }
  transport::Message m;
  if (!decode_header(frames[2].to_string_view(), m.header)) {
    ++stats_->dropped;
    if (in) {
      in->fail(Errc::bad_request, "zmq: malformed header frame");
      std::lock_guard lock(mu_);
      chans_.erase(key);
    }
    refuse(peer, *chan, "malformed header frame");
    return;
  }
  m.body = frames[3].to_string();
  if (in) {
    if (in->push(std::move(m), false)) {
      to_wake_.push_back(std::move(in));
    } else {
      in->fail(Errc::unavailable,
               "zmq: receive queue full (rcvhwm " + std::to_string(opts_.rcvhwm) + ")");
      {
        std::lock_guard lock(mu_);
        chans_.erase(key);
      }
      refuse(peer, *chan, "receive queue full");
    }
    return;
  }
  // A new logical connection.
  std::string remote = addr_;
  for (size_t i = 0; i < 2; ++i) {
    if (const char* pa = zmq_msg_gets(frames[i].handle(), "Peer-Address")) {
      remote = pa;
      break;
    }
  }
  std::unique_lock lock(mu_);
  if (!accepting_) {
    lock.unlock();
    refuse(peer, *chan, "listener closed");
    return;
  }
  if (chans_.size() >= static_cast<size_t>(opts_.max_connections)) {
    lock.unlock();
    refuse(peer, *chan, "max_connections (" + std::to_string(opts_.max_connections) + ") reached");
    return;
  }
  in = std::make_shared<Inbox>(static_cast<size_t>(opts_.rcvhwm));
  in->push(std::move(m));
  chans_.emplace(key, Chan{in});
  pending_.push_back(std::make_shared<ServerSocket>(weak_from_this(), out_, in, key, addr_, remote,
                                                    static_cast<size_t>(opts_.max_message_bytes)));
  cv_.notify_all();
}

void Router::sweep_idle() {
  const int64_t now = now_ms();
  const int64_t every = std::max<int64_t>(10, opts_.idle_timeout.count() / 4);
  if (now - last_sweep_ < every) return;
  last_sweep_ = now;
  std::vector<Key> idle;
  {
    std::lock_guard lock(mu_);
    for (auto it = chans_.begin(); it != chans_.end();) {
      if (now - it->second.in->last_activity.load() > opts_.idle_timeout.count()) {
        it->second.in->fail(Errc::closed, "zmq: connection idle for " +
                                              std::to_string(opts_.idle_timeout.count()) + "ms");
        idle.push_back(it->first);
        it = chans_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& k : idle) send_close(k.first, k.second);
}

void Router::flush(std::deque<OutItem>& held, bool final) {
  while (!held.empty()) {
    OutItem& it = held.front();
    if (it.close) {
      send_close(it.peer, it.channel);
      held.pop_front();
      continue;
    }
    const Key key{it.peer, it.channel};
    auto inbox = [&]() -> std::shared_ptr<Inbox> {  // only needed when the send fails
      std::lock_guard lock(mu_);
      auto c = chans_.find(key);
      return c == chans_.end() ? nullptr : c->second.in;
    };
    // Sent even when the channel was closed here meanwhile: what was sent before close() goes out.
    const std::string ch = encode_channel(it.channel);
    bool sent = false;
    try {
      if (sock_.send(zmq::buffer(it.peer), zmq::send_flags::dontwait | zmq::send_flags::sndmore)) {
        sock_.send(zmq::buffer(ch), zmq::send_flags::sndmore);
        sock_.send(zmq::buffer(it.header), zmq::send_flags::sndmore);
        sock_.send(zmq::buffer(it.body), zmq::send_flags::none);
        sent = true;
        last_write_ms_ = now_ms();
      }
    } catch (const zmq::error_t& e) {
      log::debug(kLog, "reply on channel " + std::to_string(it.channel) + " not sent: " + e.what());
      if (e.num() != EHOSTUNREACH && !final) throw;
      if (auto in = inbox()) in->fail(Errc::closed, "zmq: the client is gone");
      {
        std::lock_guard lock(mu_);
        chans_.erase(key);
      }
      held.pop_front();
      out_->done(1);
      continue;
    }
    if (sent || final || now_ms() - it.queued_ms > opts_.send_timeout.count()) {
      auto in = !sent && !final ? inbox() : nullptr;
      if (in) {
        in->fail(Errc::unavailable, "zmq: send queue full: the client has not read for " +
                                        std::to_string(opts_.send_timeout.count()) + "ms");
        close_channel(key);
      }
      held.pop_front();
      out_->done(1);
      continue;
    }
    break;  // the peer's HWM is reached: retry shortly
  }
}

void Router::run() {
  std::deque<OutItem> held;
  std::vector<zmq::message_t> frames(5);
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stop_) break;
      if (!accepting_ && chans_.empty() && pending_.empty() && held.empty() && out_->empty()) break;
    }
    const bool blocked = !held.empty();
    zmq::pollitem_t items[] = {{sock_.handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, out_->fd(), ZMQ_POLLIN, 0}};
    const auto idle_every = std::max<int64_t>(10, opts_.idle_timeout.count() / 4);
    try {
      const bool may_sleep = out_->prepare_sleep();  // false: replies are waiting
      zmq::poll(items, 2,
                std::chrono::milliseconds(!may_sleep ? 0
                                          : blocked  ? 2
                                                     : std::min<int64_t>(250, idle_every)));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      log::error(kLog, std::string("poll failed: ") + e.what());
      break;
    }
    try {
      {
        // Every message of the batch is routed before any handler is woken: a woken handler
        // would often preempt this thread in the middle of the batch.
        drain_batch(sock_, frames, 4, to_wake_, [&](size_t n) { on_message(frames, n); });
      }
      out_->take(held, (items[1].revents & ZMQ_POLLIN) != 0);
      flush(held, false);
      sweep_idle();
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) break;
      log::warn(kLog, "listener " + addr_ + ": " + e.what());
    }
  }
  // What the handlers sent before the end still goes out (then ZMQ_LINGER lets it flush).
  try {
    out_->take(held);
    log::debug(kLog, "listener " + addr_ + " closing: " + std::to_string(held.size()) +
                         " message(s) to flush");
    flush(held, true);
  } catch (const zmq::error_t&) {
  }
  // libzmq may discard what its I/O thread has not written yet when the socket closes, even
  // with ZMQ_LINGER: give messages written just now (a last reply) a moment to leave.
  const int64_t grace = std::min<int64_t>(opts_.linger_ms < 0 ? 200 : opts_.linger_ms, 200);
  while (now_ms() - last_write_ms_ < grace) {
    zmq::pollitem_t item{sock_.handle(), 0, ZMQ_POLLIN, 0};
    try {
      zmq::poll(&item, 1, std::chrono::milliseconds(10));
    } catch (const zmq::error_t&) {
      break;
    }
  }
  std::map<Key, Chan> chans;
  std::deque<std::shared_ptr<transport::Socket>> pending;
  {
    std::lock_guard lock(mu_);
    chans.swap(chans_);
    pending.swap(pending_);
    accepting_ = false;
    cv_.notify_all();
  }
  out_->shut();
  for (auto& [k, c] : chans) {
    c.in->fail(Errc::closed, "zmq: listener stopped");
    send_close(k.first, k.second);
  }
  pending.clear();
  try {
    sock_.set(zmq::sockopt::linger, opts_.linger_ms);
  } catch (const zmq::error_t&) {
  }
  sock_.close();
  std::lock_guard lock(mu_);
  io_done_ = true;
}

}  // namespace micro::plugins::zmqt
