#include "http_transport.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "http_socket.h"
#include "micro/errors.h"
#include "tls.h"

namespace micro::plugins::http {
namespace {

struct AddrInfo {
  addrinfo* list = nullptr;
  ~AddrInfo() {
    if (list != nullptr) ::freeaddrinfo(list);
  }
};

void resolve(const std::string& where, const std::string& host, const std::string& port,
             bool passive, AddrInfo& out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  int r = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &out.list);
  if (r != 0)
    throw Error(Errc::unavailable, "transport http: " + where + ": cannot resolve \"" + host +
                                       "\": " + ::gai_strerror(r));
}

std::string errno_text(int e) { return std::strerror(e); }

}  // namespace

void split_host_port(std::string_view addr, std::string& host, std::string& port) {
  std::string_view a = addr;
  for (std::string_view scheme : {"http://", "https://"})
    if (a.substr(0, scheme.size()) == scheme) a.remove_prefix(scheme.size());
  if (auto slash = a.find('/'); slash != std::string_view::npos) a = a.substr(0, slash);
  auto colon = a.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == a.size())
    throw Error(Errc::unavailable,
                "transport http: address \"" + std::string(addr) + "\" is not host:port");
  std::string_view h = a.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  host.assign(h);
  port.assign(a.substr(colon + 1));
  for (char c : port)
    if (c < '0' || c > '9')
      throw Error(Errc::unavailable,
                  "transport http: address \"" + std::string(addr) + "\" has a bad port");
}

// ---- options ----

