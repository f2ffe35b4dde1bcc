// registry-etcd: go-micro's etcd registry (spec/gomicro-wire.md §4.2) over etcd's JSON
// gateway. Key /micro/registry/<service>/<node id>, value = the Service JSON with one node,
// under a lease of the register TTL that one background keeper refreshes (TTL/3).
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "etcd_client.h"
#include "micro/registry.h"

namespace micro::plugins {

namespace etcd {
class EtcdWatcher;
}

/// A micro::Registry on etcd v3. All methods are thread-safe. Failures are micro::Error:
/// unavailable (no etcd endpoint answers), not_found (get_service), bad_request (bad service),
/// unauthorized/forbidden (etcd auth), config (bad options), closed (after stop()).
///
/// Threads: one keeper thread (started by the first registration with a TTL) refreshes every
/// lease; each watcher owns one thread. stop() (and the destructor) end them without
/// deregistering: the leases then expire by themselves.
class EtcdRegistry final : public Registry {
 public:
  EtcdRegistry() = default;
  ~EtcdRegistry() override;

  std::string name() const override { return "etcd"; }
  void stop() noexcept override;

  /// Reads addrs (default 127.0.0.1:2379, comma-separated entries allowed), timeout and the
  /// plugin options (username, password, ca_file, cert_file, key_file, tls_insecure).
  /// ETCD_USERNAME / ETCD_PASSWORD are used when the options name no user. Throws Error{config}.
  void init(const Options& options) override;
  Options options() const override;

  /// A new or changed node: Grant(ttl) + Put. An unchanged node whose lease the keeper holds:
  /// no request at all (the keeper keeps the lease alive). A node whose lease failed: a
  /// synchronous KeepAlive (and Grant + Put when etcd lost the lease).
  void register_service(const registry::Service& s, const registry::RegisterOptions& o) override;
  /// Deletes each node key and revokes its lease.
  void deregister(const registry::Service& s) override;
  std::vector<registry::Service> get_service(std::string_view name) override;
  std::vector<registry::Service> list_services() override;
  /// Reports changes after the call (nodes present before are not reported).
  std::unique_ptr<registry::Watcher> watch(const registry::WatchOptions& o = {}) override;

  /// Requests sent to etcd so far (for measurements).
  uint64_t requests() const;
  std::map<std::string, uint64_t> requests_by_path() const;

 private:
  struct Reg;
  std::shared_ptr<etcd::Client> client() const;  // throws closed / unavailable
  /// Grants a lease when needed and puts the node. Caller holds r.mu.
  void put_node(etcd::Client& c, Reg& r, bool new_lease);
  /// KeepAlive; Grant + Put when etcd lost the lease. Caller holds r.mu. Throws.
  void refresh(etcd::Client& c, Reg& r);
  void keeper_loop();
  void ensure_keeper();  // caller holds mu_

  mutable std::mutex mu_;
  std::condition_variable cv_;
  Options options_;
  std::shared_ptr<etcd::Client> client_;
  bool stopped_ = false;
  std::map<std::string, std::shared_ptr<Reg>> regs_;
  std::thread keeper_;
  std::vector<std::weak_ptr<etcd::EtcdWatcher>> watchers_;
};

}  // namespace micro::plugins
