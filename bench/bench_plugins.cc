// micro-bench-plugins: how long it takes to load and initialise plugins.
//   1. a Runtime from the config (default: the built-in defaults + MICRO_* environment), built
//      and destroyed N times in this process (each Runtime has a fresh Loader, so every plugin
//      is dlopen()ed, created and initialised again);
//   2. the same in a fresh process each time (fork+exec of this binary), start to exit;
//   3. each plugin in the plugin directory on its own: fresh Loader, find, create, init.
// Prints median and minimum per case. Not a test: figures depend on the machine.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "micro/broker.h"
#include "micro/codec.h"
#include "micro/config.h"
#include "micro/loader.h"
#include "micro/registry.h"
#include "micro/runtime.h"
#include "micro/selector.h"
#include "micro/transport.h"

extern char** environ;

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  int iterations = 20;
  fs::path plugin_dir;
  std::optional<fs::path> config;
  bool child = false;
};

// Times fn n times; prints median and min, or the first error.
void measure(const std::string& label, int n, const std::function<void()>& fn) {
  std::vector<double> us;
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    try {
      fn();
    } catch (const std::exception& e) {
      std::printf("%-40s  error: %s\n", label.c_str(), e.what());
      return;
    }
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  std::printf("%-40s  median %9.1f us  min %9.1f us  (n=%d)\n", label.c_str(), us[us.size() / 2],
              us.front(), n);
}

micro::Config config_of(const Args& a) {
  return micro::Config::load(a.config, micro::process_environment());
}

// A Host for plugins measured on their own: they get nothing.
class NoHost final : public micro::plugin::Host {
 public:
  std::shared_ptr<micro::Registry> registry() override { throw none("registry"); }
  std::shared_ptr<micro::Transport> transport() override { throw none("transport"); }
  std::shared_ptr<micro::Broker> broker() override { throw none("broker"); }
  std::shared_ptr<micro::Selector> selector() override { throw none("selector"); }
  std::shared_ptr<micro::Codec> codec(std::string_view) override { throw none("codec"); }

 private:
  static micro::Error none(const char* what) {
    return micro::Error(micro::Errc::plugin,
                        std::string("needs a ") + what + " (measured in the Runtime case only)");
  }
};

void init(const std::shared_ptr<micro::Component>& c, micro::plugin::Kind kind,
          const std::string& options) {
  using micro::plugin::Kind;
  switch (kind) {
    case Kind::transport:
      std::dynamic_pointer_cast<micro::Transport>(c)->init({{}, {}, options});
      break;
    case Kind::codec: std::dynamic_pointer_cast<micro::Codec>(c)->init({options}); break;
    case Kind::registry:
      std::dynamic_pointer_cast<micro::Registry>(c)->init(
          {{}, std::chrono::milliseconds(5000), options});
      break;
    case Kind::selector: std::dynamic_pointer_cast<micro::Selector>(c)->init({options}); break;
    case Kind::broker: std::dynamic_pointer_cast<micro::Broker>(c)->init({{}, options}); break;
    default: throw micro::Error(micro::Errc::plugin, "kind not measured");
  }
}

int spawn_child(const Args& a) {
  std::vector<std::string> argv = {"/proc/self/exe", "--child"};
  if (a.config) argv.insert(argv.end(), {"--config", a.config->string()});
  std::vector<char*> p;
  for (auto& s : argv) p.push_back(s.data());
  p.push_back(nullptr);
  // The child's output is dropped: a failure shows in the in-process case already.
  posix_spawn_file_actions_t fa;
  ::posix_spawn_file_actions_init(&fa);
  ::posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  ::posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  const int rc = ::posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, p.data(), environ);
  ::posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("posix_spawn failed");
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int usage() {
  std::cerr << "usage: micro-bench-plugins [--iterations N] [--plugin-dir DIR] [--config FILE]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    if (s == "--iterations" && i + 1 < argc)
      a.iterations = std::atoi(argv[++i]);
    else if (s == "--plugin-dir" && i + 1 < argc)
      a.plugin_dir = argv[++i];
    else if (s == "--config" && i + 1 < argc)
      a.config = fs::path(argv[++i]);
    else if (s == "--child")
      a.child = true;
    else
      return usage();
  }
  if (a.iterations < 1) return usage();
  if (a.child) {  // one Runtime, then exit: measured from the parent
    try {
      micro::Runtime rt(config_of(a));
      return 0;
    } catch (const std::exception& e) {
      std::cerr << e.what() << "\n";
      return 1;
    }
  }
  try {
    const micro::Config config = config_of(a);
    if (a.plugin_dir.empty()) a.plugin_dir = config.plugin_search_path().back();
  } catch (const std::exception& e) {
    std::cerr << "micro-bench-plugins: " << e.what() << "\n";
    return 1;
  }

  std::printf("plugin dir: %s, %d iterations\n\n", a.plugin_dir.c_str(), a.iterations);
  measure("Runtime (config), in process", a.iterations, [&] { micro::Runtime rt(config_of(a)); });
  measure("Runtime (config), fresh process", a.iterations, [&] {
    if (spawn_child(a) != 0) throw std::runtime_error("the child could not build its Runtime");
  });

  const micro::plugin::Loader lister(micro::plugin::LoaderOptions{{a.plugin_dir}, false});
  for (const auto& f : lister.scan()) {
    if (!f.descriptor) {
      std::printf("%-40s  refused: %s\n", f.file.filename().c_str(), f.error->what());
      continue;
    }
    const auto& d = *f.descriptor;
    if (!d.requires_kinds.empty()) {
      std::printf("%-40s  skipped: requires other components (measured in the Runtime cases)\n",
                  (std::string(micro::plugin::to_string(d.kind)) + " " + d.name).c_str());
      continue;
    }
    const std::string label =
        std::string(micro::plugin::to_string(d.kind)) + " " + d.name + " (load+create+init)";
    measure(label, a.iterations, [&] {
      micro::plugin::Loader loader(micro::plugin::LoaderOptions{{a.plugin_dir}, false});
      NoHost host;
      const auto found = loader.find(d.kind, d.name);
      const auto options = micro::plugin::validate_options(found.options_schema, "{}", found.name);
      auto obj = loader.create(found, host);
      init(obj, found.kind, options);
    });
  }
  return 0;
}
