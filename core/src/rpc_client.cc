#include "rpc_client.h"

#include <thread>

#include "micro/log.h"
#include "util.h"

namespace micro::detail {

namespace {

constexpr const char* kTransportId = "go.micro.client.transport";

Error transport_error(const Error& e, const std::string& addr) {
  if (e.errc() == Errc::timeout)
    return errors::timeout("go.micro.client", "call to " + addr + " timed out: " + e.detail());
  return Error(Errc::unavailable, addr + ": " + e.detail(), kTransportId, 500);
}

// Retried: failures before the server could act on the call, and 503s.
bool retryable(const Error& e) {
  if (e.id() == kTransportId) return true;
  return e.code() == 503 ||
         (e.code() == 0 && (e.errc() == Errc::unavailable || e.errc() == Errc::closed));
}

// go-micro's setupProtocol: a node registered without "protocol" metadata is an old server
// that only speaks the framed legacy codecs (spec/gomicro-wire.md §2.2).
std::string wire_content_type(const registry::Node& node, const std::string& ct) {
  if (node.metadata.count("protocol")) return ct;
  if (ct == "application/json") return "application/json-rpc";
  if (ct == "application/protobuf") return "application/proto-rpc";
  return ct;
}

// A node given by address only (CallOptions::address) is taken to speak mucp.
registry::Node direct_node(const std::string& address) {
  return registry::Node{address, address, {{"protocol", "mucp"}}};
}

std::chrono::milliseconds backoff(int attempt) {
  if (attempt <= 1)
    return std::chrono::milliseconds(0);  // the first retry goes straight to another node
  return std::chrono::milliseconds(std::min(100 << std::min(attempt - 2, 10), 5000));
}

class StreamImpl final : public client::Stream {
 public:
  StreamImpl(std::unique_ptr<transport::Socket> sock, std::shared_ptr<Codec> codec,
             codec::Message base, Deadline deadline, std::string addr)
      : sock_(std::move(sock)),
        codec_(std::move(codec)),
        base_(std::move(base)),
        deadline_(deadline),
        addr_(std::move(addr)) {}
  ~StreamImpl() override { close(); }

  void send(const codec::Payload& m) override {
    if (sent_eos_) throw Error(Errc::closed, "stream: send after close_send");
    transport::Message out;
    codec_->write(base_, &m, out);
    wrap([&] { sock_->send(out); });
  }

  bool recv(const codec::Payload& m) override {
    if (eof_) return false;
    transport::Message in;
    wrap([&] { sock_->recv(in, deadline_); });
    if (header_.empty()) header_ = in.header;
    codec::Message cm;
    codec_->read_header(std::move(in), cm, codec::MessageType::response);
    if (cm.error == "EOS") {
      eof_ = true;
      return false;
    }
    if (!cm.error.empty()) {
      eof_ = true;
      throw Error::parse(cm.error);
    }
    codec_->read_body(cm, m);
    return true;
  }

  void close_send() override {
    if (sent_eos_) return;
    sent_eos_ = true;
    codec::Message eos = base_;
    eos.error = "EOS";
    transport::Message out;
    codec_->write(std::move(eos), nullptr, out);
    wrap([&] { sock_->send(out); });
  }

  void close() noexcept override {
    if (closed_) return;
    closed_ = true;
    try {
      close_send();
    } catch (const std::exception&) {
    }
    sock_->close();
  }

  const Metadata& header() const override { return header_; }

 private:
  template <class F>
  void wrap(F f) {
    try {
      f();
    } catch (const Error& e) {
      if (e.errc() == Errc::timeout)
        throw errors::timeout("go.micro.client", "stream to " + addr_ + ": " + e.detail());
      throw Error(e.errc() == Errc::closed ? Errc::closed : Errc::unavailable,
                  "stream to " + addr_ + ": " + e.detail(), kTransportId, 500);
    }
  }

