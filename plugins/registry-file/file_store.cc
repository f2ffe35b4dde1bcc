#include "file_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "micro/errors.h"

namespace micro::plugins::file_store {
namespace {

constexpr std::size_t kMaxFileSize = 4 << 20;

std::string err_text(int e) { return std::strerror(e); }

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

timespec to_timespec(WallClock::time_point tp) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(tp.time_since_epoch()).count();
  if (ns < 0) ns = 0;
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(ns / 1000000000);
  ts.tv_nsec = static_cast<long>(ns % 1000000000);
  return ts;
}

[[noreturn]] void fail_config(const std::string& what, const std::filesystem::path& p, int e) {
  throw Error(Errc::config, "registry-file: " + what + " " + p.string() + ": " + err_text(e));
}

}  // namespace

std::string component(std::string_view name, std::string_view what) {
  std::string out(name);
  for (char& c : out) {
    if (c == '/') c = '-';
  }
  if (out.empty() || out == "." || out == ".." || out.find('\0') != std::string::npos) {
    throw Error(Errc::bad_request,
                "registry-file: invalid " + std::string(what) + " '" + std::string(name) + "'");
  }
  return out;
}

bool is_node_file(std::string_view f) {
  return f.size() > 5 && f.front() != '.' && f.substr(f.size() - 5) == ".json";
}

std::filesystem::path resolve_root(const std::string& addr, const std::string& dir_option) {
  if (!addr.empty()) return addr;
  if (!dir_option.empty()) return dir_option;
  if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x != nullptr && *x != '\0') {
    return std::filesystem::path(x) / "micro" / "registry";
  }
  return "/tmp/micro-registry-" + std::to_string(::geteuid());
}

void prepare_root(const std::filesystem::path& root_in) {
  // Processes started from different working directories must meet in one place, and a
  // host:port meant for another registry must not become a directory in the cwd.
  if (!root_in.is_absolute()) {
    throw Error(Errc::config, "registry-file: directory '" + root_in.string() +
                                  "' is not an absolute path (registry address or option dir)");
  }
  std::filesystem::path root = root_in.lexically_normal();
  if (root.has_filename() == false && root != root.root_path()) root = root.parent_path();
  // Create missing components one by one with 0700 (create_directories would use 0777).
  std::filesystem::path cur;
  for (const auto& part : root) {
    cur /= part;
    struct stat st {};
    if (::stat(cur.c_str(), &st) == 0) continue;
    if (errno != ENOENT) fail_config("cannot use directory", cur, errno);
    if (::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST) {
      fail_config("cannot create directory", cur, errno);
    }
  }
  struct stat st {};
  if (::stat(root.c_str(), &st) != 0) fail_config("cannot use directory", root, errno);
  if (!S_ISDIR(st.st_mode)) {
    throw Error(Errc::config, "registry-file: " + root.string() + " is not a directory");
  }
  if (st.st_uid != ::geteuid()) {
    throw Error(Errc::config, "registry-file: directory " + root.string() +
                                  " is owned by another user (uid " + std::to_string(st.st_uid) +
                                  "); refusing to use it");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    throw Error(Errc::config, "registry-file: directory " + root.string() +
                                  " is writable by other users; refusing to use it (chmod 700)");
  }
}

WallClock::time_point expiry_of(const struct stat& st) {
  auto d = std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec);
  return WallClock::time_point(std::chrono::duration_cast<WallClock::duration>(d));
}

ReadResult read_node_file(const std::filesystem::path& path, WallClock::time_point now) {
  ReadResult r;
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.fd < 0) {
    if (errno == ENOENT) return r;
    r.status = ReadStatus::bad;
    r.error = "cannot open " + path.string() + ": " + err_text(errno);
    return r;
  }
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    r.status = ReadStatus::bad;
    r.error = path.string() + " is not a regular file";
    return r;
  }
  r.expiry = expiry_of(st);
  if (r.expiry <= now) {
    r.status = ReadStatus::expired;
    return r;
  }
  if (static_cast<std::size_t>(st.st_size) > kMaxFileSize) {
    r.status = ReadStatus::bad;
    r.error = path.string() + " is larger than 4 MiB";
    return r;
  }
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      r.status = ReadStatus::bad;
      r.error = "cannot read " + path.string() + ": " + err_text(errno);
      return r;
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxFileSize) {
      r.status = ReadStatus::bad;
      r.error = path.string() + " is larger than 4 MiB";
      return r;
    }
  }
  try {
    NodeFile nf{registry::service_from_json(text), std::move(text), r.expiry};
    if (nf.service.nodes.empty()) {
      r.status = ReadStatus::bad;
      r.error = path.string() + ": no node in the service";
      return r;
    }
    r.file = std::move(nf);
    r.status = ReadStatus::ok;
  } catch (const std::exception& e) {
    r.status = ReadStatus::bad;
    r.error = path.string() + ": " + e.what();
  }
  return r;
}

void write_node_file(const std::filesystem::path& path, std::string_view text,
                     WallClock::time_point expiry) {
  static std::atomic<unsigned long> counter{0};
  const auto dir = path.parent_path();
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    throw Error(Errc::unavailable,
                "registry-file: cannot create directory " + dir.string() + ": " + err_text(errno));
  }
  const auto tmp = dir / ("." + path.filename().string() + "." + std::to_string(::getpid()) + "." +
                          std::to_string(counter.fetch_add(1)) + ".tmp");
  auto fail = [&](const std::string& what, int e) {
    ::unlink(tmp.c_str());
    throw Error(Errc::unavailable, "registry-file: " + what + ": " + err_text(e));
  };
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd.fd < 0) {
      throw Error(Errc::unavailable,
                  "registry-file: cannot create " + tmp.string() + ": " + err_text(errno));
    }
    std::size_t off = 0;
    while (off < text.size()) {
      ssize_t n = ::write(fd.fd, text.data() + off, text.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail("cannot write " + tmp.string(), errno);
      off += static_cast<std::size_t>(n);
    }
    timespec times[2] = {to_timespec(WallClock::now()), to_timespec(expiry)};
    if (::futimens(fd.fd, times) != 0) fail("cannot set the expiry of " + tmp.string(), errno);
    int f = fd.fd;
    fd.fd = -1;
    if (::close(f) != 0) fail("cannot write " + tmp.string(), errno);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("cannot rename to " + path.string(), errno);
}

void remove_node_file(const std::filesystem::path& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    throw Error(Errc::unavailable,
                "registry-file: cannot remove " + path.string() + ": " + err_text(errno));
  }
}

void log_line(std::string_view message) noexcept {
  try {
    std::string line = "registry-file: " + std::string(message) + "\n";
    (void)!::write(STDERR_FILENO, line.data(), line.size());
  } catch (...) {
  }
}

}  // namespace micro::plugins::file_store
