#include "support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace fs = std::filesystem;

namespace micro::test {

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "micro-test-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

// Ports the kernel hands out for port 0 and for outgoing connections come from the ephemeral
// range (32768-60999 by default). A port picked there can be taken by any connection a
// concurrent test opens before the caller binds it, so pick below that range, at random, and
// check it is free now.
int free_port() {
  static std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<int> pick(15000, 32000);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int port = pick(rng);
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error("socket failed");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (ok) return port;
  }
  throw std::runtime_error("no free port found in 15000-32000");
}

bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  auto delay = std::chrono::milliseconds(1);
  while (true) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= end) return cond();
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(50));
  }
}

void write_file(const fs::path& p, const std::string& text) {
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  std::ofstream o(p, std::ios::binary | std::ios::trunc);
  o << text;
  if (!o) throw std::runtime_error("cannot write " + p.string());
}

std::string read_file(const fs::path& p) {
  std::ifstream i(p, std::ios::binary);
  std::stringstream ss;
  ss << i.rdbuf();
  return ss.str();
}

fs::path bin_dir() { return MICRO_TEST_BIN_DIR; }
fs::path plugin_dir() { return MICRO_TEST_PLUGIN_DIR; }
fs::path source_dir() { return MICRO_TEST_SOURCE_DIR; }

Process::Process(std::vector<std::string> argv, std::map<std::string, std::string> env,
                 fs::path log_dir) {
  if (log_dir.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "micro-proc-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    owned_dir_ = log_dir = tmpl;
  }
  static int counter = 0;
  const std::string base = fs::path(argv.at(0)).filename().string() + "-" +
                           std::to_string(::getpid()) + "-" + std::to_string(++counter);
  out_ = log_dir / (base + ".out");
  err_ = log_dir / (base + ".err");
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::setpgid(0, 0);
    int o = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int n = ::open("/dev/null", O_RDONLY);
    ::dup2(n, 0);
    ::dup2(o, 1);
    ::dup2(e, 2);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
}

Process::~Process() {
  if (!exited_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(5));
  }
  if (!owned_dir_.empty()) {
    std::error_code ec;
    fs::remove_all(owned_dir_, ec);
  }
}

bool Process::running() {
  if (exited_) return false;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    exited_ = true;
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return false;
  }
  return true;
}

void Process::signal(int sig) {
  if (!exited_) ::kill(pid_, sig);
}

int Process::wait(std::chrono::milliseconds timeout) {
  wait_for([&] { return !running(); }, timeout);
  return exited_ ? status_ : -1;
}

std::string Process::out() const { return read_file(out_); }
std::string Process::err() const { return read_file(err_); }

RunResult run(std::vector<std::string> argv, std::map<std::string, std::string> env,
              std::chrono::milliseconds timeout) {
  Process p(std::move(argv), std::move(env));
  RunResult r;
  r.status = p.wait(timeout);
  if (r.status == -1) {
    p.signal(SIGKILL);
    p.wait();
  }
  r.out = p.out();
  r.err = p.err();
  return r;
}

}  // namespace micro::test
