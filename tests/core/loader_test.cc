// The loader: every way a plugin file is refused (stage + a message naming the file), what is
// accepted, that inspection never runs plugin code, and that objects keep their library loaded.
#include <dlfcn.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "loader_fixtures.h"
#include "micro/codec.h"
#include "micro/loader.h"
#include "support.h"

namespace fs = std::filesystem;
using micro::plugin::Descriptor;
using micro::plugin::Kind;
using micro::plugin::Loader;
using micro::plugin::LoaderOptions;
using micro::plugin::Stage;
using micro::test::fixture_bad_dir;
using micro::test::fixture_good_dir;
using micro::test::good_codec;
using micro::test::NullHost;
using micro::test::plugin_error;

namespace {

Loader loader_of(std::vector<fs::path> path, bool insecure = false) {
  return Loader(LoaderOptions{std::move(path), insecure});
}

fs::path copy_into(const fs::path& file, const fs::path& dir, const std::string& name = {}) {
  const fs::path to = dir / (name.empty() ? file.filename().string() : name);
  fs::copy_file(file, to, fs::copy_options::overwrite_existing);
  return to;
}

// Whether the dynamic linker still has file loaded (without loading it).
bool is_loaded(const fs::path& file) {
  void* h = ::dlopen(file.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (h == nullptr) return false;
  ::dlclose(h);
  return true;
}

}  // namespace

TEST_CASE("a good plugin is found by kind and name, and creates a working object") {
  Loader loader = loader_of({fixture_good_dir()});
  Descriptor d = loader.find(Kind::codec, "fixture");
  CHECK(d.file == good_codec());
  CHECK(d.name == "fixture");
  CHECK(d.version == "1.2.3");
  CHECK(d.kind == Kind::codec);
  CHECK(d.abi_major == MICRO_ABI_MAJOR);
  CHECK(d.abi_minor == MICRO_ABI_MINOR);

  NullHost host;
  auto obj = loader.create(d, host);
  auto codec = std::dynamic_pointer_cast<micro::Codec>(obj);
  REQUIRE(codec);
  CHECK(codec->name() == "fixture");
  std::string out;
  codec->marshal(micro::codec::Payload::bytes(std::string("abc")), out);
  CHECK(out == "abc");
}

TEST_CASE("a plugin with an unresolved symbol is refused by dlopen, naming the symbol") {
  const fs::path file = fixture_bad_dir() / "micro-codec-unresolved.so";
  Loader loader = loader_of({});
  Descriptor d = loader.find(Kind::codec, file.string());  // the descriptor itself is fine
  NullHost host;
  auto e = plugin_error([&] { loader.create(d, host); });
  CHECK_REFUSED(e, Stage::dlopen_failed, file, "micro_fixture_function_defined_nowhere");
}

TEST_CASE("a plugin built for a higher ABI major is refused") {
  const fs::path file = fixture_bad_dir() / "micro-codec-abi_major.so";
  auto e = plugin_error([&] { loader_of({fixture_bad_dir()}).find(Kind::codec, "abi_major"); });
  const std::string want = "plugin ABI " + std::to_string(MICRO_ABI_MAJOR + 1) + ".0, host ABI " +
                           std::to_string(MICRO_ABI_MAJOR) + "." + std::to_string(MICRO_ABI_MINOR);
  CHECK_REFUSED(e, Stage::abi_mismatch, file, want);
}

TEST_CASE("a plugin built for a lower ABI major is refused") {
  // No real plugin can be built below major 1; check_compatible is tested on a hand-built
  // descriptor of an otherwise good plugin.
  Descriptor d = micro::plugin::inspect(good_codec());
  d.abi_major = MICRO_ABI_MAJOR - 1;
  auto e = plugin_error([&] { micro::plugin::check_compatible(d); });
  CHECK_REFUSED(e, Stage::abi_mismatch, good_codec(), "the major versions must be equal");
}

TEST_CASE("a plugin built for a higher ABI minor than the host is refused") {
  const fs::path file = fixture_bad_dir() / "micro-codec-abi_minor_newer.so";
  auto e =
      plugin_error([&] { loader_of({fixture_bad_dir()}).find(Kind::codec, "abi_minor_newer"); });
  CHECK_REFUSED(e, Stage::abi_mismatch, file, "needs a newer host");
}

TEST_CASE("a plugin built for the host's ABI minor is accepted and loads") {
  Loader loader = loader_of({fixture_bad_dir()});
  Descriptor d = loader.find(Kind::codec, "abi_minor_equal");
  CHECK(d.abi_minor == MICRO_ABI_MINOR);
  NullHost host;
  CHECK(loader.create(d, host)->name() == "abi_minor_equal");
}

TEST_CASE("a plugin built for a lower ABI minor than the host is accepted") {
  // The host is at minor MICRO_ABI_MINOR. While that is 0 no plugin can declare a lower minor,
  // so this checks the rule on hand-built descriptors; when the host minor rises, the
  // "abi_minor_equal" fixture (built at the old minor) becomes the real file-based case.
  Descriptor d = micro::plugin::inspect(good_codec());
  if constexpr (MICRO_ABI_MINOR > 0) {
    d.abi_minor = MICRO_ABI_MINOR - 1;
    CHECK_NOTHROW(micro::plugin::check_compatible(d));
  } else {
    d.abi_minor = MICRO_ABI_MINOR;
    CHECK_NOTHROW(micro::plugin::check_compatible(d));
    d.abi_minor = MICRO_ABI_MINOR + 1;
    CHECK_THROWS_AS(micro::plugin::check_compatible(d), micro::plugin::PluginError);
  }
}

TEST_CASE("a plugin of another kind than asked for is refused, by path and by name") {
  auto by_path = plugin_error([&] { loader_of({}).find(Kind::transport, good_codec().string()); });
  CHECK_REFUSED(by_path, Stage::wrong_kind, good_codec(),
                "is a codec plugin, asked for a transport");

  micro::test::TempDir dir;
  const fs::path impostor = copy_into(good_codec(), dir.path(), "micro-transport-impostor.so");
  auto by_name = plugin_error([&] { loader_of({dir.path()}).find(Kind::transport, "impostor"); });
  CHECK_REFUSED(by_name, Stage::wrong_kind, impostor, "is a codec plugin, asked for a transport");
}

TEST_CASE("a file named for one plugin that declares another name is refused") {
  micro::test::TempDir dir;
  const fs::path file = copy_into(good_codec(), dir.path(), "micro-codec-other.so");
  auto e = plugin_error([&] { loader_of({dir.path()}).find(Kind::codec, "other"); });
  CHECK_REFUSED(e, Stage::name_mismatch, file, "declares the name \"fixture\"");
}

TEST_CASE("the same kind and name in two directories of the search path is a duplicate") {
  micro::test::TempDir a, b;
  const fs::path first = copy_into(good_codec(), a.path());
  const fs::path second = copy_into(good_codec(), b.path());
  Loader loader = loader_of({a.path(), b.path()});

  auto e = plugin_error([&] { loader.find(Kind::codec, "fixture"); });
  CHECK_REFUSED(e, Stage::duplicate_name, second, first.string());

  auto found = loader.scan();
  REQUIRE(found.size() == 2);
  CHECK(found[0].descriptor);
  REQUIRE(found[1].error);
  CHECK_REFUSED(*found[1].error, Stage::duplicate_name, second, first.string());
}

TEST_CASE("a shared object without a micro_plugin section is not a plugin") {
  const fs::path file = fixture_bad_dir() / "micro-codec-plain.so";
  auto e = plugin_error([&] { micro::plugin::inspect(file); });
  CHECK_REFUSED(e, Stage::not_a_plugin, file, "no \"micro_plugin\" section");
}

TEST_CASE("a garbage file named like a plugin is not a plugin") {
  micro::test::TempDir dir;
  const fs::path file = dir / "micro-codec-garbage.so";
  micro::test::write_file(file, "this is not an ELF file, just text\n" + std::string(200, 'x'));
  auto e = plugin_error([&] { loader_of({dir.path()}).find(Kind::codec, "garbage"); });
  CHECK_REFUSED(e, Stage::not_a_plugin, file, "");
}

TEST_CASE("an empty file named like a plugin is not a plugin") {
  micro::test::TempDir dir;
  const fs::path file = dir / "micro-codec-empty.so";
  micro::test::write_file(file, "");
  auto e = plugin_error([&] { micro::plugin::inspect(file); });
  CHECK_REFUSED(e, Stage::not_a_plugin, file, "");
}

TEST_CASE("a missing file is file_not_found, a missing name is not_found listing the search path") {
  micro::test::TempDir dir;
  const fs::path missing = dir / "micro-codec-missing.so";
  auto by_file = plugin_error([&] { micro::plugin::inspect(missing); });
  CHECK_REFUSED(by_file, Stage::file_not_found, missing, "no such file");

  auto by_name = plugin_error([&] {
    loader_of({dir.path(), fixture_good_dir()}).find(Kind::codec, "missing");
  });
  CHECK_REFUSED(by_name, Stage::not_found, "micro-codec-missing.so",
                "no codec plugin named \"missing\"");
  CHECK_THAT(std::string(by_name.what()),
             Catch::Contains(dir.path().string()) && Catch::Contains(fixture_good_dir().string()));
}

TEST_CASE(
    "a plugin in a world-writable directory is refused unless insecure permissions are allowed") {
  micro::test::TempDir dir;
  fs::permissions(dir.path(), fs::perms::all);  // 0777
  const fs::path file = copy_into(good_codec(), dir.path());
  NullHost host;

  Loader strict = loader_of({dir.path()});
  Descriptor d = strict.find(Kind::codec, "fixture");  // finding reads the file only
  auto e = plugin_error([&] { strict.create(d, host); });
  CHECK_REFUSED(e, Stage::unsafe_permissions, file, "writable by other users");

  Loader lax = loader_of({dir.path()}, /*insecure=*/true);
  CHECK(lax.create(lax.find(Kind::codec, "fixture"), host)->name() == "fixture");
}

TEST_CASE("a world-writable plugin file is refused") {
  micro::test::TempDir dir;
  const fs::path file = copy_into(good_codec(), dir.path());
  fs::permissions(file, fs::perms::others_write, fs::perm_options::add);
  NullHost host;
  Loader loader = loader_of({dir.path()});
  auto e = plugin_error([&] { loader.create(loader.find(Kind::codec, "fixture"), host); });
  CHECK_REFUSED(e, Stage::unsafe_permissions, file, "writable by other users");
}

TEST_CASE("a created object keeps its library loaded after the Loader is gone") {
  micro::test::TempDir dir;
  const fs::path file = copy_into(good_codec(), dir.path());
  std::shared_ptr<micro::Component> obj;
  {
    Loader loader = loader_of({dir.path()});
    NullHost host;
    obj = loader.create(loader.find(Kind::codec, "fixture"), host);
  }
  CHECK(is_loaded(file));
  CHECK(obj->name() == "fixture");  // runs code of the plugin
  obj.reset();
  CHECK_FALSE(is_loaded(file));
}

TEST_CASE("one library is opened once for several objects") {
  micro::test::TempDir dir;
  const fs::path file = copy_into(good_codec(), dir.path());
  Loader loader = loader_of({dir.path()});
  NullHost host;
  Descriptor d = loader.find(Kind::codec, "fixture");
  auto a = loader.create(d, host);
  auto b = loader.create(d, host);
  CHECK(a != b);
  a.reset();
  CHECK(is_loaded(file));
  CHECK(b->name() == "fixture");
}

TEST_CASE("scan lists every micro-*.so on the search path with its descriptor or its error") {
  micro::test::TempDir dir;
  micro::test::write_file(dir / "micro-codec-garbage.so", "garbage");
  micro::test::write_file(dir / "libother.so", "not named like a plugin: ignored");
  auto found = loader_of({fixture_good_dir(), dir.path(), fixture_bad_dir()}).scan();

  auto entry = [&](const fs::path& f) -> const Loader::Found* {
    for (const auto& x : found)
      if (x.file == f) return &x;
    return nullptr;
  };
  for (const char* kind : {"codec", "transport", "registry", "selector", "broker"}) {
    const auto* e = entry(fixture_good_dir() / (std::string("micro-") + kind + "-fixture.so"));
    REQUIRE(e);
    REQUIRE(e->descriptor);
    CHECK(std::string(to_string(e->descriptor->kind)) == kind);
    CHECK_FALSE(e->error);
  }
  const auto* garbage = entry(dir / "micro-codec-garbage.so");
  REQUIRE(garbage);
  CHECK_FALSE(garbage->descriptor);
  REQUIRE(garbage->error);
  CHECK(garbage->error->stage() == Stage::not_a_plugin);
  const auto* plain = entry(fixture_bad_dir() / "micro-codec-plain.so");
  REQUIRE(plain);
  REQUIRE(plain->error);
  CHECK(plain->error->stage() == Stage::not_a_plugin);
  // scan() lists; compatibility is checked when a plugin is found or loaded.
  const auto* newer = entry(fixture_bad_dir() / "micro-codec-abi_major.so");
  REQUIRE(newer);
  CHECK(newer->descriptor);
  CHECK_FALSE(entry(dir / "libother.so"));
}

TEST_CASE("inspecting, scanning and finding never run plugin code; creating does") {
  micro::test::TempDir dir;
  const fs::path marker = dir / "marker";
  REQUIRE(::setenv("LOADER_FIXTURE_MARKER", marker.c_str(), 1) == 0);
  const fs::path file = copy_into(fixture_bad_dir() / "micro-codec-marker.so", dir.path());

  Descriptor d = micro::plugin::inspect(file);
  CHECK(d.name == "marker");
  Loader loader = loader_of({dir.path()});
  CHECK(loader.scan().size() == 1);
  Descriptor found = loader.find(Kind::codec, "marker");
  CHECK_FALSE(fs::exists(marker));

  NullHost host;
  auto obj = loader.create(found, host);
  REQUIRE(fs::exists(marker));
  const std::string marks = micro::test::read_file(marker);
  CHECK_THAT(marks, Catch::Contains("static constructor") && Catch::Contains("entry point"));
  ::unsetenv("LOADER_FIXTURE_MARKER");
}

TEST_CASE("plugin options are validated against the descriptor's schema with defaults filled") {
  const std::string schema = micro::plugin::inspect(good_codec()).options_schema;
  using nlohmann::json;
  auto check = [&](const std::string& opts) {
    return json::parse(micro::plugin::validate_options(schema, opts, "test.options"));
  };
  CHECK(check("") == json::parse(R"({"level":3,"mode":"fast"})"));
  CHECK(check(R"({"level":5})") == json::parse(R"({"level":5,"mode":"fast"})"));
  CHECK(check(R"({"limits":{}})") ==
        json::parse(R"({"level":3,"mode":"fast","limits":{"depth":8}})"));
}

TEST_CASE(
    "plugin options with an unknown key, a wrong type or a bad value are refused with the key "
    "path") {
  const std::string schema = micro::plugin::inspect(good_codec()).options_schema;
  auto refused = [&](const std::string& opts) {
    auto e = micro::test::micro_error(
        [&] { micro::plugin::validate_options(schema, opts, "cfg: codecs[0].options"); });
    CHECK(e.errc() == micro::Errc::config);
    return std::string(e.what());
  };
  CHECK_THAT(
      refused(R"({"levle":1})"),
      Catch::Contains("cfg: codecs[0].options.levle: unknown key") && Catch::Contains("known: "));
  CHECK_THAT(refused(R"({"limits":{"dpth":1}})"),
             Catch::Contains("codecs[0].options.limits.dpth: unknown key"));
  CHECK_THAT(refused(R"({"level":"high"})"),
             Catch::Contains("codecs[0].options.level: expected integer, got string"));
  CHECK_THAT(refused(R"({"level":10})"), Catch::Contains("codecs[0].options.level: must be <= 9"));
  CHECK_THAT(refused(R"({"mode":"tiny"})"),
             Catch::Contains("codecs[0].options.mode: must be one of"));
  CHECK_THAT(refused(R"([1,2])"),
             Catch::Contains("cfg: codecs[0].options: expected object, got array"));
  CHECK_THAT(refused(R"({not json)"),
             Catch::Contains("cfg: codecs[0].options: options are not valid JSON"));
}
