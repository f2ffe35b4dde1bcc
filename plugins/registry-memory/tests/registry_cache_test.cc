// micro::RegistryCache (core) over registry-memory: TTL, watch updates, stale-on-error,
// singleflight, stop.
#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <thread>

#include "micro/errors.h"
#include "micro/registry.h"
#include "micro/registry_cache.h"
#include "plugin_host.h"
#include "support.h"

using micro::registry::Node;
using micro::registry::Service;
using namespace std::chrono_literals;

namespace {

// The memory registry as a service process loads it, not started (the cache starts nothing).
std::shared_ptr<micro::Registry> load_registry() {
  return micro::test::load_plugin<micro::Registry>(micro::plugin::Kind::registry, "memory", "{}",
                                                   micro::test::no_host(), micro::test::Start::no);
}

// Wraps the memory registry: counts lookups, can be taken down, can hold lookups.
class Probe final : public micro::Registry {
 public:
  explicit Probe(std::shared_ptr<micro::Registry> inner) : inner_(std::move(inner)) {}
  std::string name() const override { return "probe"; }
  void init(const Options&) override {}
  Options options() const override { return {}; }
  void register_service(const Service& s, const micro::registry::RegisterOptions& o) override {
    inner_->register_service(s, o);
  }
  void deregister(const Service& s) override { inner_->deregister(s); }
  std::vector<Service> get_service(std::string_view name) override {
    ++gets;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return !held_; });
    }
    if (down) throw micro::Error(micro::Errc::unavailable, "probe: registry down");
    return inner_->get_service(name);
  }
  std::vector<Service> list_services() override { return inner_->list_services(); }
  std::unique_ptr<micro::registry::Watcher> watch(const micro::registry::WatchOptions& o) override {
    ++watches;
    if (down) throw micro::Error(micro::Errc::unavailable, "probe: registry down");
    return inner_->watch(o);
  }
  void hold(bool h) {
    {
      std::lock_guard lk(mu_);
      held_ = h;
    }
    cv_.notify_all();
  }

  std::atomic<int> gets{0};
  std::atomic<int> watches{0};
  std::atomic<bool> down{false};

 private:
  std::shared_ptr<micro::Registry> inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
};

Service svc(const std::string& id) {
  return Service{"greeter", "1.0", {}, {}, {Node{id, "127.0.0.1:1", {}}}};
}

std::size_t node_count(const micro::RegistryCache::Snapshot& s) {
  std::size_t n = 0;
  for (const auto& v : *s) n += v.nodes.size();
  return n;
}

micro::Errc errc_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const micro::Error& e) {
    return e.errc();
  }
  return micro::Errc::ok;
}

}  // namespace

TEST_CASE("registry cache serves repeated lookups from one registry request") {
  auto probe = std::make_shared<Probe>(load_registry());
  probe->register_service(svc("a"), {});
  micro::RegistryCache cache(probe);
  for (int i = 0; i < 10; ++i) CHECK(node_count(cache.get_service("greeter")) == 1);
  CHECK(probe->gets == 1);
}

TEST_CASE("registry cache asks the registry again after the TTL") {
  auto probe = std::make_shared<Probe>(load_registry());
  probe->register_service(svc("a"), {});
  micro::RegistryCache cache(probe, 50ms);
  cache.get_service("greeter");
  CHECK(micro::test::wait_for([&] {
    cache.get_service("greeter");
    return probe->gets >= 2;
  }));
}

TEST_CASE("registry cache follows the registry's watch between lookups") {
  auto probe = std::make_shared<Probe>(load_registry());
  probe->register_service(svc("a"), {});
  micro::RegistryCache cache(probe);
  REQUIRE(node_count(cache.get_service("greeter")) == 1);
  // The first lookup opened the watch before asking: a change right after it is not missed.
  probe->register_service(svc("b"), {});
  CHECK(micro::test::wait_for([&] { return node_count(cache.get_service("greeter")) == 2; }));
  probe->deregister(svc("a"));
  CHECK(micro::test::wait_for([&] { return node_count(cache.get_service("greeter")) == 1; }));
  CHECK(cache.get_service("greeter")->at(0).nodes.at(0).id == "b");
  CHECK(probe->gets == 1);
}

TEST_CASE("registry cache serves stale entries while the registry is down") {
  auto probe = std::make_shared<Probe>(load_registry());
  probe->register_service(svc("a"), {});
  micro::RegistryCache cache(probe, 20ms);
  REQUIRE(node_count(cache.get_service("greeter")) == 1);
  probe->down = true;
  int before = probe->gets;
  CHECK(micro::test::wait_for([&] {
    CHECK(node_count(cache.get_service("greeter")) == 1);
    return probe->gets > before;  // the registry was asked, failed, and the stale entry served
  }));
}

TEST_CASE("registry cache reports not_found and registry errors when nothing is cached") {
  auto probe = std::make_shared<Probe>(load_registry());
  micro::RegistryCache cache(probe);
  CHECK(errc_of([&] { cache.get_service("greeter"); }) == micro::Errc::not_found);
  probe->down = true;
  CHECK(errc_of([&] { cache.get_service("greeter"); }) == micro::Errc::unavailable);
}

TEST_CASE("registry cache makes one registry request for concurrent lookups") {
  auto probe = std::make_shared<Probe>(load_registry());
  probe->register_service(svc("a"), {});
  micro::RegistryCache cache(probe);
  probe->hold(true);
  std::atomic<int> started{0}, ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      ++started;
      if (node_count(cache.get_service("greeter")) == 1) ++ok;
    });
  }
  REQUIRE(micro::test::wait_for([&] { return started == 8 && probe->gets == 1; }));
  std::this_thread::sleep_for(50ms);  // let the others reach the in-flight lookup
  probe->hold(false);
  for (auto& t : threads) t.join();
  CHECK(ok == 8);
  CHECK(probe->gets == 1);
}

TEST_CASE("registry cache invalidate makes the next lookup ask the registry") {
  auto probe = std::make_shared<Probe>(load_registry());
  probe->register_service(svc("a"), {});
  micro::RegistryCache cache(probe);
  cache.get_service("greeter");
  cache.invalidate("greeter");
  cache.get_service("greeter");
  CHECK(probe->gets == 2);
}

TEST_CASE("registry cache stop ends its watch and refuses lookups") {
  auto probe = std::make_shared<Probe>(load_registry());
  probe->register_service(svc("a"), {});
  micro::RegistryCache cache(probe);
  cache.get_service("greeter");
  REQUIRE(micro::test::wait_for([&] { return probe->watches >= 1; }));
  cache.stop();
  CHECK(errc_of([&] { cache.get_service("greeter"); }) == micro::Errc::closed);
  cache.stop();  // idempotent
}
