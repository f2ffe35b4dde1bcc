#include "random_selector.h"

#include <limits>
#include <random>
#include <unordered_map>

namespace micro::plugins {
namespace {

std::size_t uniform(std::size_t n) {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return std::uniform_int_distribution<std::size_t>(0, n - 1)(gen);
}

// A random permutation of [0, n) drawn one element at a time (Fisher-Yates over a sparse
// array): O(1) per draw, and no allocation for a call that needs one node.
class RandomOrder {
 public:
  explicit RandomOrder(std::size_t n) : left_(n) {}

  std::optional<std::size_t> operator()() {
    if (left_ == 0) return std::nullopt;
    auto j = uniform(left_);
    auto last = left_ - 1;
    auto picked = at(j);
    if (j != last) set(j, at(last));
    --left_;
    return picked;
  }

 private:
  static constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
  std::size_t at(std::size_t i) const {
    if (i == slot_key_) return slot_value_;
    auto it = moved_.find(i);
    return it == moved_.end() ? i : it->second;
  }
  // The first move is kept inline; only retries touch the map.
  void set(std::size_t i, std::size_t v) {
    if (slot_key_ == kNone || slot_key_ == i) {
      slot_key_ = i;
      slot_value_ = v;
    } else {
      moved_[i] = v;
    }
  }
  std::size_t left_;
  std::size_t slot_key_ = kNone, slot_value_ = 0;
  std::unordered_map<std::size_t, std::size_t> moved_;
};

}  // namespace

selector::Next RandomSelector::make_next(Call&& c, ServiceState&) {
  RandomOrder order(c.view->nodes.size());
  return bind(std::move(c), std::move(order));
}

}  // namespace micro::plugins
