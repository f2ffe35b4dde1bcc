#include "micro/node_health.h"

#include <algorithm>
#include <mutex>

#include "micro/errors.h"

namespace micro {

struct NodeHealth::Node {
  int failures = 0;  // consecutive
  bool ejected = false;
  bool probing = false;          // a probe was admitted and not reported yet
  Clock::time_point ejected_at;  // last (re-)ejection
  Clock::time_point until;       // end of the back-off, or of the probe's lease
  Clock::duration backoff{};
};

struct NodeHealth::Service {
  mutable std::mutex mu;
  std::unordered_map<std::string, Node, Hash, std::equal_to<>> nodes;
};

namespace {

NodeHealth::State state_of(int failures, bool ejected, bool probing, Clock::time_point until,
                           Clock::time_point now) {
  using S = NodeHealth::State;
  if (failures == 0) return S::healthy;
  if (!ejected) return S::failing;
  if (now < until) return probing ? S::probing : S::ejected;
  return S::half_open;
}

}  // namespace

NodeHealth::NodeHealth(Options options) : options_(options) { validate(options); }

NodeHealth::~NodeHealth() = default;

void NodeHealth::validate(const Options& o) {
  if (o.failure_threshold < 1)
    throw Error(Errc::config, "node health: failure_threshold must be >= 1, got " +
                                  std::to_string(o.failure_threshold));
  if (o.eject.count() < 0)
    throw Error(Errc::config,
                "node health: eject must be >= 0 ms, got " + std::to_string(o.eject.count()));
  if (o.eject_max < o.eject)
    throw Error(Errc::config, "node health: eject_max (" + std::to_string(o.eject_max.count()) +
                                  " ms) must be >= eject (" + std::to_string(o.eject.count()) +
                                  " ms)");
}

void NodeHealth::configure(Options options) {
  validate(options);
  std::unique_lock lk(mu_);
  options_ = options;
}

NodeHealth::Options NodeHealth::options() const {
  std::shared_lock lk(mu_);
  return options_;
}

bool NodeHealth::admit(std::string_view service, std::string_view node) noexcept {
  if (tracked_.load(std::memory_order_acquire) == 0) return true;
  std::shared_lock lk(mu_);
  auto s = services_.find(service);
  if (s == services_.end()) return true;
  std::lock_guard sl(s->second->mu);
  auto n = s->second->nodes.find(node);
  if (n == s->second->nodes.end() || !n->second.ejected) return true;
  auto now = Clock::now();
  if (now < n->second.until) return false;  // backing off, or a probe is in flight
  // Half-open: this call is the probe. Its lease lasts one back-off.
  n->second.probing = true;
  n->second.until = now + n->second.backoff;
  return true;
}

void NodeHealth::success(std::string_view service, std::string_view node) noexcept {
  if (tracked_.load(std::memory_order_acquire) == 0) return;
  std::shared_lock lk(mu_);
  auto s = services_.find(service);
  if (s == services_.end()) return;
  std::lock_guard sl(s->second->mu);
  auto n = s->second->nodes.find(node);
  if (n == s->second->nodes.end()) return;
  s->second->nodes.erase(n);
  tracked_.fetch_sub(1, std::memory_order_release);
}

void NodeHealth::failure(std::string_view service, std::string_view node) noexcept {
  try {
    std::shared_lock lk(mu_);
    auto s = services_.find(service);
    if (s == services_.end()) {
      lk.unlock();
      {
        std::unique_lock ul(mu_);
        if (!services_.count(service))
          services_.emplace(std::string(service), std::make_unique<Service>());
      }
      lk.lock();
      s = services_.find(service);
      if (s == services_.end()) return;  // reset() in between: nothing to record into
    }
    auto now = Clock::now();
    std::lock_guard sl(s->second->mu);
    auto n = s->second->nodes.find(node);
    if (n == s->second->nodes.end()) {
      n = s->second->nodes.emplace(std::string(node), Node{}).first;
      tracked_.fetch_add(1, std::memory_order_release);
    }
    auto& st = n->second;
    ++st.failures;
    if (!st.ejected) {
      if (st.failures >= options_.failure_threshold) {
        st.ejected = true;
        st.backoff = options_.eject;
        st.ejected_at = now;
        st.until = now + st.backoff;
      }
    } else if (st.probing) {
      st.probing = false;
      st.backoff = std::min<Clock::duration>(st.backoff * 2, options_.eject_max);
      st.ejected_at = now;
      st.until = now + st.backoff;
    }
  } catch (...) {
    // Out of memory: the failure is not recorded.
  }
}

std::size_t NodeHealth::least_bad(
    std::string_view service, std::size_t count,
    const std::function<std::string_view(std::size_t)>& id_at) const noexcept {
  if (count <= 1 || tracked_.load(std::memory_order_acquire) == 0) return 0;
  std::shared_lock lk(mu_);
  auto s = services_.find(service);
  if (s == services_.end()) return 0;
  std::lock_guard sl(s->second->mu);
  std::size_t best = 0;
  int best_failures = 0;
  Clock::time_point best_at;
  for (std::size_t i = 0; i < count; ++i) {
    int failures = 0;
    Clock::time_point at = Clock::time_point::min();
    if (auto n = s->second->nodes.find(id_at(i)); n != s->second->nodes.end()) {
      failures = n->second.failures;
      at = n->second.ejected ? n->second.ejected_at : Clock::time_point::min();
    }
    if (i == 0 || failures < best_failures || (failures == best_failures && at < best_at)) {
      best = i;
      best_failures = failures;
      best_at = at;
    }
    if (best_failures == 0) break;  // cannot do better than a node that has not failed
  }
  return best;
}

NodeHealth::State NodeHealth::state(std::string_view service,
                                    std::string_view node) const noexcept {
  std::shared_lock lk(mu_);
  auto s = services_.find(service);
  if (s == services_.end()) return State::healthy;
  std::lock_guard sl(s->second->mu);
  auto n = s->second->nodes.find(node);
  if (n == s->second->nodes.end()) return State::healthy;
  const auto& st = n->second;
  return state_of(st.failures, st.ejected, st.probing, st.until, Clock::now());
}

int NodeHealth::failures(std::string_view service, std::string_view node) const noexcept {
  std::shared_lock lk(mu_);
  auto s = services_.find(service);
  if (s == services_.end()) return 0;
  std::lock_guard sl(s->second->mu);
  auto n = s->second->nodes.find(node);
  return n == s->second->nodes.end() ? 0 : n->second.failures;
}

std::chrono::milliseconds NodeHealth::backoff(std::string_view service,
                                              std::string_view node) const noexcept {
  std::shared_lock lk(mu_);
  auto s = services_.find(service);
  if (s == services_.end()) return {};
  std::lock_guard sl(s->second->mu);
  auto n = s->second->nodes.find(node);
  if (n == s->second->nodes.end() || !n->second.ejected) return {};
  return std::chrono::duration_cast<std::chrono::milliseconds>(n->second.backoff);
}

void NodeHealth::reset(std::string_view service) noexcept {
  std::unique_lock lk(mu_);
  auto s = services_.find(service);
  if (s == services_.end()) return;
  tracked_.fetch_sub(s->second->nodes.size(), std::memory_order_release);
  services_.erase(s);
}

void NodeHealth::clear() noexcept {
  std::unique_lock lk(mu_);
  services_.clear();
  tracked_.store(0, std::memory_order_release);
}

}  // namespace micro
