// broker-memory: in-process publish/subscribe (go-micro broker/memory). Every subscriber has
// its own worker thread and a bounded queue; a queue group gets each message once, delivered
// to its members in turn.
#pragma once

#include <memory>

#include "micro/broker.h"

namespace micro::plugins {

class MemoryBroker final : public Broker {
 public:
  MemoryBroker();
  /// Stops every subscriber (joining their threads).
  ~MemoryBroker() override;

  std::string name() const override { return "memory"; }
  void init(const Options& options) override;
  Options options() const override;
  void start() override { connect(); }
  /// Disconnects, then ends every subscription; later calls throw Error{closed}.
  void stop() noexcept override;

  std::string address() const override { return "memory"; }
  /// In-process: there is nothing to reach, a new broker is already connected.
  void connect() override;
  /// Waits (up to 5 s) for queued messages to be handled; publish then throws until connect().
  void disconnect() noexcept override;

  /// Delivers to every broadcast subscriber of topic and to one member of each queue group.
  /// Throws Error{unavailable} naming the topic when a subscriber's queue is full (nothing is
  /// delivered then), or when disconnected.
  void publish(std::string_view topic, const broker::Message& m,
               const broker::PublishOptions& o = {}) override;
  std::unique_ptr<broker::Subscriber> subscribe(std::string_view topic, broker::Handler h,
                                                const broker::SubscribeOptions& o = {}) override;

  struct Core;

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace micro::plugins
