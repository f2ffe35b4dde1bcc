// selector-random: go-micro's default strategy (a uniformly random node of all versions) over
// the shared registry cache, with retries that never repeat a node within one call and
// micro::NodeHealth as the breaker fed by mark(): ejected nodes are skipped while other nodes
// are left.
#pragma once

#include <memory>

#include "selector_common.h"

namespace micro::plugins {

class RandomSelector final : public CachedSelector {
 public:
  /// Shares registry; the cache over it is created by init().
  explicit RandomSelector(std::shared_ptr<Registry> registry)
      : CachedSelector(std::move(registry), "random") {}

 protected:
  selector::Next make_next(Call&& c, ServiceState& state) override;
};

}  // namespace micro::plugins
