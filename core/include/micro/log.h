// Minimal structured logging to stderr. Level from MICRO_LOG_LEVEL (error|warn|info|debug),
// default info. Thread-safe: one line per call, never interleaved.
#pragma once

#include <string_view>

namespace micro::log {

enum class Level { error = 0, warn = 1, info = 2, debug = 3 };

/// True when messages of level l are written.
bool enabled(Level l) noexcept;
/// Writes "<time> <level> <component>: <message>" to stderr. Never throws.
void write(Level l, std::string_view component, std::string_view message) noexcept;

inline void error(std::string_view c, std::string_view m) noexcept { write(Level::error, c, m); }
inline void warn(std::string_view c, std::string_view m) noexcept { write(Level::warn, c, m); }
inline void info(std::string_view c, std::string_view m) noexcept { write(Level::info, c, m); }
inline void debug(std::string_view c, std::string_view m) noexcept {
  if (enabled(Level::debug)) write(Level::debug, c, m);
}

}  // namespace micro::log
