// registry-file: register / get / list / deregister, expiry, directory rules, file format.
#include <sys/stat.h>

#include <cstdlib>
#include <thread>
#include <vector>

#include "registry_file_helpers.h"

using namespace regfile_test;
using micro::Errc;
using micro::Error;
using micro::test::errc_of;
using micro::test::TempDir;
using micro::test::wait_for;

TEST_CASE("a registered node is returned by get_service and list_services") {
  TempDir dir;
  auto r = open(dir.path());
  r->register_service(service("greeter", "greeter-1", "127.0.0.1:8080"), {});

  auto got = r->get_service("greeter");
  REQUIRE(got.size() == 1);
  CHECK(got[0].name == "greeter");
  CHECK(got[0].version == "1.0.0");
  REQUIRE(got[0].nodes.size() == 1);
  CHECK(got[0].nodes[0].id == "greeter-1");
  CHECK(got[0].nodes[0].address == "127.0.0.1:8080");
  CHECK(got[0].nodes[0].metadata.at("protocol") == "mucp");
  REQUIRE(got[0].endpoints.size() == 1);
  CHECK(got[0].endpoints[0].name == "Greeter.Hello");

  auto all = r->list_services();
  REQUIRE(all.size() == 1);
  CHECK(all[0].name == "greeter");
}

TEST_CASE("the node file holds go-micro's Service JSON with one node") {
  TempDir dir;
  auto r = open(dir.path());
  auto s = service("greeter", "greeter-1");
  r->register_service(s, {});
  const auto text = micro::test::read_file(dir / "greeter/greeter-1.json");
  CHECK(text == micro::registry::to_json(s));
}

TEST_CASE("deregister removes the node and get_service then throws not_found") {
  TempDir dir;
  auto r = open(dir.path());
  auto s = service("greeter", "greeter-1");
  r->register_service(s, {});
  r->deregister(s);
  CHECK_FALSE(std::filesystem::exists(dir / "greeter/greeter-1.json"));
  CHECK(errc_of([&] { r->get_service("greeter"); }) == Errc::not_found);
  CHECK(r->list_services().empty());
  r->deregister(s);  // a missing node is not an error
}

TEST_CASE("get_service of an unknown service throws not_found naming it") {
  TempDir dir;
  auto r = open(dir.path());
  try {
    r->get_service("nobody");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.errc() == Errc::not_found);
    CHECK_THAT(e.what(), Catch::Contains("nobody"));
  }
}

TEST_CASE("nodes are grouped by version, one Service per version") {
  TempDir dir;
  auto r = open(dir.path());
  r->register_service(service("greeter", "greeter-a", "127.0.0.1:1", "v1"), {});
  r->register_service(service("greeter", "greeter-b", "127.0.0.1:2", "v1"), {});
  r->register_service(service("greeter", "greeter-c", "127.0.0.1:3", "v2"), {});
  auto got = r->get_service("greeter");
  REQUIRE(got.size() == 2);
  for (const auto& s : got) CHECK(s.nodes.size() == (s.version == "v1" ? 2u : 1u));
}

TEST_CASE("two registry instances on one directory see each other's nodes") {
  TempDir dir;
  auto a = open(dir.path());
  auto b = open(dir.path());
  a->register_service(service("alpha", "alpha-1"), {});
  b->register_service(service("beta", "beta-1"), {});
  CHECK(a->get_service("beta").at(0).nodes.at(0).id == "beta-1");
  CHECK(b->get_service("alpha").at(0).nodes.at(0).id == "alpha-1");
  CHECK(a->list_services().size() == 2);
  b->deregister(service("alpha", "alpha-1"));
  CHECK(errc_of([&] { a->get_service("alpha"); }) == Errc::not_found);
}

TEST_CASE("a node registered with a ttl disappears once the ttl passes") {
  TempDir dir;
  auto r = open(dir.path());
  r->register_service(service("greeter", "greeter-1"), {std::chrono::seconds(1)});
  CHECK(r->get_service("greeter").size() == 1);
  CHECK(wait_for([&] { return gone(*r, "greeter"); }, std::chrono::seconds(5)));
  CHECK(r->list_services().empty());
}

