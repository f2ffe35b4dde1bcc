// Broker: publish/subscribe (go-micro broker/broker.go). Messages carry go-micro's envelope
// headers (Content-Type, Micro-Topic, Micro-Id) and an encoded body.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "micro/component.h"
#include "micro/errors.h"
#include "micro/metadata.h"

namespace micro::broker {

struct Message {
  Metadata header;
  std::string body;
};

/// A delivered message (go-micro broker.Event).
class Event {
 public:
  virtual ~Event();
  virtual const std::string& topic() const = 0;
  virtual const Message& message() const = 0;
  /// Acknowledges the message when the subscription is not auto-ack. Throws Error{unavailable}.
  virtual void ack() = 0;
  /// The decode error when the message could not be read (handler sees it instead of a body).
  virtual const Error* error() const = 0;
};

/// Called for each message, on a broker-owned thread. Throwing marks the delivery as failed:
/// at-least-once brokers redeliver, the others count it.
using Handler = std::function<void(Event&)>;

struct SubscribeOptions {
  /// Queue group: each message goes to one subscriber of the group. "" = broadcast.
  std::string queue;
  /// Acknowledge after the handler returns without throwing.
  bool auto_ack = true;
};

struct PublishOptions {};

/// go-micro's broker envelope (spec/gomicro-wire.md §5.2), used as the payload by the NATS, Kafka
/// and HTTP brokers: {"Header":{...},"Body":"<standard base64, padded>"}, keys exactly so.
std::string to_envelope(const Message& m);
/// Parses an envelope. Throws Error{bad_request} when it is not one (not JSON, no Header object,
/// Body not base64); unknown keys are ignored, a missing Body is empty.
Message from_envelope(std::string_view text);

/// An active subscription. Destruction unsubscribes.
class Subscriber {
 public:
  virtual ~Subscriber();
  virtual const std::string& topic() const = 0;
  virtual const SubscribeOptions& options() const = 0;
  /// Stops delivery; returns once no handler of this subscription runs. Idempotent.
  /// Throws Error{unavailable} when the broker could not be told (delivery stops anyway).
  virtual void unsubscribe() = 0;
};

}  // namespace micro::broker

namespace micro {

class Broker : public Component {
 public:
  struct Options {
    /// Broker addresses (MICRO_BROKER_ADDRESS).
    std::vector<std::string> addrs;
    std::string plugin_options = "{}";
  };
  virtual void init(const Options& options) = 0;
  virtual Options options() const = 0;

  /// The address subscribers are reached at, or the broker's address. Never throws.
  virtual std::string address() const = 0;
  /// Connects. Throws Error{unavailable}. Idempotent.
  virtual void connect() = 0;
  /// Disconnects, flushing what is queued. Never throws.
  virtual void disconnect() noexcept = 0;

  /// Publishes m on topic. Thread-safe. Throws Error{unavailable}, Error{too_large}.
  virtual void publish(std::string_view topic, const broker::Message& m,
                       const broker::PublishOptions& o = {}) = 0;

  /// Subscribes h to topic. Thread-safe. Throws Error{unavailable}.
  virtual std::unique_ptr<broker::Subscriber> subscribe(std::string_view topic, broker::Handler h,
                                                        const broker::SubscribeOptions& o = {}) = 0;
};

}  // namespace micro
