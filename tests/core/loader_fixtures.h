// Shared by the loader and runtime tests: where the fixture plugins are (tests/fixtures), a Host
// that refuses everything (micro::test::Host offering nothing), and a helper that captures the
// PluginError a call throws.
#pragma once

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "micro/errors.h"
#include "micro/loader.h"
#include "plugin_host.h"

namespace micro::test {

/// The complete valid set: codec, transport, registry, selector, broker, all named "fixture".
inline std::filesystem::path fixture_good_dir() { return MICRO_FIXTURE_GOOD_DIR; }
/// One file per refusal, plus the marker plugin.
inline std::filesystem::path fixture_bad_dir() { return MICRO_FIXTURE_BAD_DIR; }
inline std::filesystem::path good_codec() { return fixture_good_dir() / "micro-codec-fixture.so"; }

/// A Host for plugins that require nothing: every request is an error.
using NullHost = Host;

/// The PluginError fn throws; fails the test when it throws none.
template <class Fn>
plugin::PluginError plugin_error(Fn&& fn) {
  try {
    fn();
  } catch (const plugin::PluginError& e) {
    return e;
  }
  FAIL("expected a PluginError, none was thrown");
  throw std::logic_error("unreachable");
}

/// The micro::Error (of any subclass) fn throws; fails the test when it throws none.
template <class Fn>
Error micro_error(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e;
  }
  FAIL("expected a micro::Error, none was thrown");
  throw std::logic_error("unreachable");
}

}  // namespace micro::test

/// Checks that e stopped at stage, and that its message names file and contains text.
#define CHECK_REFUSED(e, stage_, file_, text_)                                                   \
  do {                                                                                           \
    CHECK(std::string(::micro::plugin::to_string((e).stage())) ==                                \
          std::string(::micro::plugin::to_string(stage_)));                                      \
    CHECK_THAT(std::string((e).what()), Catch::Contains(std::filesystem::path(file_).string())); \
    CHECK_THAT(std::string((e).what()), Catch::Contains(text_));                                 \
    CHECK((e).errc() == ::micro::Errc::plugin);                                                  \
  } while (false)
