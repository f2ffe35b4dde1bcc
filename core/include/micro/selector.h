// Selector: picks a node of a service for each call (go-micro selector/selector.go), with
// mark/reset feeding node health. Unlike go-micro, select() returns a stateful strategy that
// can keep per-service state across calls (round robin that rotates across calls).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "micro/component.h"
#include "micro/errors.h"
#include "micro/registry.h"

namespace micro::selector {

/// Returns the next node to try. Throws Error{unavailable} when no node is left.
/// Not thread-safe: one Next belongs to one call (its retries).
using Next = std::function<registry::Node()>;

/// Narrows the candidate services (by version, by node metadata, ...).
using Filter = std::function<std::vector<registry::Service>(std::vector<registry::Service>)>;

struct SelectOptions {
  std::vector<Filter> filters;
};

}  // namespace micro::selector

namespace micro {

class Selector : public Component {
 public:
  struct Options {
    std::string plugin_options = "{}";
  };
  virtual void init(const Options& options) = 0;
  virtual Options options() const = 0;

  /// A strategy over the current nodes of service. Thread-safe.
  /// Throws Error{not_found} when the service has no nodes, Error{unavailable} when the
  /// registry is unreachable and nothing is cached.
  virtual selector::Next select(std::string_view service,
                                const selector::SelectOptions& o = {}) = 0;

  /// Reports the outcome of a call to node: err == nullptr for success. Thread-safe, never throws.
  virtual void mark(std::string_view service, const registry::Node& node,
                    const Error* err) noexcept = 0;

  /// Forgets health and cached state for service. Thread-safe, never throws.
  virtual void reset(std::string_view service) noexcept = 0;
};

}  // namespace micro