  std::unique_ptr<transport::Socket> sock_;
  std::shared_ptr<Codec> codec_;
  codec::Message base_;
  Deadline deadline_;
  std::string addr_;
  Metadata header_;
  bool sent_eos_ = false;
  bool eof_ = false;
  bool closed_ = false;
};

}  // namespace

RpcClient::RpcClient(Runtime& rt, std::string from_service)
    : rt_(rt), from_service_(std::move(from_service)) {
  init(Options{});
}

RpcClient::~RpcClient() { stop(); }

void RpcClient::init(const Options& options) {
  std::lock_guard lock(mu_);
  opts_ = options;
  client::CallFunc f = [this](Context& ctx, const registry::Node& node, const client::Request& req,
                              const codec::Payload& in, const codec::Payload& out,
                              const client::CallOptions& o) {
    attempt(ctx, node, req, in, out, o);
  };
  for (auto it = opts_.wrappers.rbegin(); it != opts_.wrappers.rend(); ++it) f = (*it)(f);
  chain_ = std::move(f);
}

Client::Options RpcClient::options() const {
  std::lock_guard lock(mu_);
  return opts_;
}

void RpcClient::stop() noexcept {
  std::lock_guard lock(pool_mu_);
  pool_.clear();
}

std::shared_ptr<Transport> RpcClient::transport_for(const registry::Node& node) {
  auto def = rt_.transport();
  auto it = node.metadata.find("transport");
  if (it == node.metadata.end() || it->second.empty() || it->second == def->name()) return def;
  try {
    return rt_.transport(it->second);
  } catch (const std::exception& e) {
    throw Error(Errc::unavailable,
                "node " + node.id + " (" + node.address + ") uses transport \"" + it->second +
                    "\", which cannot be loaded: " + e.what(),
                "go.micro.client", 500);
  }
}

std::unique_ptr<transport::Socket> RpcClient::take(const std::string& addr,
                                                   Clock::time_point& created,
                                                   std::shared_ptr<Transport>& transport,
                                                   const registry::Node& node) {
  {
    std::lock_guard lock(pool_mu_);
    auto it = pool_.find(addr);
    if (it != pool_.end()) {
      const auto now = Clock::now();
      while (!it->second.empty()) {
        Pooled p = std::move(it->second.back());
        it->second.pop_back();
        if (now - p.created < opts_.pool_ttl) {
          created = p.created;
          return std::move(p.sock);
        }
      }
    }
  }
  transport = transport_for(node);
  created = Clock::now();
  return transport->dial(addr);
}

void RpcClient::give(const std::string& addr, std::unique_ptr<transport::Socket> s,
                     Clock::time_point created) {
  std::lock_guard lock(pool_mu_);
  auto& q = pool_[addr];
  if (q.size() < opts_.pool_size) q.push_back(Pooled{std::move(s), created});
}

transport::Message RpcClient::request_message(Context& ctx, const client::Request& req,
                                              const std::string& ct, const Codec& codec,
                                              const codec::Payload* body, Deadline deadline,
                                              const std::string& id, bool stream) {
  codec::Message cm;
  cm.id = id;
  cm.type = codec::MessageType::request;
  cm.target = req.service;
  cm.method = req.endpoint;
  cm.endpoint = req.endpoint;
  cm.header = ctx.metadata;
  cm.header.insert_or_assign("Content-Type", ct);
  cm.header.insert_or_assign("Accept", ct);
  if (deadline != no_deadline) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now()).count();
    cm.header.insert_or_assign("Timeout", std::to_string(ns > 0 ? ns : 1));
  }
  if (stream) cm.header.insert_or_assign("Micro-Stream", id);
  if (!from_service_.empty() && !cm.header.count("Micro-From-Service"))
    cm.header.emplace("Micro-From-Service", from_service_);
  transport::Message out;
  codec.write(std::move(cm), body, out);
  if (body == nullptr) out.header.insert_or_assign("Content-Type", ct);
  return out;
}

void RpcClient::attempt(Context& ctx, const registry::Node& node, const client::Request& req,
                        const codec::Payload& in, const codec::Payload& out,
                        const client::CallOptions& /*opts: applied by call()*/) {
  const std::string ct =
      wire_content_type(node, req.content_type.empty() ? opts_.content_type : req.content_type);
  auto codec = rt_.codec(ct);
  const Deadline deadline = ctx.deadline;  // set by call(): the caller's, capped by the timeout
  const std::string id = std::to_string(seq_++);
  transport::Message msg = request_message(ctx, req, ct, *codec, &in, deadline, id, false);

  transport::Message rsp;
  std::shared_ptr<Transport> transport;
  for (int tries = 0;; ++tries) {
    Clock::time_point created;
    std::unique_ptr<transport::Socket> sock;
    try {
      sock = take(node.address, created, transport, node);
    } catch (const Error& e) {
      if (e.id().empty()) throw transport_error(e, node.address);
      throw;
    }
    const bool reused = !transport;
    try {
      sock->send(msg);
      sock->recv(rsp, deadline);
    } catch (const Error& e) {
      sock->close();
      // A pooled connection the server closed while idle: dial once more.
      if (reused && tries == 0 && e.errc() == Errc::closed) continue;
      throw transport_error(e, node.address);
    }
    give(node.address, std::move(sock), created);
    break;
  }

  codec::Message cm;
  codec->read_header(std::move(rsp), cm, codec::MessageType::response);
  if (!cm.error.empty()) throw Error::parse(cm.error);
  if (get(cm.header, "Content-Type") == "text/plain" &&
      cm.body.starts_with("Unsupported Content-Type"))
    throw errors::bad_request("go.micro.client", cm.body);
  codec->read_body(cm, out);
  ctx.response_metadata = std::move(cm.header);
}

