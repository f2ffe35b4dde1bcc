// grpc-echo-client: the gRPC load generator. C threads, each with its OWN channel (a local
// subchannel pool, so one HTTP/2 connection per thread) and stub, doing blocking unary calls
// until N calls in total have been made. Prints one JSON line like `micro bench --json`.
//   grpc-echo-client --address 127.0.0.1:PORT -n N -c C --payload-size BYTES
#include <grpcpp/grpcpp.h>

#include <thread>

#include "bench_stats.h"
#include "echo.grpc.pb.h"

int main(int argc, char** argv) {
  echo_bench::Args a;
  if (!echo_bench::parse_args(argc, argv, a)) return 2;
  const std::string payload(static_cast<std::size_t>(a.payload_size), 'x');

  std::vector<std::unique_ptr<echo::Echo::Stub>> stubs;
  for (long t = 0; t < a.c; ++t) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto ch = grpc::CreateCustomChannel(a.address, grpc::InsecureChannelCredentials(), args);
    if (!ch->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5))) {
      std::fprintf(stderr, "grpc-echo-client: cannot connect to %s\n", a.address.c_str());
      return 1;
    }
    stubs.push_back(echo::Echo::NewStub(ch));
  }

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
      echo::EchoResponse resp;
      while (next.fetch_add(1) < a.n) {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
        const auto t0 = echo_bench::Clock::now();
        grpc::Status st = stubs[static_cast<std::size_t>(t)]->Echo(&ctx, req, &resp);
        if (st.ok() && resp.payload() == payload)
          mine.push_back(
              std::chrono::duration<double, std::milli>(echo_bench::Clock::now() - t0).count());
        else if (errors.fetch_add(1) == 0)
          std::fprintf(stderr, "grpc-echo-client: first error: %s\n", st.error_message().c_str());
      }
    });
  }
  for (auto& th : threads) th.join();
  const double secs = std::chrono::duration<double>(echo_bench::Clock::now() - start).count();
  return echo_bench::report(a, lat, errors.load(), secs);
}
