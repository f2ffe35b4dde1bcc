// Test fixture: a real nats-server (/usr/sbin or /usr/bin/nats-server, or $MICRO_TEST_NATS_SERVER)
// on a free 127.0.0.1 port, waited for by TCP connect, killed on destruction. restart() keeps the
// port.
#pragma once

#include <memory>
#include <string>

#include "support.h"

namespace micro::test {

class NatsServer {
 public:
  /// Starts the server and waits (up to 10 s) until it accepts TCP connections. Throws
  /// std::runtime_error with the server's stderr when it does not.
  NatsServer();
  ~NatsServer();
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  int port() const { return port_; }
  /// "nats://127.0.0.1:<port>"
  std::string url() const;
  /// SIGKILL and wait for exit.
  void kill();
  /// Starts again on the same port (after kill()) and waits until it accepts connections.
  void start();

 private:
  int port_;
  std::unique_ptr<Process> proc_;
};

/// True when a TCP connection to 127.0.0.1:port succeeds.
bool tcp_accepts(int port);

}  // namespace micro::test
