// broker-http: go-micro's default broker (spec/gomicro-wire.md §5.5). Each subscriber is a node
// of service "micro.http.broker" in the registry (version = queue or "ff.http.broadcast", id
// "<topic>-<brokerId>"); publish POSTs go-micro's JSON envelope to http://<node>/?id=<nodeId>.
#pragma once

#include <memory>

#include "micro/broker.h"
#include "micro/registry.h"

namespace micro::plugins {

class HttpBroker final : public Broker {
 public:
  /// registry: where subscribers are registered and looked up (shared, not owned alone).
  explicit HttpBroker(std::shared_ptr<Registry> registry);
  /// Stops (deregisters every subscriber, stops the server).
  ~HttpBroker() override;

  std::string name() const override { return "http"; }
  /// Reads the options (address, register_ttl, register_interval, lookup_cache_ms,
  /// post_timeout_ms). Throws Error{config}.
  void init(const Options& options) override;
  Options options() const override;
  void start() override { connect(); }
  /// Disconnects; later calls throw Error{closed}. Idempotent, never throws.
  void stop() noexcept override;

  /// "host:port" of the subscriber server once connected, else "".
  std::string address() const override;
  /// Starts the HTTP server and the re-registration thread. Throws Error{unavailable} when the
  /// address cannot be bound. Idempotent.
  void connect() override;
  /// Deregisters every subscriber and stops the server (waiting for running handlers).
  void disconnect() noexcept override;

  /// POSTs m (Micro-Topic forced to topic) to every broadcast subscriber of topic and to one
  /// random node of each queue group. No subscriber: nothing to do. Thread-safe.
  /// Throws Error{unavailable} naming the node when a POST fails (the others are still tried).
  void publish(std::string_view topic, const broker::Message& m,
               const broker::PublishOptions& o = {}) override;
  /// Registers a node for topic (connecting first if needed). Thread-safe.
  /// Throws Error{unavailable} when the registry refuses, Error{bad_request} on an empty topic.
  std::unique_ptr<broker::Subscriber> subscribe(std::string_view topic, broker::Handler h,
                                                const broker::SubscribeOptions& o = {}) override;

  struct Core;

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace micro::plugins
