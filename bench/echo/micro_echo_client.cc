// micro-echo-client: the micro-cpp load generator with protobuf bodies (the same message gRPC
// sends), through the full client path: selector over the configured registry, pooled
// keep-alive connections, mucp headers, deadline. C threads issue blocking calls until N.
//   micro-echo-client --address SERVICE -n N -c C --payload-size BYTES   (MICRO_* env as usual)
#include <thread>

#include "bench_stats.h"
#include "echo.pb.h"
#include "micro/micro.h"
#include "micro/runtime.h"

namespace {
// Resident set size of this process (VmRSS), in KiB; -1 when /proc is unreadable.
long rss_kb() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  long kb = -1;
  while (std::fgets(line, sizeof line, f) != nullptr)
    if (std::sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
  std::fclose(f);
  return kb;
}
}  // namespace

int main(int argc, char** argv) {
  echo_bench::Args a;
  a.address = "echo";
  if (!echo_bench::parse_args(argc, argv, a)) return 2;
  try {
    micro::Runtime rt(micro::Config::load(std::nullopt, micro::process_environment()));
    rt.start();
    auto client = micro::new_client(rt, "micro-echo-client");
    auto opts = micro::client_options(rt.config());
    opts.pool_size = static_cast<std::size_t>(std::max<long>(a.c, 100));
    client->init(opts);
    const std::string payload(static_cast<std::size_t>(a.payload_size), 'x');

    std::atomic<long> next{0}, errors{0};
    std::vector<std::vector<double>> lat(static_cast<std::size_t>(a.c));
    const auto start = echo_bench::Clock::now();
    std::vector<std::thread> threads;
    for (long t = 0; t < a.c; ++t) {
      threads.emplace_back([&, t] {
        auto& mine = lat[static_cast<std::size_t>(t)];
        mine.reserve(static_cast<std::size_t>(a.n / a.c + 1));
        echo::EchoRequest req;
        req.set_payload(payload);
        while (next.fetch_add(1) < a.n) {
          micro::Context ctx;
          const auto t0 = echo_bench::Clock::now();
          try {
            auto rsp = micro::call<echo::EchoResponse>(*client, ctx, a.address, "Echo.Echo", req,
                                                       {}, "application/protobuf");
            if (rsp.payload() != payload) throw std::runtime_error("payload mismatch");
            mine.push_back(
                std::chrono::duration<double, std::milli>(echo_bench::Clock::now() - t0).count());
          } catch (const std::exception& e) {
            if (errors.fetch_add(1) == 0)
              std::fprintf(stderr, "micro-echo-client: first error: %s\n", e.what());
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    const double secs = std::chrono::duration<double>(echo_bench::Clock::now() - start).count();
    // Memory with the pool full (the C connections of the run, idle), before the result line.
    std::printf("{\"rss_kb\":%ld,\"pooled_connections\":%ld}\n", rss_kb(), a.c);
    const int rc = echo_bench::report(a, lat, errors.load(), secs);
    client.reset();
    rt.stop();
    return rc;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "micro-echo-client: %s\n", e.what());
    return 1;
  }
}
