#include "etcd_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <stdexcept>

namespace micro::test {
namespace fs = std::filesystem;
namespace {

const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string etcd_binary() {
  const char* e = std::getenv("MICRO_TEST_ETCD");
  return e && *e ? e : "etcd";
}

/// The value of a "key":"..." string field in flat JSON text (enough for the gateway's output).
std::vector<std::string> string_fields(const std::string& json, const std::string& field) {
  std::vector<std::string> out;
  const std::string pat = "\"" + field + "\":\"";
  for (size_t p = json.find(pat); p != std::string::npos; p = json.find(pat, p)) {
    p += pat.size();
    const auto end = json.find('"', p);
    if (end == std::string::npos) break;
    out.push_back(json.substr(p, end - p));
    p = end;
  }
  return out;
}

}  // namespace

std::string etcd_b64(std::string_view in) {
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kB64[(v >> s) & 63];
  }
  if (in.size() - i == 1) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (in.size() - i == 2) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string etcd_unb64(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const char* p = std::char_traits<char>::find(kB64, 64, c);
    if (!p) continue;  // padding
    acc = (acc << 6) | uint32_t(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((acc >> bits) & 0xff);
    }
  }
  return out;
}

HttpResult http_request(int port, const std::string& method, const std::string& path,
                        const std::string& body, std::chrono::milliseconds timeout) {
  HttpResult r;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return r;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return r;
  }
  std::string req = method + " " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n";
  if (!body.empty() || method == "POST") {
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  size_t sent = 0;
  while (sent < req.size()) {
    auto n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      ::close(fd);
      return r;
    }
    sent += size_t(n);
  }
  std::string resp;
  char buf[8192];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, int(left.count())) <= 0) break;
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    resp.append(buf, size_t(n));
  }
  ::close(fd);
  const auto sp = resp.find(' ');
  const auto hdr_end = resp.find("\r\n\r\n");
  if (sp == std::string::npos || hdr_end == std::string::npos) return r;
  r.status = std::atoi(resp.c_str() + sp + 1);
  r.body = resp.substr(hdr_end + 4);
  return r;
}

EtcdServer::EtcdServer() {
  dir_ = std::make_unique<TempDir>();
  client_port_ = free_port();
  do {
    peer_port_ = free_port();
  } while (peer_port_ == client_port_);
  cluster_ = name_ + "=http://127.0.0.1:" + std::to_string(peer_port_);
  data_dir_ = dir_->path() / "data";
  log_dir_ = dir_->path();
  start(true);
}

EtcdServer::EtcdServer(EtcdTls tls) : tls_(std::move(tls)) {
  dir_ = std::make_unique<TempDir>();
  client_port_ = free_port();
  do {
    peer_port_ = free_port();
  } while (peer_port_ == client_port_);
  do {
    metrics_port_ = free_port();
  } while (metrics_port_ == client_port_ || metrics_port_ == peer_port_);
  cluster_ = name_ + "=http://127.0.0.1:" + std::to_string(peer_port_);
  data_dir_ = dir_->path() / "data";
  log_dir_ = dir_->path();
  start(true);
}

EtcdServer::EtcdServer(Member, std::string name, int client_port, int peer_port,
                       std::string cluster, fs::path data_dir)
    : name_(std::move(name)),
      client_port_(client_port),
      peer_port_(peer_port),
      cluster_(std::move(cluster)),
      data_dir_(data_dir),
      log_dir_(data_dir.parent_path()) {
  start(false);
}

EtcdServer::~EtcdServer() { proc_.reset(); }

std::string EtcdServer::address() const { return "127.0.0.1:" + std::to_string(client_port_); }

