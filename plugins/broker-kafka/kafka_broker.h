// broker-kafka: publish/subscribe over Kafka with librdkafka, in go-micro's format (go-plugins
// broker/kafka): the record value is the JSON envelope {"Header":{..},"Body":"<base64>"}, no
// key. Each subscription is a consumer in group `queue` (or a fresh unique group when there is
// no queue, so every subscriber sees every message) with its own thread; an offset is marked
// for commit only after the handler returned (at-least-once) and committed in the background
// (commit_interval_ms; 0 = synchronously per message).
#pragma once

#include <cstdint>
#include <memory>

#include "micro/broker.h"

namespace micro::plugins {

class KafkaBroker final : public Broker {
 public:
  /// Counters since creation. Thread-safe.
  struct Stats {
    uint64_t delivered = 0;          ///< records the cluster acknowledged
    uint64_t delivery_failures = 0;  ///< records that failed (delivery report, purge on stop)
    uint64_t handler_failures = 0;   ///< handler exceptions (each one is redelivered)
    uint64_t commit_failures = 0;    ///< offset commits the cluster refused
  };

  KafkaBroker();
  /// stop().
  ~KafkaBroker() override;

  std::string name() const override { return "kafka"; }
  /// Reads Options::addrs (bootstrap servers, default 127.0.0.1:9092) and the plugin options.
  /// Throws Error{config} naming an option or a librdkafka property librdkafka refuses.
  void init(const Options& options) override;
  Options options() const override;
  void start() override { connect(); }
  /// disconnect(), then ends every subscription (closing its consumer); later calls throw
  /// Error{closed}.
  void stop() noexcept override;

  /// The bootstrap servers, comma separated.
  std::string address() const override;
  /// Creates the producer and its delivery-report thread. librdkafka connects lazily, so an
  /// unreachable cluster shows up as failed deliveries, not here. Throws Error{unavailable}
  /// when librdkafka refuses to create the client, Error{closed} after stop().
  void connect() override;
  /// Flushes the producer (up to flush_timeout_ms), logs and counts what could not be
  /// delivered, then destroys it; publish throws Error{unavailable} until connect().
  /// Subscriptions keep running. Never throws.
  void disconnect() noexcept override;

  /// Queues the envelope of m for topic (asynchronous; failures show in the delivery report,
  /// which is logged and counted). Throws Error{unavailable} when not connected or the local
  /// queue is full, Error{too_large} when the record exceeds message.max.bytes.
  void publish(std::string_view topic, const broker::Message& m,
               const broker::PublishOptions& o = {}) override;
  /// Starts a consumer for topic. The handler runs on the subscription's own thread; an
  /// exception makes the message be delivered again (seek back, with back-off), its offset
  /// is marked for commit only after a successful return (auto_ack) or Event::ack().
  /// Throws Error{unavailable} when librdkafka refuses the consumer, Error{bad_request} for an
  /// empty topic or no handler.
  std::unique_ptr<broker::Subscriber> subscribe(std::string_view topic, broker::Handler h,
                                                const broker::SubscribeOptions& o = {}) override;

  Stats stats() const;

  struct Core;

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace micro::plugins
