#include "zmq_client.h"

#include "framing.h"
#include "micro/log.h"

namespace micro::plugins::zmqt {

namespace {
constexpr const char* kLog = "transport-zmq";
std::atomic<uint64_t> monitor_seq{0};

class ClientSocket final : public transport::Socket {
 public:
  ClientSocket(std::shared_ptr<Dealer> d, std::shared_ptr<Outbox> out, std::shared_ptr<Inbox> in,
               uint64_t id, std::string addr)
      : d_(std::move(d)),
        out_(std::move(out)),
        in_(std::move(in)),
        id_(id),
        addr_(std::move(addr)) {}
  ~ClientSocket() override { close(); }

  void recv(transport::Message& m, Deadline deadline) override { in_->recv(m, deadline); }

  void send(const transport::Message& m) override {
    in_->check();
    OutItem item;
    item.channel = id_;
    item.header = encode_header(m.header);
    const auto max = static_cast<size_t>(d_->options().max_message_bytes);
    if (item.header.size() > max || m.body.size() > max)
      throw Error(Errc::too_large, "zmq: message of " + std::to_string(m.body.size()) +
                                       " body bytes and " + std::to_string(item.header.size()) +
                                       " header bytes exceeds max_message_bytes " +
                                       std::to_string(max));
    item.body = m.body;
    out_->push(std::move(item));
  }

  void close() noexcept override {
    if (closed_.exchange(true)) return;
    in_->fail(Errc::closed, "zmq: socket closed", true);
    d_->close_channel(id_);
  }

  std::string local() const override { return "dealer#" + std::to_string(id_); }
  std::string remote() const override { return addr_; }

