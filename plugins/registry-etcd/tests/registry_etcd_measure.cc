// Not a test: measures how many etcd requests a fleet of registrations costs at steady state.
// Run by hand: micro_registry_etcd_test "[.measure]"
#include <cstdio>

#include "registry_etcd_helpers.h"

using namespace regetcd_test;

TEST_CASE("measure: etcd requests per second of N registrations at steady state", "[.measure]") {
  micro::test::EtcdServer etcd;
  for (int ttl_s : {3, 9}) {
    const int n = 100;
    auto r = open_direct(etcd.address());
    std::vector<micro::registry::Service> fleet;
    for (int i = 0; i < n; ++i) {
      fleet.push_back(service("svc" + std::to_string(i % 10), "node-" + std::to_string(i)));
      r->register_service(fleet.back(), ttl(ttl_s));
    }
    auto w = r->watch();
    const auto setup = r->requests();
    // Steady state: the server heartbeat re-registers every node once a second meanwhile.
    const auto window = std::chrono::seconds(2 * ttl_s);
    const auto t0 = micro::Clock::now();
    const auto c0 = r->requests();
    while (micro::Clock::now() - t0 < window) {
      for (const auto& s : fleet) r->register_service(s, ttl(ttl_s));
      w->next(micro::Clock::now() + std::chrono::seconds(1));
    }
    const double secs = std::chrono::duration<double>(micro::Clock::now() - t0).count();
    const double rate = double(r->requests() - c0) / secs;
    std::printf(
        "N=%d ttl=%ds: setup %llu requests; steady %.1f requests/s (%.3f per node per s;"
        " expected 3/ttl = %.3f)\n",
        n, ttl_s, static_cast<unsigned long long>(setup), rate, rate / n, 3.0 / ttl_s);
    for (const auto& [path, count] : r->requests_by_path()) {
      std::printf("  %s %llu\n", path.c_str(), static_cast<unsigned long long>(count));
    }
    CHECK(rate > 0);
  }
}
