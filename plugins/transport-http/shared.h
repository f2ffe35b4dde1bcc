// transport-http: state shared by a transport and every listener and socket it made, so that
// stop() can close them all and join the connection threads the transport owns.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "http_options.h"

typedef struct ssl_st SSL;

namespace micro::plugins::http {

class HttpSocket;
class HttpListener;
class TlsContexts;

struct Shared {
  Shared(HttpOptions o, std::unique_ptr<TlsContexts> t);
  ~Shared();

  const HttpOptions opts;
  const std::unique_ptr<TlsContexts> tls;  ///< null when tls.enabled is false

  std::mutex mu;
  bool stopped = false;
  std::unordered_set<HttpSocket*> sockets;      ///< every live socket (registered by its ctor)
  std::unordered_set<HttpListener*> listeners;  ///< every live listener

  /// Runs body on a new thread owned by the transport. Returns false (body not run) after
  /// stop(). Finished threads are joined here and in stop().
  bool spawn(std::function<void()> body);
  /// Closes every listener and socket, then joins all threads. Idempotent. Never call it from
  /// a thread made by spawn().
  void stop() noexcept;

 private:
  struct Worker {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  std::vector<std::unique_ptr<Worker>> workers_;  // under mu
};

}  // namespace micro::plugins::http