 private:
  std::shared_ptr<Dealer> d_;
  std::shared_ptr<Outbox> out_;
  std::shared_ptr<Inbox> in_;
  uint64_t id_;
  std::string addr_;
  std::atomic<bool> closed_{false};
};
}  // namespace

Dealer::Dealer(std::shared_ptr<zmq::context_t> ctx, const Options& opts, std::string endpoint,
               std::string addr, std::shared_ptr<Stats> stats)
    : ctx_(std::move(ctx)),
      opts_(opts),
      endpoint_(std::move(endpoint)),
      addr_(std::move(addr)),
      stats_(std::move(stats)),
      out_(std::make_shared<Outbox>(static_cast<size_t>(opts.sndhwm))) {
  try {
    sock_ = zmq::socket_t(*ctx_, zmq::socket_type::dealer);
    apply_socket_options(sock_, opts_);
    sock_.set(zmq::sockopt::immediate, 1);  // queue only on a live connection
    sock_.set(zmq::sockopt::reconnect_ivl, 100);
    if (!opts_.curve_server_key.empty()) {
      std::string pub = opts_.curve_public_key, sec = opts_.curve_secret_key;
      if (pub.empty() || sec.empty()) {
        char p[41], s[41];
        if (zmq_curve_keypair(p, s) != 0) throw zmq::error_t();
        pub = p;
        sec = s;
      }
      sock_.set(zmq::sockopt::curve_serverkey, opts_.curve_server_key);
      sock_.set(zmq::sockopt::curve_publickey, pub);
      sock_.set(zmq::sockopt::curve_secretkey, sec);
    }
    const std::string mon = "inproc://micro-zmq-monitor-" + std::to_string(++monitor_seq);
    if (zmq_socket_monitor(
            sock_.handle(), mon.c_str(),
            ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0)
      throw zmq::error_t();
    monitor_ = zmq::socket_t(*ctx_, zmq::socket_type::pair);
    monitor_.connect(mon);
    sock_.connect(endpoint_);
  } catch (const zmq::error_t& e) {
    throw_zmq(Errc::unavailable, "zmq: cannot connect to " + addr_, e);
  }
  down_since_ms_ = now_ms();
  thread_ = std::thread([this] { run(); });
}

Dealer::~Dealer() { stop(); }

std::unique_ptr<transport::Socket> Dealer::open(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  const uint64_t f0 = failures_;
  const auto until = Clock::now() + timeout;
  cv_.wait_until(lock, until, [&] { return connected_ || failures_ > f0 || stop_; });
  if (stop_) throw Error(Errc::closed, "zmq: transport stopped");
  if (!connected_) {
    if (failures_ > f0)
      throw Error(Errc::unavailable, "zmq: cannot connect to " + addr_ + ": " + last_failure_);
    throw Error(Errc::timeout, "zmq: connect to " + addr_ + " timed out after " +
                                   std::to_string(timeout.count()) + "ms");
  }
  const uint64_t id = next_id_++;
  auto in = std::make_shared<Inbox>(static_cast<size_t>(opts_.rcvhwm));
  chans_.emplace(id, in);
  return std::make_unique<ClientSocket>(shared_from_this(), out_, std::move(in), id, addr_);
}

void Dealer::close_channel(uint64_t id) noexcept {
  {
    std::lock_guard lock(mu_);
    if (chans_.erase(id) == 0) return;  // already gone: the server closed it or the link died
  }
  OutItem item;
  item.channel = id;
  out_->push_control(std::move(item));
}

void Dealer::stop() noexcept {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  out_->shut();
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
}

bool Dealer::unused_for(std::chrono::milliseconds d) const {
  std::lock_guard lock(mu_);
  return chans_.empty() && !connected_ && down_since_ms_ != 0 &&
         now_ms() - down_since_ms_ > d.count();
}

bool Dealer::stopped() const {
  std::lock_guard lock(mu_);
  return stop_;
}

void Dealer::fail_all(Errc errc, const std::string& why) {
  std::map<uint64_t, std::shared_ptr<Inbox>> chans;
  {
    std::lock_guard lock(mu_);
    chans.swap(chans_);
  }
  for (auto& [id, in] : chans) in->fail(errc, why);
}

void Dealer::on_event(uint16_t event) {
  std::unique_lock lock(mu_);
  switch (event) {
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
      connected_ = true;
      down_since_ms_ = 0;
      break;
    case ZMQ_EVENT_CONNECT_RETRIED:
      ++failures_;
      last_failure_ = "connection refused";
      break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
      ++failures_;
      last_failure_ = "ZMTP handshake failed (wrong CURVE keys or not a zmq peer)";
      break;
    case ZMQ_EVENT_DISCONNECTED: {
      const bool was = connected_;
      connected_ = false;
      if (down_since_ms_ == 0) down_since_ms_ = now_ms();
      lock.unlock();
      if (was) {
        log::debug(kLog, "connection to " + addr_ + " lost; failing its channels");
        fail_all(Errc::closed, "zmq: connection to " + addr_ + " lost");
      }
      break;
    }
    default: break;
  }
  cv_.notify_all();
}

void Dealer::on_message(std::vector<zmq::message_t>& frames, size_t n) {
  auto chan = n >= 2 ? decode_channel(frames[0].to_string_view()) : std::nullopt;
  std::shared_ptr<Inbox> in;
  if (chan) {
    std::lock_guard lock(mu_);
    if (auto it = chans_.find(*chan); it != chans_.end()) in = it->second;
  }
  if (!chan || (n != 2 && n != 3)) {
    ++stats_->dropped;
    log::debug(kLog,
               "dropped a malformed message of " + std::to_string(n) + " frames from " + addr_);
    return;
  }
  if (!in) {
    ++stats_->dropped;  // a late reply to a channel closed here: tell the server to forget it
    log::debug(kLog,
               "dropped a message for unknown channel " + std::to_string(*chan) + " from " + addr_);
    if (n == 3) {
      OutItem item;
      item.channel = *chan;
      out_->push_control(std::move(item));
    }
    return;
  }
  if (n == 2) {
    if (frames[1].size() == 1 &&
        static_cast<unsigned char>(frames[1].data<char>()[0]) == kOpClose) {
      in->fail(Errc::closed, "zmq: connection closed by the server");
      std::lock_guard lock(mu_);
      chans_.erase(*chan);
    } else {
      ++stats_->dropped;
    }
    return;
  }
  transport::Message m;
  if (!decode_header(frames[1].to_string_view(), m.header)) {
    ++stats_->dropped;
    in->fail(Errc::bad_request, "zmq: malformed header frame from " + addr_);
    close_channel(*chan);
    return;
  }
  m.body = frames[2].to_string();
  if (in->push(std::move(m), false)) {
    to_wake_.push_back(std::move(in));
  } else {
    in->fail(Errc::unavailable,
             "zmq: receive queue full (rcvhwm " + std::to_string(opts_.rcvhwm) + ")");
    close_channel(*chan);
  }
}

void Dealer::drain(std::vector<zmq::message_t>& frames) {
  drain_batch(sock_, frames, 3, to_wake_, [&](size_t n) { on_message(frames, n); });
}

void Dealer::run() {
  std::deque<OutItem> held;
  std::vector<zmq::message_t> frames(4);
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stop_) break;
    }
    const bool blocked = !held.empty();
    zmq::pollitem_t items[] = {
        {sock_.handle(), 0, static_cast<short>(ZMQ_POLLIN | (blocked ? ZMQ_POLLOUT : 0)), 0},
        {monitor_.handle(), 0, ZMQ_POLLIN, 0},
        {nullptr, out_->fd(), ZMQ_POLLIN, 0}};
    try {
      const bool may_sleep = out_->prepare_sleep();  // false: messages are waiting
      zmq::poll(items, 3, std::chrono::milliseconds(!may_sleep ? 0 : blocked ? 5 : 500));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      log::error(kLog, std::string("poll failed: ") + e.what());
      break;
    }
    try {
      // 1. Replies first, so a disconnect below never overtakes what arrived before it.
      drain(frames);
      // 2. Connection events.
      zmq::message_t ev, ep;
      while (monitor_.recv(ev, zmq::recv_flags::dontwait)) {
        uint16_t id = 0;
        if (ev.size() >= 2) std::memcpy(&id, ev.data(), 2);
        if (ev.more()) (void)monitor_.recv(ep);
        // libzmq queues what it read before it reports the disconnect: route that first.
        if (id == ZMQ_EVENT_DISCONNECTED) drain(frames);
        on_event(id);
      }
      // 3. Outgoing messages.
      out_->take(held, (items[2].revents & ZMQ_POLLIN) != 0);
      bool connected;
      {
        std::lock_guard lock(mu_);
        connected = connected_;
      }
      auto inbox = [&](uint64_t id) {
        std::lock_guard lock(mu_);
        auto c = chans_.find(id);
        return c == chans_.end() ? nullptr : c->second;
      };
      while (!held.empty()) {
        OutItem& it = held.front();
        const std::string ch = encode_channel(it.channel);
        if (it.close) {
          const char op = static_cast<char>(kOpClose);
          if (sock_.send(zmq::buffer(ch), zmq::send_flags::dontwait | zmq::send_flags::sndmore))
            (void)sock_.send(zmq::buffer(&op, 1), zmq::send_flags::none);
          held.pop_front();
          continue;
        }
        if (!connected) {
          if (auto in = inbox(it.channel)) in->fail(Errc::closed, "zmq: not connected to " + addr_);
          held.pop_front();
          out_->done(1);
          continue;
        }
        if (sock_.send(zmq::buffer(ch), zmq::send_flags::dontwait | zmq::send_flags::sndmore)) {
          sock_.send(zmq::buffer(it.header), zmq::send_flags::sndmore);
          sock_.send(zmq::buffer(it.body), zmq::send_flags::none);
          held.pop_front();
          out_->done(1);
          continue;
        }
        if (now_ms() - it.queued_ms > opts_.send_timeout.count()) {
          if (auto in = inbox(it.channel))
            in->fail(Errc::unavailable, "zmq: send queue full: " + addr_ + " has not read for " +
                                            std::to_string(opts_.send_timeout.count()) + "ms");
          held.pop_front();
          out_->done(1);
          continue;
        }
        break;  // HWM reached: wait for POLLOUT
      }
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) break;
      log::warn(kLog, "connection to " + addr_ + ": " + e.what());
    }
  }
  fail_all(Errc::closed, "zmq: transport stopped");
  out_->shut();
  try {
    zmq_socket_monitor(sock_.handle(), nullptr, 0);
    sock_.set(zmq::sockopt::linger, opts_.linger_ms);
  } catch (const zmq::error_t&) {
  }
  monitor_.close();
  sock_.close();
  std::lock_guard lock(mu_);
  stop_ = true;
  connected_ = false;
  cv_.notify_all();
}

}  // namespace micro::plugins::zmqt
