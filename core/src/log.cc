#include "micro/log.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <string>

namespace micro::log {
namespace {
Level configured() noexcept {
  static const Level level = [] {
    const char* v = std::getenv("MICRO_LOG_LEVEL");
    if (v == nullptr) return Level::info;
    std::string s(v);
    if (s == "error") return Level::error;
    if (s == "warn") return Level::warn;
    if (s == "debug") return Level::debug;
    return Level::info;
  }();
  return level;
}
constexpr const char* names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
}  // namespace

bool enabled(Level l) noexcept { return static_cast<int>(l) <= static_cast<int>(configured()); }

void write(Level l, std::string_view component, std::string_view message) noexcept {
  if (!enabled(l)) return;
  static std::mutex mu;
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  ::gmtime_r(&ts.tv_sec, &t);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &t);
  std::lock_guard lock(mu);
  std::fprintf(stderr, "%s.%03ldZ %s %.*s: %.*s\n", when, ts.tv_nsec / 1000000,
               names[static_cast<int>(l)], static_cast<int>(component.size()), component.data(),
               static_cast<int>(message.size()), message.data());
}

}  // namespace micro::log
