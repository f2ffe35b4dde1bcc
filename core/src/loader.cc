#include "micro/loader.h"

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "elf.h"

namespace fs = std::filesystem;

namespace micro::plugin {

namespace {
constexpr const char* kSection = "micro_plugin";
constexpr const char* kEntry = "micro_plugin_entry";

std::string message_of(Stage stage, const fs::path& file, const std::string& message) {
  return "plugin " + file.string() + ": " + std::string(to_string(stage)) + ": " + message;
}
}  // namespace

std::string_view to_string(Stage s) noexcept {
  switch (s) {
    case Stage::file_not_found: return "file not found";
    case Stage::not_found: return "not found";
    case Stage::unsafe_permissions: return "unsafe permissions";
    case Stage::not_a_plugin: return "not a plugin";
    case Stage::bad_descriptor: return "bad descriptor";
    case Stage::abi_mismatch: return "ABI mismatch";
    case Stage::wrong_kind: return "wrong kind";
    case Stage::name_mismatch: return "name mismatch";
    case Stage::duplicate_name: return "duplicate name";
    case Stage::dlopen_failed: return "dlopen failed";
    case Stage::no_entry_point: return "no entry point";
    case Stage::bad_options: return "bad options";
    case Stage::init_failed: return "init failed";
  }
  return "unknown";
}

PluginError::PluginError(Stage stage, fs::path file, const std::string& message)
    : Error(Errc::plugin, message_of(stage, file, message)),
      stage_(stage),
      file_(std::move(file)) {}

std::string file_name(Kind kind, std::string_view name) {
  return "micro-" + std::string(to_string(kind)) + "-" + std::string(name) + ".so";
}

Descriptor inspect(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) throw PluginError(Stage::file_not_found, file, "no such file");
  if (!fs::is_regular_file(file, ec))
    throw PluginError(Stage::not_a_plugin, file, "not a regular file");

  auto scan = detail::scan_elf(file, kSection, kEntry);
  if (!scan.section)
    throw PluginError(Stage::not_a_plugin, file,
                      "no \"micro_plugin\" section: a shared object, but not a micro-cpp plugin");
  const std::string& raw = *scan.section;
  SectionHeader h;
  if (raw.size() < sizeof h) throw PluginError(Stage::bad_descriptor, file, "descriptor truncated");
  std::memcpy(&h, raw.data(), sizeof h);
  if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0)
    throw PluginError(Stage::bad_descriptor, file, "bad descriptor magic");
  if (h.size > raw.size() - sizeof h)
    throw PluginError(Stage::bad_descriptor, file, "descriptor JSON truncated");

  Descriptor d;
  d.file = file;
  d.abi_major = h.abi_major;
  d.abi_minor = h.abi_minor;
  d.json.assign(raw.data() + sizeof h, h.size);
  auto j = nlohmann::json::parse(d.json, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw PluginError(Stage::bad_descriptor, file, "descriptor is not valid JSON");
  try {
    auto kind = kind_from_string(j.at("kind").get<std::string>());
    if (!kind)
      throw PluginError(Stage::bad_descriptor, file, "unknown kind " + j.at("kind").dump());
    d.kind = *kind;
    d.name = j.at("name").get<std::string>();
    d.version = j.at("version").get<std::string>();
    d.description = j.value("description", "");
    d.license = j.value("license", "");
    for (const auto& r : j.at("requires")) {
      auto rk = kind_from_string(r.get<std::string>());
      if (!rk) throw PluginError(Stage::bad_descriptor, file, "unknown required kind " + r.dump());
      d.requires_kinds.push_back(*rk);
    }
    const auto& opts = j.at("options");
    if (!opts.is_object())
      throw PluginError(Stage::bad_descriptor, file, "options schema is not an object");
    d.options_schema = opts.dump();
    const auto& b = j.at("build");
    d.compiler = b.value("compiler", "");
    d.stdlib = b.value("stdlib", "");
    d.cxx11_abi = b.value("cxx11_abi", -1);
    d.protobuf_version = b.value("protobuf", 0L);
    d.micro_version = b.value("micro", "");
  } catch (const nlohmann::json::exception& e) {
    throw PluginError(Stage::bad_descriptor, file,
                      std::string("descriptor field missing or mistyped: ") + e.what());
  }
  if (d.name.empty() || d.name.find('/') != std::string::npos)
    throw PluginError(Stage::bad_descriptor, file, "bad plugin name \"" + d.name + "\"");
  if (!scan.exports_symbol)
    throw PluginError(Stage::no_entry_point, file, std::string("does not export ") + kEntry);
  return d;
}

