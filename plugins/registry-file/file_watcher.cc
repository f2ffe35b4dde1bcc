#include "file_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <set>
#include <vector>

#include "micro/errors.h"

namespace micro::plugins {
namespace {

constexpr uint32_t kRootMask =
    IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
constexpr uint32_t kDirMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM |
                              IN_ATTRIB | IN_DELETE_SELF | IN_ONLYDIR;

std::string err_text(int e) { return std::strerror(e); }

}  // namespace

FileWatcher::FileWatcher(std::filesystem::path root, std::string service)
    : root_(std::move(root)), service_(std::move(service)) {
  if (!service_.empty()) service_dir_ = file_store::component(service_, "service name");
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0) {
    throw Error(Errc::unavailable, "registry-file: inotify_init1: " + err_text(errno));
  }
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    int e = errno;
    ::close(inotify_fd_);
    throw Error(Errc::unavailable, "registry-file: eventfd: " + err_text(e));
  }
  try {
    root_wd_ = ::inotify_add_watch(inotify_fd_, root_.c_str(), kRootMask);
    if (root_wd_ < 0) {
      throw Error(Errc::unavailable,
                  "registry-file: cannot watch " + root_.string() + ": " + err_text(errno));
    }
    if (!service_dir_.empty()) {
      add_dir_watch(service_dir_, false);
    } else {
      std::error_code ec;
      for (const auto& e : std::filesystem::directory_iterator(root_, ec)) {
        const auto n = e.path().filename().string();
        if (!n.empty() && n.front() != '.' && e.is_directory(ec)) add_dir_watch(n, false);
      }
      if (ec) {
        throw Error(Errc::unavailable,
                    "registry-file: cannot list " + root_.string() + ": " + ec.message());
      }
    }
  } catch (...) {
    ::close(inotify_fd_);
    ::close(wake_fd_);
    throw;
  }
}

FileWatcher::~FileWatcher() {
  stop();
  ::close(inotify_fd_);
  ::close(wake_fd_);
}

void FileWatcher::stop() noexcept {
  if (stopped_.exchange(true)) return;
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

void FileWatcher::add_dir_watch(const std::string& dir_name, bool report) {
  const auto path = root_ / dir_name;
  int wd = ::inotify_add_watch(inotify_fd_, path.c_str(), kDirMask);
  if (wd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return;  // gone again, or not a directory
    throw Error(Errc::unavailable,
                "registry-file: cannot watch " + path.string() + ": " + err_text(errno));
  }
  dirs_[wd] = dir_name;
  sync_dir(dir_name, report);
}

bool FileWatcher::wanted(const registry::Service& s) const {
  return service_.empty() || s.name == service_;
}

void FileWatcher::emit(const char* action, const registry::Service& s) {
  pending_.push_back(registry::Result{action, s});
}

void FileWatcher::sync_dir(const std::string& dir_name, bool report) {
  std::set<Key> seen;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(root_ / dir_name, ec)) {
    const auto f = e.path().filename().string();
    if (!file_store::is_node_file(f)) continue;
    seen.insert(dir_name + "/" + f);
    if (report) {
      on_file(dir_name, f);
      continue;
    }
    auto r = file_store::read_node_file(e.path(), file_store::WallClock::now());
    if (r.status == file_store::ReadStatus::ok && wanted(r.file->service)) {
      known_[dir_name + "/" + f] = Known{r.file->service, r.file->text, r.file->expiry};
    }
  }
  const std::string prefix = dir_name + "/";
  std::vector<Key> gone;
  for (auto it = known_.lower_bound(prefix); it != known_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    if (!seen.count(it->first)) gone.push_back(it->first);
  }
  for (const auto& k : gone) on_removed(k);
}

void FileWatcher::on_file(const std::string& dir_name, const std::string& file_name) {
  const Key key = dir_name + "/" + file_name;
  const auto now = file_store::WallClock::now();
  auto r = file_store::read_node_file(root_ / dir_name / file_name, now);
  auto it = known_.find(key);
  switch (r.status) {
    case file_store::ReadStatus::ok: {
      if (!wanted(r.file->service)) {
        if (it != known_.end()) on_removed(key);
        return;
      }
      if (it == known_.end()) {
        emit("create", r.file->service);
        known_.emplace(key, Known{r.file->service, r.file->text, r.file->expiry});
      } else {
        if (it->second.text != r.file->text) {
          emit("update", r.file->service);
          it->second.service = r.file->service;
          it->second.text = r.file->text;
        }
        it->second.expiry = r.file->expiry;
      }
      return;
    }
    case file_store::ReadStatus::missing:
    case file_store::ReadStatus::expired: on_removed(key); return;
    case file_store::ReadStatus::bad:
      // Not logged here: a file being written in place is briefly bad (IN_CREATE before its
      // content), and get_service() logs files that stay bad. A known node keeps its last good
      // content until its expiry passes.
      if (it != known_.end() && it->second.expiry <= now) on_removed(key);
      return;
  }
}

