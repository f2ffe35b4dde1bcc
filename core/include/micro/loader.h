// Finds, inspects and loads plugin files. Every failure is a PluginError whose message names
// the file; nothing is skipped silently and nothing of a plugin runs before it is checked.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "micro/errors.h"
#include "micro/plugin.h"

namespace micro::plugin {

/// The stage at which loading a plugin failed.
enum class Stage {
  file_not_found,      ///< the named file does not exist
  not_found,           ///< no plugin of that kind and name on the search path
  unsafe_permissions,  ///< the file or its directory is writable by other users
  not_a_plugin,        ///< not an ELF shared object, or no "micro_plugin" section
  bad_descriptor,      ///< the descriptor is truncated, has a bad magic or bad JSON
  abi_mismatch,        ///< ABI major/minor, C++ library ABI or protobuf version differ
  wrong_kind,          ///< the plugin is of another kind than asked for
  name_mismatch,       ///< the plugin has another name than asked for
  duplicate_name,      ///< two files declare the same kind and name
  dlopen_failed,       ///< dlopen refused it (dlerror() text in the message)
  no_entry_point,      ///< micro_plugin_entry missing or returned a bad entry
  bad_options,         ///< options refused by the plugin's schema (key path in the message)
  init_failed,         ///< create() or init() threw
};

std::string_view to_string(Stage s) noexcept;

class PluginError : public Error {
 public:
  PluginError(Stage stage, std::filesystem::path file, const std::string& message);
  Stage stage() const noexcept { return stage_; }
  const std::filesystem::path& file() const noexcept { return file_; }

 private:
  Stage stage_;
  std::filesystem::path file_;
};

/// What a plugin file says about itself, read without loading it.
struct Descriptor {
  std::filesystem::path file;
  uint16_t abi_major = 0;
  uint16_t abi_minor = 0;
  Kind kind = Kind::transport;
  std::string name;
  std::string version;
  std::string description;
  std::string license;
  std::vector<Kind> requires_kinds;
  std::string options_schema;  ///< JSON text
  std::string compiler;
  std::string stdlib;
  int cxx11_abi = -1;
  long protobuf_version = 0;
  std::string micro_version;
  std::string json;  ///< the raw descriptor JSON
};

/// Reads and parses the descriptor of file. Never runs plugin code.
/// Throws PluginError: file_not_found, not_a_plugin, bad_descriptor.
Descriptor inspect(const std::filesystem::path& file);

/// Throws PluginError{abi_mismatch} unless d can be loaded into this host.
void check_compatible(const Descriptor& d);

/// Throws PluginError{unsafe_permissions} when file or its directory is writable by group or
/// others (a sticky directory such as /tmp included) or owned by another non-root user.
void check_permissions(const std::filesystem::path& file);

/// Validates options (JSON text of an object, "" = {}) against schema (JSON text), fills
/// defaults, returns the normalised JSON text. Throws Error{config} naming where + the key path.
std::string validate_options(const std::string& schema, const std::string& options,
                             const std::string& where);

/// The file name a plugin is looked up by: "micro-<kind>-<name>.so".
std::string file_name(Kind kind, std::string_view name);

/// A loaded library. Kept alive by every object created from it.
class Library;

struct LoaderOptions {
  /// Directories searched in order (config plugins.path, MICRO_PLUGIN_PATH, install, build).
  std::vector<std::filesystem::path> search_path;
  /// Accept files writable by other users (plugins.allow_insecure_permissions).
  bool allow_insecure_permissions = false;
};

/// Finds and loads plugins. Owned by a Runtime (not a global). Thread-safe.
class Loader {
 public:
  explicit Loader(LoaderOptions options);
  ~Loader();

  const LoaderOptions& options() const noexcept { return options_; }

  /// One entry per micro-*.so file on the search path: its descriptor or why it is refused.
  struct Found {
    std::filesystem::path file;
    std::optional<Descriptor> descriptor;
    std::optional<PluginError> error;
  };
  std::vector<Found> scan() const;

  /// The plugin for kind and name; name may also be a path to a .so file.
  /// Throws PluginError: not_found (listing the directories searched), duplicate_name,
  /// wrong_kind, name_mismatch, and the errors of inspect() and check_compatible().
  Descriptor find(Kind kind, std::string_view name) const;

  /// dlopen()s the file of d (RTLD_NOW|RTLD_LOCAL) once and creates an instance through its
  /// factory. The library stays loaded while this Loader or the returned object lives; objects
  /// returned by the object's own methods must not outlive both. Throws PluginError:
  /// unsafe_permissions, dlopen_failed, no_entry_point, abi_mismatch, init_failed.
  std::shared_ptr<Component> create(const Descriptor& d, Host& host);

 private:
  std::shared_ptr<Library> open(const Descriptor& d);

  LoaderOptions options_;
  std::mutex mu_;
  // Strong: a library stays loaded while the Loader lives, so objects a component hands out
  // (sockets, watchers, subscribers) stay valid until the Runtime owning the Loader goes.
  std::map<std::filesystem::path, std::shared_ptr<Library>> libraries_;
};

}  // namespace micro::plugin
