// The base every pluggable implementation shares, and the time types the interfaces use.
#pragma once

#include <chrono>
#include <map>
#include <string>

namespace micro {

using Clock = std::chrono::steady_clock;
/// An absolute point in time after which an operation gives up. Deadline::max() = no deadline.
using Deadline = Clock::time_point;
inline constexpr Deadline no_deadline = Deadline::max();

/// String map with exact (case-sensitive) keys, as in go-micro's registry JSON.
using StringMap = std::map<std::string, std::string>;

/// What every implementation of one of the eight interfaces is. Instances are created by the
/// core from a plugin factory (or directly, for built-ins), initialised with init(options) of
/// their interface, then start()ed in dependency order and stop()ped in reverse.
class Component {
 public:
  virtual ~Component();
  Component() = default;
  Component(const Component&) = delete;
  Component& operator=(const Component&) = delete;

  /// The implementation's name as selected in config ("http", "etcd", "acme.echo").
  /// Thread-safe; never throws.
  virtual std::string name() const = 0;

  /// Starts background work (threads, connections). Called once, after init(), by the owner.
  /// Throws micro::Error when the component cannot work; the owner then stops what it started.
  virtual void start() {}

  /// Stops background work and releases resources. Idempotent; never throws. After stop() the
  /// component's methods fail with Errc::closed.
  virtual void stop() noexcept {}
};

}  // namespace micro
