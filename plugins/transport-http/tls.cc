#include "tls.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>

#include <boost/asio/ssl/context.hpp>

#include "micro/errors.h"

namespace micro::plugins::http {

namespace ssl = boost::asio::ssl;

struct TlsContexts::Impl {
  TlsOptions o;
  ssl::context server{ssl::context::tls_server};
  ssl::context client{ssl::context::tls_client};
  bool server_ready = false;
};

namespace {

template <class F>
void load(const char* key, const std::string& file, F f) {
  try {
    f();
  } catch (const boost::system::system_error& e) {
    throw Error(Errc::config, std::string("transport http: tls.") + key + " \"" + file +
                                  "\": " + e.code().message());
  }
}

bool is_ip(const std::string& host) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// OpenSSL's socket BIO writes with write(2), which raises SIGPIPE when the peer is gone. A
// library must not kill its host process nor change its signal dispositions, so TLS records
// are written through this BIO with send(MSG_NOSIGNAL); reads use the stock socket BIO.
int nosig_write(BIO* b, const char* data, int len) {
  int fd = static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(b)));
  BIO_clear_retry_flags(b);
  long n = ::send(fd, data, static_cast<std::size_t>(len), MSG_NOSIGNAL);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) BIO_set_retry_write(b);
  return static_cast<int>(n);
}
long nosig_ctrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }
int nosig_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

BIO_METHOD* nosig_method() {
  static BIO_METHOD* m = [] {
    BIO_METHOD* bm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "micro-http-send");
    BIO_meth_set_write(bm, nosig_write);
    BIO_meth_set_ctrl(bm, nosig_ctrl);
    BIO_meth_set_create(bm, nosig_create);
    return bm;
  }();
  return m;
}

SSL* new_ssl(ssl::context& ctx, int fd) {
  SSL* s = SSL_new(ctx.native_handle());
  BIO* rbio = BIO_new_socket(fd, BIO_NOCLOSE);
  BIO* wbio = BIO_new(nosig_method());
  if (s == nullptr || rbio == nullptr || wbio == nullptr) {
    if (s) SSL_free(s);
    if (rbio) BIO_free(rbio);
    if (wbio) BIO_free(wbio);
    throw Error(Errc::internal, "transport http: cannot create the TLS session");
  }
  BIO_set_data(wbio, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)));
  SSL_set_bio(s, rbio, wbio);  // s owns both
  SSL_set_mode(s, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return s;
}

}  // namespace

TlsContexts::TlsContexts(const TlsOptions& o) : impl_(std::make_unique<Impl>()) {
  impl_->o = o;
  const auto no_old = ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1;
  impl_->server.set_options(no_old);
  impl_->client.set_options(no_old);
  if (!o.cert_file.empty()) {
    load("cert_file", o.cert_file, [&] {
      impl_->server.use_certificate_chain_file(o.cert_file);
      impl_->client.use_certificate_chain_file(o.cert_file);
    });
  }
  if (!o.key_file.empty()) {
    load("key_file", o.key_file, [&] {
      impl_->server.use_private_key_file(o.key_file, ssl::context::pem);
      impl_->client.use_private_key_file(o.key_file, ssl::context::pem);
    });
  }
  impl_->server_ready = !o.cert_file.empty() && !o.key_file.empty();
  if (!o.ca_file.empty()) {
    load("ca_file", o.ca_file, [&] {
      impl_->server.load_verify_file(o.ca_file);
      impl_->client.load_verify_file(o.ca_file);
    });
    // A CA on the server side means mutual TLS: clients must present a certificate.
    impl_->server.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  }
  if (o.insecure_skip_verify) {
    impl_->client.set_verify_mode(ssl::verify_none);
  } else {
    if (o.ca_file.empty()) impl_->client.set_default_verify_paths();
    impl_->client.set_verify_mode(ssl::verify_peer);
  }
  // go-micro's client offers ALPN http/1.1.
  static const unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(impl_->client.native_handle(), alpn, sizeof alpn);
}

TlsContexts::~TlsContexts() = default;

void TlsContexts::check_server() const {
  if (!impl_->server_ready)
    throw Error(Errc::config,
                "transport http: tls.enabled needs tls.cert_file and tls.key_file to listen");
}

SSL* TlsContexts::server_ssl(int fd) {
  check_server();
  return new_ssl(impl_->server, fd);
}

SSL* TlsContexts::client_ssl(int fd, const std::string& host) {
  SSL* s = new_ssl(impl_->client, fd);
  if (!is_ip(host)) SSL_set_tlsext_host_name(s, host.c_str());
  if (!impl_->o.insecure_skip_verify) {
    if (is_ip(host))
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s), host.c_str());
    else
      SSL_set1_host(s, host.c_str());
  }
  return s;
}

}  // namespace micro::plugins::http