void RpcClient::call(Context& ctx, const client::Request& req, const codec::Payload& in,
                     const codec::Payload& out, const client::CallOptions& opts) {
  const auto timeout = opts.timeout.count() > 0 ? opts.timeout : opts_.request_timeout;
  const Deadline deadline = std::min(ctx.deadline, Clock::now() + timeout);
  const int retries = opts.retries >= 0 ? opts.retries : opts_.retries;

  selector::Next next;
  std::shared_ptr<Selector> sel;
  if (!opts.address.empty()) {
    bool used = false;
    registry::Node direct = direct_node(opts.address);
    next = [direct, used]() mutable {
      if (used) throw Error(Errc::unavailable, "no more nodes");
      used = true;
      return direct;
    };
  } else {
    sel = rt_.selector();
    next = sel->select(req.service, opts.select);
  }

  // Wrappers and the attempt see the call's effective deadline; the caller's comes back after.
  struct RestoreDeadline {
    Context& ctx;
    Deadline saved;
    ~RestoreDeadline() { ctx.deadline = saved; }
  } restore{ctx, ctx.deadline};
  ctx.deadline = deadline;
  std::optional<Error> last;
  for (int n = 0; n <= retries; ++n) {
    if (n > 0) {
      auto wait = backoff(n);
      if (Clock::now() + wait >= deadline) break;
      if (wait.count()) std::this_thread::sleep_for(wait);
    }
    registry::Node node;
    try {
      node = next();
    } catch (const Error& e) {
      if (last) break;
      throw Error(Errc::unavailable, "no node of " + req.service + " available: " + e.detail(),
                  "go.micro.client", 500);
    }
    try {
      chain_(ctx, node, req, in, out, opts);
      if (sel) sel->mark(req.service, node, nullptr);
      return;
    } catch (const Error& e) {
      if (sel) sel->mark(req.service, node, &e);
      if (!retryable(e) || Clock::now() >= deadline) throw;
      last = e;
    }
  }
  throw *last;
}

std::unique_ptr<client::Stream> RpcClient::stream(Context& ctx, const client::Request& req,
                                                  const client::CallOptions& opts) {
  const std::string requested_ct = req.content_type.empty() ? opts_.content_type : req.content_type;
  const Deadline deadline =
      opts.timeout.count() > 0 ? std::min(ctx.deadline, Clock::now() + opts.timeout) : ctx.deadline;
  const int retries = opts.retries >= 0 ? opts.retries : opts_.retries;
  std::shared_ptr<Selector> sel;
  selector::Next next;
  if (opts.address.empty()) {
    sel = rt_.selector();
    next = sel->select(req.service, opts.select);
  }
  std::optional<Error> last;
  for (int n = 0; n <= retries; ++n) {
    registry::Node node;
    if (next) {
      try {
        node = next();
      } catch (const Error& e) {
        if (last) break;
        throw Error(Errc::unavailable, "no node of " + req.service + " available: " + e.detail(),
                    "go.micro.client", 500);
      }
    } else {
      node = direct_node(opts.address);
    }
    try {
      const std::string ct = wire_content_type(node, requested_ct);
      auto codec = rt_.codec(ct);
      auto transport = transport_for(node);
      std::unique_ptr<transport::Socket> sock;
      try {
        sock = transport->dial(node.address,
                               transport::DialOptions{true, std::chrono::milliseconds(5000)});
      } catch (const Error& e) {
        throw transport_error(e, node.address);
      }
      const std::string id = std::to_string(seq_++);
      transport::Message first = request_message(ctx, req, ct, *codec, nullptr, deadline, id, true);
      try {
        sock->send(first);
      } catch (const Error& e) {
        throw transport_error(e, node.address);
      }
      codec::Message base;
      codec->read_header(std::move(first), base, codec::MessageType::request);
      base.body.clear();
      base.header.erase("Content-Length");
      if (sel) sel->mark(req.service, node, nullptr);
      return std::make_unique<StreamImpl>(std::move(sock), codec, std::move(base), deadline,
                                          node.address);
    } catch (const Error& e) {
      if (sel) sel->mark(req.service, node, &e);
      if (!retryable(e)) throw;
      last = e;
    }
  }
  throw *last;
}

void RpcClient::publish(Context& ctx, std::string_view topic, const codec::Payload& msg,
                        const client::PublishOptions& opts) {
  const std::string ct = opts.content_type.empty() ? opts_.content_type : opts.content_type;
  auto codec = rt_.codec(ct);
  broker::Message m;
  m.header = ctx.metadata;
  m.header.insert_or_assign("Content-Type", ct);
  m.header.insert_or_assign("Micro-Topic", std::string(topic));
  m.header.insert_or_assign("Micro-Id", uuid4());
  if (!from_service_.empty() && !m.header.count("Micro-From-Service"))
    m.header.emplace("Micro-From-Service", from_service_);
  codec->marshal(msg, m.body);
  rt_.broker()->publish(topic, m);
}

}  // namespace micro::detail
