// The server side: a ROUTER bound by listen(). Every (peer routing id, channel id) pair seen
// in a data message is a logical connection handed to accept()'s callback as a Socket, on a
// thread of its own (at most max_connections at once). The I/O thread alone touches zmq.
#pragma once

#include <map>
#include <memory>
#include <thread>
#include <zmq.hpp>

#include "channel.h"
#include "zmq_client.h"
#include "zmq_options.h"

namespace micro::plugins::zmqt {

/// One bound ROUTER. Owned by the transport (for stop()) and by its Listener.
class Router : public std::enable_shared_from_this<Router> {
 public:
  /// Binds endpoint and starts the I/O thread. Throws Error{unavailable} (in use, bad address).
  Router(std::shared_ptr<zmq::context_t> ctx, const Options& opts, const std::string& endpoint,
         std::shared_ptr<Stats> stats);
  ~Router();

  /// The bound address: "host:port" for tcp, "ipc://path" for ipc.
  const std::string& addr() const { return addr_; }

  /// Listener::accept: hands new logical connections to fn until close_listener() or stop().
  void accept(const std::function<void(std::shared_ptr<transport::Socket>)>& fn);
  /// Stops accepting; open logical connections go on. The ROUTER closes (and the port is
  /// released) once they have all closed. Idempotent.
  void close_listener() noexcept;
  /// Closes everything: every channel fails with closed, the I/O thread and the connection
  /// threads are joined. Idempotent.
  void stop() noexcept;
  /// The I/O thread has ended and every connection thread has returned.
  bool finished();

  using Key = std::pair<std::string, uint64_t>;  // routing id, channel id
  struct Chan {
    std::shared_ptr<Inbox> in;
  };
  /// For the sockets: forget a channel and tell the peer.
  void close_channel(const Key& k) noexcept;

 private:
  struct Handler {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  void run();
  void on_message(std::vector<zmq::message_t>& frames, size_t n);
  void refuse(const std::string& peer, uint64_t chan, const std::string& why);
  void send_close(const std::string& peer, uint64_t chan) noexcept;
  void sweep_idle();
  /// Sends what can be sent of held; stops at a full HWM unless final (then drops the rest).
  void flush(std::deque<OutItem>& held, bool final);
  void reap(bool all);

  std::shared_ptr<zmq::context_t> ctx_;
  Options opts_;
  std::shared_ptr<Stats> stats_;
  zmq::socket_t sock_;
  std::string addr_;
  std::shared_ptr<Outbox> out_;
  std::thread thread_;
  std::vector<std::shared_ptr<Inbox>> to_wake_;  // I/O thread: readers to wake after a drain

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<Key, Chan> chans_;
  std::deque<std::shared_ptr<transport::Socket>> pending_;
  std::vector<Handler> handlers_;
  bool accepting_ = true;
  bool stop_ = false;
  bool io_done_ = false;
  int64_t last_sweep_ = 0;
  int64_t last_write_ms_ = 0;  // I/O thread only
};

}  // namespace micro::plugins::zmqt
