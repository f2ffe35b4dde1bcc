// broker-nats: publish/subscribe over NATS with libnats (go-micro broker/nats). Subject = topic,
// payload = go-micro's JSON envelope; a queue option makes a NATS queue subscription. libnats
// reconnects on its own and resubscribes every live subscription, queue groups included.
#pragma once

#include <memory>

#include "micro/broker.h"

namespace micro::plugins {

class NatsBroker final : public Broker {
 public:
  NatsBroker();
  /// stop().
  ~NatsBroker() override;

  std::string name() const override { return "nats"; }
  /// Parses the plugin options (see README.md). Throws Error{config}.
  void init(const Options& options) override;
  Options options() const override;
  void start() override { connect(); }
  /// Closes the connection; later calls throw Error{closed}.
  void stop() noexcept override;

  /// The configured server URLs, comma separated.
  std::string address() const override;
  /// Connects to the first reachable server (each attempt bounded by connect_timeout_ms).
  /// Throws Error{unavailable} naming the URLs. Idempotent.
  void connect() override;
  /// Flushes (up to 5 s) and closes the connection. Subscriptions made on it end; publish then
  /// throws Error{unavailable} until connect(). Never throws.
  void disconnect() noexcept override;

  /// Sends the envelope of m on subject topic (buffered by libnats, also while reconnecting).
  /// Throws Error{unavailable} when not connected or the reconnect buffer is full,
  /// Error{too_large} above the server's max payload. Thread-safe.
  void publish(std::string_view topic, const broker::Message& m,
               const broker::PublishOptions& o = {}) override;
  /// Subscribes; the handler runs on the subscription's own libnats delivery thread, one
  /// message at a time. Throws Error{unavailable} when not connected. Thread-safe.
  std::unique_ptr<broker::Subscriber> subscribe(std::string_view topic, broker::Handler h,
                                                const broker::SubscribeOptions& o = {}) override;

  struct Core;

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace micro::plugins
