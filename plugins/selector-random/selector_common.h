// What selector-random and selector-roundrobin share (selector-roundrobin compiles this file
// too): option parsing, configured filters (version, node metadata), the per-service view of
// nodes kept across calls, micro::NodeHealth as the breaker, and the retry walk of one call.
// A strategy only supplies the order in which one call visits the nodes.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "micro/node_health.h"
#include "micro/registry_cache.h"
#include "micro/selector.h"

namespace micro::plugins {

/// The plugin options both selectors take (see their README.md).
struct SelectorSettings {
  std::chrono::milliseconds cache_ttl{std::chrono::seconds(60)};
  NodeHealthOptions health;
  std::string version;  ///< "" = every version
  StringMap metadata;   ///< node metadata labels that must all match
};

/// Parses validated plugin options. Throws Error{config} naming who and the bad key.
SelectorSettings parse_selector_settings(const std::string& plugin_options, const std::string& who);

/// The nodes one select() chooses from, flattened over versions, after filters. Immutable.
struct NodeView {
  RegistryCache::Snapshot source;           ///< keeps the pointed-to nodes alive
  std::vector<registry::Service> filtered;  ///< owns the nodes when call filters ran
  std::vector<const registry::Node*> nodes;
};

/// Selector over a RegistryCache and a NodeHealth; thread-safe as Selector requires.
class CachedSelector : public Selector {
 public:
  /// Shares registry (throws Error{plugin} when null); the cache over it is made by init().
  /// name is a string literal (the Next functions handed out refer to it).
  CachedSelector(std::shared_ptr<Registry> registry, const char* name);
  ~CachedSelector() override;

  std::string name() const override { return std::string(name_); }
  void init(const Options& options) override;
  Options options() const override;
  void stop() noexcept override;

  selector::Next select(std::string_view service, const selector::SelectOptions& o = {}) override;
  void mark(std::string_view service, const registry::Node& node,
            const Error* err) noexcept override;
  void reset(std::string_view service) noexcept override;

 protected:
  /// State of one service kept across calls.
  struct ServiceState {
    std::atomic<std::uint64_t> position{0};             ///< calls started (round robin's rotation)
    std::atomic<std::shared_ptr<const NodeView>> view;  ///< for the configured filters only
  };

  /// One call: its nodes and those it skipped because they were ejected.
  struct Call {
    const char* name;  ///< the selector's name, a literal
    std::string service;
    std::shared_ptr<const NodeView> view;
    std::shared_ptr<NodeHealth> health;
    std::vector<std::size_t> skipped;
  };

  /// Visits nodes in the order given by order() (an index not returned before, or nullopt
  /// when none is left), returning the first one the breaker admits; once the order is
  /// exhausted, the least bad of the skipped ones; then throws Error{unavailable}.
  template <class Order>
  static registry::Node next_node(Call& c, Order& order);

  /// The Next of one call over c.view (never empty). state is the service's rotation state.
  /// Usually bind(std::move(c), some_order).
  virtual selector::Next make_next(Call&& c, ServiceState& state) = 0;

  /// A Next walking c's nodes in the given order (see next_node). One allocation.
  template <class Order>
  static selector::Next bind(Call&& c, Order order) {
    struct Bound {
      Call call;
      Order order;
    };
    auto b = std::make_shared<Bound>(Bound{std::move(c), std::move(order)});
    return [b] { return next_node(b->call, b->order); };
  }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  std::shared_ptr<ServiceState> state_of(std::string_view service);
  std::shared_ptr<const NodeView> view_of(ServiceState& st, const RegistryCache::Snapshot& snap,
                                          const SelectorSettings& settings) const;

  const char* const name_;
  const std::string who_;
  std::shared_ptr<Registry> registry_;
  std::shared_ptr<NodeHealth> health_;
  mutable std::shared_mutex mu_;  // everything below
  Options options_;
  std::shared_ptr<const SelectorSettings> settings_;
  std::shared_ptr<RegistryCache> cache_;
  std::unordered_map<std::string, std::shared_ptr<ServiceState>, Hash, std::equal_to<>> states_;
};

template <class Order>
registry::Node CachedSelector::next_node(Call& c, Order& order) {
  while (std::optional<std::size_t> i = order()) {
    const registry::Node& n = *c.view->nodes[*i];
    if (c.health->admit(c.service, n.id)) return n;
    c.skipped.push_back(*i);
  }
  if (c.skipped.empty()) {
    throw Error(Errc::unavailable, std::string("selector ") + c.name + ": all " +
                                       std::to_string(c.view->nodes.size()) + " nodes of service " +
                                       c.service + " were tried");
  }
  // Every node left is ejected: try the least bad rather than failing the call.
  auto k = c.health->least_bad(c.service, c.skipped.size(), [&](std::size_t j) {
    return std::string_view(c.view->nodes[c.skipped[j]]->id);
  });
  auto i = c.skipped[k];
  c.skipped.erase(c.skipped.begin() + static_cast<std::ptrdiff_t>(k));
  return *c.view->nodes[i];
}

}  // namespace micro::plugins
