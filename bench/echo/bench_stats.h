// Shared by the gRPC and Beast echo load generators: argument parsing, a bounded request counter,
// per-thread latency samples and the one-line JSON result in the shape of `micro bench --json`.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace echo_bench {

using Clock = std::chrono::steady_clock;

/// Command line of a load generator: --address HOST:PORT -n N -c C --payload-size BYTES.
struct Args {
  std::string address = "127.0.0.1:50051";
  long n = 1000;
  long c = 1;
  long payload_size = 64;
};

/// Parses argv; prints a one-line usage error and returns false on anything unknown or out of
/// range.
inline bool parse_args(int argc, char** argv, Args& a) {
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s: %s needs a value\n", argv[0], s.c_str());
      return false;
    }
    std::string v = argv[++i];
    char* end = nullptr;
    if (s == "--address") {
      a.address = v;
      continue;
    }
    long x = std::strtol(v.c_str(), &end, 10);
    if (end == v.c_str() || *end != '\0' || x < 0 || x > 100000000) {
      std::fprintf(stderr, "%s: bad number for %s: %s\n", argv[0], s.c_str(), v.c_str());
      return false;
    }
    if (s == "-n" && x >= 1)
      a.n = x;
    else if (s == "-c" && x >= 1 && x <= 10000)
      a.c = x;
    else if (s == "--payload-size")
      a.payload_size = x;
    else {
      std::fprintf(stderr, "%s: unknown or out-of-range flag %s\n", argv[0], s.c_str());
      return false;
    }
  }
  a.c = std::min(a.c, a.n);
  return true;
}

/// Joins the per-thread samples and prints the JSON line; percentiles use the nearest-rank rule
/// exactly as `micro bench` does. Returns the process exit code (0 when no call failed).
inline int report(const Args& a, std::vector<std::vector<double>>& lat, long errors, double secs) {
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    if (all.empty()) return 0.0;
    auto i = static_cast<std::size_t>(std::ceil(p / 100.0 * all.size()));
    return all[std::min(all.size() - 1, i == 0 ? 0 : i - 1)];
  };
  const double qps = secs > 0 ? double(all.size()) / secs : 0;
  std::printf(
      "{\"requests\":%ld,\"errors\":%ld,\"concurrency\":%ld,\"seconds\":%.6f,\"qps\":%.1f,"
      "\"latency_ms\":{\"p50\":%.4f,\"p90\":%.4f,\"p99\":%.4f,\"max\":%.4f}}\n",
      a.n, errors, a.c, secs, qps, pct(50), pct(90), pct(99), all.empty() ? 0.0 : all.back());
  std::fflush(stdout);
  return errors == 0 ? 0 : 1;
}

}  // namespace echo_bench
