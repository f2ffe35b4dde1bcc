#include "selector_common.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "micro/errors.h"

namespace micro::plugins {
namespace {

std::chrono::milliseconds seconds_option(const nlohmann::json& o, const char* key, double dflt,
                                         const std::string& who) {
  double s = dflt;
  if (auto it = o.find(key); it != o.end()) {
    if (!it->is_number()) throw Error(Errc::config, who + "." + key + ": expected a number");
    s = it->get<double>();
  }
  if (!(s >= 0) || s > 1e9) throw Error(Errc::config, who + "." + key + ": must be >= 0 seconds");
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(s * 1000)));
}

bool labels_match(const StringMap& want, const StringMap& have) {
  for (const auto& [k, v] : want) {
    auto it = have.find(k);
    if (it == have.end() || it->second != v) return false;
  }
  return true;
}

// Applies the configured filters in place.
void apply_settings(std::vector<registry::Service>& services, const SelectorSettings& s) {
  if (!s.version.empty())
    std::erase_if(services, [&](const registry::Service& x) { return x.version != s.version; });
  if (!s.metadata.empty())
    for (auto& x : services)
      std::erase_if(x.nodes,
                    [&](const registry::Node& n) { return !labels_match(s.metadata, n.metadata); });
}

bool settings_keep(const SelectorSettings& s, const registry::Service& svc,
                   const registry::Node& n) {
  return (s.version.empty() || svc.version == s.version) &&
         (s.metadata.empty() || labels_match(s.metadata, n.metadata));
}

}  // namespace

SelectorSettings parse_selector_settings(const std::string& plugin_options,
                                         const std::string& who) {
  nlohmann::json o;
  try {
    o = nlohmann::json::parse(plugin_options.empty() ? "{}" : plugin_options);
  } catch (const nlohmann::json::exception& e) {
    throw Error(Errc::config, who + ": options are not JSON: " + e.what());
  }
  if (!o.is_object()) throw Error(Errc::config, who + ": options must be a JSON object");
  SelectorSettings s;
  s.cache_ttl = seconds_option(o, "cache_ttl_s", 60, who);
  s.health.eject = seconds_option(o, "eject_s", 10, who);
  s.health.eject_max = std::max(seconds_option(o, "eject_max_s", 300, who), s.health.eject);
  if (auto it = o.find("failure_threshold"); it != o.end()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 1 ||
        it->get<std::int64_t>() > 1000000)
      throw Error(Errc::config, who + ".failure_threshold: expected an integer >= 1");
    s.health.failure_threshold = it->get<int>();
  }
  if (auto it = o.find("version"); it != o.end()) {
    if (!it->is_string()) throw Error(Errc::config, who + ".version: expected a string");
    s.version = it->get<std::string>();
  }
  if (auto it = o.find("metadata"); it != o.end()) {
    if (!it->is_object()) throw Error(Errc::config, who + ".metadata: expected an object");
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) throw Error(Errc::config, who + ".metadata." + k + ": expected a string");
      s.metadata[k] = v.get<std::string>();
    }
  }
  return s;
}

CachedSelector::CachedSelector(std::shared_ptr<Registry> registry, const char* name)
    : name_(name),
      who_(std::string("selector ") + name),
      registry_(std::move(registry)),
      health_(std::make_shared<NodeHealth>()),
      settings_(std::make_shared<const SelectorSettings>()) {
  if (!registry_) throw Error(Errc::plugin, who_ + ": no registry");
}

CachedSelector::~CachedSelector() { stop(); }

void CachedSelector::init(const Options& options) {
  auto settings = std::make_shared<const SelectorSettings>(
      parse_selector_settings(options.plugin_options, who_));
  health_->configure(settings->health);
  auto cache =
      std::make_shared<RegistryCache>(registry_, RegistryCache::Options{settings->cache_ttl});
  std::shared_ptr<RegistryCache> old;
  {
    std::unique_lock lk(mu_);
    options_ = options;
    settings_ = std::move(settings);
    old = std::exchange(cache_, std::move(cache));
    states_.clear();  // views were built with the old filters
  }
  if (old) old->stop();
}

Selector::Options CachedSelector::options() const {
  std::shared_lock lk(mu_);
  return options_;
}

void CachedSelector::stop() noexcept {
  std::shared_ptr<RegistryCache> cache;
  {
    std::shared_lock lk(mu_);
    cache = cache_;
  }
  if (cache) cache->stop();
}

std::shared_ptr<CachedSelector::ServiceState> CachedSelector::state_of(std::string_view service) {
  std::unique_lock lk(mu_);
  auto& st = states_[std::string(service)];
  if (!st) st = std::make_shared<ServiceState>();
  return st;
}

// The service's view for the configured filters, rebuilt only when the cache's snapshot changed.
std::shared_ptr<const NodeView> CachedSelector::view_of(ServiceState& st,
                                                        const RegistryCache::Snapshot& snap,
                                                        const SelectorSettings& settings) const {
  auto view = st.view.load(std::memory_order_acquire);
  if (view && view->source == snap) return view;
  auto fresh = std::make_shared<NodeView>();
  fresh->source = snap;
  for (const auto& svc : *snap)
    for (const auto& n : svc.nodes)
      if (settings_keep(settings, svc, n)) fresh->nodes.push_back(&n);
  // Concurrent rebuilds of one snapshot are equal; the last store wins.
  st.view.store(fresh, std::memory_order_release);
  return fresh;
}

selector::Next CachedSelector::select(std::string_view service, const selector::SelectOptions& o) {
  std::shared_ptr<RegistryCache> cache;
  std::shared_ptr<const SelectorSettings> settings;
  std::shared_ptr<ServiceState> state;
  {
    std::shared_lock lk(mu_);
    cache = cache_;
    settings = settings_;
    if (auto it = states_.find(service); it != states_.end()) state = it->second;
  }
  if (!cache) throw Error(Errc::internal, who_ + ": select() before init()");
  auto snapshot = cache->get_service(service);
  if (!state) state = state_of(service);
  Call c{name_, std::string(service), nullptr, health_, {}};
  if (o.filters.empty()) {
    c.view = view_of(*state, snapshot, *settings);
  } else {
    auto view = std::make_shared<NodeView>();
    view->source = snapshot;
    view->filtered = *snapshot;
    apply_settings(view->filtered, *settings);
    for (const auto& f : o.filters) view->filtered = f(std::move(view->filtered));
    for (const auto& svc : view->filtered)
      for (const auto& n : svc.nodes) view->nodes.push_back(&n);
    c.view = std::move(view);
  }
  if (c.view->nodes.empty()) {
    throw Error(Errc::not_found,
                who_ + ": service " + c.service + " has no nodes" +
                    (o.filters.empty() && settings->version.empty() && settings->metadata.empty()
                         ? ""
                         : " matching the filters"));
  }
  return make_next(std::move(c), *state);
}

void CachedSelector::mark(std::string_view service, const registry::Node& node,
                          const Error* err) noexcept {
  if (err == nullptr)
    health_->success(service, node.id);
  else
    health_->failure(service, node.id);
}

void CachedSelector::reset(std::string_view service) noexcept {
  health_->reset(service);
  std::shared_ptr<RegistryCache> cache;
  {
    std::unique_lock lk(mu_);
    cache = cache_;
    if (auto it = states_.find(service); it != states_.end()) states_.erase(it);
  }
  if (cache) cache->invalidate(service);
}

}  // namespace micro::plugins