void check_compatible(const Descriptor& d) {
  auto abi = [](int a, int b) { return std::to_string(a) + "." + std::to_string(b); };
  const std::string have = "plugin ABI " + abi(d.abi_major, d.abi_minor) + ", host ABI " +
                           abi(MICRO_ABI_MAJOR, MICRO_ABI_MINOR);
  if (d.abi_major != MICRO_ABI_MAJOR)
    throw PluginError(Stage::abi_mismatch, d.file, have + ": the major versions must be equal");
  if (d.abi_minor > MICRO_ABI_MINOR)
    throw PluginError(Stage::abi_mismatch, d.file,
                      have + ": the plugin needs a newer host (minor must be <= the host's)");
  if (d.stdlib != "libstdc++" || d.cxx11_abi != _GLIBCXX_USE_CXX11_ABI)
    throw PluginError(Stage::abi_mismatch, d.file,
                      "built against " + d.stdlib +
                          " with _GLIBCXX_USE_CXX11_ABI=" + std::to_string(d.cxx11_abi) +
                          ", host uses libstdc++ with " + std::to_string(_GLIBCXX_USE_CXX11_ABI));
  if (d.protobuf_version / 1000 != GOOGLE_PROTOBUF_VERSION / 1000)
    throw PluginError(Stage::abi_mismatch, d.file,
                      "built against protobuf " + std::to_string(d.protobuf_version) +
                          ", host has " + std::to_string(GOOGLE_PROTOBUF_VERSION) +
                          " (major.minor must match)");
}

void check_permissions(const fs::path& file) {
  auto unsafe = [&](const fs::path& p, const char* what) {
    struct stat st;
    if (::stat(p.c_str(), &st) != 0)
      throw PluginError(Stage::file_not_found, file, "cannot stat " + p.string());
    const uid_t me = ::geteuid();
    if (st.st_uid != 0 && st.st_uid != me)
      throw PluginError(Stage::unsafe_permissions, file,
                        std::string(what) + " " + p.string() + " is owned by another user (uid " +
                            std::to_string(st.st_uid) + ")");
    if (st.st_mode & S_IWOTH)
      throw PluginError(Stage::unsafe_permissions, file,
                        std::string(what) + " " + p.string() +
                            " is writable by other users; fix its mode or set "
                            "plugins.allow_insecure_permissions");
    if ((st.st_mode & S_IWGRP) && st.st_gid != 0 && st.st_gid != ::getegid())
      throw PluginError(Stage::unsafe_permissions, file,
                        std::string(what) + " " + p.string() +
                            " is writable by a group other users belong to; fix its mode or set "
                            "plugins.allow_insecure_permissions");
  };
  const fs::path abs = fs::absolute(file);
  unsafe(abs, "file");
  unsafe(abs.parent_path(), "directory");
}

class Library {
 public:
  Library(void* handle, const Entry* entry) : handle_(handle), entry_(entry) {}
  ~Library() { ::dlclose(handle_); }
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;
  const Entry& entry() const { return *entry_; }

 private:
  void* handle_;
  const Entry* entry_;
};

Loader::Loader(LoaderOptions options) : options_(std::move(options)) {}
Loader::~Loader() = default;

std::vector<Loader::Found> Loader::scan() const {
  std::vector<Found> out;
  std::set<fs::path> seen;
  std::map<std::pair<Kind, std::string>, std::size_t> by_name;
  for (const auto& dir : options_.search_path) {
    std::error_code ec;
    std::vector<fs::path> files;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const auto name = it->path().filename().string();
      if (name.starts_with("micro-") && name.ends_with(".so")) files.push_back(it->path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      const fs::path canon = fs::weakly_canonical(f, ec);
      if (!seen.insert(canon).second) continue;
      Found found{f, std::nullopt, std::nullopt};
      try {
        Descriptor d = inspect(f);
        auto key = std::make_pair(d.kind, d.name);
        if (auto it = by_name.find(key); it != by_name.end()) {
          throw PluginError(Stage::duplicate_name, f,
                            std::string(to_string(d.kind)) + " \"" + d.name +
                                "\" is also declared by " + out[it->second].file.string());
        }
        by_name.emplace(key, out.size());
        found.descriptor = std::move(d);
      } catch (const PluginError& e) {
        found.error = e;
      }
      out.push_back(std::move(found));
    }
  }
  return out;
}

