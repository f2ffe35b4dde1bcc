// The client side: one DEALER connection per (transport, endpoint), shared by every Socket
// dialled to that endpoint. Each Socket is a logical channel with its own id; the connection's
// I/O thread alone touches the zmq sockets and routes replies to the channels' inboxes.
#pragma once

#include <map>
#include <memory>
#include <thread>
#include <zmq.hpp>

#include "channel.h"
#include "zmq_options.h"

namespace micro::plugins::zmqt {

/// Counters of refused input, shared by a transport's connections and listeners.
struct Stats {
  std::atomic<uint64_t> dropped{0};  ///< malformed or unroutable messages dropped
  std::atomic<uint64_t> refused{0};  ///< logical connections refused or closed for bad input
};

/// One DEALER connection. Created by the transport; Sockets keep it alive.
class Dealer : public std::enable_shared_from_this<Dealer> {
 public:
  /// Creates and connects the DEALER (zmq connects asynchronously) and starts the I/O thread.
  /// Throws Error{unavailable} when zmq refuses the endpoint.
  Dealer(std::shared_ptr<zmq::context_t> ctx, const Options& opts, std::string endpoint,
         std::string addr, std::shared_ptr<Stats> stats);
  ~Dealer();

  /// A new logical channel. Waits until the connection is up (handshake done), at most
  /// timeout. Throws Error: unavailable (refused / handshake failed / stopped), timeout.
  std::unique_ptr<transport::Socket> open(std::chrono::milliseconds timeout);

  /// Fails every channel with closed, stops and joins the I/O thread. Idempotent.
  void stop() noexcept;
  bool stopped() const;
  /// No channel is open and the connection has been down for longer than d.
  bool unused_for(std::chrono::milliseconds d) const;

  // For the channels.
  void close_channel(uint64_t id) noexcept;
  const Options& options() const { return opts_; }

 private:
  void run();
  /// Routes every message waiting on the DEALER (bounded per call).
  void drain(std::vector<zmq::message_t>& frames);
  void on_message(std::vector<zmq::message_t>& frames, size_t n);
  void on_event(uint16_t event);
  void fail_all(Errc errc, const std::string& why);

  std::shared_ptr<zmq::context_t> ctx_;
  Options opts_;
  std::string endpoint_, addr_;
  std::shared_ptr<Stats> stats_;
  zmq::socket_t sock_;
  zmq::socket_t monitor_;
  std::shared_ptr<Outbox> out_;
  std::thread thread_;
  std::vector<std::shared_ptr<Inbox>> to_wake_;  // I/O thread: readers to wake after a drain

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, std::shared_ptr<Inbox>> chans_;
  uint64_t next_id_ = 1;
  bool connected_ = false;
  int64_t down_since_ms_ = 0;  // when the connection went down; 0 while it is up
  uint64_t failures_ = 0;      // connect retries and handshake failures seen
  std::string last_failure_;
  bool stop_ = false;
};

}  // namespace micro::plugins::zmqt
