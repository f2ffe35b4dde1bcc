// The `micro` command run as a process: output, exit status (0 ok, 1 error, 2 usage), and
// one-line errors on stderr.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "micro/plugin.h"
#include "support.h"

namespace fs = std::filesystem;
const std::string kHostAbi =
    std::to_string(MICRO_ABI_MAJOR) + "." + std::to_string(MICRO_ABI_MINOR);
using micro::test::run;
using micro::test::RunResult;

namespace {

const fs::path kGood = MICRO_FIXTURE_GOOD_DIR;
const fs::path kBad = MICRO_FIXTURE_BAD_DIR;

RunResult micro_cmd(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), (micro::test::bin_dir() / "micro").string());
  return run(std::move(args), std::move(env));
}

bool one_line(const std::string& s) { return !s.empty() && s.find('\n') == s.size() - 1; }

}  // namespace

TEST_CASE("micro --help lists the verbs and exits 0") {
  auto r = micro_cmd({"--help"});
  CHECK(r.status == 0);
  CHECK_THAT(r.out,
             Catch::Contains("micro plugins list") && Catch::Contains("micro plugins inspect"));
}

TEST_CASE("micro without a command, with an unknown command or option is a usage error (2)") {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {}, {"frobnicate"}, {"--bogus", "plugins", "list"}, {"plugins"}, {"--config"}}) {
    auto r = micro_cmd(args);
    INFO("args: " << args.size() << " stderr: " << r.err);
    CHECK(r.status == 2);
    CHECK(one_line(r.err));
    CHECK_THAT(r.err, Catch::StartsWith("micro: "));
  }
}

TEST_CASE("micro plugins inspect with a wrong argument count or flag is a usage error (2)") {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"plugins", "inspect"},
                                             {"plugins", "inspect", "a.so", "b.so"},
                                             {"plugins", "inspect", "a.so", "--xml"}}) {
    auto r = micro_cmd(args);
    CHECK(r.status == 2);
    CHECK(one_line(r.err));
    CHECK_THAT(r.err, Catch::Contains("usage: micro plugins inspect FILE.so [--json]"));
  }
}

TEST_CASE("micro plugins list shows the plugins on the search path and the refused files") {
  auto r =
      micro_cmd({"plugins", "list"}, {{"MICRO_PLUGIN_PATH", kGood.string() + ":" + kBad.string()}});
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("KIND") && Catch::Contains("FILE"));
  CHECK_THAT(r.out, Catch::Contains((kGood / "micro-codec-fixture.so").string()));
  CHECK_THAT(r.out, Catch::Contains((kGood / "micro-selector-fixture.so").string()));
  CHECK_THAT(r.out, Catch::Contains("refused:"));
  CHECK_THAT(r.out, Catch::Contains((kBad / "micro-codec-plain.so").string() + ": not a plugin"));
  CHECK_THAT(r.out,
             Catch::Contains((kBad / "micro-codec-abi_major.so").string() + ": ABI mismatch"));
}

TEST_CASE("micro plugins list --json gives kind, name, version, ABI and file of each plugin") {
  micro::test::TempDir dir;
  micro::test::write_file(dir / "cfg.json", R"({"plugins":{"path":[")" + kGood.string() +
                                                R"(", ")" + kBad.string() + R"("]}})");
  auto r = micro_cmd({"--config", (dir / "cfg.json").string(), "plugins", "list", "--json"});
  REQUIRE(r.status == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["search_path"][0] == kGood.string());
  bool found = false;
  for (const auto& p : j["plugins"]) {
    if (p["file"] == (kGood / "micro-codec-fixture.so").string()) {
      found = true;
      CHECK(p["kind"] == "codec");
      CHECK(p["name"] == "fixture");
      CHECK(p["version"] == "1.2.3");
      CHECK(p["abi"] == kHostAbi);
    }
  }
  CHECK(found);
  bool refused_plain = false;
  for (const auto& x : j["refused"])
    refused_plain = refused_plain || (x["file"] == (kBad / "micro-codec-plain.so").string() &&
                                      x["stage"] == "not a plugin");
  CHECK(refused_plain);
}

TEST_CASE("micro plugins list with a bad config exits 1 with the config error") {
  micro::test::TempDir dir;
  micro::test::write_file(dir / "cfg.json", R"({"plugin":{}})");
  auto r = micro_cmd({"--config", (dir / "cfg.json").string(), "plugins", "list"});
  CHECK(r.status == 1);
  CHECK(one_line(r.err));
  CHECK_THAT(r.err, Catch::Contains("config file " + (dir / "cfg.json").string() +
                                    ": plugin: unknown key"));
}

TEST_CASE("micro plugins inspect prints the descriptor with the options schema") {
  const fs::path file = kGood / "micro-codec-fixture.so";
  auto r = micro_cmd({"plugins", "inspect", file.string()});
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("file:        " + file.string()));
  CHECK_THAT(
      r.out,
      Catch::Contains("kind:        codec") && Catch::Contains("name:        fixture") &&
          Catch::Contains("version:     1.2.3") && Catch::Contains("license:     Apache-2.0") &&
          Catch::Contains("ABI:         " + kHostAbi) && Catch::Contains("compatible:  yes") &&
          Catch::Contains("requires:    none") && Catch::Contains("libstdc++"));
  CHECK_THAT(r.out, Catch::Contains("\"level\": {"));  // pretty-printed schema
}

TEST_CASE("micro plugins inspect --json gives the descriptor as JSON") {
  auto r =
      micro_cmd({"plugins", "inspect", (kGood / "micro-selector-fixture.so").string(), "--json"});
  REQUIRE(r.status == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["kind"] == "selector");
  CHECK(j["requires"] == nlohmann::json::array({"registry"}));
  CHECK(j["options"]["properties"]["flag"]["default"] == false);
  CHECK(j["compatible"] == true);
  CHECK(j["build"]["stdlib"] == "libstdc++");
}

TEST_CASE("micro plugins inspect shows why an ABI-mismatched plugin cannot be loaded") {
  auto r = micro_cmd({"plugins", "inspect", (kBad / "micro-codec-abi_major.so").string()});
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("compatible:  no: ") &&
                        Catch::Contains("plugin ABI " + std::to_string(MICRO_ABI_MAJOR + 1) +
                                        ".0, host ABI " + kHostAbi));
}

TEST_CASE("micro plugins inspect of a bad file exits 1 with the loader's one-line error") {
  micro::test::TempDir dir;
  micro::test::write_file(dir / "micro-codec-garbage.so", "garbage");
  struct Case {
    fs::path file;
    std::string stage;
  };
  for (const auto& c : {Case{kBad / "micro-codec-plain.so", "not a plugin"},
                        Case{dir / "micro-codec-garbage.so", "not a plugin"},
                        Case{dir / "missing.so", "file not found"}}) {
    auto r = micro_cmd({"plugins", "inspect", c.file.string()});
    CHECK(r.status == 1);
    CHECK(one_line(r.err));
    CHECK_THAT(r.err, Catch::StartsWith("micro: plugin " + c.file.string() + ": " + c.stage));
    CHECK(r.out.empty());
  }
}

TEST_CASE("micro plugins inspect never runs plugin code") {
  micro::test::TempDir dir;
  auto r = micro_cmd({"plugins", "inspect", (kBad / "micro-codec-marker.so").string()},
                     {{"LOADER_FIXTURE_MARKER", (dir / "marker").string()}});
  CHECK(r.status == 0);
  CHECK_FALSE(fs::exists(dir / "marker"));
}
