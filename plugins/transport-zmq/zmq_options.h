// transport-zmq options, parsed from the plugin options JSON (schema in plugin.cc).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <zmq.hpp>

#include "micro/errors.h"

namespace micro::plugins::zmqt {

struct Options {
  int sndhwm = 1000;                     ///< ZMQ_SNDHWM, and the bound of each send queue
  int rcvhwm = 1000;                     ///< ZMQ_RCVHWM, and the bound of each channel's inbox
  int64_t max_message_bytes = 16 << 20;  ///< largest header or body frame (ZMQ_MAXMSGSIZE)
  std::chrono::milliseconds idle_timeout{120000};  ///< server: close channels idle this long
  int max_connections = 10000;  ///< server: open logical connections per listener
  int linger_ms = 1000;         ///< ZMQ_LINGER: how long queued messages may flush on close
  int heartbeat_ms = 1000;      ///< ZMQ_HEARTBEAT_IVL; timeout is 3x; 0 = off
  std::chrono::milliseconds send_timeout{
      5000};  ///< a queued message stuck this long fails its channel
  // CURVE (empty = plaintext). Z85 text, 40 characters.
  std::string curve_server_key;  ///< client: the server's public key (turns CURVE on for dial)
  std::string curve_public_key;  ///< this end's public key (client; generated when empty)
  std::string curve_secret_key;  ///< this end's secret key (listener: turns CURVE on)
};

/// Parses the plugin options JSON. Throws Error{config} naming the bad key.
Options parse_options(const std::string& json);

/// Sets the options every socket shares: HWMs, ZMQ_MAXMSGSIZE, linger, heartbeats.
void apply_socket_options(zmq::socket_t& s, const Options& o);

/// "what: zmq error text" as the message of an Error{errc}.
[[noreturn]] void throw_zmq(Errc errc, const std::string& what, const zmq::error_t& e);

}  // namespace micro::plugins::zmqt
