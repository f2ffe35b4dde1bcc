// Test helpers: temporary directories, free loopback ports, waiting for a condition, and child
// processes that are always stopped. No sleeps where a condition can be waited for.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace micro::test {

/// A fresh directory (mode 0700) removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& s) const { return path_ / s; }

 private:
  std::filesystem::path path_;
};

/// A TCP port on 127.0.0.1 that was free when asked, below the ephemeral range (so no
/// outgoing connection of a concurrent test takes it meanwhile).
int free_port();

/// Polls cond every few ms until it is true or timeout passes. Returns the last value.
bool wait_for(const std::function<bool()>& cond,
              std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// Writes text to a file (creating directories).
void write_file(const std::filesystem::path& p, const std::string& text);
std::string read_file(const std::filesystem::path& p);

/// The build tree's bin/ and plugin directories.
std::filesystem::path bin_dir();
std::filesystem::path plugin_dir();
std::filesystem::path source_dir();

/// A child process with stdout/stderr captured to files. Killed (SIGKILL) on destruction
/// unless it already exited.
class Process {
 public:
  Process(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
          std::filesystem::path log_dir = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  /// Sends a signal.
  void signal(int sig);
  /// Waits for exit up to timeout; returns the exit status (128+signal when killed), or -1.
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::string out() const;
  std::string err() const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  bool exited_ = false;
  std::filesystem::path out_, err_;
  std::filesystem::path owned_dir_;
};

/// Runs a command to completion (bounded by timeout) and returns {exit status, stdout, stderr}.
struct RunResult {
  int status = -1;
  std::string out;
  std::string err;
};
RunResult run(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
              std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace micro::test