void EtcdServer::start(bool wait) {
  const bool https = !tls_.cert_file.empty();
  const std::string c =
      (https ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(client_port_);
  const std::string p = "http://127.0.0.1:" + std::to_string(peer_port_);
  std::vector<std::string> argv{etcd_binary(),
                                "--name",
                                name_,
                                "--data-dir",
                                data_dir_.string(),
                                "--listen-client-urls",
                                c,
                                "--advertise-client-urls",
                                c,
                                "--listen-peer-urls",
                                p,
                                "--initial-advertise-peer-urls",
                                p,
                                "--initial-cluster",
                                cluster_,
                                "--initial-cluster-state",
                                "new"};
  if (https) {
    argv.insert(argv.end(),
                {"--cert-file", tls_.cert_file, "--key-file", tls_.key_file,
                 "--listen-metrics-urls", "http://127.0.0.1:" + std::to_string(metrics_port_)});
    if (!tls_.trusted_ca_file.empty()) {
      argv.insert(argv.end(), {"--client-cert-auth", "--trusted-ca-file", tls_.trusted_ca_file});
    }
  }
  proc_ = std::make_unique<Process>(argv, std::map<std::string, std::string>{}, log_dir_);
  if (wait && !wait_healthy()) {
    throw std::runtime_error("etcd on " + address() + " did not become healthy: " + log());
  }
}

void EtcdServer::kill() {
  if (proc_) {
    proc_->signal(SIGKILL);
    proc_->wait(std::chrono::seconds(10));
  }
}

void EtcdServer::wipe() {
  std::error_code ec;
  fs::remove_all(data_dir_, ec);
}

bool EtcdServer::running() { return proc_ && proc_->running(); }

bool EtcdServer::healthy() {
  auto r = http_request(metrics_port_ ? metrics_port_ : client_port_, "GET", "/health", {},
                        std::chrono::seconds(2));
  return r.status == 200 && r.body.find("\"true\"") != std::string::npos;
}

bool EtcdServer::wait_healthy(std::chrono::milliseconds timeout) {
  return wait_for([&] { return running() && healthy(); }, timeout);
}

std::string EtcdServer::log() const {
  std::string s = proc_ ? proc_->err() : std::string();
  return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
}

HttpResult EtcdServer::post(const std::string& path, const std::string& json) {
  return http_request(client_port_, "POST", path, json);
}

void EtcdServer::put(const std::string& key, const std::string& value) {
  auto r = post("/v3/kv/put",
                "{\"key\":\"" + etcd_b64(key) + "\",\"value\":\"" + etcd_b64(value) + "\"}");
  if (r.status != 200) throw std::runtime_error("etcd put " + key + ": " + r.body);
}

std::optional<std::string> EtcdServer::get(const std::string& key) {
  auto r = post("/v3/kv/range", "{\"key\":\"" + etcd_b64(key) + "\"}");
  if (r.status != 200) throw std::runtime_error("etcd range " + key + ": " + r.body);
  auto v = string_fields(r.body, "value");
  if (v.empty()) {
    if (r.body.find("\"kvs\"") == std::string::npos) return std::nullopt;
    return std::string();
  }
  return etcd_unb64(v.front());
}

std::vector<std::string> EtcdServer::keys(const std::string& prefix) {
  std::string end = prefix;
  end.back() = char(end.back() + 1);
  auto r = post("/v3/kv/range", "{\"key\":\"" + etcd_b64(prefix) + "\",\"range_end\":\"" +
                                    etcd_b64(end) + "\",\"keys_only\":true}");
  if (r.status != 200) throw std::runtime_error("etcd range " + prefix + ": " + r.body);
  std::vector<std::string> out;
  for (const auto& k : string_fields(r.body, "key")) out.push_back(etcd_unb64(k));
  return out;
}

EtcdCluster::EtcdCluster(int n) {
  dir_ = std::make_unique<TempDir>();
  std::vector<int> ports;
  while (int(ports.size()) < 2 * n) {
    int p = free_port();
    if (std::find(ports.begin(), ports.end(), p) == ports.end()) ports.push_back(p);
  }
  std::string cluster;
  for (int i = 0; i < n; ++i) {
    if (i) cluster += ",";
    cluster += "m" + std::to_string(i) + "=http://127.0.0.1:" + std::to_string(ports[2 * i + 1]);
  }
  for (int i = 0; i < n; ++i) {
    const auto d = dir_->path() / ("m" + std::to_string(i)) / "data";
    fs::create_directories(d.parent_path());
    members_.push_back(
        std::unique_ptr<EtcdServer>(new EtcdServer(EtcdServer::Member{}, "m" + std::to_string(i),
                                                   ports[2 * i], ports[2 * i + 1], cluster, d)));
  }
  for (auto& m : members_) {
    if (!m->wait_healthy()) {
      throw std::runtime_error("etcd member " + m->address() + " not healthy: " + m->log());
    }
  }
}

std::string EtcdCluster::addresses() const {
  std::string s;
  for (const auto& m : members_) {
    if (!s.empty()) s += ",";
    s += m->address();
  }
  return s;
}

}  // namespace micro::test
