#include "rpc_server.h"

#include <charconv>
#include <deque>

#include "micro/log.h"
#include "util.h"

namespace micro::detail {

namespace {
constexpr const char* kLog = "server";
constexpr const char* kDefaultContentType = "application/protobuf";  // go-micro's server default

Error as_wire_error(const std::exception& e) {
  if (auto* me = dynamic_cast<const Error*>(&e)) {
    if (me->code() != 0 || !me->id().empty()) return *me;
    const int32_t code = code_from_errc(me->errc());
    return Error(me->errc(), me->detail(), "go.micro.server", code ? code : 500);
  }
  return errors::internal("go.micro.server", e.what());
}
}  // namespace

// The server side of one stream: frames from the connection reader, consumed by the handler.
struct RpcServer::StreamState {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> frames;
  bool eos = false;
  bool closed = false;
  std::atomic<bool> done{false};
  std::thread thread;
};

struct RpcServer::Conn {
  std::shared_ptr<transport::Socket> sock;
  std::atomic<int> busy{0};                                     // unary calls and open streams
  std::map<std::string, std::shared_ptr<StreamState>> streams;  // reader thread only

  void close_streams() {
    for (auto& [id, s] : streams) {
      std::lock_guard lock(s->mu);
      s->closed = true;
      s->cv.notify_all();
    }
  }
  void join_streams(bool all) {
    for (auto it = streams.begin(); it != streams.end();) {
      if (all || it->second->done) {
        if (it->second->thread.joinable()) it->second->thread.join();
        it = streams.erase(it);
      } else {
        ++it;
      }
    }
  }
};

namespace {

class ReqImpl final : public server::Request {
 public:
  ReqImpl(const codec::Message& m, const Codec& c, std::string ct)
      : m_(m), codec_(c), ct_(std::move(ct)) {}
  const std::string& service() const override { return m_.target; }
  const std::string& endpoint() const override { return m_.endpoint; }
  const std::string& content_type() const override { return ct_; }
  const std::string& body() const override { return m_.body; }
  void read(const codec::Payload& out) const override { codec_.read_body(m_, out); }

 private:
  const codec::Message& m_;
  const Codec& codec_;
  std::string ct_;
};

class RspImpl final : public server::Response {
 public:
  RspImpl(codec::Message& m, const Codec& c, transport::Message& out)
      : m_(m), codec_(c), out_(out) {}
  void write(const codec::Payload& in) override {
    codec_.write(m_, &in, out_);
    written_ = true;
  }
  bool written() const { return written_; }

 private:
  codec::Message& m_;
  const Codec& codec_;
  transport::Message& out_;
  bool written_ = false;
};

class StreamImpl final : public server::Stream {
 public:
  StreamImpl(std::shared_ptr<transport::Socket> sock, std::shared_ptr<void> state_keep,
             std::mutex& mu, std::condition_variable& cv, std::deque<std::string>& frames,
             bool& eos, bool& closed, codec::Message proto, const Codec& codec, Deadline deadline)
      : sock_(std::move(sock)),
        keep_(std::move(state_keep)),
        mu_(mu),
        cv_(cv),
        frames_(frames),
        eos_(eos),
        closed_(closed),
        m_(std::move(proto)),
        codec_(codec),
        deadline_(deadline) {}

  bool recv(const codec::Payload& out) override {
    std::string body;
    {
      std::unique_lock lock(mu_);
      auto ready = [&] { return !frames_.empty() || eos_ || closed_; };
      if (deadline_ == no_deadline)
        cv_.wait(lock, ready);
      else if (!cv_.wait_until(lock, deadline_, ready))
        throw errors::timeout("go.micro.server", "stream deadline exceeded");
      if (!frames_.empty()) {
        body = std::move(frames_.front());
        frames_.pop_front();
      } else if (closed_) {
        throw Error(Errc::closed, "stream closed by the client");
      } else {
        return false;  // EOS
      }
    }
    codec::Message in = m_;
    in.body = std::move(body);
    codec_.read_body(in, out);
    return true;
  }

  void send(const codec::Payload& in) override {
    codec::Message m = m_;
    m.type = codec::MessageType::response;
    m.header.clear();
    transport::Message out;
    codec_.write(std::move(m), &in, out);
    sock_->send(out);
  }

