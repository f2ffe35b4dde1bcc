// The default client ("mucp"): go-micro's rpc client. Picks nodes through the Selector, pools
// connections per address, sends go-micro's headers, applies the call timeout (sent as
// Timeout), retries on another node with backoff, marks each attempt, streams on a dedicated
// connection with go-micro's frames and EOS.
#pragma once

#include <atomic>
#include <deque>
#include <map>
#include <mutex>

#include "micro/client.h"
#include "micro/runtime.h"

namespace micro::detail {

class RpcClient final : public Client {
 public:
  /// rt must outlive the client. from_service: sent as Micro-From-Service ("" = none).
  RpcClient(Runtime& rt, std::string from_service);
  ~RpcClient() override;

  std::string name() const override { return "mucp"; }
  void init(const Options& options) override;
  Options options() const override;
  void call(Context& ctx, const client::Request& req, const codec::Payload& in,
            const codec::Payload& out, const client::CallOptions& opts) override;
  std::unique_ptr<client::Stream> stream(Context& ctx, const client::Request& req,
                                         const client::CallOptions& opts) override;
  void publish(Context& ctx, std::string_view topic, const codec::Payload& msg,
               const client::PublishOptions& opts) override;
  void stop() noexcept override;

  /// One attempt against one node (the innermost CallFunc).
  void attempt(Context& ctx, const registry::Node& node, const client::Request& req,
               const codec::Payload& in, const codec::Payload& out,
               const client::CallOptions& opts);

 private:
  struct Pooled {
    std::unique_ptr<transport::Socket> sock;
    Clock::time_point created;
  };
  std::unique_ptr<transport::Socket> take(const std::string& addr, Clock::time_point& created,
                                          std::shared_ptr<Transport>& transport,
                                          const registry::Node& node);
  void give(const std::string& addr, std::unique_ptr<transport::Socket> s,
            Clock::time_point created);
  std::shared_ptr<Transport> transport_for(const registry::Node& node);
  transport::Message request_message(Context& ctx, const client::Request& req,
                                     const std::string& ct, const Codec& codec,
                                     const codec::Payload* body, Deadline deadline,
                                     const std::string& id, bool stream);

  Runtime& rt_;
  std::string from_service_;
  mutable std::mutex mu_;
  Options opts_;
  client::CallFunc chain_;
  std::atomic<uint64_t> seq_{0};
  std::mutex pool_mu_;
  std::map<std::string, std::deque<Pooled>> pool_;
};

}  // namespace micro::detail
