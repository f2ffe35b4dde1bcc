// The plugin boundary. A plugin .so exports exactly one entry point, micro_plugin_entry(), and
// carries a descriptor in the ELF section "micro_plugin" that the core reads from the file
// before any dlopen, so nothing of a plugin runs until it has been checked.
//
// Declare a plugin with MICRO_PLUGIN(...) in its plugin.cc; see sdk/README.md.
#pragma once

#include <google/protobuf/stubs/common.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "micro/component.h"

/// The plugin ABI of this host. A plugin is accepted when its major equals MICRO_ABI_MAJOR and
/// its minor is <= MICRO_ABI_MINOR. Bump the minor for additions (new virtuals at the end of a
/// class, new kinds); bump the major for any change to an existing class layout or signature.
/// 2.0: Codec::read_header and Codec::write take their message by value (moved, not copied);
///      Codec::content_types returns a reference (no allocation per lookup); Metadata is a
///      flat sorted vector; RegistryCache (built by selector plugins) changed layout.
#define MICRO_ABI_MAJOR 2
#define MICRO_ABI_MINOR 0
#define MICRO_VERSION "0.1.0"

namespace micro {
class Registry;
class Transport;
class Broker;
class Selector;
class Codec;
}  // namespace micro

namespace micro::plugin {

enum class Kind { transport, codec, registry, selector, broker, client, server };

/// "transport", "codec", ...
std::string_view to_string(Kind k) noexcept;
/// The Kind named by s, nullopt when s names none.
std::optional<Kind> kind_from_string(std::string_view s) noexcept;

/// What a plugin may use of the other components while it is created: those of the kinds its
/// descriptor lists in "requires", created and initialised before it. Owned by the core; valid
/// during Factory::create only (keep the shared_ptrs, not the Host).
class Host {
 public:
  virtual ~Host();
  /// Throw Error{plugin} when the kind was not declared in "requires".
  virtual std::shared_ptr<Registry> registry() = 0;
  virtual std::shared_ptr<Transport> transport() = 0;
  virtual std::shared_ptr<Broker> broker() = 0;
  virtual std::shared_ptr<Selector> selector() = 0;
  /// The codec for a content type; throws Error{not_found}.
  virtual std::shared_ptr<Codec> codec(std::string_view content_type) = 0;
};

/// Creates instances of the plugin's kind. One per plugin, owned by the plugin.
class Factory {
 public:
  virtual ~Factory();
  /// A new, uninitialised instance; it must derive from the interface of the descriptor's
  /// kind (micro::Transport for "transport", ...). The core calls its init() next.
  /// Threads: called from one thread at a time. Throws micro::Error.
  virtual std::unique_ptr<Component> create(Host& host) const = 0;
};

inline constexpr char kMagic[8] = {'M', 'I', 'C', 'R', 'O', 'P', 'L', 'G'};

/// What micro_plugin_entry() returns: the ABI the plugin was built for (checked again after
/// dlopen) and its factory.
struct Entry {
  char magic[8];
  uint16_t abi_major;
  uint16_t abi_minor;
  const Factory* factory;
};

/// The raw layout of the "micro_plugin" section: a fixed header, then `size` bytes of JSON.
struct SectionHeader {
  char magic[8];
  uint16_t abi_major;
  uint16_t abi_minor;
  uint32_t size;
};

namespace detail {
template <std::size_t N>
struct Section {
  SectionHeader header;
  char json[N];
};
template <std::size_t N>
consteval Section<N> make_section(uint16_t major, uint16_t minor, const char (&json)[N]) {
  Section<N> s{};
  for (std::size_t i = 0; i < 8; ++i) s.header.magic[i] = kMagic[i];
  s.header.abi_major = major;
  s.header.abi_minor = minor;
  s.header.size = static_cast<uint32_t>(N - 1);
  for (std::size_t i = 0; i < N; ++i) s.json[i] = json[i];
  return s;
}
}  // namespace detail

}  // namespace micro::plugin

#define MICRO_PLUGIN_STR2_(x) #x
#define MICRO_PLUGIN_STR_(x) MICRO_PLUGIN_STR2_(x)

// The ABI a plugin declares. Overridable only so the loader's tests can build mismatching
// plugins; never define these in a real plugin.
#ifndef MICRO_PLUGIN_BUILD_ABI_MAJOR
#define MICRO_PLUGIN_BUILD_ABI_MAJOR MICRO_ABI_MAJOR
#endif
#ifndef MICRO_PLUGIN_BUILD_ABI_MINOR
#define MICRO_PLUGIN_BUILD_ABI_MINOR MICRO_ABI_MINOR
#endif

#if defined(__clang__)
#define MICRO_PLUGIN_COMPILER_ "clang " __clang_version__
#else
#define MICRO_PLUGIN_COMPILER_ "gcc " __VERSION__
#endif

/// Declares a plugin: its descriptor (in the "micro_plugin" section) and its entry point.
///   KIND        transport | codec | registry | selector | broker | client | server (bare word)
///   NAME        string literal; third-party names carry a dotted prefix ("acme.echo")
///   VERSION     string literal, the plugin's own version
///   DESCRIPTION string literal, one line, no quotes or backslashes
///   LICENSE     string literal (SPDX id)
///   REQUIRES    string literal of a JSON array of kinds it uses via Host, e.g. R"(["registry"])"
///   SCHEMA      string literal of the JSON schema of its options (type object)
///   FACTORY     a default-constructible class derived from micro::plugin::Factory
#define MICRO_PLUGIN(KIND, NAME, VERSION, DESCRIPTION, LICENSE, REQUIRES, SCHEMA, FACTORY)           \
  extern "C" __attribute__((visibility("default"), used,                                           \
                            section("micro_plugin"))) const auto micro_plugin_descriptor =         \
      ::micro::plugin::detail::make_section(                                                       \
          MICRO_PLUGIN_BUILD_ABI_MAJOR, MICRO_PLUGIN_BUILD_ABI_MINOR,                              \
          "{\"kind\":\"" #KIND "\",\"name\":\"" NAME "\",\"version\":\"" VERSION                   \
          "\",\"description\":\"" DESCRIPTION "\",\"license\":\"" LICENSE "\",\"requires\":"       \
          REQUIRES ",\"options\":" SCHEMA ",\"build\":{\"compiler\":\"" MICRO_PLUGIN_COMPILER_     \
          "\",\"stdlib\":\"libstdc++\",\"cxx11_abi\":" MICRO_PLUGIN_STR_(                          \
              _GLIBCXX_USE_CXX11_ABI) ",\"protobuf\":" MICRO_PLUGIN_STR_(GOOGLE_PROTOBUF_VERSION) \
          ",\"micro\":\"" MICRO_VERSION "\"}}"); \
  extern "C" __attribute__((visibility("default"))) const ::micro::plugin::Entry*                    \
  micro_plugin_entry() {                                                                             \
    static const FACTORY factory;                                                                    \
    static const ::micro::plugin::Entry entry{{'M', 'I', 'C', 'R', 'O', 'P', 'L', 'G'},              \
                                              MICRO_PLUGIN_BUILD_ABI_MAJOR,                          \
                                              MICRO_PLUGIN_BUILD_ABI_MINOR,                          \
                                              &factory};                                             \
    return &entry;                                                                                   \
  }
