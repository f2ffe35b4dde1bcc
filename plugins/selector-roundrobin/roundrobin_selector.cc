#include "roundrobin_selector.h"

namespace micro::plugins {
namespace {

// The nodes after start, wrapping around, each once.
struct RingOrder {
  std::size_t start;
  std::size_t n;
  std::size_t step = 0;

  std::optional<std::size_t> operator()() {
    if (step == n) return std::nullopt;
    return (start + step++) % n;
  }
};

}  // namespace

selector::Next RoundRobinSelector::make_next(Call&& c, ServiceState& state) {
  auto n = c.view->nodes.size();
  // One tick per call, so concurrent calls start at different nodes.
  auto start = state.position.fetch_add(1, std::memory_order_relaxed) % n;
  RingOrder order{static_cast<std::size_t>(start), n};
  return bind(std::move(c), order);
}

}  // namespace micro::plugins