void FileWatcher::drop_dir(const std::string& dir_name) {
  for (auto it = dirs_.begin(); it != dirs_.end(); ++it) {
    if (it->second != dir_name) continue;
    ::inotify_rm_watch(inotify_fd_, it->first);
    dirs_.erase(it);
    break;
  }
  const std::string prefix = dir_name + "/";
  std::vector<Key> gone;
  for (auto it = known_.lower_bound(prefix); it != known_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    gone.push_back(it->first);
  }
  for (const auto& k : gone) on_removed(k);
}

void FileWatcher::on_removed(const Key& key) {
  auto it = known_.find(key);
  if (it == known_.end()) return;
  emit("delete", it->second.service);
  known_.erase(it);
}

void FileWatcher::drain_inotify() {
  alignas(struct inotify_event) char buf[16384];
  bool overflow = false;
  for (;;) {
    ssize_t n = ::read(inotify_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) {
      throw Error(Errc::unavailable, "registry-file: reading inotify events for " + root_.string() +
                                         ": " + err_text(errno));
    }
    for (char* p = buf; p < buf + n;) {
      auto* ev = reinterpret_cast<struct inotify_event*>(p);
      p += sizeof(struct inotify_event) + ev->len;
      const std::string name = ev->len > 0 ? std::string(ev->name) : std::string();
      if (ev->mask & IN_Q_OVERFLOW) {
        overflow = true;
        continue;
      }
      if (ev->wd == root_wd_) {
        if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
          gone_ = true;
          continue;
        }
        if (name.empty() || name.front() == '.' || !(ev->mask & IN_ISDIR)) continue;
        if (!service_dir_.empty() && name != service_dir_) continue;
        if (ev->mask & (IN_CREATE | IN_MOVED_TO)) add_dir_watch(name, true);
        if (ev->mask & IN_MOVED_FROM) drop_dir(name);
        continue;
      }
      auto d = dirs_.find(ev->wd);
      if (d == dirs_.end()) continue;
      const std::string dir_name = d->second;
      if (ev->mask & IN_IGNORED) {
        dirs_.erase(d);
        continue;
      }
      if (name.empty() || (ev->mask & IN_ISDIR) || !file_store::is_node_file(name)) continue;
      if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
        on_removed(dir_name + "/" + name);
      } else if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO | IN_ATTRIB | IN_CREATE)) {
        on_file(dir_name, name);
      }
    }
  }
  if (overflow) rescan();
}

void FileWatcher::rescan() {
  std::set<std::string> present;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(root_, ec)) {
    const auto n = e.path().filename().string();
    if (n.empty() || n.front() == '.' || !e.is_directory(ec)) continue;
    if (!service_dir_.empty() && n != service_dir_) continue;
    present.insert(n);
  }
  std::set<std::string> watched;
  for (const auto& [wd, n] : dirs_) watched.insert(n);
  for (const auto& n : watched) {
    if (!present.count(n)) drop_dir(n);
  }
  for (const auto& n : present) add_dir_watch(n, true);
}

void FileWatcher::check_expiry() {
  const auto now = file_store::WallClock::now();
  std::vector<Key> due;
  for (const auto& [k, v] : known_) {
    if (v.expiry <= now) due.push_back(k);
  }
  for (const auto& k : due) {
    auto slash = k.find('/');
    on_file(k.substr(0, slash), k.substr(slash + 1));
  }
}

std::optional<registry::Result> FileWatcher::next(Deadline deadline) {
  for (;;) {
    if (stopped_.load()) throw Error(Errc::closed, "registry-file: watcher stopped");
    if (!pending_.empty()) {
      auto r = std::move(pending_.front());
      pending_.pop_front();
      return r;
    }
    if (gone_) {
      throw Error(Errc::unavailable, "registry-file: directory " + root_.string() + " was removed");
    }
    // Sleep until the deadline or the earliest expiry of a known node, whichever comes first.
    using std::chrono::milliseconds;
    long long wait_ms = -1;
    if (deadline != no_deadline) {
      auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now()).count();
      wait_ms = left < 0 ? 0 : left;
    }
    if (!known_.empty()) {
      auto earliest = known_.begin()->second.expiry;
      for (const auto& [k, v] : known_) earliest = std::min(earliest, v.expiry);
      auto left = std::chrono::ceil<milliseconds>(earliest - file_store::WallClock::now()).count();
      if (left < 0) left = 0;
      if (wait_ms < 0 || left < wait_ms) wait_ms = left;
    }
    if (wait_ms > INT_MAX) wait_ms = INT_MAX;
    pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int rc = ::poll(fds, 2, static_cast<int>(wait_ms));
    if (rc < 0 && errno != EINTR) {
      throw Error(Errc::unavailable, "registry-file: poll: " + err_text(errno));
    }
    if (stopped_.load()) throw Error(Errc::closed, "registry-file: watcher stopped");
    if (rc > 0 && (fds[0].revents & POLLIN)) drain_inotify();
    check_expiry();
    if (pending_.empty() && !gone_ && deadline != no_deadline && Clock::now() >= deadline) {
      return std::nullopt;
    }
  }
}

}  // namespace micro::plugins
