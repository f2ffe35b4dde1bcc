// Config: every class of error is one line naming the origin and the key path (or the
// environment variable); environment overrides follow go-micro's names.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "loader_fixtures.h"
#include "micro/config.h"
#include "micro/runtime.h"
#include "support.h"

namespace fs = std::filesystem;
using micro::Config;
using micro::Environment;

namespace {

std::string parse_error(const std::string& text) {
  auto e = micro::test::micro_error([&] { Config::parse(text, "cfg"); });
  CHECK(e.errc() == micro::Errc::config);
  return e.what();
}

std::string env_error(const Environment& env) {
  auto e = micro::test::micro_error([&] { Config::load(std::nullopt, env); });
  CHECK(e.errc() == micro::Errc::config);
  return e.what();
}

}  // namespace

TEST_CASE("without a file or environment the defaults are go-micro's") {
  Config c = Config::load(std::nullopt, {});
  CHECK(c.origin == "defaults");
  CHECK(c.transport.use == "http");
  REQUIRE(c.codecs.size() == 5);
  CHECK(c.codecs[0].use == "json");
  CHECK(c.codecs[3].use == "jsonrpc");
  CHECK(c.codecs[4].use == "protorpc");
  CHECK(c.registry.use == "file");
  CHECK(c.server.register_ttl == std::chrono::seconds(90));
  CHECK(c.server.register_interval == std::chrono::seconds(30));
}

TEST_CASE("a document that is not JSON is refused naming its origin") {
  CHECK(parse_error("{\"service\":") == "cfg: not valid JSON");
  CHECK_THAT(parse_error("[1,2]"), Catch::Contains("cfg: : expected object, got array") ||
                                       Catch::Contains("cfg: expected object"));
}

TEST_CASE("an unknown key at the top level is refused with the known keys") {
  CHECK_THAT(parse_error(R"({"servce":{}})"),
             Catch::StartsWith("cfg: servce: unknown key (known: service, plugins,"));
}

TEST_CASE("an unknown nested key is refused with its key path") {
  CHECK_THAT(parse_error(R"({"service":{"nmae":"x"}})"),
             Catch::StartsWith("cfg: service.nmae: unknown key"));
  CHECK_THAT(parse_error(R"({"registry":{"use":"file","adresses":[]}})"),
             Catch::StartsWith("cfg: registry.adresses: unknown key"));
  CHECK_THAT(parse_error(R"({"codecs":[{"use":"json","option":{}}]})"),
             Catch::StartsWith("cfg: codecs[0].option: unknown key"));
}

TEST_CASE("an error in a config file names the file") {
  micro::test::TempDir dir;
  const fs::path file = dir / "svc.json";
  micro::test::write_file(file, R"({"client":{"retrys":1}})");
  auto e = micro::test::micro_error([&] { Config::load(file, {}); });
  CHECK_THAT(std::string(e.what()),
             Catch::StartsWith("config file " + file.string() + ": client.retrys: unknown key"));
}

TEST_CASE("a config file that cannot be read is refused naming it") {
  micro::test::TempDir dir;
  auto e = micro::test::micro_error([&] { Config::load(dir / "nope.json", {}); });
  CHECK(std::string(e.what()) ==
        "config file " + (dir / "nope.json").string() + ": cannot be read");
}

TEST_CASE("MICRO_CONFIG names the file when none is given") {
  micro::test::TempDir dir;
  micro::test::write_file(dir / "c.json", R"({"service":{"name":"greeter"}})");
  Config c = Config::load(std::nullopt, {{"MICRO_CONFIG", (dir / "c.json").string()}});
  CHECK(c.service.name == "greeter");
  CHECK(c.origin == "config file " + (dir / "c.json").string());
}

TEST_CASE("a value of the wrong type is refused with the type expected and found") {
  CHECK(parse_error(R"({"service":{"name":1}})") ==
        "cfg: service.name: expected string, got integer");
  CHECK(parse_error(R"({"codecs":"json"})") == "cfg: codecs: expected array, got string");
  CHECK(parse_error(R"({"plugins":{"allow_insecure_permissions":"yes"}})") ==
        "cfg: plugins.allow_insecure_permissions: expected boolean, got string");
  CHECK(parse_error(R"({"client":{"retries":1.5}})") ==
        "cfg: client.retries: expected integer, got number");
  CHECK(parse_error(R"({"registry":{"use":"x","options":[]}})") ==
        "cfg: registry.options: expected object, got array");
  CHECK(parse_error(R"({"service":{"metadata":{"a":1}}})") ==
        "cfg: service.metadata.a: expected string, got integer");
}

TEST_CASE("a plugin choice without use is refused") {
  CHECK_THAT(parse_error(R"({"registry":{"options":{}}})"),
             Catch::StartsWith("cfg: registry.use: required key missing"));
  CHECK_THAT(parse_error(R"({"codecs":["json",{"options":{}}]})"),
             Catch::StartsWith("cfg: codecs[1].use: required key missing"));
}

TEST_CASE("numbers out of range are refused with the range") {
  CHECK(parse_error(R"({"client":{"retries":101}})") ==
        "cfg: client.retries: must be between 0 and 100");
  CHECK(parse_error(R"({"server":{"register_ttl_s":0}})") ==
        "cfg: server.register_ttl_s: must be between 1 and 86400");
  CHECK(parse_error(R"({"client":{"request_timeout_ms":-1}})") ==
        "cfg: client.request_timeout_ms: must be between 1 and 86400000");
}

