// Test scaffolding for transport plugins: a listener running accept() on a thread that records
// what the handlers throw, and an echo handler.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "micro/errors.h"
#include "micro/transport.h"

namespace micro::test {

/// Listens on addr and runs accept(handler) on a thread; records the Errc and text of every
/// micro::Error a handler throws. shutdown() (or the destructor) closes the listener and stops
/// the transport, which closes every socket and joins the connection threads, so no handler
/// outlives this object.
class TransportServer {
 public:
  using Handler = std::function<void(std::shared_ptr<transport::Socket>)>;
  TransportServer(std::shared_ptr<Transport> t, Handler h, const std::string& addr = "127.0.0.1:0")
      : transport_(t), listener_(t->listen(addr)) {
    handler_ = [this, h](std::shared_ptr<transport::Socket> s) {
      ++accepted_;
      try {
        h(std::move(s));
      } catch (const Error& e) {
        std::lock_guard<std::mutex> lk(mu_);
        errors_.push_back(e.errc());
        messages_.push_back(e.what());
      }
    };
    thread_ = std::thread([this] { listener_->accept(handler_); });
  }
  ~TransportServer() { shutdown(); }
  TransportServer(const TransportServer&) = delete;
  TransportServer& operator=(const TransportServer&) = delete;

  void shutdown() {
    if (done_) return;
    done_ = true;
    listener_->close();
    thread_.join();
    transport_->stop();
  }
  std::string addr() const { return listener_->addr(); }
  int port() const { return std::stoi(addr().substr(addr().rfind(':') + 1)); }
  int accepted() const { return accepted_.load(); }
  bool has_error(Errc e) {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto x : errors_)
      if (x == e) return true;
    return false;
  }
  /// The what() of every recorded error, one a line.
  std::string error_text() {
    std::lock_guard<std::mutex> lk(mu_);
    std::string s;
    for (auto& m : messages_) s += m + "\n";
    return s;
  }

 private:
  std::shared_ptr<Transport> transport_;
  std::unique_ptr<transport::Listener> listener_;
  Handler handler_;
  std::thread thread_;
  std::atomic<int> accepted_{0};
  bool done_ = false;
  std::mutex mu_;
  std::vector<Errc> errors_;
  std::vector<std::string> messages_;
};

/// Echoes every request as one response until recv throws (rethrown for the server to record).
inline void echo(std::shared_ptr<transport::Socket> s) {
  for (;;) {
    transport::Message m;
    s->recv(m);
    s->send(m);
  }
}

}  // namespace micro::test
