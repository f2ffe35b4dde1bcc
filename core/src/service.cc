// The default Service: a Runtime (its plugins), the rpc server and client, run until a signal.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "micro/log.h"
#include "micro/micro.h"
#include "micro/runtime.h"
#include "rpc_client.h"
#include "rpc_server.h"

namespace micro {
namespace {

// Self-pipe for SIGINT/SIGTERM: the handler only writes a byte.
int g_signal_pipe[2] = {-1, -1};

void on_signal(int) {
  const char b = 1;
  if (g_signal_pipe[1] >= 0) [[maybe_unused]]
    auto r = ::write(g_signal_pipe[1], &b, 1);
}

class ServiceImpl final : public Service {
 public:
  ServiceImpl(std::string name, Config cfg) {
    if (!cfg.service.name.empty()) name = cfg.service.name;
    if (name.empty())
      throw Error(Errc::config, cfg.origin + ": service.name: a service needs a name");
    opts_.name = name;
    opts_.version = cfg.service.version;
    opts_.metadata = cfg.service.metadata;
    rt_ = std::make_unique<Runtime>(cfg);
    server_ = std::make_unique<detail::RpcServer>(*rt_);
    server_->init(server_options(cfg, name));
    client_ = std::make_unique<detail::RpcClient>(*rt_, name);
    client_->init(client_options(cfg));
    if (::pipe2(stop_pipe_, O_CLOEXEC | O_NONBLOCK) != 0)
      throw Error(Errc::internal, "service: pipe failed");
  }

  ~ServiceImpl() override {
    server_->stop();
    client_->stop();
    rt_->stop();
    ::close(stop_pipe_[0]);
    ::close(stop_pipe_[1]);
  }

  void init(const Options& o) override {
    opts_ = o;
    auto so = server_->options();
    so.name = o.name;
    so.version = o.version;
    so.metadata = o.metadata;
    server_->init(so);
  }
  Options options() const override { return opts_; }
  std::string name() const override { return opts_.name; }
  Client& client() override { return *client_; }
  Server& server() override { return *server_; }

  int run() override {
    rt_->start();
    try {
      server_->start();
    } catch (...) {
      rt_->stop();
      throw;
    }
    // Wait for SIGINT/SIGTERM or stop().
    if (::pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
      throw Error(Errc::internal, "service: pipe failed");
    struct sigaction sa {
    }, old_int{}, old_term{};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &old_int);
    ::sigaction(SIGTERM, &sa, &old_term);
    pollfd fds[2] = {{g_signal_pipe[0], POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    while (::poll(fds, 2, -1) < 0 && errno == EINTR) {
    }
    ::sigaction(SIGINT, &old_int, nullptr);
    ::sigaction(SIGTERM, &old_term, nullptr);
    ::close(g_signal_pipe[0]);
    ::close(g_signal_pipe[1]);
    g_signal_pipe[0] = g_signal_pipe[1] = -1;

    log::info("service", "stopping " + opts_.name + ": deregister, drain, stop plugins");
    server_->stop();
    client_->stop();
    rt_->stop();
    return 0;
  }

  void stop() noexcept override {
    const char b = 1;
    [[maybe_unused]] auto r = ::write(stop_pipe_[1], &b, 1);
  }

 private:
  Options opts_;
  std::unique_ptr<Runtime> rt_;
  std::unique_ptr<detail::RpcServer> server_;
  std::unique_ptr<detail::RpcClient> client_;
  int stop_pipe_[2] = {-1, -1};
};

}  // namespace

std::unique_ptr<Service> new_service(std::string name, int argc, char** argv) {
  std::optional<std::filesystem::path> file;
  for (int i = 1; i < argc; ++i) {
    std::string_view a(argv[i]);
    if (a == "--config" && i + 1 < argc)
      file = argv[++i];
    else if (a.starts_with("--config="))
      file = std::string(a.substr(9));
    else if (a == "--config")
      throw Error(Errc::config, "--config needs a file name");
  }
  return new_service(std::move(name), Config::load(file, process_environment()));
}

std::unique_ptr<Service> new_service(std::string name, Config config) {
  return std::make_unique<ServiceImpl>(std::move(name), std::move(config));
}

Client::Options client_options(const Config& cfg) {
  Client::Options co;
  co.content_type = cfg.client.content_type;
  co.retries = cfg.client.retries;
  co.request_timeout = cfg.client.request_timeout;
  co.pool_size = cfg.client.pool_size;
  co.pool_ttl = cfg.client.pool_ttl;
  return co;
}

Server::Options server_options(const Config& cfg, const std::string& name) {
  Server::Options so;
  so.name = name;
  so.version = cfg.service.version;
  so.address = cfg.service.address;
  so.advertise = cfg.service.advertise;
  so.metadata = cfg.service.metadata;
  so.register_ttl = cfg.server.register_ttl;
  so.register_interval = cfg.server.register_interval;
  so.drain_timeout = cfg.server.drain_timeout;
  return so;
}

std::unique_ptr<Client> new_client(Runtime& rt, std::string from_service) {
  return std::make_unique<detail::RpcClient>(rt, std::move(from_service));
}

std::unique_ptr<Server> new_server(Runtime& rt) { return std::make_unique<detail::RpcServer>(rt); }

server::Handler handler(std::string name, std::vector<server::Endpoint> endpoints) {
  for (auto& ep : endpoints) {
    if (ep.description.name.find('.') == std::string::npos)
      ep.description.name = name + "." + ep.description.name;
  }
  return server::Handler{std::move(name), std::move(endpoints)};
}

namespace typed {
namespace {
registry::Value describe_fields(const google::protobuf::Descriptor* d, const std::string& name,
                                int depth) {
  registry::Value v{name, d->name(), {}};
  if (depth >= 3) return v;
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    if (f->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE && !f->is_map())
      v.values.push_back(describe_fields(f->message_type(), f->name(), depth + 1));
    else
      v.values.push_back(registry::Value{f->name(), f->type_name(), {}});
  }
  return v;
}
}  // namespace

registry::Value describe_proto(const google::protobuf::Descriptor* d, const std::string& name) {
  return describe_fields(d, name, 0);
}
}  // namespace typed

}  // namespace micro
