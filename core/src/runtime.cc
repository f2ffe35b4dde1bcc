#include "micro/runtime.h"

#include <algorithm>

namespace micro {

using plugin::Kind;
using plugin::PluginError;
using plugin::Stage;

struct Runtime::Slot {
  Kind kind;
  PluginChoice choice;
  std::string key;  // config key path, for messages: "transport", "codecs[1]"
  plugin::Descriptor descriptor;
};

namespace {

template <class T>
std::shared_ptr<T> as(const std::shared_ptr<Component>& c, const plugin::Descriptor& d) {
  auto p = std::dynamic_pointer_cast<T>(c);
  if (!p)
    throw PluginError(Stage::wrong_kind, d.file,
                      "created object does not implement the " +
                          std::string(plugin::to_string(d.kind)) + " interface");
  return p;
}

template <class Fn>
void init_or_throw(const plugin::Descriptor& d, Fn fn) {
  try {
    fn();
  } catch (const PluginError&) {
    throw;
  } catch (const std::exception& e) {
    throw PluginError(Stage::init_failed, d.file, std::string("init failed: ") + e.what());
  }
}

std::string_view strip_params(std::string_view ct) {
  auto semi = ct.find(';');
  if (semi != std::string_view::npos) ct = ct.substr(0, semi);
  while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
  return ct;
}

}  // namespace

Runtime::Runtime(Config config)
    : config_(std::move(config)),
      loader_(std::make_unique<plugin::Loader>(plugin::LoaderOptions{
          config_.plugin_search_path(), config_.plugins.allow_insecure_permissions})) {
  // Resolve every plugin from its file before anything is loaded.
  std::vector<Slot> slots;
  auto add = [&](Kind k, const PluginChoice& c, std::string key) {
    slots.push_back(Slot{k, c, std::move(key), loader_->find(k, c.use)});
  };
  add(Kind::transport, config_.transport, "transport");
  for (std::size_t i = 0; i < config_.codecs.size(); ++i)
    add(Kind::codec, config_.codecs[i], "codecs[" + std::to_string(i) + "]");
  add(Kind::registry, config_.registry, "registry");
  add(Kind::selector, config_.selector, "selector");
  add(Kind::broker, config_.broker, "broker");

  for (std::size_t i = 0; i < slots.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (slots[i].kind == Kind::codec && slots[j].kind == Kind::codec &&
          slots[i].descriptor.name == slots[j].descriptor.name)
        throw Error(Errc::config, config_.origin + ": " + slots[i].key + ": codec \"" +
                                      slots[i].descriptor.name + "\" is listed twice");

  // Validate all options first: a typo anywhere fails before any plugin code runs.
  std::vector<std::string> options;
  for (const auto& s : slots)
    options.push_back(plugin::validate_options(s.descriptor.options_schema, s.choice.options,
                                               config_.origin + ": " + s.key + ".options"));

  // Dependency order: a plugin is created after every kind it requires.
  std::vector<bool> done(slots.size(), false);
  auto kind_ready = [&](Kind k) {
    bool any = false;
    for (std::size_t i = 0; i < slots.size(); ++i)
      if (slots[i].kind == k) {
        any = true;
        if (!done[i]) return false;
      }
    return any;
  };
  for (std::size_t created = 0; created < slots.size();) {
    std::size_t pick = slots.size();
    for (std::size_t i = 0; i < slots.size() && pick == slots.size(); ++i) {
      if (done[i]) continue;
      bool ready = true;
      for (Kind r : slots[i].descriptor.requires_kinds)
        ready = ready && r != slots[i].kind && kind_ready(r);
      if (ready) pick = i;
    }
    if (pick == slots.size()) {
      for (std::size_t i = 0; i < slots.size(); ++i) {
        if (done[i]) continue;
        for (Kind r : slots[i].descriptor.requires_kinds) {
          bool configured = false;
          for (const auto& s : slots) configured = configured || (s.kind == r && &s != &slots[i]);
          if (!configured)
            throw PluginError(
                Stage::init_failed, slots[i].descriptor.file,
                "requires a " + std::string(plugin::to_string(r)) + ", which is not configured");
        }
      }
      throw Error(Errc::config, config_.origin + ": the plugins' requirements form a cycle");
    }
    Slot& s = slots[pick];
    const plugin::Descriptor& d = s.descriptor;
    creating_requires_ = d.requires_kinds;
    auto obj = loader_->create(d, *this);
    creating_requires_.clear();
    switch (s.kind) {
      case Kind::transport: {
        auto t = as<Transport>(obj, d);
        init_or_throw(d, [&] {
          t->init(Transport::Options{{}, std::chrono::milliseconds(0), options[pick]});
        });
        transport_ = t;
        break;
      }
      case Kind::codec: {
        auto c = as<Codec>(obj, d);
        init_or_throw(d, [&] { c->init(Codec::Options{options[pick]}); });
        codecs_.push_back(c);
        break;
      }
      case Kind::registry: {
        auto r = as<Registry>(obj, d);
        init_or_throw(d, [&] {
          r->init(Registry::Options{config_.registry_addrs, std::chrono::milliseconds(5000),
                                    options[pick]});
        });
        registry_ = r;
        break;
      }
      case Kind::selector: {
        auto sel = as<Selector>(obj, d);
        init_or_throw(d, [&] { sel->init(Selector::Options{options[pick]}); });
        selector_ = sel;
        break;
      }
      case Kind::broker: {
        auto b = as<Broker>(obj, d);
        init_or_throw(d, [&] { b->init(Broker::Options{config_.broker_addrs, options[pick]}); });
        broker_ = b;
        break;
      }
      default: throw PluginError(Stage::wrong_kind, d.file, "kind cannot be configured here");
    }
    order_.push_back(obj);
    loaded_.push_back(d);
    done[pick] = true;
    ++created;
  }
}

Runtime::~Runtime() {
  stop();
  // Destroy in reverse creation order: dependents before what they depend on.
  extra_transports_.clear();
  selector_.reset();
  broker_.reset();
  while (!order_.empty()) order_.pop_back();
}

void Runtime::start() {
  for (; started_ < order_.size(); ++started_) {
    try {
      order_[started_]->start();
    } catch (const std::exception& e) {
      const auto& d = loaded_[started_];
      stop();
      throw PluginError(Stage::init_failed, d.file, std::string("start failed: ") + e.what());
    }
  }
}

void Runtime::stop() noexcept {
  while (started_ > 0) order_[--started_]->stop();
}

namespace {
template <class T>
std::shared_ptr<T> need(const std::shared_ptr<T>& p, const std::vector<Kind>& creating, Kind k) {
  if (!creating.empty() && std::find(creating.begin(), creating.end(), k) == creating.end())
    throw Error(Errc::plugin, "a plugin asked for the " + std::string(plugin::to_string(k)) +
                                  " without declaring it in its descriptor's \"requires\"");
  if (!p) throw Error(Errc::plugin, "no " + std::string(plugin::to_string(k)) + " is loaded");
  return p;
}
}  // namespace

std::shared_ptr<Registry> Runtime::registry() {
  return need(registry_, creating_requires_, Kind::registry);
}
std::shared_ptr<Transport> Runtime::transport() {
  return need(transport_, creating_requires_, Kind::transport);
}
std::shared_ptr<Broker> Runtime::broker() {
  return need(broker_, creating_requires_, Kind::broker);
}
std::shared_ptr<Selector> Runtime::selector() {
  return need(selector_, creating_requires_, Kind::selector);
}

std::shared_ptr<Codec> Runtime::codec(std::string_view content_type) {
  const auto ct = strip_params(content_type);
  for (const auto& c : codecs_)
    for (const auto& t : c->content_types())
      if (t == ct) return c;
  throw Error(Errc::not_found, "no codec for content type \"" + std::string(ct) + "\"");
}

std::shared_ptr<Transport> Runtime::transport(std::string_view name) {
  if (transport_ && transport_->name() == name) return transport_;
  std::lock_guard lock(extra_mu_);
  if (auto it = extra_transports_.find(name); it != extra_transports_.end()) return it->second;
  auto d = loader_->find(Kind::transport, name);
  auto opts = plugin::validate_options(d.options_schema, "{}",
                                       "transport " + std::string(name) + ".options");
  auto t = as<Transport>(loader_->create(d, *this), d);
  init_or_throw(d, [&] { t->init(Transport::Options{{}, std::chrono::milliseconds(0), opts}); });
  t->start();
  extra_transports_.emplace(std::string(name), t);
  return t;
}

}  // namespace micro
