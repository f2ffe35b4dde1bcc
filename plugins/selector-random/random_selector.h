// selector-random: go-micro's default strategy (a uniformly random node of all versions) over
// the shared registry cache, with retries that never repeat a node within one call and a
// per-node breaker fed by mark(): nodes with too many consecutive failures are skipped for a
// while when other nodes are left.
#pragma once

#include <map>
#include <memory>
#include <mutex>

#include "micro/registry_cache.h"
#include "micro/selector.h"

namespace micro::plugins {

class RandomSelector final : public Selector {
 public:
  /// Shares registry; the cache over it is created by init().
  explicit RandomSelector(std::shared_ptr<Registry> registry);
  ~RandomSelector() override;

  std::string name() const override { return "random"; }
  void init(const Options& options) override;
  Options options() const override;
  void stop() noexcept override;

  selector::Next select(std::string_view service, const selector::SelectOptions& o = {}) override;
  void mark(std::string_view service, const registry::Node& node,
            const Error* err) noexcept override;
  void reset(std::string_view service) noexcept override;

  /// Consecutive failures per node, shared with the Next functions handed out.
  struct Health;

 private:
  std::shared_ptr<Registry> registry_;
  mutable std::mutex mu_;
  Options options_;
  std::shared_ptr<RegistryCache> cache_;
  std::shared_ptr<Health> health_;
};

}  // namespace micro::plugins
