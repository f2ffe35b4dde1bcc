// transport-http: the plugin's options, parsed from the JSON the core validated against the
// schema in plugin.cc (the single source of the option names and defaults).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace micro::plugins::http {

struct TlsOptions {
  bool enabled = false;
  std::string cert_file;  ///< PEM certificate chain (server; client for mutual TLS)
  std::string key_file;   ///< PEM private key
  std::string ca_file;    ///< PEM CAs to verify the peer (server: require client certs)
  bool insecure_skip_verify = false;
};

struct HttpOptions {
  std::size_t max_body_bytes = 16u << 20;
  std::uint32_t max_header_bytes = 16u << 10;
  std::size_t max_header_count = 100;
  std::chrono::milliseconds read_timeout{10000};
  std::chrono::milliseconds idle_timeout{120000};
  std::chrono::milliseconds write_timeout{10000};
  std::size_t max_connections = 10000;
  TlsOptions tls;

  /// Parses the plugin options JSON (missing keys keep their defaults). Throws Error{config}.
  static HttpOptions parse(const std::string& json_text);
};

}  // namespace micro::plugins::http