 private:
  std::shared_ptr<transport::Socket> sock_;
  std::shared_ptr<void> keep_;
  std::mutex& mu_;
  std::condition_variable& cv_;
  std::deque<std::string>& frames_;
  bool& eos_;
  bool& closed_;
  codec::Message m_;
  const Codec& codec_;
  Deadline deadline_;
};

// go-micro's server falls back to the framed legacy codecs when a request carries none of
// Micro-Service, Micro-Method, Micro-Endpoint (plain or X-), or carries Micro-Target.
std::string legacy_content_type(const Metadata& h, const std::string& ct) {
  const bool mucp = !get(h, "Micro-Service").empty() || !get(h, "Micro-Method").empty() ||
                    !get(h, "Micro-Endpoint").empty() || !get(h, "X-Micro-Service").empty() ||
                    !get(h, "X-Micro-Method").empty() || !get(h, "X-Micro-Endpoint").empty();
  if (mucp && get(h, "Micro-Target").empty()) return ct;
  if (ct == "application/json") return "application/json-rpc";
  if (ct == "application/protobuf" || ct == "application/octet-stream")
    return "application/proto-rpc";
  return ct;
}

// go-micro's Timeout header: nanoseconds as a decimal integer.
bool parse_timeout(std::string_view v, Deadline& out) {
  uint64_t ns = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), ns);
  if (ec != std::errc() || p != v.data() + v.size()) return false;
  if (ns == 0) return true;
  const auto cap = std::chrono::hours(24 * 365);
  auto d = std::chrono::nanoseconds(
      std::min<uint64_t>(ns, std::chrono::duration_cast<std::chrono::nanoseconds>(cap).count()));
  out = Clock::now() + std::chrono::duration_cast<Clock::duration>(d);
  return true;
}

}  // namespace

RpcServer::RpcServer(Runtime& rt) : rt_(rt) {}

RpcServer::~RpcServer() { stop(); }

void RpcServer::init(const Options& options) {
  std::lock_guard lock(mu_);
  if (started_) throw Error(Errc::conflict, "server: init after start");
  opts_ = options;
  if (opts_.register_interval >= opts_.register_ttl)
    throw Error(Errc::config, "server: register_interval must be less than register_ttl");
}

Server::Options RpcServer::options() const {
  std::lock_guard lock(mu_);
  return opts_;
}

void RpcServer::handle(server::Handler h) {
  std::lock_guard lock(mu_);
  if (started_) throw Error(Errc::conflict, "server: handle() after start()");
  for (auto& ep : h.endpoints) {
    const std::string& name = ep.description.name;
    if (name.find('.') == std::string::npos)
      throw Error(Errc::bad_request, "server: endpoint \"" + name + "\" must be Handler.Method");
    if (bool(ep.unary) == bool(ep.stream))
      throw Error(Errc::bad_request,
                  "server: endpoint \"" + name + "\" needs exactly one of unary and stream");
    if (routes_.count(name))
      throw Error(Errc::conflict, "server: endpoint \"" + name + "\" registered twice");
    Route r;
    if (ep.unary) {
      r.unary = ep.unary;
      for (auto it = opts_.handler_wrappers.rbegin(); it != opts_.handler_wrappers.rend(); ++it)
        r.unary = (*it)(r.unary);
    } else {
      r.stream = ep.stream;
      for (auto it = opts_.stream_wrappers.rbegin(); it != opts_.stream_wrappers.rend(); ++it)
        r.stream = (*it)(r.stream);
      ep.description.metadata["stream"] = "true";
    }
    routes_.emplace(name, std::move(r));
    endpoints_.push_back(ep);
  }
}

void RpcServer::subscribe(server::Subscriber s) {
  std::lock_guard lock(mu_);
  if (started_) throw Error(Errc::conflict, "server: subscribe() after start()");
  for (auto it = opts_.subscriber_wrappers.rbegin(); it != opts_.subscriber_wrappers.rend(); ++it)
    s.fn = (*it)(s.fn);
  s.description.metadata["topic"] = s.topic;
  s.description.metadata["subscriber"] = "true";
  if (s.description.name.empty()) s.description.name = s.topic;
  subscribers_.push_back(std::move(s));
}

std::string RpcServer::address() const {
  std::lock_guard lock(mu_);
  return address_;
}

registry::Service RpcServer::registration() const {
  std::lock_guard lock(mu_);
  return record_;
}