TEST_CASE("re-registering refreshes the expiry") {
  TempDir dir;
  auto r = open(dir.path());
  auto s = service("greeter", "greeter-1");
  r->register_service(s, {std::chrono::seconds(1)});
  struct stat before {};
  REQUIRE(::stat((dir / "greeter/greeter-1.json").c_str(), &before) == 0);
  r->register_service(s, {std::chrono::seconds(3600)});
  struct stat after {};
  REQUIRE(::stat((dir / "greeter/greeter-1.json").c_str(), &after) == 0);
  CHECK(after.st_mtim.tv_sec >= before.st_mtim.tv_sec + 3000);
}

TEST_CASE("ttl 0 means the node does not expire") {
  TempDir dir;
  auto r = open(dir.path());
  r->register_service(service("greeter", "greeter-1"), {});
  struct stat st {};
  REQUIRE(::stat((dir / "greeter/greeter-1.json").c_str(), &st) == 0);
  CHECK(st.st_mtim.tv_sec > ::time(nullptr) + 50L * 365 * 24 * 3600);
}

TEST_CASE("files expired longer than expired_grace_s are removed by a read") {
  TempDir dir;
  auto r = open(dir.path(), R"({"expired_grace_s":0})");
  auto keep = open(dir.path(), R"({"expired_grace_s":-1})");
  write_node(dir / "greeter/greeter-old.json", micro::registry::to_json(service("greeter", "old")),
             -10);
  CHECK(gone(*keep, "greeter"));
  CHECK(std::filesystem::exists(dir / "greeter/greeter-old.json"));
  CHECK(gone(*r, "greeter"));
  CHECK_FALSE(std::filesystem::exists(dir / "greeter/greeter-old.json"));
}

TEST_CASE("a corrupt node file is skipped and the other nodes are still returned") {
  TempDir dir;
  auto r = open(dir.path());
  r->register_service(service("greeter", "greeter-good"), {});
  write_node(dir / "greeter/greeter-bad.json", "{ this is not json");
  write_node(dir / "greeter/greeter-empty.json", "");
  auto got = r->get_service("greeter");
  REQUIRE(got.size() == 1);
  REQUIRE(got[0].nodes.size() == 1);
  CHECK(got[0].nodes[0].id == "greeter-good");
  CHECK(r->list_services().size() == 1);
}

TEST_CASE("go-micro's Service JSON written by hand is read back") {
  TempDir dir;
  auto r = open(dir.path());
  // As go-micro v2's etcd registry stores a node (encoding/json, no omitempty, nil = null).
  write_node(dir / "go.micro.srv.greeter/go.micro.srv.greeter-3d5e7a4c.json",
             R"({"name":"go.micro.srv.greeter","version":"latest","metadata":null,)"
             R"("endpoints":[{"name":"Greeter.Hello","request":{"name":"Request","type":"Request",)"
             R"("values":[{"name":"name","type":"string","values":null}]},"response":{"name":)"
             R"("Response","type":"Response","values":[{"name":"msg","type":"string","values":)"
             R"(null}]},"metadata":{}}],"nodes":[{"id":"go.micro.srv.greeter-3d5e7a4c","address":)"
             R"("192.168.1.10:54321","metadata":{"broker":"http","protocol":"mucp","registry":)"
             R"("mdns","server":"mucp","transport":"http"}}]})");
  auto got = r->get_service("go.micro.srv.greeter");
  REQUIRE(got.size() == 1);
  CHECK(got[0].version == "latest");
  CHECK(got[0].metadata.empty());
  REQUIRE(got[0].endpoints.size() == 1);
  REQUIRE(got[0].endpoints[0].request.has_value());
  CHECK(got[0].endpoints[0].request->values.at(0).name == "name");
  REQUIRE(got[0].nodes.size() == 1);
  CHECK(got[0].nodes[0].address == "192.168.1.10:54321");
  CHECK(got[0].nodes[0].metadata.at("transport") == "http");
}

TEST_CASE("'/' in service names and node ids becomes '-' in paths") {
  TempDir dir;
  auto r = open(dir.path());
  r->register_service(service("acme/greeter", "acme/greeter-1"), {});
  CHECK(std::filesystem::exists(dir / "acme-greeter/acme-greeter-1.json"));
  CHECK(r->get_service("acme/greeter").at(0).nodes.at(0).id == "acme/greeter-1");
  // Another service that maps to the same directory is not mixed in.
  CHECK(gone(*r, "acme-greeter"));
}

