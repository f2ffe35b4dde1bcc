#include "zmq_transport.h"

#include <nlohmann/json.hpp>

#include "framing.h"
#include "micro/log.h"

namespace micro::plugins::zmqt {

namespace {

class ZmqListener final : public transport::Listener {
 public:
  explicit ZmqListener(std::shared_ptr<Router> r) : r_(std::move(r)) {}
  ~ZmqListener() override { close(); }
  std::string addr() const override { return r_->addr(); }
  void close() noexcept override { r_->close_listener(); }
  void accept(const std::function<void(std::shared_ptr<transport::Socket>)>& fn) override {
    r_->accept(fn);
  }

 private:
  std::shared_ptr<Router> r_;
};

template <class T>
T get_opt(const nlohmann::json& j, const char* key, T def) {
  if (!j.contains(key)) return def;
  try {
    return j.at(key).get<T>();
  } catch (const std::exception&) {
    throw Error(Errc::config,
                std::string("transport zmq: option \"") + key + "\" has the wrong type");
  }
}

void check_key(const std::string& k, const char* name) {
  if (!k.empty() && k.size() != 40)
    throw Error(Errc::config,
                std::string("transport zmq: curve.") + name + " must be a 40-character Z85 key");
}

}  // namespace

Options parse_options(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw Error(Errc::config, "transport zmq: options are not a JSON object");
  Options o;
  o.sndhwm = get_opt<int>(j, "sndhwm", o.sndhwm);
  o.rcvhwm = get_opt<int>(j, "rcvhwm", o.rcvhwm);
  o.max_message_bytes = get_opt<int64_t>(j, "max_message_bytes", o.max_message_bytes);
  o.idle_timeout =
      std::chrono::milliseconds(get_opt<int64_t>(j, "idle_timeout_ms", o.idle_timeout.count()));
  o.max_connections = get_opt<int>(j, "max_connections", o.max_connections);
  o.linger_ms = get_opt<int>(j, "linger_ms", o.linger_ms);
  o.heartbeat_ms = get_opt<int>(j, "heartbeat_ms", o.heartbeat_ms);
  o.send_timeout =
      std::chrono::milliseconds(get_opt<int64_t>(j, "send_timeout_ms", o.send_timeout.count()));
  if (o.sndhwm < 1) throw Error(Errc::config, "transport zmq: sndhwm must be at least 1");
  if (o.rcvhwm < 1) throw Error(Errc::config, "transport zmq: rcvhwm must be at least 1");
  if (o.max_message_bytes < 64)
    throw Error(Errc::config, "transport zmq: max_message_bytes must be at least 64");
  if (o.idle_timeout.count() < 1)
    throw Error(Errc::config, "transport zmq: idle_timeout_ms must be at least 1");
  if (o.max_connections < 1)
    throw Error(Errc::config, "transport zmq: max_connections must be at least 1");
  if (o.heartbeat_ms < 0)
    throw Error(Errc::config, "transport zmq: heartbeat_ms must not be negative");
  if (j.contains("curve")) {
    const auto& c = j["curve"];
    if (!c.is_object()) throw Error(Errc::config, "transport zmq: curve must be an object");
    o.curve_server_key = get_opt<std::string>(c, "server_key", "");
    o.curve_public_key = get_opt<std::string>(c, "public_key", "");
    o.curve_secret_key = get_opt<std::string>(c, "secret_key", "");
    check_key(o.curve_server_key, "server_key");
    check_key(o.curve_public_key, "public_key");
    check_key(o.curve_secret_key, "secret_key");
  }
  return o;
}

void apply_socket_options(zmq::socket_t& s, const Options& o) {
  s.set(zmq::sockopt::sndhwm, o.sndhwm);
  s.set(zmq::sockopt::rcvhwm, o.rcvhwm);
  s.set(zmq::sockopt::maxmsgsize, o.max_message_bytes);
  s.set(zmq::sockopt::linger, o.linger_ms);
  if (o.heartbeat_ms > 0) {
    s.set(zmq::sockopt::heartbeat_ivl, o.heartbeat_ms);
    s.set(zmq::sockopt::heartbeat_timeout, o.heartbeat_ms * 3);
    s.set(zmq::sockopt::heartbeat_ttl, o.heartbeat_ms * 3);
  }
}

void throw_zmq(Errc errc, const std::string& what, const zmq::error_t& e) {
  throw Error(errc, what + ": " + e.what());
}

ZmqTransport::ZmqTransport() = default;

ZmqTransport::~ZmqTransport() { stop(); }

void ZmqTransport::init(const Transport::Options& options) {
  auto o = parse_options(options.plugin_options);
  std::lock_guard lock(mu_);
  topts_ = options;
  opts_ = o;
}

Transport::Options ZmqTransport::options() const {
  std::lock_guard lock(mu_);
  return topts_;
}

void ZmqTransport::start() {
  std::lock_guard lock(mu_);
  stopped_ = false;
}

std::shared_ptr<zmq::context_t> ZmqTransport::context() {
  if (stopped_) throw Error(Errc::closed, "zmq: transport stopped");
  if (!ctx_) ctx_ = std::make_shared<zmq::context_t>(1);
  return ctx_;
}

void ZmqTransport::stop() noexcept {
  std::map<std::string, std::shared_ptr<Dealer>> dealers;
  std::vector<std::shared_ptr<Router>> routers;
  std::shared_ptr<zmq::context_t> ctx;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    dealers.swap(dealers_);
    routers.swap(routers_);
    ctx.swap(ctx_);
  }
  for (auto& r : routers) r->stop();
  for (auto& [ep, d] : dealers) d->stop();
  if (stats_->dropped || stats_->refused)
    log::debug("transport-zmq", "dropped " + std::to_string(stats_->dropped.load()) +
                                    " malformed message(s), refused " +
                                    std::to_string(stats_->refused.load()) + " connection(s)");
  // Terminate the context here (every zmq socket is closed by now): zmq_ctx_term waits up to
  // linger_ms for queued messages (last replies) to be written.
  routers.clear();
  dealers.clear();
  ctx.reset();
}