TEST_CASE("a register interval not below the TTL is refused") {
  CHECK_THAT(parse_error(R"({"server":{"register_ttl_s":30,"register_interval_s":30}})"),
             Catch::StartsWith(
                 "cfg: server.register_interval_s: must be less than server.register_ttl_s"));
  CHECK_THAT(env_error({{"MICRO_REGISTER_TTL", "10"}}),
             Catch::StartsWith("environment: MICRO_REGISTER_INTERVAL:"));
}

TEST_CASE(
    "an unknown plugin name is refused by the runtime naming the plugin and the directories "
    "searched") {
  micro::test::TempDir empty;
  const std::string good = micro::test::fixture_good_dir().string();
  nlohmann::json doc = {{"plugins", {{"path", {empty.path().string(), good}}}},
                        {"transport", {{"use", "fixture"}}},
                        {"codecs", {"fixture"}},
                        {"registry", {{"use", "nosuch"}}},
                        {"selector", {{"use", "fixture"}}},
                        {"broker", {{"use", "fixture"}}}};
  auto e = micro::test::plugin_error([&] { micro::Runtime rt(Config::parse(doc.dump(), "cfg")); });
  CHECK(e.stage() == micro::plugin::Stage::not_found);
  const std::string msg = e.what();
  CHECK_THAT(msg, Catch::Contains("micro-registry-nosuch.so") &&
                      Catch::Contains("no registry plugin named \"nosuch\"") &&
                      Catch::Contains(empty.path().string()) && Catch::Contains(good) &&
                      Catch::Contains("MICRO_PLUGIN_PATH"));
}

TEST_CASE("environment variables override the file") {
  micro::test::TempDir dir;
  micro::test::write_file(dir / "c.json", R"({"service":{"name":"a","address":"127.0.0.1:1"},
    "registry":{"use":"file","addresses":["x:1"]},"broker":{"use":"memory"},
    "transport":{"use":"http"},"selector":{"use":"random"}})");
  Config c = Config::load(dir / "c.json", {{"MICRO_REGISTRY", "etcd"},
                                           {"MICRO_REGISTRY_ADDRESS", "a:1,b:2"},
                                           {"MICRO_BROKER", "nats"},
                                           {"MICRO_BROKER_ADDRESS", "n:4222"},
                                           {"MICRO_TRANSPORT", "grpc"},
                                           {"MICRO_SELECTOR", "roundrobin"},
                                           {"MICRO_SERVER_ADDRESS", "127.0.0.1:9"},
                                           {"MICRO_SERVER_NAME", "b"},
                                           {"MICRO_REGISTER_TTL", "20"},
                                           {"MICRO_REGISTER_INTERVAL", "5"}});
  CHECK(c.registry.use == "etcd");
  CHECK(c.registry_addrs == std::vector<std::string>{"a:1", "b:2"});
  CHECK(c.broker.use == "nats");
  CHECK(c.broker_addrs == std::vector<std::string>{"n:4222"});
  CHECK(c.transport.use == "grpc");
  CHECK(c.selector.use == "roundrobin");
  CHECK(c.service.address == "127.0.0.1:9");
  CHECK(c.service.name == "b");
  CHECK(c.server.register_ttl == std::chrono::seconds(20));
  CHECK(c.server.register_interval == std::chrono::seconds(5));
}

TEST_CASE("switching plugin through the environment drops the file's options for the old one") {
  micro::test::TempDir dir;
  micro::test::write_file(dir / "c.json", R"({"registry":{"use":"file","options":{"path":"/x"}}})");
  Config same = Config::load(dir / "c.json", {{"MICRO_REGISTRY", "file"}});
  CHECK(nlohmann::json::parse(same.registry.options) == nlohmann::json::parse(R"({"path":"/x"})"));
  Config other = Config::load(dir / "c.json", {{"MICRO_REGISTRY", "etcd"}});
  CHECK(other.registry.use == "etcd");
  CHECK(other.registry.options == "{}");
}

TEST_CASE("MICRO_PLUGIN_PATH is appended after plugins.path, before the built-in directory") {
  micro::test::TempDir dir;
  micro::test::write_file(dir / "c.json", R"({"plugins":{"path":["/opt/a","rel"]}})");
  Config c = Config::load(dir / "c.json", {{"MICRO_PLUGIN_PATH", "/opt/b:/opt/c"}});
  REQUIRE(c.plugins.path.size() == 4);
  CHECK(c.plugins.path[0] == "/opt/a");
  CHECK(c.plugins.path[1] == dir / "rel");  // relative to the config file
  CHECK(c.plugins.path[2] == "/opt/b");
  CHECK(c.plugins.path[3] == "/opt/c");
  auto search = c.plugin_search_path();
  REQUIRE(search.size() == 5);
  CHECK(search[3] == "/opt/c");
  CHECK(search[4].filename() == "plugins");
}

TEST_CASE("an unknown MICRO_ variable is refused rather than ignored") {
  CHECK_THAT(
      env_error({{"MICRO_REGISTRYY", "etcd"}}),
      Catch::StartsWith("environment: MICRO_REGISTRYY: unknown variable (known: MICRO_CONFIG,"));
}

TEST_CASE("a TTL that is not a number is refused naming the variable and the value") {
  CHECK(env_error({{"MICRO_REGISTER_TTL", "ten"}}) ==
        "environment: MICRO_REGISTER_TTL: expected whole seconds between 1 and 86400, got \"ten\"");
  CHECK_THAT(env_error({{"MICRO_REGISTER_TTL", "30s"}}), Catch::Contains("got \"30s\""));
}

TEST_CASE("a variable set but empty is refused") {
  CHECK(env_error({{"MICRO_REGISTRY", ""}}) == "environment: MICRO_REGISTRY: set but empty");
}
