// Test scaffolding for plugin tests: a plugin::Host offering only the components a test gives
// it, and loading a plugin from the built plugin directory through the real Loader (descriptor
// lookup, option schema, create, init, start) the way the runtime does.
#pragma once

#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "micro/errors.h"
#include "micro/loader.h"
#include "micro/plugin.h"
#include "support.h"

namespace micro::test {

/// A plugin::Host that offers the components it was given and throws
/// Error{plugin, "<kind> not offered by this test host"} for any other kind. A default
/// constructed Host offers nothing.
class Host final : public plugin::Host {
 public:
  Host() = default;
  explicit Host(std::shared_ptr<Registry> r) : registry_(std::move(r)) {}

  Host& offer(std::shared_ptr<Registry> r) {
    registry_ = std::move(r);
    return *this;
  }
  Host& offer(std::shared_ptr<Transport> t) {
    transport_ = std::move(t);
    return *this;
  }
  Host& offer(std::shared_ptr<Broker> b) {
    broker_ = std::move(b);
    return *this;
  }
  Host& offer(std::shared_ptr<Selector> s) {
    selector_ = std::move(s);
    return *this;
  }
  Host& offer(std::string content_type, std::shared_ptr<Codec> c) {
    codecs_[std::move(content_type)] = std::move(c);
    return *this;
  }

  std::shared_ptr<Registry> registry() override { return offered(registry_, "registry"); }
  std::shared_ptr<Transport> transport() override { return offered(transport_, "transport"); }
  std::shared_ptr<Broker> broker() override { return offered(broker_, "broker"); }
  std::shared_ptr<Selector> selector() override { return offered(selector_, "selector"); }
  /// Error{plugin} when no codec was given at all; Error{not_found} for an unknown content type.
  std::shared_ptr<Codec> codec(std::string_view content_type) override {
    if (codecs_.empty()) throw not_offered("codec");
    auto it = codecs_.find(std::string(content_type));
    if (it == codecs_.end()) {
      throw Error(Errc::not_found,
                  "codec for " + std::string(content_type) + " not offered by this test host");
    }
    return it->second;
  }

 private:
  static Error not_offered(std::string_view kind) {
    return Error(Errc::plugin, std::string(kind) + " not offered by this test host");
  }
  template <class T>
  static std::shared_ptr<T> offered(const std::shared_ptr<T>& c, std::string_view kind) {
    if (!c) throw not_offered(kind);
    return c;
  }

  std::shared_ptr<Registry> registry_;
  std::shared_ptr<Transport> transport_;
  std::shared_ptr<Broker> broker_;
  std::shared_ptr<Selector> selector_;
  std::map<std::string, std::shared_ptr<Codec>> codecs_;
};

/// A Host that offers nothing (for plugins whose descriptor requires no other component).
inline Host& no_host() {
  static Host host;
  return host;
}

/// One Loader over the built plugin directory for the whole test program. It lives until
/// exit, so the libraries stay loaded while any object created from them (or handed out by
/// one: watchers, subscribers, sockets) is alive.
inline plugin::Loader& plugin_loader() {
  static plugin::Loader loader(plugin::LoaderOptions{{plugin_dir()}});
  return loader;
}

/// The plugin of kind and name from the built plugin directory, created through the Loader
/// with host and cast to T (micro::Registry, micro::Broker, ...); not initialised.
template <class T>
std::shared_ptr<T> create_plugin(plugin::Kind kind, std::string_view name,
                                 plugin::Host& host = no_host()) {
  auto d = plugin_loader().find(kind, name);
  auto made = std::dynamic_pointer_cast<T>(plugin_loader().create(d, host));
  REQUIRE(made);
  return made;
}

enum class Start : bool { no, yes };

/// The plugin of kind and name created as create_plugin() does, its options (JSON text)
/// validated against its schema and filled with defaults, init()ed with base whose
/// plugin_options are replaced by them, and start()ed unless start is Start::no.
template <class T>
std::shared_ptr<T> load_plugin(plugin::Kind kind, std::string_view name,
                               const std::string& options = "{}", plugin::Host& host = no_host(),
                               Start start = Start::yes, typename T::Options base = {}) {
  auto d = plugin_loader().find(kind, name);
  auto made = std::dynamic_pointer_cast<T>(plugin_loader().create(d, host));
  REQUIRE(made);
  base.plugin_options = plugin::validate_options(
      d.options_schema, options, std::string(plugin::to_string(kind)) + " " + std::string(name));
  made->init(base);
  if (start == Start::yes) made->start();
  return made;
}

/// The Errc of the micro::Error f throws, Errc::ok when it throws none.
template <class F>
Errc errc_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.errc();
  }
  return Errc::ok;
}

/// Requires f to throw a micro::Error of errc whose what() contains text.
inline void require_error(const std::function<void()>& f, Errc errc, const std::string& text) {
  try {
    f();
    FAIL("expected micro::Error{" << make_error_code(errc).message() << "}");
  } catch (const Error& e) {
    CHECK(e.errc() == errc);
    CHECK_THAT(e.what(), Catch::Matchers::Contains(text));
  }
}

}  // namespace micro::test
