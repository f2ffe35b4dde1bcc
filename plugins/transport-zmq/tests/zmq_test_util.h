// Helpers for the transport-zmq tests: the plugin loaded through the loader, a listener
// running accept() on a thread, and raw zmq sockets speaking (or breaking) the framing.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "micro/errors.h"
#include "micro/loader.h"
#include "micro/transport.h"
#include "support.h"

namespace zmqtest {

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

/// A started zmq transport from the .so, with plugin options (JSON text).
inline std::shared_ptr<micro::Transport> make_transport(const std::string& options = "{}") {
  NoHost host;
  auto d = loader().find(micro::plugin::Kind::transport, "zmq");
  auto t = std::dynamic_pointer_cast<micro::Transport>(loader().create(d, host));
  if (!t) throw std::runtime_error("plugin is not a micro::Transport");
  // Keeps the .so loaded for the whole run: an Error thrown by the plugin is an object whose
  // vtable lives in the plugin, and it must not outlive the last instance that pins the .so.
  static std::shared_ptr<micro::Transport> keep = t;
  micro::Transport::Options o;
  o.plugin_options = micro::plugin::validate_options(d.options_schema, options, "transport zmq");
  t->init(o);
  t->start();
  return t;
}

/// Listens on addr and runs accept(handler) on a thread; records the Errc of every exception
/// a handler throws. The destructor closes the listener and stops the transport, which joins
/// the connection threads, so no handler outlives this object.
class Server {
 public:
  using Handler = std::function<void(std::shared_ptr<Socket>)>;
  Server(std::shared_ptr<micro::Transport> t, Handler h, const std::string& addr = "127.0.0.1:0")
      : transport_(t), listener_(t->listen(addr)) {
    handler_ = [this, h](std::shared_ptr<Socket> s) {
      ++accepted_;
      try {
        h(std::move(s));
      } catch (const micro::Error& e) {
        std::lock_guard<std::mutex> lk(mu_);
        errors_.push_back(e.errc());
      }
    };
    thread_ = std::thread([this] { listener_->accept(handler_); });
  }
  ~Server() { shutdown(); }
  void shutdown() {
    if (done_) return;
    done_ = true;
    listener_->close();
    thread_.join();
    transport_->stop();
  }
  std::string addr() const { return listener_->addr(); }
  int accepted() const { return accepted_.load(); }
  bool has_error(micro::Errc e) {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto x : errors_)
      if (x == e) return true;
    return false;
  }

 private:
  std::shared_ptr<micro::Transport> transport_;
  std::unique_ptr<micro::transport::Listener> listener_;
  Handler handler_;
  std::thread thread_;
  std::atomic<int> accepted_{0};
  bool done_ = false;
  std::mutex mu_;
  std::vector<micro::Errc> errors_;
};

/// Echoes every request as one response until recv throws (rethrown for the Server to record).
inline void echo(std::shared_ptr<Socket> s) {
  for (;;) {
    Message m;
    s->recv(m);
    s->send(m);
  }
}

template <class F>
micro::Errc errc_of(F&& f) {
  try {
    f();
  } catch (const micro::Error& e) {
    return e.errc();
  }
  return micro::Errc::ok;
}

/// One echo round trip on a fresh channel; true when the body came back.
inline bool round_trip(micro::Transport& t, const std::string& addr,
                       const std::string& body = "ping") {
  auto c = t.dial(addr);
  c->send(Message{{{"Micro-Id", "1"}}, body});
  Message r;
  c->recv(r, micro::Clock::now() + 5s);
  return r.body == body;
}

// ---- the framing, by hand ----

inline std::string channel_frame(uint64_t id) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, id >>= 8) out[static_cast<size_t>(i)] = static_cast<char>(id & 0xff);
  return out;
}

/// An encoded header frame with one pair.
inline std::string header_frame(const std::string& k, const std::string& v) {
  std::string out;
  auto u32 = [&](uint32_t n) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((n >> s) & 0xff));
  };
  u32(1);
  u32(static_cast<uint32_t>(k.size()));
  out += k;
  u32(static_cast<uint32_t>(v.size()));
  out += v;
  return out;
}

inline void send_frames(zmq::socket_t& s, const std::vector<std::string>& frames) {
  for (size_t i = 0; i < frames.size(); ++i)
    s.send(zmq::buffer(frames[i]),
           i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
}

/// Receives one multipart message within timeout; empty when none came.
inline std::vector<std::string> recv_frames(zmq::socket_t& s,
                                            std::chrono::milliseconds timeout = 5s) {
  std::vector<std::string> out;
  zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, timeout) <= 0) return out;
  bool more = true;
  while (more) {
    zmq::message_t m;
    if (!s.recv(m)) break;
    more = m.more();
    out.push_back(m.to_string());
  }
  return out;
}

}  // namespace zmqtest
