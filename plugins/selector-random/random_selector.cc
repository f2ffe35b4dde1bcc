#include "random_selector.h"

#include <nlohmann/json.hpp>
#include <random>

#include "micro/errors.h"

namespace micro::plugins {

struct RandomSelector::Health {
  struct NodeHealth {
    int failures = 0;  // consecutive
    Clock::time_point last_failure;
  };
  std::mutex mu;
  int threshold = 3;
  Clock::duration eject = std::chrono::seconds(10);
  std::map<std::string, std::map<std::string, NodeHealth>, std::less<>> services;
};

namespace {

std::mt19937_64& rng() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return gen;
}

std::size_t uniform(std::size_t n) {
  return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng());
}

// The nodes one call may try, and which it has tried.
struct Candidates {
  std::string service;
  std::vector<registry::Node> nodes;
  std::vector<bool> tried;
  std::size_t left = 0;
};

registry::Node pick(Candidates& c, RandomSelector::Health& health) {
  if (c.left == 0) {
    throw Error(Errc::unavailable, "selector random: all " + std::to_string(c.nodes.size()) +
                                       " nodes of service " + c.service + " were tried");
  }
  std::vector<std::size_t> healthy, untried;
  {
    std::lock_guard lk(health.mu);
    auto s = health.services.find(c.service);
    if (s == health.services.end() || s->second.empty()) {
      // Fast path: no node of this service has failed lately.
      if (c.left == c.nodes.size()) {
        auto i = uniform(c.nodes.size());
        c.tried[i] = true;
        --c.left;
        return c.nodes[i];
      }
    }
    auto now = Clock::now();
    for (std::size_t i = 0; i < c.nodes.size(); ++i) {
      if (c.tried[i]) continue;
      untried.push_back(i);
      bool ejected = false;
      if (s != health.services.end()) {
        auto n = s->second.find(c.nodes[i].id);
        ejected = n != s->second.end() && n->second.failures >= health.threshold &&
                  now - n->second.last_failure < health.eject;
      }
      if (!ejected) healthy.push_back(i);
    }
  }
  // Ejected nodes are tried only when no healthy node is left.
  const auto& pool = healthy.empty() ? untried : healthy;
  auto i = pool[uniform(pool.size())];
  c.tried[i] = true;
  --c.left;
  return c.nodes[i];
}

}  // namespace

RandomSelector::RandomSelector(std::shared_ptr<Registry> registry)
    : registry_(std::move(registry)), health_(std::make_shared<Health>()) {
  if (!registry_) throw Error(Errc::plugin, "selector random: no registry");
}

RandomSelector::~RandomSelector() { stop(); }

void RandomSelector::init(const Options& options) {
  nlohmann::json o;
  try {
    o = nlohmann::json::parse(options.plugin_options.empty() ? "{}" : options.plugin_options);
  } catch (const nlohmann::json::exception& e) {
    throw Error(Errc::config, std::string("selector random: options are not JSON: ") + e.what());
  }
  auto ttl = std::chrono::seconds(o.value("cache_ttl_s", 60));
  auto cache = std::make_shared<RegistryCache>(registry_, RegistryCache::Options{ttl});
  std::shared_ptr<RegistryCache> old;
  {
    std::lock_guard lk(mu_);
    options_ = options;
    old = std::exchange(cache_, std::move(cache));
    std::lock_guard hk(health_->mu);
    health_->threshold = o.value("failure_threshold", 3);
    health_->eject = std::chrono::seconds(o.value("eject_s", 10));
  }
  if (old) old->stop();
}

Selector::Options RandomSelector::options() const {
  std::lock_guard lk(mu_);
  return options_;
}

void RandomSelector::stop() noexcept {
  std::shared_ptr<RegistryCache> cache;
  {
    std::lock_guard lk(mu_);
    cache = cache_;
  }
  if (cache) cache->stop();
}

selector::Next RandomSelector::select(std::string_view service, const selector::SelectOptions& o) {
  std::shared_ptr<RegistryCache> cache;
  {
    std::lock_guard lk(mu_);
    cache = cache_;
  }
  if (!cache) throw Error(Errc::internal, "selector random: select() before init()");
  auto snapshot = cache->get_service(service);
  auto c = std::make_shared<Candidates>();
  c->service = std::string(service);
  auto add = [&](const std::vector<registry::Service>& services) {
    for (const auto& s : services) c->nodes.insert(c->nodes.end(), s.nodes.begin(), s.nodes.end());
  };
  if (o.filters.empty()) {
    add(*snapshot);
  } else {
    auto services = *snapshot;
    for (const auto& f : o.filters) services = f(std::move(services));
    add(services);
  }
  if (c->nodes.empty())
    throw Error(Errc::not_found, "selector random: service " + c->service + " has no nodes");
  c->tried.assign(c->nodes.size(), false);
  c->left = c->nodes.size();
  return [c, health = health_]() { return pick(*c, *health); };
}

void RandomSelector::mark(std::string_view service, const registry::Node& node,
                          const Error* err) noexcept {
  try {
    std::lock_guard lk(health_->mu);
    auto s = health_->services.find(service);
    if (err == nullptr) {
      if (s == health_->services.end()) return;
      s->second.erase(node.id);
      if (s->second.empty()) health_->services.erase(s);
      return;
    }
    if (s == health_->services.end()) s = health_->services.try_emplace(std::string(service)).first;
    auto& n = s->second[node.id];
    ++n.failures;
    n.last_failure = Clock::now();
  } catch (...) {
    // Out of memory while recording health: the node simply is not tracked.
  }
}

void RandomSelector::reset(std::string_view service) noexcept {
  {
    std::lock_guard lk(health_->mu);
    if (auto s = health_->services.find(service); s != health_->services.end())
      health_->services.erase(s);
  }
  std::shared_ptr<RegistryCache> cache;
  {
    std::lock_guard lk(mu_);
    cache = cache_;
  }
  if (cache) cache->invalidate(service);
}

}  // namespace micro::plugins