Descriptor Loader::find(Kind kind, std::string_view name) const {
  const bool is_path = name.find('/') != std::string_view::npos || name.ends_with(".so");
  fs::path file;
  if (is_path) {
    file = fs::path(name);
  } else {
    const std::string fname = file_name(kind, name);
    std::vector<fs::path> hits;
    std::string searched;
    std::set<fs::path> seen;
    for (const auto& dir : options_.search_path) {
      searched += (searched.empty() ? "" : ", ") + dir.string();
      std::error_code ec;
      fs::path p = dir / fname;
      if (fs::exists(p, ec) && seen.insert(fs::weakly_canonical(p, ec)).second) hits.push_back(p);
    }
    if (hits.empty())
      throw PluginError(Stage::not_found, fname,
                        "no " + std::string(to_string(kind)) + " plugin named \"" +
                            std::string(name) + "\": searched " +
                            (searched.empty() ? "no directories" : searched) +
                            " (set plugins.path or MICRO_PLUGIN_PATH)");
    if (hits.size() > 1)
      throw PluginError(Stage::duplicate_name, hits[1],
                        std::string(to_string(kind)) + " \"" + std::string(name) +
                            "\" is provided by both " + hits[0].string() + " and " +
                            hits[1].string() + "; remove one from the search path");
    file = hits[0];
  }
  Descriptor d = inspect(file);
  if (d.kind != kind)
    throw PluginError(Stage::wrong_kind, file,
                      "is a " + std::string(to_string(d.kind)) + " plugin, asked for a " +
                          std::string(to_string(kind)));
  if (!is_path && d.name != name)
    throw PluginError(
        Stage::name_mismatch, file,
        "declares the name \"" + d.name + "\", asked for \"" + std::string(name) + "\"");
  check_compatible(d);
  return d;
}

std::shared_ptr<Library> Loader::open(const Descriptor& d) {
  std::lock_guard lock(mu_);
  std::error_code ec;
  const fs::path key = fs::weakly_canonical(d.file, ec);
  if (auto it = libraries_.find(key); it != libraries_.end()) return it->second;
  if (!options_.allow_insecure_permissions) check_permissions(d.file);
  // The descriptor may have been replaced since inspect(): check the file again, then load.
  Descriptor again = inspect(d.file);
  if (again.json != d.json || again.abi_major != d.abi_major || again.abi_minor != d.abi_minor)
    throw PluginError(Stage::bad_descriptor, d.file, "file changed while it was being loaded");
  ::dlerror();
  void* h = ::dlopen(fs::absolute(d.file).c_str(), RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) {
    const char* err = ::dlerror();
    throw PluginError(Stage::dlopen_failed, d.file, err ? err : "unknown dlopen error");
  }
  using EntryFn = const Entry* (*)();
  auto fn = reinterpret_cast<EntryFn>(::dlsym(h, kEntry));
  if (fn == nullptr) {
    ::dlclose(h);
    throw PluginError(Stage::no_entry_point, d.file, std::string("dlsym(") + kEntry + ") failed");
  }
  const Entry* e = fn();
  if (e == nullptr || std::memcmp(e->magic, kMagic, sizeof kMagic) != 0 || e->factory == nullptr) {
    ::dlclose(h);
    throw PluginError(Stage::no_entry_point, d.file, "entry point returned a bad entry");
  }
  if (e->abi_major != d.abi_major || e->abi_minor != d.abi_minor) {
    ::dlclose(h);
    throw PluginError(Stage::abi_mismatch, d.file,
                      "entry point and descriptor disagree on the ABI");
  }
  auto lib = std::make_shared<Library>(h, e);
  libraries_[key] = lib;
  return lib;
}

std::shared_ptr<Component> Loader::create(const Descriptor& d, Host& host) {
  auto lib = open(d);
  std::unique_ptr<Component> obj;
  try {
    obj = lib->entry().factory->create(host);
  } catch (const PluginError&) {
    throw;
  } catch (const std::exception& e) {
    throw PluginError(Stage::init_failed, d.file, std::string("create failed: ") + e.what());
  }
  if (!obj) throw PluginError(Stage::init_failed, d.file, "factory returned no object");
  // The deleter keeps the library loaded for as long as the object lives.
  return std::shared_ptr<Component>(obj.release(), [lib](Component* c) { delete c; });
}

}  // namespace micro::plugin
