// Registry: service discovery (go-micro registry/registry.go). Data types follow go-micro's
// JSON exactly (spec/gomicro-wire.md §4.1) so registries are shared with Go services.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "micro/component.h"

namespace micro::registry {

/// A description of a request or response type, informational (go-micro's reflection dump).
struct Value {
  std::string name;
  std::string type;
  std::vector<Value> values;
};

struct Endpoint {
  std::string name;  ///< "Handler.Method"
  std::optional<Value> request;
  std::optional<Value> response;
  StringMap metadata;  ///< {"stream":"true"} or {"topic":..,"subscriber":"true"}
};

struct Node {
  std::string id;       ///< "<service>-<uuid>"
  std::string address;  ///< "host:port"
  StringMap metadata;   ///< transport, broker, server, registry, protocol
};

struct Service {
  std::string name;
  std::string version;
  StringMap metadata;
  std::vector<Endpoint> endpoints;
  std::vector<Node> nodes;
};

/// A change seen by a Watcher. action is "create", "update" or "delete".
struct Result {
  std::string action;
  Service service;
};

struct RegisterOptions {
  /// Time to live; 0 = no expiry.
  std::chrono::seconds ttl{0};
};

struct WatchOptions {
  /// Only this service; "" = all services.
  std::string service;
};

/// go-micro's Service JSON (no omitempty; null accepted for any map or list on input).
std::string to_json(const Service& s);
/// Parses go-micro's Service JSON, ignoring unknown keys. Throws Error{bad_request}.
Service service_from_json(std::string_view text);

/// A stream of registry changes. Ownership: the caller; destruction stops it.
class Watcher {
 public:
  virtual ~Watcher();
  /// Blocks until the next change or the deadline. Returns nullopt on deadline.
  /// Throws Error{closed} after stop(), Error{unavailable} when the registry is gone for good.
  /// Threads: one caller at a time; stop() may be called from any thread.
  virtual std::optional<Result> next(Deadline deadline = no_deadline) = 0;
  /// Ends the watch; a blocked next() throws Errc::closed. Idempotent, never throws.
  virtual void stop() noexcept = 0;
};

}  // namespace micro::registry

namespace micro {

class Registry : public Component {
 public:
  struct Options {
    /// Registry addresses (MICRO_REGISTRY_ADDRESS, comma separated there).
    std::vector<std::string> addrs;
    /// Per-request timeout.
    std::chrono::milliseconds timeout{5000};
    std::string plugin_options = "{}";
  };
  virtual void init(const Options& options) = 0;
  virtual Options options() const = 0;

  /// Registers the nodes of s (usually one), or refreshes them. Thread-safe.
  /// Throws Error{unavailable} when the registry cannot be reached, Error{bad_request}.
  virtual void register_service(const registry::Service& s, const registry::RegisterOptions& o) = 0;

  /// Removes the nodes of s. Thread-safe. Throws Error{unavailable}; a missing node is not an
  /// error.
  virtual void deregister(const registry::Service& s) = 0;

  /// All versions of a service with their live nodes. Thread-safe.
  /// Throws Error{not_found} when no node is registered, Error{unavailable}.
  virtual std::vector<registry::Service> get_service(std::string_view name) = 0;

  /// Every service (nodes may be omitted). Thread-safe. Throws Error{unavailable}.
  virtual std::vector<registry::Service> list_services() = 0;

  /// Watches changes. Thread-safe. Throws Error{unavailable}.
  virtual std::unique_ptr<registry::Watcher> watch(const registry::WatchOptions& o = {}) = 0;
};

}  // namespace micro
