// Fixtures for the end-to-end tests: service processes on the embedded defaults, isolated by a
// registry directory of their own, and the `micro` command run against them.
#pragma once

#include <signal.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "support.h"

namespace micro::test {

struct Cluster {
  TempDir dir;
  std::map<std::string, std::string> env() const {
    return {{"MICRO_REGISTRY_ADDRESS", (dir.path() / "registry").string()},
            {"MICRO_LOG_LEVEL", "warn"}};
  }
  /// Runs `micro ARGS...` against this cluster's registry.
  RunResult micro(std::vector<std::string> args,
                  std::chrono::milliseconds timeout = std::chrono::seconds(30)) const {
    args.insert(args.begin(), (bin_dir() / "micro").string());
    return run(std::move(args), env(), timeout);
  }
  /// Starts a binary from bin/ with extra env; waits until SERVICE answers ENDPOINT {} .
  std::unique_ptr<Process> start(const std::string& binary,
                                 std::map<std::string, std::string> extra = {},
                                 const std::string& probe_service = "",
                                 const std::string& probe_endpoint = "") {
    auto e = env();
    for (auto& [k, v] : extra) e[k] = v;
    auto p = std::make_unique<Process>(std::vector<std::string>{(bin_dir() / binary).string()}, e);
    if (!probe_service.empty()) {
      const bool up = wait_for(
          [&] {
            if (!p->running()) return true;
            return micro({"call", probe_service, probe_endpoint, R"({"name":"probe"})", "--timeout",
                          "2s"})
                       .status == 0;
          },
          std::chrono::seconds(20));
      if (!up || !p->running()) throw std::runtime_error(binary + " did not come up: " + p->err());
    }
    return p;
  }
};

inline nlohmann::json parse_json(const std::string& s) {
  auto j = nlohmann::json::parse(s, nullptr, false);
  if (j.is_discarded()) throw std::runtime_error("not JSON: " + s);
  return j;
}

/// The last non-empty line of a command's output.
inline std::string last_line(const std::string& out) {
  auto end = out.find_last_not_of('\n');
  if (end == std::string::npos) return {};
  auto start = out.rfind('\n', end);
  return out.substr(start == std::string::npos ? 0 : start + 1,
                    end - (start == std::string::npos ? 0 : start + 1) + 1);
}

}  // namespace micro::test
