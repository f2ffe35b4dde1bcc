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
#include "micro/transport.h"
#include "plugin_host.h"
#include "support.h"
#include "transport_server.h"

namespace zmqtest {

using micro::transport::Message;
using micro::transport::Socket;
using namespace std::chrono_literals;

/// A started zmq transport from the .so, with plugin options (JSON text). The .so stays loaded
/// for the whole run (micro::test::plugin_loader()): an Error thrown by the plugin is an object
/// whose vtable lives in the plugin, and it may outlive every transport instance.
inline std::shared_ptr<micro::Transport> make_transport(const std::string& options = "{}") {
  return micro::test::load_plugin<micro::Transport>(micro::plugin::Kind::transport, "zmq", options);
}

using Server = micro::test::TransportServer;
using micro::test::echo;

using micro::test::errc_of;

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