void RpcServer::start() {
  std::unique_lock lock(mu_);
  if (started_) return;
  if (opts_.id.empty()) opts_.id = opts_.name + "-" + uuid4();
  auto transport = rt_.transport();
  listener_ = transport->listen(opts_.address);
  address_ = listener_->addr();
  stopping_ = false;
  draining_ = false;

  // The registry record: go-micro's node metadata, our endpoints.
  registry::Node node;
  node.id = opts_.id;
  node.address = opts_.advertise.empty() ? advertise_address(address_) : opts_.advertise;
  node.metadata = opts_.metadata;
  node.metadata["transport"] = transport->name();
  node.metadata["broker"] = rt_.broker()->name();
  node.metadata["server"] = "mucp";
  node.metadata["registry"] = rt_.registry()->name();
  node.metadata["protocol"] = "mucp";
  record_ = registry::Service{opts_.name, opts_.version, {}, {}, {node}};
  for (const auto& ep : endpoints_) record_.endpoints.push_back(ep.description);
  for (const auto& s : subscribers_) record_.endpoints.push_back(s.description);

  // Subscribers, through the broker.
  try {
    for (auto& s : subscribers_) {
      auto fn = s.fn;
      Runtime* rt = &rt_;
      broker_subs_.push_back(rt_.broker()->subscribe(
          s.topic,
          [fn, rt](broker::Event& ev) {
            const auto& bm = ev.message();
            std::string ct(get(bm.header, "Content-Type"));
            if (ct.empty()) ct = kDefaultContentType;
            auto codec = rt->codec(ct);  // throws: counted by the broker as a failed delivery
            codec::Message m;
            m.target = m.endpoint = m.method = ev.topic();
            m.id = std::string(get(bm.header, "Micro-Id"));
            m.header = bm.header;
            m.body = bm.body;
            Context ctx;
            ctx.metadata = bm.header;
            ctx.from_service = std::string(get(bm.header, "Micro-From-Service"));
            ReqImpl req(m, *codec, ct);
            fn(ctx, req);
          },
          broker::SubscribeOptions{s.queue, true}));
    }
  } catch (...) {
    broker_subs_.clear();
    listener_->close();
    listener_.reset();
    throw;
  }

  started_ = true;
  accept_thread_ = std::thread([this] {
    try {
      listener_->accept([this](std::shared_ptr<transport::Socket> s) { serve(s); });
    } catch (const std::exception& e) {
      log::error(kLog, std::string("listener failed: ") + e.what());
    }
  });
  lock.unlock();

  // Register before returning (3 attempts with backoff), then keep re-registering.
  bool ok = false;
  for (int attempt = 0; attempt < 3 && !ok; ++attempt) {
    if (attempt) std::this_thread::sleep_for(std::chrono::milliseconds(100 << attempt));
    ok = register_once(attempt == 2);
  }
  if (!ok) {
    stop();
    throw Error(Errc::unavailable, "server: could not register " + opts_.name + " with the " +
                                       rt_.registry()->name() + " registry");
  }
  register_thread_ = std::thread([this] { register_loop(); });
  log::info(kLog, "serving " + opts_.name + " (" + opts_.id + ") on " + address_);
}

bool RpcServer::register_once(bool log_failure) {
  registry::Service rec;
  {
    std::lock_guard lock(mu_);
    rec = record_;
  }
  try {
    rt_.registry()->register_service(rec, registry::RegisterOptions{opts_.register_ttl});
    std::lock_guard lock(mu_);
    registered_ = true;
    return true;
  } catch (const std::exception& e) {
    if (log_failure) log::warn(kLog, std::string("register failed: ") + e.what());
    return false;
  }
}

void RpcServer::register_loop() {
  std::unique_lock lock(mu_);
  const std::chrono::milliseconds interval = opts_.register_interval;
  std::chrono::milliseconds wait = interval;
  int failures = 0;
  while (!stopping_) {
    if (stop_cv_.wait_for(lock, wait, [&] { return stopping_; })) break;
    lock.unlock();
    const bool ok = register_once(true);
    lock.lock();
    // After a failure retry sooner, backing off from 200 ms up to the interval.
    failures = ok ? 0 : std::min(failures + 1, 16);
    wait =
        ok ? interval : std::min(std::chrono::milliseconds(200) * (1 << (failures - 1)), interval);
  }
}

