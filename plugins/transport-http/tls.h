// transport-http: TLS contexts (boost::asio::ssl::context) built from the tls options. The
// per-connection I/O uses the SSL objects directly so reads and writes can wait in poll().
#pragma once

#include <memory>
#include <string>

#include "http_options.h"

typedef struct ssl_st SSL;

namespace micro::plugins::http {

class TlsContexts {
 public:
  /// Loads certificates and keys. Throws Error{config} naming the file that failed.
  explicit TlsContexts(const TlsOptions& o);
  ~TlsContexts();
  /// A new SSL on an accepted fd. Throws Error{config} without cert_file/key_file.
  SSL* server_ssl(int fd);
  /// Throws Error{config} unless cert_file and key_file are set (needed to listen).
  void check_server() const;
  /// A new SSL for a dialled connection to host (SNI and, unless insecure_skip_verify, name
  /// verification). Throws Error{internal}.
  SSL* client_ssl(int fd, const std::string& host);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace micro::plugins::http