TEST_CASE("register refuses a service without nodes or with an empty name") {
  TempDir dir;
  auto r = open(dir.path());
  auto s = service("greeter", "greeter-1");
  s.nodes.clear();
  CHECK(errc_of([&] { r->register_service(s, {}); }) == Errc::bad_request);
  CHECK(errc_of([&] { r->register_service(service("", "x"), {}); }) == Errc::bad_request);
  CHECK(errc_of([&] { r->register_service(service("..", "x"), {}); }) == Errc::bad_request);
}

TEST_CASE("a missing directory is created with mode 0700") {
  TempDir dir;
  auto root = dir / "a/b/registry";
  auto r = open(root);
  struct stat st {};
  REQUIRE(::stat(root.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
}

TEST_CASE("the plugin option dir is used when no address is set") {
  TempDir dir;
  auto r = load();
  const auto root = dir / "from-option";
  r->init(micro::Registry::Options{
      {}, std::chrono::milliseconds(5000), R"({"dir":")" + root.string() + R"("})"});
  r->register_service(service("greeter", "greeter-1"), {});
  CHECK(std::filesystem::exists(root / "greeter/greeter-1.json"));
}

TEST_CASE("a directory writable by other users is refused with a config error naming it") {
  TempDir dir;
  auto root = dir / "open";
  std::filesystem::create_directory(root);
  REQUIRE(::chmod(root.c_str(), 0777) == 0);
  auto r = load();
  try {
    r->init(micro::Registry::Options{{root.string()}, std::chrono::milliseconds(5000), "{}"});
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.errc() == Errc::config);
    CHECK_THAT(e.what(), Catch::Contains(root.string()));
  }
}

TEST_CASE("a path that is a file is refused with a config error") {
  TempDir dir;
  micro::test::write_file(dir / "file", "x");
  auto r = load();
  CHECK(errc_of([&] {
          r->init(micro::Registry::Options{{(dir / "file").string()}, {}, "{}"});
        }) == Errc::config);
}

TEST_CASE("after stop() the registry's methods throw closed") {
  TempDir dir;
  auto r = open(dir.path());
  r->stop();
  CHECK(errc_of([&] { r->register_service(service("greeter", "greeter-1"), {}); }) == Errc::closed);
  CHECK(errc_of([&] { r->get_service("greeter"); }) == Errc::closed);
  CHECK(errc_of([&] { r->watch(); }) == Errc::closed);
}

TEST_CASE("a relative directory or a host:port address is refused with a config error") {
  auto r = load();
  CHECK(errc_of([&] {
          r->init(micro::Registry::Options{{"127.0.0.1:2379"}, {}, "{}"});
        }) == Errc::config);
  auto r2 = load();
  CHECK(errc_of([&] {
          r2->init(micro::Registry::Options{{}, {}, R"({"dir":"reg"})"});
        }) == Errc::config);
}

TEST_CASE("without address or dir option the directory is under XDG_RUNTIME_DIR") {
  TempDir dir;
  const char* old = std::getenv("XDG_RUNTIME_DIR");
  const std::string saved = old ? old : "";
  ::setenv("XDG_RUNTIME_DIR", dir.path().c_str(), 1);
  auto r = load();
  r->init(micro::Registry::Options{});
  if (old) {
    ::setenv("XDG_RUNTIME_DIR", saved.c_str(), 1);
  } else {
    ::unsetenv("XDG_RUNTIME_DIR");
  }
  r->register_service(service("greeter", "greeter-1"), {});
  CHECK(std::filesystem::exists(dir / "micro/registry/greeter/greeter-1.json"));
}

TEST_CASE("concurrent registrations from several threads all land") {
  TempDir dir;
  auto r = open(dir.path());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        auto id = "greeter-" + std::to_string(t) + "-" + std::to_string(i);
        r->register_service(service("greeter", id), {});
        r->register_service(service("greeter", id), {});  // refresh races with readers
        r->get_service("greeter");
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(r->get_service("greeter").at(0).nodes.size() == 100);
}
