// The on-disk layout of the file registry, shared by the registry and its watchers:
//   <root>/<service>/<node id>.json   go-micro's Service JSON with exactly one node
// The file's mtime is the node's expiry instant (wall clock); "no expiry" is kNever.
// Writes go to a dot-prefixed temp file in the same directory and are rename(2)d into place,
// so readers see either the old or the new file, never a partial one.
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "micro/registry.h"

namespace micro::plugins::file_store {

using WallClock = std::chrono::system_clock;

/// The expiry written for ttl 0: 2100-01-01T00:00:00Z.
inline constexpr std::int64_t kNeverSeconds = 4102444800;

/// A name made safe as one path component: '/' becomes '-' (as go-micro's etcd keys do).
/// Throws Error{bad_request} naming `what` when the result is empty, "." or "..", or holds a NUL.
std::string component(std::string_view name, std::string_view what);

/// True for the file names the registry reads: "*.json" not starting with '.'.
bool is_node_file(std::string_view file_name);

/// The directory to use given the address list and the "dir" option (see README), not yet
/// created. Never throws.
std::filesystem::path resolve_root(const std::string& addr, const std::string& dir_option);

/// Creates root (and missing parents) with mode 0700, then refuses a root that is not an
/// absolute path, not a directory, owned by another user or writable by group or others.
/// Throws Error{config} naming the path.
void prepare_root(const std::filesystem::path& root);

/// The mtime of a stat result as a wall-clock time point.
WallClock::time_point expiry_of(const struct stat& st);

/// One node file as read from disk.
struct NodeFile {
  registry::Service service;  ///< as parsed (normally one node)
  std::string text;           ///< the raw JSON, to tell an update from a refresh
  WallClock::time_point expiry;
};

/// What reading a node file found.
enum class ReadStatus { ok, missing, expired, bad };

struct ReadResult {
  ReadStatus status = ReadStatus::missing;
  std::optional<NodeFile> file;    ///< set when ok
  WallClock::time_point expiry{};  ///< set when ok or expired
  std::string error;               ///< set when bad: one line naming the path
};

/// Reads and parses path. Never throws: a missing file is `missing`, one whose expiry has passed
/// is `expired`, anything unreadable or unparsable is `bad` with the reason.
ReadResult read_node_file(const std::filesystem::path& path, WallClock::time_point now);

/// Writes text atomically to path with mtime = expiry. Creates the parent directory (0700) when
/// missing. Throws Error{unavailable} naming the path.
void write_node_file(const std::filesystem::path& path, std::string_view text,
                     WallClock::time_point expiry);

/// Removes path; a missing file is fine. Throws Error{unavailable} naming the path.
void remove_node_file(const std::filesystem::path& path);

/// One line to stderr, "registry-file: <message>". Never throws.
void log_line(std::string_view message) noexcept;

}  // namespace micro::plugins::file_store
