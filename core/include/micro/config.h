// Configuration: one JSON file (--config FILE or MICRO_CONFIG) plus environment overrides in
// go-micro's names. Every error is one line naming the source and the key path; unknown keys
// are errors, never ignored.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "micro/component.h"

namespace micro {

/// The implementation chosen for one kind: a plugin name ("etcd", "acme.kafka") or a path to a
/// .so file, and its options as JSON text (validated later against the plugin's schema).
struct PluginChoice {
  std::string use;
  std::string options = "{}";
};

using Environment = std::map<std::string, std::string>;

/// The process environment (MICRO_* variables only).
Environment process_environment();

struct Config {
  struct ServiceSection {
    std::string name;
    std::string version = "latest";
    std::string address = "127.0.0.1:0";
    std::string advertise;
    StringMap metadata;
  } service;

  struct PluginsSection {
    std::vector<std::filesystem::path> path;
    bool allow_insecure_permissions = false;
  } plugins;

  PluginChoice transport{"http"};
  /// go-micro's DefaultCodecs: JSON, protobuf, raw bytes, and the legacy framed json-rpc and
  /// proto-rpc spoken to and by nodes registered without "protocol" metadata.
  std::vector<PluginChoice> codecs{{"json"}, {"protobuf"}, {"bytes"}, {"jsonrpc"}, {"protorpc"}};
  PluginChoice registry{"file"};
  std::vector<std::string> registry_addrs;
  PluginChoice selector{"random"};
  PluginChoice broker{"http"};  ///< go-micro's default: subscribers registered in the registry
  std::vector<std::string> broker_addrs;

  struct ClientSection {
    std::string content_type = "application/json";
    int retries = 1;
    std::chrono::milliseconds request_timeout{5000};
    std::size_t pool_size = 100;
    std::chrono::seconds pool_ttl{60};
  } client;

  struct ServerSection {
    std::chrono::seconds register_ttl{90};
    std::chrono::seconds register_interval{30};
    std::chrono::milliseconds drain_timeout{5000};
  } server;

  /// Where the values came from, for messages ("config file /etc/x.json", "defaults").
  std::string origin = "defaults";

  /// Parses a config document. origin names it in errors. Throws Error{config}:
  /// "<origin>: <key.path>: <what is wrong>".
  static Config parse(std::string_view json_text, std::string origin);

  /// Loads file (when set; else MICRO_CONFIG from env when set; else defaults), then applies
  /// env overrides. Throws Error{config}.
  static Config load(const std::optional<std::filesystem::path>& file, const Environment& env);

  /// Applies MICRO_REGISTRY, MICRO_REGISTRY_ADDRESS, MICRO_BROKER, MICRO_BROKER_ADDRESS,
  /// MICRO_TRANSPORT, MICRO_SELECTOR, MICRO_SERVER_ADDRESS, MICRO_SERVER_NAME,
  /// MICRO_REGISTER_TTL, MICRO_REGISTER_INTERVAL, MICRO_PLUGIN_PATH (colon separated,
  /// appended after plugins.path). Throws Error{config} naming the variable.
  void apply_env(const Environment& env);

  /// The directories plugins are searched in: plugins.path, then MICRO_PLUGIN_PATH (already
  /// merged by apply_env), then the install dir and the build tree of this libmicro_core.
  std::vector<std::filesystem::path> plugin_search_path() const;
};

}  // namespace micro