HttpOptions HttpOptions::parse(const std::string& text) {
  using nlohmann::json;
  HttpOptions o;
  json j = json::parse(text.empty() ? "{}" : text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw Error(Errc::config, "transport http: options are not a JSON object");
  auto num = [&](const json& obj, const char* key, auto& out, long long min) {
    auto it = obj.find(key);
    if (it == obj.end()) return;
    if (!it->is_number_integer() || it->template get<long long>() < min)
      throw Error(Errc::config, std::string("transport http: ") + key +
                                    ": expected an integer >= " + std::to_string(min));
    out = static_cast<std::decay_t<decltype(out)>>(it->template get<long long>());
  };
  auto ms = [&](const char* key, std::chrono::milliseconds& out) {
    long long v = out.count();
    num(j, key, v, 1);
    out = std::chrono::milliseconds(v);
  };
  num(j, "max_body_bytes", o.max_body_bytes, 0);
  num(j, "max_header_bytes", o.max_header_bytes, 64);
  num(j, "max_header_count", o.max_header_count, 1);
  num(j, "max_connections", o.max_connections, 1);
  ms("read_timeout_ms", o.read_timeout);
  ms("idle_timeout_ms", o.idle_timeout);
  ms("write_timeout_ms", o.write_timeout);
  if (auto t = j.find("tls"); t != j.end()) {
    if (!t->is_object()) throw Error(Errc::config, "transport http: tls: expected an object");
    auto str = [&](const char* key, std::string& out) {
      if (auto it = t->find(key); it != t->end()) {
        if (!it->is_string())
          throw Error(Errc::config,
                      std::string("transport http: tls.") + key + ": expected a string");
        out = it->get<std::string>();
      }
    };
    auto flag = [&](const char* key, bool& out) {
      if (auto it = t->find(key); it != t->end()) {
        if (!it->is_boolean())
          throw Error(Errc::config,
                      std::string("transport http: tls.") + key + ": expected a boolean");
        out = it->get<bool>();
      }
    };
    flag("enabled", o.tls.enabled);
    flag("insecure_skip_verify", o.tls.insecure_skip_verify);
    str("cert_file", o.tls.cert_file);
    str("key_file", o.tls.key_file);
    str("ca_file", o.tls.ca_file);
  }
  return o;
}

// ---- shared state ----

Shared::Shared(HttpOptions o, std::unique_ptr<TlsContexts> t)
    : opts(std::move(o)), tls(std::move(t)) {}

Shared::~Shared() {
  for (auto& w : workers_) {
    if (!w->thread.joinable()) continue;
    if (w->thread.get_id() == std::this_thread::get_id())
      w->thread.detach();
    else
      w->thread.join();
  }
}

bool Shared::spawn(std::function<void()> body) {
  std::vector<std::unique_ptr<Worker>> finished;
  bool ok = false;
  {
    std::lock_guard<std::mutex> lk(mu);
    if (!stopped) {
      for (std::size_t i = 0; i < workers_.size();) {
        if (workers_[i]->done.load(std::memory_order_acquire)) {
          finished.push_back(std::move(workers_[i]));
          workers_[i] = std::move(workers_.back());
          workers_.pop_back();
        } else {
          ++i;
        }
      }
      auto w = std::make_unique<Worker>();
      Worker* raw = w.get();
      try {
        w->thread = std::thread([raw, body = std::move(body)]() mutable {
          body();
          body = nullptr;  // drop the socket and the callback before we count as done
          raw->done.store(true, std::memory_order_release);
        });
        workers_.push_back(std::move(w));
        ok = true;
      } catch (const std::system_error&) {
        ok = false;  // out of threads: the caller closes the connection
      }
    }
  }
  for (auto& f : finished) f->thread.join();
  return ok;
}

void Shared::stop() noexcept {
  std::vector<std::unique_ptr<Worker>> all;
  {
    std::lock_guard<std::mutex> lk(mu);
    stopped = true;
    for (auto* l : listeners) l->close();
    for (auto* s : sockets) s->close();
    all.swap(workers_);
  }
  for (auto& w : all) {
    if (!w->thread.joinable()) continue;
    if (w->thread.get_id() == std::this_thread::get_id())
      w->thread.detach();
    else
      w->thread.join();
  }
}

// ---- transport ----

HttpTransport::~HttpTransport() { stop(); }

void HttpTransport::init(const Options& options) {
  HttpOptions o = HttpOptions::parse(options.plugin_options);
  if (options.timeout.count() > 0) o.read_timeout = o.write_timeout = options.timeout;
  std::unique_ptr<TlsContexts> tls;
  if (o.tls.enabled) tls = std::make_unique<TlsContexts>(o.tls);
  auto s = std::make_shared<Shared>(std::move(o), std::move(tls));
  std::lock_guard<std::mutex> lk(mu_);
  if (shared_) shared_->stop();
  options_ = options;
  shared_ = std::move(s);
}

Transport::Options HttpTransport::options() const {
  std::lock_guard<std::mutex> lk(mu_);
  return options_;
}

void HttpTransport::stop() noexcept {
  std::shared_ptr<Shared> s;
  {
    std::lock_guard<std::mutex> lk(mu_);
    s = shared_;
  }
  if (s) s->stop();
}

std::shared_ptr<Shared> HttpTransport::shared() const {
  std::lock_guard<std::mutex> lk(mu_);
  if (!shared_) throw Error(Errc::closed, "transport http: used before init()");
  std::lock_guard<std::mutex> lk2(shared_->mu);
  if (shared_->stopped) throw Error(Errc::closed, "transport http: stopped");
  return shared_;
}

std::unique_ptr<transport::Socket> HttpTransport::dial(std::string_view addr,
                                                       const transport::DialOptions& opts) {
  auto sh = shared();
  std::string host, port;
  split_host_port(addr, host, port);
  const std::string where = "dial " + std::string(addr);
  AddrInfo ai;
  resolve(where, host, port, false, ai);
  const Deadline deadline = Clock::now() + opts.timeout;
  int fd = -1, err = ECONNREFUSED;
  bool timed_out = false;
  for (addrinfo* p = ai.list; p != nullptr && fd < 0; p = p->ai_next) {
    fd = ::socket(p->ai_family, p->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, p->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    int r = ::connect(fd, p->ai_addr, p->ai_addrlen);
    if (r < 0 && errno == EINPROGRESS) {
      for (;;) {
        auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) {
          timed_out = true;
          errno = ETIMEDOUT;
          break;
        }
        pollfd pf{fd, POLLOUT, 0};
        int pr = ::poll(&pf, 1, static_cast<int>(std::min<long long>(left, 1 << 30)));
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) continue;
        int soerr = 0;
        socklen_t len = sizeof soerr;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        r = soerr == 0 ? 0 : -1;
        errno = soerr;
        break;
      }
    }
    if (r < 0) {
      err = errno;
      ::close(fd);
      fd = -1;
      if (timed_out) break;
    }
  }
  if (fd < 0) {
    if (timed_out)
      throw Error(Errc::timeout, "transport http: " + where + ": connect timed out after " +
                                     std::to_string(opts.timeout.count()) + " ms");
    throw Error(Errc::unavailable, "transport http: " + where + ": " + errno_text(err));
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  SSL* ssl = nullptr;
  try {
    if (sh->tls) ssl = sh->tls->client_ssl(fd, host);
  } catch (...) {
    ::close(fd);
    throw;
  }
  std::string host_header(addr);
  if (auto s = host_header.find("://"); s != std::string::npos) host_header.erase(0, s + 3);
  if (auto s = host_header.find('/'); s != std::string::npos) host_header.erase(s);
  auto sock =
      std::make_unique<HttpSocket>(sh, fd, ssl, HttpSocket::Role::client, std::move(host_header));
  sock->handshake(deadline);
  return sock;
}

std::unique_ptr<transport::Listener> HttpTransport::listen(std::string_view addr,
                                                           const transport::ListenOptions&) {
  auto sh = shared();
  if (sh->tls) sh->tls->check_server();  // fails early without a certificate
  std::string host, port;
  split_host_port(addr, host, port);
  const std::string where = "listen " + std::string(addr);
  AddrInfo ai;
  resolve(where, host, port, true, ai);
  int err = EADDRNOTAVAIL;
  for (addrinfo* p = ai.list; p != nullptr; p = p->ai_next) {
    int fd = ::socket(p->ai_family, p->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, p->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, p->ai_addr, p->ai_addrlen) == 0 && ::listen(fd, SOMAXCONN) == 0)
      return std::make_unique<HttpListener>(sh, fd);
    err = errno;
    ::close(fd);
  }
  throw Error(Errc::unavailable, "transport http: " + where + ": " + errno_text(err));
}

}  // namespace micro::plugins::http
