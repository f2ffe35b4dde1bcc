// transport-zmq: micro::Transport over ZeroMQ (libzmq 4.3, cppzmq). See README.md.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "micro/transport.h"
#include "zmq_client.h"
#include "zmq_options.h"
#include "zmq_server.h"

namespace micro::plugins::zmqt {

/// Threads: every method is thread-safe. dial() shares one DEALER connection per endpoint
/// among its Sockets; listen() binds a ROUTER. stop() closes every connection and listener
/// and joins their threads (including the threads running accept() callbacks).
class ZmqTransport final : public Transport {
 public:
  ZmqTransport();
  ~ZmqTransport() override;

  std::string name() const override { return "zmq"; }
  void init(const Transport::Options& options) override;
  Transport::Options options() const override;
  void start() override;
  void stop() noexcept override;

  std::unique_ptr<transport::Socket> dial(std::string_view addr,
                                          const transport::DialOptions& opts) override;
  std::unique_ptr<transport::Listener> listen(std::string_view addr,
                                              const transport::ListenOptions& opts) override;

 private:
  std::shared_ptr<zmq::context_t> context();

  mutable std::mutex mu_;
  Transport::Options topts_;
  zmqt::Options opts_;
  std::shared_ptr<zmq::context_t> ctx_;
  std::shared_ptr<Stats> stats_ = std::make_shared<Stats>();
  std::map<std::string, std::shared_ptr<Dealer>> dealers_;
  std::vector<std::shared_ptr<Router>> routers_;
  bool stopped_ = false;
};

}  // namespace micro::plugins::zmqt
