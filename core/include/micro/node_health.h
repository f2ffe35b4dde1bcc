// A per-node circuit breaker shared by selectors: consecutive failures per (service, node id)
// eject a node; after a back-off one probe call is let through (half-open); a success revives
// the node, a failed probe doubles the back-off up to a cap.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "micro/component.h"

namespace micro {

struct NodeHealthOptions {
  /// Consecutive failures that eject a node. >= 1.
  int failure_threshold = 3;
  /// First back-off after an ejection, before one probe call is let through. >= 0.
  std::chrono::milliseconds eject{std::chrono::seconds(10)};
  /// Cap of the back-off, which doubles on each failed probe. >= eject.
  std::chrono::milliseconds eject_max{std::chrono::seconds(300)};
};

/// Thread-safe: every method may be called from any thread. O(1) per call (hash lookups under
/// a shared lock and one per-service mutex), except least_bad() which is O(candidates).
/// When no node of any service has failed, admit() takes no lock at all.
/// Only nodes that have failed are stored; a success or reset(service) forgets them.
class NodeHealth {
 public:
  using Options = NodeHealthOptions;

  enum class State {
    healthy,   ///< no failure since the last success
    failing,   ///< failures below the threshold: still admitted
    ejected,   ///< within its back-off: not admitted
    probing,   ///< back-off over, one probe call admitted and not reported yet
    half_open  ///< back-off over and no probe in flight: the next admit() is the probe
  };

  /// Throws Error{config} for invalid options (see Options).
  explicit NodeHealth(Options options = {});
  ~NodeHealth();
  NodeHealth(const NodeHealth&) = delete;
  NodeHealth& operator=(const NodeHealth&) = delete;

  /// Replaces the options; nodes already ejected keep their current back-off.
  /// Throws Error{config} for invalid options.
  void configure(Options options);
  Options options() const;

  /// Whether a call may go to node now. True for healthy and failing nodes; for an ejected node
  /// true only once its back-off is over and no other probe is in flight, and that call then is
  /// the probe (its outcome must be reported with success() or failure()). A probe that is not
  /// reported within one back-off is considered lost and another probe may be admitted.
  /// Never throws.
  bool admit(std::string_view service, std::string_view node) noexcept;

  /// Reports a successful call: the node is healthy again (revived). Never throws.
  void success(std::string_view service, std::string_view node) noexcept;

  /// Reports a failed call. Ejects the node when its consecutive failures reach the threshold;
  /// a failed probe ejects it again with a doubled back-off (capped); other failures of an
  /// ejected node (calls made before it was ejected, least-bad fallbacks) only count. Never
  /// throws (out of memory: the failure is not recorded).
  void failure(std::string_view service, std::string_view node) noexcept;

  /// Among count candidates (id_at(i) is the node id of candidate i), the index of the least
  /// bad: fewest consecutive failures, then the oldest ejection. count must be > 0.
  /// For when every candidate is ejected and a call should still be tried somewhere.
  std::size_t least_bad(std::string_view service, std::size_t count,
                        const std::function<std::string_view(std::size_t)>& id_at) const noexcept;

  State state(std::string_view service, std::string_view node) const noexcept;
  /// Consecutive failures of node (0 when healthy).
  int failures(std::string_view service, std::string_view node) const noexcept;
  /// The current back-off of an ejected node; 0 when it is not ejected.
  std::chrono::milliseconds backoff(std::string_view service, std::string_view node) const noexcept;

  /// Forgets every node of service. Never throws.
  void reset(std::string_view service) noexcept;
  /// Forgets every node of every service. Never throws.
  void clear() noexcept;

 private:
  struct Node;
  struct Service;
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  using Services = std::unordered_map<std::string, std::unique_ptr<Service>, Hash, std::equal_to<>>;

  static void validate(const Options& o);

  mutable std::shared_mutex mu_;  // services_ and options_; a Service's mutex nests inside
  Options options_;
  Services services_;
  std::atomic<std::size_t> tracked_{0};  // nodes stored, over all services
};

}  // namespace micro
