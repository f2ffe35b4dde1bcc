// The default server ("mucp"): go-micro's rpc server over any Transport. Routes Micro-Endpoint
// to handlers, decodes by Content-Type, answers errors as go-micro does (status 200,
// Micro-Error), honours Timeout, serves streams with go-micro's frames, registers itself with
// the registry and re-registers on an interval, drains in-flight calls on stop.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "micro/runtime.h"
#include "micro/server.h"

namespace micro::detail {

class RpcServer final : public Server {
 public:
  /// rt must outlive the server.
  explicit RpcServer(Runtime& rt);
  ~RpcServer() override;

  std::string name() const override { return "mucp"; }
  void init(const Options& options) override;
  Options options() const override;
  void handle(server::Handler h) override;
  void subscribe(server::Subscriber s) override;
  void start() override;
  void stop() noexcept override;
  std::string address() const override;

  /// The registry record of this node (valid after start()).
  registry::Service registration() const;

 private:
  struct Conn;
  struct StreamState;
  struct Route {
    server::UnaryFn unary;
    server::StreamFn stream;
  };

  void serve(const std::shared_ptr<transport::Socket>& sock);
  void handle_unary(Conn& c, const Route& r, codec::Message& m, const Codec& codec,
                    Deadline deadline);
  void open_stream(Conn& c, const Route& r, codec::Message m, std::shared_ptr<Codec> codec,
                   Deadline deadline);
  void send_error(Conn& c, const codec::Message& m, const Codec* codec, const Error& e);
  void register_loop();
  bool register_once(bool log_failure);

  Runtime& rt_;
  mutable std::mutex mu_;
  Options opts_;
  std::map<std::string, Route, std::less<>> routes_;
  std::vector<server::Endpoint> endpoints_;
  std::vector<server::Subscriber> subscribers_;
  std::vector<std::unique_ptr<broker::Subscriber>> broker_subs_;

  std::unique_ptr<transport::Listener> listener_;
  std::thread accept_thread_;
  std::string address_;
  registry::Service record_;
  bool registered_ = false;

  std::thread register_thread_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  bool started_ = false;

  // Live connections and in-flight work, for draining.
  std::mutex conn_mu_;
  std::condition_variable conn_cv_;
  std::set<std::shared_ptr<Conn>> conns_;
  std::atomic<bool> draining_{false};
};

}  // namespace micro::detail
