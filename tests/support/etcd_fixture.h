// Test fixture: real etcd servers (/usr/bin/etcd, or $MICRO_TEST_ETCD) on free 127.0.0.1
// ports, data in a temp dir, waited for by polling /health, killed on destruction. Plus a tiny
// HTTP/1.0 client of etcd's JSON gateway, independent of the code under test.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support.h"

namespace micro::test {

/// The status and body of one HTTP request; status 0 when the server could not be reached.
struct HttpResult {
  int status = 0;
  std::string body;
};

/// One HTTP/1.0 request to 127.0.0.1:port (Connection: close), bounded by timeout.
HttpResult http_request(int port, const std::string& method, const std::string& path,
                        const std::string& body = {},
                        std::chrono::milliseconds timeout = std::chrono::seconds(5));

/// Standard base64, as etcd's gateway wants keys and values.
std::string etcd_b64(std::string_view s);
std::string etcd_unb64(std::string_view s);

/// TLS files for an etcd serving https on its client port.
struct EtcdTls {
  std::string cert_file;
  std::string key_file;
  std::string trusted_ca_file;  ///< set: clients must present a certificate signed by it
};

/// One etcd member. A single-member server is EtcdServer(); EtcdCluster makes several.
class EtcdServer {
 public:
  /// A single member serving https with tls (health polled on a plain-http metrics port).
  explicit EtcdServer(EtcdTls tls);
  /// Starts a single-member etcd and waits until /health says true. Throws std::runtime_error
  /// naming the log when it does not become healthy within 30 s.
  EtcdServer();
  ~EtcdServer();
  EtcdServer(const EtcdServer&) = delete;
  EtcdServer& operator=(const EtcdServer&) = delete;

  /// "127.0.0.1:<client port>"
  std::string address() const;
  int client_port() const { return client_port_; }
  const std::filesystem::path& data_dir() const { return data_dir_; }

  /// SIGKILL and wait. The data dir stays.
  void kill();
  /// Starts again with the same ports and data dir (after kill()); waits for health when wait.
  void start(bool wait = true);
  /// Removes the data dir (the server must be killed first).
  void wipe();
  bool running();
  bool healthy();
  /// Waits up to timeout for /health.
  bool wait_healthy(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  /// The server's stderr so far (etcd logs there).
  std::string log() const;

  /// POST to the gateway (path like "/v3/kv/put"), JSON in and out. Plain-http servers only.
  HttpResult post(const std::string& path, const std::string& json);
  /// Puts key=value (no lease); throws std::runtime_error when etcd refuses.
  void put(const std::string& key, const std::string& value);
  /// The value of key, nullopt when absent.
  std::optional<std::string> get(const std::string& key);
  /// Keys under prefix.
  std::vector<std::string> keys(const std::string& prefix);

 private:
  friend class EtcdCluster;
  struct Member {};
  EtcdServer(Member, std::string name, int client_port, int peer_port, std::string cluster,
             std::filesystem::path data_dir);

  std::unique_ptr<TempDir> dir_;
  std::string name_ = "default";
  int client_port_ = 0;
  int peer_port_ = 0;
  std::string cluster_;
  std::filesystem::path data_dir_;
  std::filesystem::path log_dir_;
  std::unique_ptr<Process> proc_;
  EtcdTls tls_;
  int metrics_port_ = 0;
};

/// n members on 127.0.0.1 forming one cluster, started together and waited for.
class EtcdCluster {
 public:
  explicit EtcdCluster(int n = 3);
  /// "127.0.0.1:p1,127.0.0.1:p2,..."
  std::string addresses() const;
  EtcdServer& member(int i) { return *members_.at(i); }
  int size() const { return int(members_.size()); }

 private:
  std::unique_ptr<TempDir> dir_;
  std::vector<std::unique_ptr<EtcdServer>> members_;
};

}  // namespace micro::test
