// registry-file: watchers (inotify events, expiry as delete, stop) and a real second process.
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "registry_file_helpers.h"

using namespace regfile_test;
using micro::Clock;
using micro::Errc;
using micro::Error;
using micro::test::TempDir;
using namespace std::chrono_literals;

TEST_CASE("watch reports create, update and delete of a node") {
  TempDir dir;
  auto r = open(dir.path());
  auto w = r->watch();
  r->register_service(service("greeter", "greeter-1", "127.0.0.1:1"), {});
  auto c = next_result(*w);
  CHECK(c.action == "create");
  CHECK(c.service.name == "greeter");
  REQUIRE(c.service.nodes.size() == 1);
  CHECK(c.service.nodes[0].id == "greeter-1");

  r->register_service(service("greeter", "greeter-1", "127.0.0.1:2"), {});
  auto u = next_result(*w);
  CHECK(u.action == "update");
  CHECK(u.service.nodes.at(0).address == "127.0.0.1:2");

  r->deregister(service("greeter", "greeter-1"));
  auto d = next_result(*w);
  CHECK(d.action == "delete");
  CHECK(d.service.nodes.at(0).address == "127.0.0.1:2");  // the last known Service
}

TEST_CASE("watch reports changes made by another registry instance") {
  TempDir dir;
  auto a = open(dir.path());
  auto b = open(dir.path());
  auto w = a->watch();
  b->register_service(service("greeter", "greeter-1"), {});
  CHECK(next_result(*w).action == "create");
}

TEST_CASE("a refresh that does not change the content is not reported") {
  TempDir dir;
  auto r = open(dir.path());
  auto s = service("greeter", "greeter-1");
  r->register_service(s, {std::chrono::seconds(60)});
  auto w = r->watch();
  r->register_service(s, {std::chrono::seconds(60)});
  r->register_service(service("other", "other-1"), {});  // a marker event after the refresh
  auto e = next_result(*w);
  CHECK(e.action == "create");
  CHECK(e.service.name == "other");
}

TEST_CASE("watch reports a node whose ttl passes without its file being removed as deleted") {
  TempDir dir;
  auto r = open(dir.path());
  auto w = r->watch();
  r->register_service(service("greeter", "greeter-1"), {std::chrono::seconds(1)});
  CHECK(next_result(*w).action == "create");
  auto start = Clock::now();
  auto d = next_result(*w, 5s);
  CHECK(d.action == "delete");
  CHECK(d.service.nodes.at(0).id == "greeter-1");
  CHECK(Clock::now() - start < 3s);
  // The file is still there: only its expiry passed.
  CHECK(std::filesystem::exists(dir / "greeter/greeter-1.json"));
}

TEST_CASE("watch of nodes present before it started reports their expiry") {
  TempDir dir;
  auto r = open(dir.path());
  r->register_service(service("greeter", "greeter-1"), {std::chrono::seconds(1)});
  auto w = r->watch();
  auto d = next_result(*w, 5s);
  CHECK(d.action == "delete");
  CHECK(d.service.name == "greeter");
}

TEST_CASE("watch of one service ignores the others and sees its directory created later") {
  TempDir dir;
  auto r = open(dir.path());
  auto w = r->watch(micro::registry::WatchOptions{"greeter"});
  r->register_service(service("other", "other-1"), {});
  r->register_service(service("greeter", "greeter-1"), {});
  auto e = next_result(*w);
  CHECK(e.action == "create");
  CHECK(e.service.name == "greeter");
}

TEST_CASE("watch of all services sees service directories created after it started") {
  TempDir dir;
  auto r = open(dir.path());
  auto w = r->watch();
  for (int i = 0; i < 5; ++i) {
    r->register_service(service("svc" + std::to_string(i), "node-" + std::to_string(i)), {});
  }
  std::set<std::string> names;
  for (int i = 0; i < 5; ++i) {
    auto e = next_result(*w);
    CHECK(e.action == "create");
    names.insert(e.service.name);
  }
  CHECK(names.size() == 5);
}

TEST_CASE("next returns nullopt when the deadline passes without a change") {
  TempDir dir;
  auto r = open(dir.path());
  auto w = r->watch();
  auto start = Clock::now();
  CHECK_FALSE(w->next(Clock::now() + 100ms).has_value());
  CHECK(Clock::now() - start >= 100ms);
  CHECK_FALSE(w->next(Clock::now() - 1s).has_value());  // a passed deadline returns at once
}

TEST_CASE("stop from another thread wakes a blocked next, which throws closed") {
  TempDir dir;
  auto r = open(dir.path());
  auto w = r->watch();
  std::thread t([&] {
    std::this_thread::sleep_for(50ms);  // let next() block first; the result holds either way
    w->stop();
  });
  auto start = Clock::now();
  Errc got = Errc::ok;
  try {
    w->next(Clock::now() + 10s);
  } catch (const Error& e) {
    got = e.errc();
  }
  t.join();
  CHECK(got == Errc::closed);
  CHECK(Clock::now() - start < 5s);
  CHECK_THROWS_AS(w->next(Clock::now()), Error);
}

TEST_CASE("stopping the registry stops its watchers") {
  TempDir dir;
  auto r = open(dir.path());
  auto w = r->watch();
  r->stop();
  try {
    w->next(Clock::now() + 10s);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.errc() == Errc::closed);
  }
}

TEST_CASE("a node registered by another process is seen, and reported deleted when it expires") {
  TempDir dir;
  auto r = open(dir.path());
  auto w = r->watch();
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // The child registers with a ttl and dies without deregistering (as kill -9 would).
    int code = 0;
    try {
      auto c = open(dir.path());
      c->register_service(service("child", "child-1"), {std::chrono::seconds(1)});
    } catch (...) {
      code = 1;
    }
    ::_exit(code);
  }
  int status = -1;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  auto c = next_result(*w);
  CHECK(c.action == "create");
  CHECK(c.service.name == "child");
  auto d = next_result(*w, 5s);
  CHECK(d.action == "delete");
  CHECK(d.service.nodes.at(0).id == "child-1");
  CHECK(gone(*r, "child"));
}
