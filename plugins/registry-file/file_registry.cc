#include "file_registry.h"

#include <sys/stat.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "file_store.h"
#include "file_watcher.h"
#include "micro/errors.h"

namespace micro::plugins {
namespace {

namespace fs = file_store;

/// What registry.watch() returns: keeps the watcher shared with the registry so that the
/// registry's stop() can stop it; destroying the handle stops it.
class WatcherHandle final : public registry::Watcher {
 public:
  explicit WatcherHandle(std::shared_ptr<FileWatcher> w) : w_(std::move(w)) {}
  ~WatcherHandle() override { w_->stop(); }
  std::optional<registry::Result> next(Deadline deadline) override { return w_->next(deadline); }
  void stop() noexcept override { w_->stop(); }

 private:
  std::shared_ptr<FileWatcher> w_;
};

std::filesystem::path node_path(const std::filesystem::path& root, const registry::Service& s,
                                const registry::Node& n) {
  return root / fs::component(s.name, "service name") / (fs::component(n.id, "node id") + ".json");
}

/// Adds s to out: merged into the entry of the same name and version, as go-micro does.
void merge(std::vector<registry::Service>& out, registry::Service s) {
  for (auto& o : out) {
    if (o.name == s.name && o.version == s.version) {
      for (auto& n : s.nodes) o.nodes.push_back(std::move(n));
      return;
    }
  }
  out.push_back(std::move(s));
}

}  // namespace

FileRegistry::~FileRegistry() { stop(); }

void FileRegistry::stop() noexcept {
  std::vector<std::weak_ptr<FileWatcher>> watchers;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    watchers.swap(watchers_);
  }
  for (auto& w : watchers) {
    if (auto s = w.lock()) s->stop();
  }
}

void FileRegistry::init(const Options& options) {
  nlohmann::json j = nlohmann::json::parse(
      options.plugin_options.empty() ? "{}" : options.plugin_options, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    throw Error(Errc::config, "registry.file: options are not a JSON object");
  }
  Config c;
  std::string dir;
  if (auto it = j.find("dir"); it != j.end() && !it->is_null()) {
    if (!it->is_string()) throw Error(Errc::config, "registry.file.dir: expected a string");
    dir = it->get<std::string>();
  }
  if (auto it = j.find("expired_grace_s"); it != j.end() && !it->is_null()) {
    if (!it->is_number_integer()) {
      throw Error(Errc::config, "registry.file.expired_grace_s: expected an integer");
    }
    c.expired_grace = std::chrono::seconds(it->get<long long>());
  }
  c.root = fs::resolve_root(options.addrs.empty() ? std::string() : options.addrs.front(), dir);
  fs::prepare_root(c.root);
  std::lock_guard lock(mu_);
  if (stopped_) throw Error(Errc::closed, "registry-file: init() after stop()");
  options_ = options;
  config_ = std::move(c);
  initialised_ = true;
}

Registry::Options FileRegistry::options() const {
  std::lock_guard lock(mu_);
  return options_;
}

std::filesystem::path FileRegistry::root() const {
  std::lock_guard lock(mu_);
  return config_.root;
}

FileRegistry::Config FileRegistry::config() const {
  std::lock_guard lock(mu_);
  if (stopped_) throw Error(Errc::closed, "registry-file: registry stopped");
  if (!initialised_) throw Error(Errc::unavailable, "registry-file: init() was not called");
  return config_;
}

void FileRegistry::register_service(const registry::Service& s,
                                    const registry::RegisterOptions& o) {
  const Config c = config();
  if (s.nodes.empty()) {
    throw Error(Errc::bad_request, "registry-file: service '" + s.name + "' has no node");
  }
  if (o.ttl.count() < 0) throw Error(Errc::bad_request, "registry-file: negative ttl");
  const auto expiry = o.ttl.count() == 0
                          ? fs::WallClock::time_point(std::chrono::seconds(fs::kNeverSeconds))
                          : fs::WallClock::now() + o.ttl;
  for (const auto& n : s.nodes) {
    const auto path = node_path(c.root, s, n);
    registry::Service one = s;
    one.nodes = {n};
    fs::write_node_file(path, registry::to_json(one), expiry);
  }
}

void FileRegistry::deregister(const registry::Service& s) {
  const Config c = config();
  for (const auto& n : s.nodes) fs::remove_node_file(node_path(c.root, s, n));
}

void FileRegistry::read_dir(const Config& c, const std::filesystem::path& dir,
                            std::string_view only_name, std::vector<registry::Service>& out) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    auto f = e.path().filename().string();
    if (fs::is_node_file(f)) files.push_back(std::move(f));
  }
  if (ec && ec != std::errc::no_such_file_or_directory && ec != std::errc::not_a_directory) {
    throw Error(Errc::unavailable,
                "registry-file: cannot list " + dir.string() + ": " + ec.message());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    const auto path = dir / f;
    const auto now = fs::WallClock::now();
    auto r = fs::read_node_file(path, now);
    switch (r.status) {
      case fs::ReadStatus::ok:
        if (only_name.empty() || r.file->service.name == only_name) {
          merge(out, std::move(r.file->service));
        }
        break;
      case fs::ReadStatus::expired:
        // Collect files of dead processes, but only long after their expiry: the owner of a
        // node that is merely late refreshes it by rename, and must not lose the new file.
        if (c.expired_grace.count() >= 0 && now - r.expiry > c.expired_grace) {
          struct stat st {};
          if (::stat(path.c_str(), &st) == 0 && now - fs::expiry_of(st) > c.expired_grace) {
            ::unlink(path.c_str());
          }
        }
        break;
      case fs::ReadStatus::bad: fs::log_line("skipping " + r.error); break;
      case fs::ReadStatus::missing: break;
    }
  }
}

std::vector<registry::Service> FileRegistry::get_service(std::string_view name) {
  const Config c = config();
  std::vector<registry::Service> out;
  read_dir(c, c.root / fs::component(name, "service name"), name, out);
  if (out.empty()) {
    throw Error(Errc::not_found, "registry-file: service '" + std::string(name) +
                                     "' not found in " + c.root.string());
  }
  return out;
}

std::vector<registry::Service> FileRegistry::list_services() {
  const Config c = config();
  std::vector<std::string> dirs;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(c.root, ec)) {
    auto n = e.path().filename().string();
    std::error_code ec2;
    if (!n.empty() && n.front() != '.' && e.is_directory(ec2)) dirs.push_back(std::move(n));
  }
  if (ec) {
    throw Error(Errc::unavailable,
                "registry-file: cannot list " + c.root.string() + ": " + ec.message());
  }
  std::sort(dirs.begin(), dirs.end());
  std::vector<registry::Service> out;
  for (const auto& d : dirs) read_dir(c, c.root / d, {}, out);
  return out;
}

std::unique_ptr<registry::Watcher> FileRegistry::watch(const registry::WatchOptions& o) {
  const Config c = config();
  auto w = std::make_shared<FileWatcher>(c.root, o.service);
  std::lock_guard lock(mu_);
  if (stopped_) throw Error(Errc::closed, "registry-file: registry stopped");
  std::erase_if(watchers_, [](const auto& x) { return x.expired(); });
  watchers_.push_back(w);
  return std::make_unique<WatcherHandle>(std::move(w));
}

}  // namespace micro::plugins
