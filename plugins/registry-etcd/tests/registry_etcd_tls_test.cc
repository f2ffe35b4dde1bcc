// registry-etcd over TLS: an etcd serving https with client-certificate auth, certificates
// made with the openssl command for each run.
#include "registry_etcd_helpers.h"

using namespace regetcd_test;
using micro::test::EtcdServer;
using micro::test::EtcdTls;
using micro::test::TempDir;

namespace {

void openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = micro::test::run(argv);
  INFO(r.err);
  REQUIRE(r.status == 0);
}

/// A CA and two certificates it signed: server (SAN IP 127.0.0.1) and client.
void make_certs(const TempDir& d) {
  const auto p = [&](const char* f) { return (d / f).string(); };
  micro::test::write_file(d / "san.ext", "subjectAltName=IP:127.0.0.1\n");
  openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p("ca.key"), "-out",
           p("ca.crt"), "-days", "2", "-subj", "/CN=micro-test-ca"});
  for (const char* who : {"server", "client"}) {
    const std::string w = who;
    openssl({"req", "-newkey", "rsa:2048", "-nodes", "-keyout", p((w + ".key").c_str()), "-out",
             p((w + ".csr").c_str()), "-subj", "/CN=" + w});
    openssl({"x509", "-req", "-in", p((w + ".csr").c_str()), "-CA", p("ca.crt"), "-CAkey",
             p("ca.key"), "-CAcreateserial", "-out", p((w + ".crt").c_str()), "-days", "2",
             "-extfile", p("san.ext")});
  }
}

}  // namespace

TEST_CASE("over TLS with client certificates registration, reads and watch work") {
  TempDir certs;
  make_certs(certs);
  EtcdServer etcd(EtcdTls{(certs / "server.crt").string(), (certs / "server.key").string(),
                          (certs / "ca.crt").string()});
  const nlohmann::json opts = {{"ca_file", (certs / "ca.crt").string()},
                               {"cert_file", (certs / "client.crt").string()},
                               {"key_file", (certs / "client.key").string()}};
  auto r = open(etcd.address(), opts.dump());
  auto w = r->watch();
  r->register_service(service("greeter", "greeter-1"), ttl(5));
  CHECK(has_node(*r, "greeter", "greeter-1"));
  CHECK(next_matching(*w, "create", "greeter-1").has_value());

  // Without a client certificate etcd refuses the connection.
  const nlohmann::json no_cert = {{"ca_file", (certs / "ca.crt").string()}};
  auto anon = open(etcd.address(), no_cert.dump(), std::chrono::milliseconds(2000));
  CHECK(errc_of([&] { anon->get_service("greeter"); }) == micro::Errc::unavailable);
  // A server certificate from an unknown CA is refused.
  auto wrong_ca = open("https://" + etcd.address(), "{}", std::chrono::milliseconds(2000));
  CHECK(errc_of([&] { wrong_ca->get_service("greeter"); }) == micro::Errc::unavailable);
}