void RpcServer::stop() noexcept {
  std::unique_lock lock(mu_);
  if (!started_) return;
  started_ = false;
  stopping_ = true;
  stop_cv_.notify_all();
  const bool was_registered = registered_;
  registered_ = false;
  const auto rec = record_;
  const auto drain = opts_.drain_timeout;
  lock.unlock();

  if (register_thread_.joinable()) register_thread_.join();
  // 1. Deregister, so new calls go elsewhere.
  if (was_registered) {
    try {
      rt_.registry()->deregister(rec);
    } catch (const std::exception& e) {
      log::warn(kLog, std::string("deregister failed: ") + e.what());
    }
  }
  // 2. Stop accepting.
  draining_ = true;
  if (listener_) listener_->close();
  if (accept_thread_.joinable()) accept_thread_.join();
  for (auto& s : broker_subs_) {
    try {
      s->unsubscribe();
    } catch (const std::exception& e) {
      log::warn(kLog, std::string("unsubscribe failed: ") + e.what());
    }
  }
  broker_subs_.clear();
  // 3. Close idle connections now; busy ones close after their current call, up to drain.
  std::unique_lock cl(conn_mu_);
  for (auto& c : conns_)
    if (c->busy == 0) c->sock->close();
  if (!conn_cv_.wait_for(cl, drain, [&] { return conns_.empty(); })) {
    log::warn(kLog, "drain timeout: closing " + std::to_string(conns_.size()) +
                        " connection(s) with calls in flight");
  }
  for (auto& c : conns_) c->sock->close();
  conn_cv_.wait_for(cl, std::chrono::seconds(5), [&] { return conns_.empty(); });
  cl.unlock();
  listener_.reset();
}

void RpcServer::serve(const std::shared_ptr<transport::Socket>& sock) {
  auto conn = std::make_shared<Conn>();
  conn->sock = sock;
  {
    std::lock_guard lock(conn_mu_);
    if (draining_) {
      sock->close();
      return;
    }
    conns_.insert(conn);
  }
  while (true) {
    transport::Message msg;
    try {
      sock->recv(msg);
    } catch (const Error& e) {
      if (e.errc() != Errc::closed && e.errc() != Errc::timeout)
        log::debug(kLog, "connection " + sock->remote() + ": " + e.what());
      break;
    }
    if (draining_ && conn->streams.empty()) break;  // not served: the client retries elsewhere
    conn->join_streams(false);

    // Pick the codec by Content-Type (go-micro: protobuf when absent).
    std::string ct(get(msg.header, "Content-Type"));
    if (ct.empty()) ct = kDefaultContentType;
    ct = legacy_content_type(msg.header, ct);
    std::shared_ptr<Codec> codec;
    try {
      codec = rt_.codec(ct);
    } catch (const Error&) {
      transport::Message out;
      out.header.emplace("Content-Type", "text/plain");
      if (auto id = get(msg.header, "Micro-Id"); !id.empty())
        out.header.emplace("Micro-Id", std::string(id));
      out.body = "Unsupported Content-Type: " + ct;
      try {
        sock->send(out);
      } catch (const Error&) {
        break;
      }
      continue;
    }

    codec::Message m;
    try {
      codec->read_header(std::move(msg), m, codec::MessageType::request);
    } catch (const Error& e) {
      send_error(*conn, m, codec.get(), errors::bad_request("go.micro.server", e.detail()));
      continue;
    }

    // Frames of an open stream.
    const std::string stream_id(get(m.header, "Micro-Stream"));
    if (!stream_id.empty()) {
      if (auto it = conn->streams.find(stream_id); it != conn->streams.end()) {
        auto& st = *it->second;
        std::lock_guard lock(st.mu);
        if (m.error == "EOS")
          st.eos = true;
        else if (!m.error.empty())
          st.closed = true;
        else
          st.frames.push_back(std::move(m.body));
        st.cv.notify_all();
        continue;
      }
      if (m.error == "EOS") continue;  // EOS for a stream we no longer know: ignored
    }

    Deadline deadline = no_deadline;
    if (auto t = get(m.header, "Timeout"); !t.empty() && !parse_timeout(t, deadline)) {
      send_error(*conn, m, codec.get(),
                 errors::bad_request("go.micro.server",
                                     "invalid Timeout header \"" + std::string(t) +
                                         "\": expected nanoseconds as a decimal integer"));
      continue;
    }

    const Route* route = nullptr;
    {
      auto it = routes_.find(m.endpoint);  // routes_ is immutable after start()
      if (it != routes_.end()) route = &it->second;
    }
    if (route == nullptr) {
      const std::string what =
          m.endpoint.empty() ? "missing Micro-Endpoint header" : "unknown endpoint " + m.endpoint;
      send_error(*conn, m, codec.get(),
                 m.endpoint.empty() ? errors::bad_request("go.micro.server", what)
                                    : errors::not_found("go.micro.server", what));
      continue;
    }
    if (route->stream) {
      if (stream_id.empty()) m.header.insert_or_assign("Micro-Stream", m.id);
      open_stream(*conn, *route, std::move(m), codec, deadline);
      continue;
    }
    conn->busy++;
    handle_unary(*conn, *route, m, *codec, deadline);
    conn->busy--;
    if (draining_) break;
  }

  conn->close_streams();
  conn->join_streams(true);
  sock->close();
  std::lock_guard lock(conn_mu_);
  conns_.erase(conn);
  conn_cv_.notify_all();
}

