// micro-bench-selectors: nanoseconds per select()+next() for selector-roundrobin and
// selector-random as a service grows from 1 to 10,000 nodes, from 1 thread and from 64
// threads at once (all on one service, through the plugin loader, registry cached).
//
// Usage: micro-bench-selectors [--calls N] [--threads T] [--selectors roundrobin,random]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "micro/errors.h"
#include "micro/loader.h"
#include "micro/registry_cache.h"
#include "micro/selector.h"
#include "test_registry.h"

namespace {

using Clock = std::chrono::steady_clock;

class RegistryHost final : public micro::plugin::Host {
 public:
  explicit RegistryHost(std::shared_ptr<micro::Registry> r) : registry_(std::move(r)) {}
  std::shared_ptr<micro::Registry> registry() override { return registry_; }
  std::shared_ptr<micro::Transport> transport() override { throw none(); }
  std::shared_ptr<micro::Broker> broker() override { throw none(); }
  std::shared_ptr<micro::Selector> selector() override { throw none(); }
  std::shared_ptr<micro::Codec> codec(std::string_view) override { throw none(); }

 private:
  static micro::Error none() { return micro::Error(micro::Errc::plugin, "not required"); }
  std::shared_ptr<micro::Registry> registry_;
};

// Calls select("bench")() `calls` times on each of `threads` threads; returns ns per call
// (wall time x threads / calls, i.e. the cost one call sees).
double run(micro::Selector& s, int threads, long calls) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::atomic<std::size_t> sink{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&] {
      ++ready;
      while (!go.load()) std::this_thread::yield();
      std::size_t local = 0;
      for (long i = 0; i < calls; ++i) local += s.select("bench")().address.size();
      sink += local;
    });
  while (ready.load() < threads) std::this_thread::yield();
  auto start = Clock::now();
  go = true;
  for (auto& t : ts) t.join();
  auto ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
  if (sink.load() == 0) std::cerr << "no node selected\n";
  return ns / static_cast<double>(calls);  // per call per thread = wall time per call
}

}  // namespace

int main(int argc, char** argv) {
  long calls = 200000;
  int threads = 64;
  std::vector<std::string> selectors{"roundrobin", "random"};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--calls" && i + 1 < argc) {
      calls = std::stol(argv[++i]);
    } else if (a == "--threads" && i + 1 < argc) {
      threads = std::stoi(argv[++i]);
    } else if (a == "--selectors" && i + 1 < argc) {
      selectors.clear();
      std::string list = argv[++i];
      for (std::size_t p = 0; p <= list.size();) {
        auto q = list.find(',', p);
        if (q == std::string::npos) q = list.size();
        selectors.push_back(list.substr(p, q - p));
        p = q + 1;
      }
    } else {
      std::cerr << "usage: micro-bench-selectors [--calls N] [--threads T] "
                   "[--selectors roundrobin,random]\n";
      return 2;
    }
  }
  try {
    micro::plugin::Loader loader(micro::plugin::LoaderOptions{{MICRO_BENCH_PLUGIN_DIR}});
    // 1 thread: ns per select()+next(). T threads: wall ns per call over all threads
    // (1e9 / throughput), and the time each thread's call takes meanwhile (latency).
    std::printf("%-11s %7s %12s %8s %16s %16s\n", "selector", "nodes", "1-thread ns", "threads",
                "ns/call (all)", "ns/call (each)");
    for (const auto& name : selectors) {
      auto d = loader.find(micro::plugin::Kind::selector, name);
      for (int n : {1, 10, 100, 1000, 10000}) {
        auto registry = std::make_shared<micro::test::TestRegistry>();
        micro::registry::Service svc{"bench", "1", {}, {}, {}};
        for (int i = 0; i < n; ++i)
          svc.nodes.push_back({"bench-" + std::to_string(i), "127.0.0.1:" + std::to_string(i), {}});
        registry->register_service(svc, {});
        RegistryHost host(registry);
        auto s = std::dynamic_pointer_cast<micro::Selector>(loader.create(d, host));
        micro::Selector::Options o;
        o.plugin_options = micro::plugin::validate_options(d.options_schema, "{}", name);
        s->init(o);
        run(*s, 1, 1000);  // warm: cache filled, view built
        double one = run(*s, 1, calls);
        double many = run(*s, threads, calls / threads > 0 ? calls / threads : 1);
        std::printf("%-11s %7d %12.0f %8d %16.0f %16.0f\n", name.c_str(), n, one, threads,
                    many / threads, many);
        std::fflush(stdout);
        s->stop();
      }
    }
    // Baseline: the RegistryCache lookup every select() makes, alone.
    {
      auto registry = std::make_shared<micro::test::TestRegistry>();
      micro::registry::Service svc{"bench", "1", {}, {}, {{"bench-0", "127.0.0.1:1", {}}}};
      registry->register_service(svc, {});
      micro::RegistryCache cache(registry);
      auto time = [&](int nthreads, long n) {
        std::vector<std::thread> ts;
        auto start = Clock::now();
        for (int t = 0; t < nthreads; ++t)
          ts.emplace_back([&] {
            for (long i = 0; i < n; ++i) (void)cache.get_service("bench");
          });
        for (auto& t : ts) t.join();
        return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / n;
      };
      time(1, 1000);
      double one = time(1, calls);
      double many = time(threads, calls / threads > 0 ? calls / threads : 1);
      std::printf("%-11s %7s %12.0f %8d %16.0f %16.0f\n", "(cache)", "-", one, threads,
                  many / threads, many);
    }
  } catch (const std::exception& e) {
    std::cerr << "micro-bench-selectors: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
