// micro: the command-line tool. `micro [--config FILE] <verb> [args]`.
// Exit status: 0 ok, 1 runtime error, 2 usage error. Errors go to stderr as one line.
#include <charconv>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "commands.h"
#include "micro/errors.h"

namespace micro::cli {
namespace {

// Every verb, in the order `micro --help` lists them.
constexpr Command kCommands[] = {
    {"plugins list", "[--json]", plugins_list},
    {"plugins inspect", "FILE.so [--json]", plugins_inspect},
    // ---- rpc verbs (cli/rpc_cmd.cc) go here ----
    {"services", "[--json]", services},
    {"describe", "SERVICE [--json]", describe},
    {"call", "SERVICE ENDPOINT JSON [-v] [--metadata k=v]... [--timeout 5s] [--address HOST:PORT]",
     call},
    {"stream", "SERVICE ENDPOINT JSON [--metadata k=v]... [--timeout 5s] [--address HOST:PORT]",
     stream},
    {"bench", "SERVICE ENDPOINT JSON [-n N] [-c C] [--json] [--timeout 5s] [--address HOST:PORT]",
     bench},
    // ---- end of rpc verbs ----
    {"publish", "TOPIC JSON", publish},
    {"subscribe", "TOPIC [--queue Q] [--count N] [--timeout 5s]", subscribe},
};

GlobalOptions g_options;

void print_usage(std::ostream& out) {
  out << "usage: micro [--config FILE] <command> [args]\n\ncommands:\n";
  for (const auto& c : kCommands) out << "  micro " << c.name << " " << c.usage << "\n";
  out << "\noptions:\n"
         "  --config FILE  the config file (default: MICRO_CONFIG, else built-in defaults)\n"
         "  -h, --help     this help\n"
         "\nexit status: 0 ok, 1 error, 2 usage error\n";
}

// Number of words of name that match args from the start, or 0 if not all do.
std::size_t match(const char* name, const std::vector<std::string>& args) {
  std::size_t i = 0;
  std::string_view rest(name);
  while (!rest.empty()) {
    auto sp = rest.find(' ');
    std::string_view word = rest.substr(0, sp);
    if (i >= args.size() || args[i] != word) return 0;
    ++i;
    rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
  }
  return i;
}

int usage_error(const std::string& what, const Command* c) {
  std::cerr << "micro: " << what;
  if (c)
    std::cerr << " (usage: micro " << c->name << " " << c->usage << ")";
  else
    std::cerr << " (see micro --help)";
  std::cerr << "\n";
  return 2;
}

int run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::size_t i = 0;
  for (; i < args.size() && args[i].starts_with("-"); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      print_usage(std::cout);
      return 0;
    } else if (a == "--config") {
      if (i + 1 >= args.size()) return usage_error("--config needs a FILE", nullptr);
      g_options.config = args[++i];
    } else if (a.starts_with("--config=")) {
      g_options.config = a.substr(std::strlen("--config="));
    } else {
      return usage_error("unknown option " + a, nullptr);
    }
  }
  args.erase(args.begin(), args.begin() + static_cast<std::ptrdiff_t>(i));
  if (args.empty()) return usage_error("no command given", nullptr);

  const Command* cmd = nullptr;
  std::size_t words = 0;
  for (const auto& c : kCommands) {
    if (std::size_t n = match(c.name, args); n > words) {
      cmd = &c;
      words = n;
    }
  }
  if (cmd == nullptr) return usage_error("unknown command \"" + args[0] + "\"", nullptr);
  args.erase(args.begin(), args.begin() + static_cast<std::ptrdiff_t>(words));
  for (const auto& a : args) {
    if (a == "-h" || a == "--help") {
      std::cout << "usage: micro " << cmd->name << " " << cmd->usage << "\n";
      return 0;
    }
  }
  try {
    return cmd->run(args);
  } catch (const UsageError& e) {
    return usage_error(e.what(), cmd);
  }
}

}  // namespace

const GlobalOptions& global_options() { return g_options; }

Config load_config() {
  std::optional<std::filesystem::path> file;
  if (g_options.config) file = *g_options.config;
  return Config::load(file, process_environment());
}

bool Args::has(const std::string& flag) const {
  for (const auto& f : flags)
    if (f == flag) return true;
  return false;
}

Args parse_args(const std::vector<std::string>& args, const std::vector<std::string>& known) {
  Args out;
  for (const auto& a : args) {
    if (a.size() > 1 && a[0] == '-') {
      bool ok = false;
      for (const auto& k : known) ok = ok || a == k;
      if (!ok) throw UsageError("unknown option " + a);
      out.flags.push_back(a);
    } else {
      out.positional.push_back(a);
    }
  }
  return out;
}

std::chrono::milliseconds duration_arg(const std::string& v) {
  double x = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || x < 0)
    throw UsageError("bad duration \"" + v + "\" (use 500ms, 5s, 1m)");
  std::string_view unit(p, v.data() + v.size() - p);
  double ms = 0;
  if (unit == "ms" || unit.empty())
    ms = x;
  else if (unit == "s")
    ms = x * 1000;
  else if (unit == "m")
    ms = x * 60000;
  else
    throw UsageError("bad duration \"" + v + "\" (use 500ms, 5s, 1m)");
  return std::chrono::milliseconds(static_cast<long>(ms));
}

}  // namespace micro::cli

int main(int argc, char** argv) {
  try {
    return micro::cli::run(argc, argv);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    for (auto& ch : msg)
      if (ch == '\n') ch = ' ';
    std::cerr << "micro: " << msg << "\n";
    return 1;
  }
}
