// Shared helpers of the registry-file tests: load the plugin through the Loader, build
// services, write node files by hand.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "micro/errors.h"
#include "micro/registry.h"
#include "plugin_host.h"
#include "registry_helpers.h"
#include "support.h"

namespace regfile_test {

/// A registry-file instance loaded from the built plugin, not yet initialised.
inline std::shared_ptr<micro::Registry> load() {
  return micro::test::create_plugin<micro::Registry>(micro::plugin::Kind::registry, "file");
}

/// A registry-file instance on dir (through Options::addrs, as MICRO_REGISTRY_ADDRESS does).
inline std::shared_ptr<micro::Registry> open(const std::filesystem::path& dir,
                                             std::string plugin_options = "{}") {
  auto r = load();
  r->init(micro::Registry::Options{
      {dir.string()}, std::chrono::milliseconds(5000), std::move(plugin_options)});
  r->start();
  return r;
}

inline micro::registry::Service service(const std::string& name, const std::string& node_id,
                                        const std::string& address = "127.0.0.1:1",
                                        const std::string& version = "1.0.0") {
  return micro::test::registry_service(name, node_id, address, version);
}

/// Writes text to path and gives it an expiry (mtime) seconds_ahead from now.
inline void write_node(const std::filesystem::path& path, const std::string& text,
                       long seconds_ahead = 3600) {
  micro::test::write_file(path, text);
  timespec times[2] = {{0, UTIME_NOW}, {::time(nullptr) + seconds_ahead, 0}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

/// The next watch result within timeout; fails the test when none comes.
inline micro::registry::Result next_result(
    micro::registry::Watcher& w, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  return micro::test::next_result(w, timeout);
}

/// True when get_service(name) throws Error{not_found}.
inline bool gone(micro::Registry& r, const std::string& name) {
  try {
    r.get_service(name);
    return false;
  } catch (const micro::Error& e) {
    return e.errc() == micro::Errc::not_found;
  }
}

}  // namespace regfile_test
