// The `micro` command's verbs. Each verb is a function taking the arguments after its name;
// main.cc lists them in one table (kCommands) so a verb added in another file needs only a
// declaration here and a row there.
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "micro/config.h"

namespace micro::cli {

/// One verb: its name (one or more words, "plugins list"), a one-line usage of its arguments,
/// and the function that runs it. run returns the exit status (0 ok); it throws UsageError for
/// bad arguments (exit 2) and micro::Error for failures (exit 1).
struct Command {
  const char* name;
  const char* usage;
  int (*run)(const std::vector<std::string>& args);
};

/// Bad command-line arguments: main prints "micro: <what> (usage: ...)" and exits 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Options given before the verb.
struct GlobalOptions {
  std::optional<std::string> config;  ///< --config FILE
};
const GlobalOptions& global_options();

/// Config::load(--config, the process environment). Throws micro::Error{config}.
Config load_config();

/// Splits args into flags (from `known`, "--json") and positionals; an unknown flag (anything
/// starting with '-') throws UsageError.
struct Args {
  std::vector<std::string> positional;
  std::vector<std::string> flags;
  bool has(const std::string& flag) const;
};
Args parse_args(const std::vector<std::string>& args, const std::vector<std::string>& known);

/// A duration flag value: "500ms", "5s", "1m", or a bare number of milliseconds. Throws
/// UsageError naming the value when it is not one.
std::chrono::milliseconds duration_arg(const std::string& v);

// plugins_cmd.cc
int plugins_list(const std::vector<std::string>& args);
int plugins_inspect(const std::vector<std::string>& args);

// rpc_cmd.cc
int services(const std::vector<std::string>& args);
int describe(const std::vector<std::string>& args);
int call(const std::vector<std::string>& args);
int stream(const std::vector<std::string>& args);
int bench(const std::vector<std::string>& args);

// pubsub_cmd.cc
int publish(const std::vector<std::string>& args);
int subscribe(const std::vector<std::string>& args);

}  // namespace micro::cli
