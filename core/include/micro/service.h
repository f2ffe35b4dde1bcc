// Service: a server, a client and their plugins, run until a signal (go-micro micro.go).
#pragma once

#include <string>

#include "micro/client.h"
#include "micro/server.h"

namespace micro {

class Service {
 public:
  struct Options {
    std::string name;
    std::string version = "latest";
    StringMap metadata;
  };
  virtual ~Service();

  virtual void init(const Options& options) = 0;
  virtual Options options() const = 0;
  virtual std::string name() const = 0;

  /// The service's client and server. Owned by the Service; valid for its lifetime.
  virtual Client& client() = 0;
  virtual Server& server() = 0;

  /// Starts plugins and the server, registers, then blocks until SIGTERM/SIGINT or stop();
  /// then deregisters, drains, stops plugins in reverse order. Returns 0 on a clean stop.
  /// Throws Error when start-up fails (after stopping what had started).
  virtual int run() = 0;
  /// Makes run() return. Any thread, async-signal-unsafe, idempotent.
  virtual void stop() noexcept = 0;
};

}  // namespace micro