std::unique_ptr<transport::Socket> ZmqTransport::dial(std::string_view addr,
                                                      const transport::DialOptions& opts) {
  const std::string endpoint = to_endpoint(addr, false);
  std::shared_ptr<Dealer> d;
  {
    std::lock_guard lock(mu_);
    auto ctx = context();
    // Forget connections to servers that have been gone a while: zmq would retry them forever.
    for (auto it = dealers_.begin(); it != dealers_.end();) {
      if (it->first != endpoint && it->second->unused_for(std::chrono::seconds(30))) {
        it->second->stop();
        it = dealers_.erase(it);
      } else {
        ++it;
      }
    }
    auto& slot = dealers_[endpoint];
    if (!slot || slot->stopped())
      slot = std::make_shared<Dealer>(ctx, opts_, endpoint, from_endpoint(endpoint), stats_);
    d = slot;
  }
  return d->open(opts.timeout.count() > 0 ? opts.timeout : std::chrono::milliseconds(5000));
}

std::unique_ptr<transport::Listener> ZmqTransport::listen(std::string_view addr,
                                                          const transport::ListenOptions&) {
  const std::string endpoint = to_endpoint(addr, true);
  std::lock_guard lock(mu_);
  auto ctx = context();
  for (auto it = routers_.begin(); it != routers_.end();) {  // forget listeners that are done
    if ((*it)->finished()) {
      (*it)->stop();
      it = routers_.erase(it);
    } else {
      ++it;
    }
  }
  auto r = std::make_shared<Router>(ctx, opts_, endpoint, stats_);
  routers_.push_back(r);
  return std::make_unique<ZmqListener>(r);
}

}  // namespace micro::plugins::zmqt
