// A Runtime built entirely from the fixture plugins: options are validated against each
// plugin's schema (defaults filled) before any plugin code runs.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "loader_fixtures.h"
#include "micro/runtime.h"
#include "support.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A config using the fixture plugin of every kind; codec is the codecs[0] entry.
micro::Config fixture_config(const json& codec) {
  json doc = {{"plugins", {{"path", {micro::test::fixture_good_dir().string()}}}},
              {"transport", {{"use", "fixture"}}},
              {"codecs", json::array({codec})},
              {"registry", {{"use", "fixture"}}},
              {"selector", {{"use", "fixture"}}},
              {"broker", {{"use", "fixture"}}}};
  return micro::Config::parse(doc.dump(), "test config");
}

}  // namespace

TEST_CASE("a runtime passes each plugin its validated options with defaults filled") {
  micro::Runtime rt(fixture_config({{"use", "fixture"}, {"options", {{"level", 5}}}}));
  REQUIRE(rt.codecs().size() == 1);
  CHECK(json::parse(rt.codecs()[0]->options().plugin_options) ==
        json::parse(R"({"level":5,"mode":"fast"})"));
  CHECK(json::parse(rt.transport()->options().plugin_options) == json::parse(R"({"flag":false})"));
}

TEST_CASE("a runtime creates plugins after the kinds they require") {
  micro::Runtime rt(fixture_config("fixture"));
  std::vector<micro::plugin::Kind> order;
  for (const auto& d : rt.loaded()) order.push_back(d.kind);
  auto at = [&](micro::plugin::Kind k) {
    return std::find(order.begin(), order.end(), k) - order.begin();
  };
  REQUIRE(order.size() == 5);
  CHECK(at(micro::plugin::Kind::registry) <
        at(micro::plugin::Kind::selector));  // selector requires registry
}

TEST_CASE(
    "a runtime refuses bad plugin options with origin and key path before running any plugin "
    "code") {
  micro::test::TempDir dir;
  const fs::path marker = dir / "marker";
  REQUIRE(::setenv("LOADER_FIXTURE_MARKER", marker.c_str(), 1) == 0);
  const fs::path file = micro::test::fixture_bad_dir() / "micro-codec-marker.so";
  auto e = micro::test::micro_error([&] {
    micro::Runtime rt(fixture_config({{"use", file.string()}, {"options", {{"levle", 1}}}}));
  });
  ::unsetenv("LOADER_FIXTURE_MARKER");
  CHECK(e.errc() == micro::Errc::config);
  CHECK_THAT(std::string(e.what()),
             Catch::Contains("test config: codecs[0].options.levle: unknown key"));
  CHECK_FALSE(fs::exists(marker));
}

TEST_CASE("a runtime refuses an option of the wrong type naming the plugin's key path") {
  auto e = micro::test::micro_error([&] {
    micro::Runtime rt(
        fixture_config({{"use", "fixture"}, {"options", {{"limits", {{"depth", "deep"}}}}}}));
  });
  CHECK(e.errc() == micro::Errc::config);
  CHECK_THAT(std::string(e.what()),
             Catch::Contains("test config: codecs[0].options.limits.depth: expected integer"));
}