void RpcServer::handle_unary(Conn& c, const Route& r, codec::Message& m, const Codec& codec,
                             Deadline deadline) {
  Context ctx;
  ctx.deadline = deadline;
  ctx.from_service = std::string(get(m.header, "Micro-From-Service"));
  ReqImpl req(m, codec, std::string(get(m.header, "Content-Type")));
  ctx.metadata = std::move(m.header);  // the request's headers are the handler's metadata
  codec::Message reply;
  reply.id = m.id;
  reply.type = codec::MessageType::response;
  reply.target = m.target;
  reply.method = m.method;
  reply.endpoint = m.endpoint;
  transport::Message out;
  RspImpl rsp(reply, codec, out);
  try {
    r.unary(ctx, req, rsp);
    if (deadline != no_deadline && Clock::now() > deadline)
      throw errors::timeout("go.micro.server", "deadline exceeded while handling " + m.endpoint);
    if (!rsp.written()) codec.write(reply, nullptr, out);
    for (const auto& [k, v] : ctx.response_metadata) out.header.insert_or_assign(k, v);
  } catch (const std::exception& e) {
    send_error(c, m, &codec, as_wire_error(e));
    return;
  }
  try {
    c.sock->send(out);
  } catch (const Error&) {
    c.sock->close();
  }
}

void RpcServer::open_stream(Conn& c, const Route& r, codec::Message m, std::shared_ptr<Codec> codec,
                            Deadline deadline) {
  auto st = std::make_shared<StreamState>();
  const std::string id = std::string(get(m.header, "Micro-Stream"));
  c.streams[id] = st;
  c.busy++;
  auto sock = c.sock;
  auto* conn = &c;
  auto fn = r.stream;
  // The first frame's body is dropped, as go-micro's router does: messages come by recv().
  st->thread = std::thread([this, st, sock, conn, fn, m = std::move(m), codec, deadline]() mutable {
    Context ctx;
    ctx.metadata = m.header;
    ctx.deadline = deadline;
    ctx.from_service = std::string(get(m.header, "Micro-From-Service"));
    codec::Message proto = m;
    proto.body.clear();
    proto.error.clear();
    ReqImpl req(m, *codec, std::string(get(m.header, "Content-Type")));
    StreamImpl stream(sock, st, st->mu, st->cv, st->frames, st->eos, st->closed, proto, *codec,
                      deadline);
    codec::Message end = proto;
    end.type = codec::MessageType::error;
    end.header.clear();
    try {
      fn(ctx, req, stream);
      end.error = "EOS";
    } catch (const std::exception& e) {
      end.error = as_wire_error(e).to_json();
    }
    try {
      transport::Message out;
      codec->write(std::move(end), nullptr, out);
      sock->send(out);
    } catch (const Error&) {
    }
    conn->busy--;
    st->done = true;
    if (draining_) sock->close();
  });
}

void RpcServer::send_error(Conn& c, const codec::Message& m, const Codec* codec, const Error& e) {
  codec::Message reply;
  reply.id = m.id;
  reply.type = codec::MessageType::error;
  reply.target = m.target;
  reply.method = m.method;
  reply.endpoint = m.endpoint;
  reply.error = e.to_json();
  transport::Message out;
  if (codec)
    codec->write(std::move(reply), nullptr, out);
  else {
    out.header.emplace("Micro-Error", reply.error);
    if (!reply.id.empty()) out.header.emplace("Micro-Id", reply.id);
  }
  try {
    c.sock->send(out);
  } catch (const Error&) {
    c.sock->close();
  }
}

}  // namespace micro::detail
