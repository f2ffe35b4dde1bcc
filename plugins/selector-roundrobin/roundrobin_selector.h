// selector-roundrobin: each service's nodes in turn, rotating across calls (one atomic counter
// per service), so N calls over N nodes reach each node once whichever threads make them.
// A call's retries go on to the following nodes without repeating; nodes ejected by
// micro::NodeHealth are skipped while other nodes are left.
#pragma once

#include <memory>

#include "selector_common.h"

namespace micro::plugins {

class RoundRobinSelector final : public CachedSelector {
 public:
  /// Shares registry; the cache over it is created by init().
  explicit RoundRobinSelector(std::shared_ptr<Registry> registry)
      : CachedSelector(std::move(registry), "roundrobin") {}

 protected:
  selector::Next make_next(Call&& c, ServiceState& state) override;
};

}  // namespace micro::plugins
