// micro-bench-registry: what a registry costs (issue #5, "Measured"). One JSON object per line.
//
//   steady --etcd ADDR --services N [--ttl S] [--interval S] [--window S] [--runtimes R]
//     N services (one node each) registered through registry-etcd (R plugin instances, each
//     its own Loader, keeper thread and connections, services spread over them), re-registered
//     every interval exactly as core's RpcServer register loop does. Counts what etcd served
//     during a steady-state window from etcd's own Prometheus counters (/metrics).
//   watch-latency --registry etcd|consul|file|memory [--etcd ADDR] [--count K] [--ttl S]
//     Time from calling register_service() on one registry instance to a Watcher of another
//     instance (memory: the same instance) reporting the node, K times.
//   view [--nodes N] [--etcd ADDR]
//     Memory and lookup cost of a registry view of N nodes (1 x N and N/10 x 10): core's
//     RegistryCache, the selector plugins, registry-memory get_service and (with --etcd)
//     registry-etcd get_service (range + JSON decode).
//
// Common: --plugin-dir DIR (default: the build tree's plugin directory).
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "micro/errors.h"
#include "micro/loader.h"
#include "micro/registry.h"
#include "micro/registry_cache.h"
#include "micro/selector.h"

#ifdef MICRO_BENCH_HAVE_FAKE_CONSUL
#include "fake_consul.h"
#endif

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;
using micro::registry::Service;

// ---------------------------------------------------------------- arguments

struct Args {
  std::string mode;
  std::map<std::string, std::string> kv;

  std::string str(const std::string& k, std::string def = {}) const {
    auto it = kv.find(k);
    return it == kv.end() ? def : it->second;
  }
  double num(const std::string& k, double def) const {
    auto it = kv.find(k);
    return it == kv.end() ? def : std::stod(it->second);
  }
};

Args parse_args(int argc, char** argv) {
  Args a;
  if (argc < 2)
    throw std::runtime_error("usage: micro-bench-registry steady|watch-latency|view ...");
  a.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string k = argv[i];
    if (!k.starts_with("--") || i + 1 >= argc) throw std::runtime_error("bad argument: " + k);
    a.kv[k.substr(2)] = argv[++i];
  }
  return a;
}

void emit(const json& j) { std::cout << j.dump() << std::endl; }

double ms_since(SteadyClock::time_point t0, SteadyClock::time_point t1) {
  return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

json percentiles(std::vector<double> v) {
  if (v.empty()) return json::object();
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    size_t i = size_t(q * double(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
  };
  auto r3 = [](double x) { return std::round(x * 1000) / 1000; };
  return {
      {"p50", r3(at(0.5))}, {"p99", r3(at(0.99))}, {"max", r3(v.back())}, {"min", r3(v.front())}};
}

// ---------------------------------------------------------------- plugins

// A Host offering only a registry (registries need nothing; selectors need a registry).
class RegistryHost final : public micro::plugin::Host {
 public:
  explicit RegistryHost(std::shared_ptr<micro::Registry> r = nullptr) : registry_(std::move(r)) {}
  std::shared_ptr<micro::Registry> registry() override {
    if (!registry_) throw none();
    return registry_;
  }
  std::shared_ptr<micro::Transport> transport() override { throw none(); }
  std::shared_ptr<micro::Broker> broker() override { throw none(); }
  std::shared_ptr<micro::Selector> selector() override { throw none(); }
  std::shared_ptr<micro::Codec> codec(std::string_view) override { throw none(); }

 private:
  static micro::Error none() { return micro::Error(micro::Errc::plugin, "not offered"); }
  std::shared_ptr<micro::Registry> registry_;
};

fs::path g_plugin_dir = MICRO_BENCH_PLUGIN_DIR;

// One "runtime": its own Loader and one registry plugin instance, as a service process has.
struct RegistryRuntime {
  std::unique_ptr<micro::plugin::Loader> loader;
  std::shared_ptr<micro::Registry> registry;

  RegistryRuntime(const std::string& name, std::vector<std::string> addrs,
                  const std::string& plugin_options = "{}") {
    loader = std::make_unique<micro::plugin::Loader>(micro::plugin::LoaderOptions{{g_plugin_dir}});
    auto d = loader->find(micro::plugin::Kind::registry, name);
    RegistryHost host;
    registry = std::dynamic_pointer_cast<micro::Registry>(loader->create(d, host));
    if (!registry) throw std::runtime_error("registry-" + name + " is not a Registry");
    micro::Registry::Options o;
    o.addrs = std::move(addrs);
    o.plugin_options =
        micro::plugin::validate_options(d.options_schema, plugin_options, "registry." + name);
    registry->init(o);
    registry->start();
  }
  ~RegistryRuntime() {
    if (registry) registry->stop();
    registry.reset();
  }
};

Service make_service(const std::string& name, const std::string& node_id, int port) {
  Service s;
  s.name = name;
  s.version = "1.0.0";
  s.metadata = {};
  micro::registry::Endpoint e;
  e.name = "Greeter.Hello";
  e.metadata = {{"stream", "false"}};
  s.endpoints.push_back(e);
  s.nodes.push_back(micro::registry::Node{node_id,
                                          "127.0.0.1:" + std::to_string(port),
                                          {{"protocol", "mucp"},
                                           {"transport", "http"},
                                           {"broker", "http"},
                                           {"server", "mucp"},
                                           {"registry", "etcd"}}});
  return s;
}

// ---------------------------------------------------------------- etcd metrics

/// One HTTP/1.0 request to 127.0.0.1:<port of hostport>; the body; empty on failure.
std::string http_request(const std::string& hostport, const std::string& method,
                         const std::string& path, const std::string& body = {}) {
  auto colon = hostport.rfind(':');
  const int port = std::stoi(hostport.substr(colon + 1));
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {};
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return {};
  }
  std::string req = method + " " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n";
  if (method == "POST") {
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != ssize_t(req.size())) {
    ::close(fd);
    return {};
  }
  std::string resp;
  char buf[16384];
  const auto deadline = SteadyClock::now() + std::chrono::seconds(5);
  while (SteadyClock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0) continue;
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    resp.append(buf, size_t(n));
  }
  ::close(fd);
  auto h = resp.find("\r\n\r\n");
  return h == std::string::npos ? std::string() : resp.substr(h + 4);
}

std::string b64(std::string_view in) {
  static constexpr char k[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v =
        (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) | uint8_t(in[i + 2]);
    for (int sh = 18; sh >= 0; sh -= 6) out += k[(v >> sh) & 63];
  }
  const size_t left = in.size() - i;
  if (left > 0) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    if (left == 2) v |= uint32_t(uint8_t(in[i + 1])) << 8;
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += left == 2 ? k[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

/// Sum of a Prometheus counter family by grpc_method label.
using Counters = std::map<std::string, double>;

struct EtcdCounters {
  Counters handled;   // grpc_server_handled_total: RPCs (streams) completed
  Counters started;   // grpc_server_started_total: RPCs (streams) started
  Counters received;  // grpc_server_msg_received_total: request messages
};

EtcdCounters scrape(const std::string& etcd) {
  const std::string text = http_request(etcd, "GET", "/metrics");
  if (text.empty()) throw std::runtime_error("no /metrics from etcd at " + etcd);
  EtcdCounters c;
  size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    Counters* into = nullptr;
    if (line.starts_with("grpc_server_handled_total{"))
      into = &c.handled;
    else if (line.starts_with("grpc_server_started_total{"))
      into = &c.started;
    else if (line.starts_with("grpc_server_msg_received_total{"))
      into = &c.received;
    if (!into) continue;
    auto m = line.find("grpc_method=\"");
    auto close = line.rfind('}');
    if (m == std::string_view::npos || close == std::string_view::npos) continue;
    m += 13;
    auto q = line.find('"', m);
    const std::string method(line.substr(m, q - m));
    (*into)[method] += std::stod(std::string(line.substr(close + 1)));
  }
  return c;
}

Counters diff(const Counters& after, const Counters& before) {
  Counters d;
  for (const auto& [k, v] : after) {
    auto it = before.find(k);
    const double x = v - (it == before.end() ? 0.0 : it->second);
    if (x > 0) d[k] = x;
  }
  return d;
}

// ---------------------------------------------------------------- steady

int run_steady(const Args& a) {
  const std::string etcd = a.str("etcd", "127.0.0.1:2379");
  const int n = int(a.num("services", 10));
  const int ttl = int(a.num("ttl", 6));
  const double interval = a.num("interval", 2);
  const double window = a.num("window", 12);
  const int runtimes = std::max(1, std::min(n, int(a.num("runtimes", std::min(n, 10)))));
  const std::string prefix = a.str("name", "steady" + std::to_string(n));

  std::vector<std::unique_ptr<RegistryRuntime>> rts;
  for (int i = 0; i < runtimes; ++i)
    rts.push_back(std::make_unique<RegistryRuntime>("etcd", std::vector<std::string>{etcd}));

  // Service i: its own name and node (a fleet of distinct services), on runtime i % R.
  std::vector<Service> svcs;
  for (int i = 0; i < n; ++i) {
    svcs.push_back(make_service(prefix + "-svc-" + std::to_string(i),
                                prefix + "-svc-" + std::to_string(i) + "-node", 10000 + i));
  }
  const micro::registry::RegisterOptions ropts{std::chrono::seconds(ttl)};
  const auto iv =
      std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(interval));

  // First registrations spread over one interval (services do not all start at once), then
  // each service's heartbeat every interval (RpcServer::register_loop: wait, register_once).
  const auto before_reg = scrape(etcd);
  const auto t_start = SteadyClock::now();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> heartbeats{0}, failures{0};
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::thread> loops;
  for (int r = 0; r < runtimes; ++r) {
    loops.emplace_back([&, r] {
      // next[i]: when service i registers next.
      std::vector<std::pair<SteadyClock::time_point, int>> due;
      for (int i = r; i < n; i += runtimes) due.emplace_back(t_start + iv * i / n, i);
      std::vector<bool> first(size_t(n), true);
      std::unique_lock lk(mu);
      while (!stop) {
        auto it = std::min_element(due.begin(), due.end());
        if (cv.wait_until(lk, it->first, [&] { return stop.load(); })) break;
        lk.unlock();
        try {
          rts[size_t(r)]->registry->register_service(svcs[size_t(it->second)], ropts);
          if (!first[size_t(it->second)]) ++heartbeats;
          first[size_t(it->second)] = false;
          it->first += iv;
        } catch (const std::exception&) {
          ++failures;
          it->first = SteadyClock::now() + std::chrono::milliseconds(200);
        }
        lk.lock();
      }
    });
  }
  // Warm-up: every service registered (one interval) plus one more interval and a bit, so
  // the grants and puts are behind us and the keepers are in their rhythm.
  std::this_thread::sleep_for(iv * 2 + std::chrono::milliseconds(500));
  const auto after_reg = scrape(etcd);
  const uint64_t hb0 = heartbeats;
  const auto t0 = SteadyClock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(window));
  const auto c1 = scrape(etcd);
  const auto t1 = SteadyClock::now();
  const uint64_t hb1 = heartbeats;
  {
    std::lock_guard lk(mu);
    stop = true;
  }
  cv.notify_all();
  for (auto& t : loops) t.join();
  rts.clear();  // stop(): no deregistration, the leases expire by themselves

  const double secs = std::chrono::duration<double>(t1 - t0).count();
  const auto handled = diff(c1.handled, after_reg.handled);
  const auto received = diff(c1.received, after_reg.received);
  const auto started = diff(c1.started, after_reg.started);
  json by = json::object();
  double total = 0;
  std::set<std::string> methods;
  for (auto& [k, v] : started) methods.insert(k);
  for (auto& [k, v] : received) methods.insert(k);
  for (const auto& m : methods) {
    const double rpcs = started.count(m) ? started.at(m) : 0;
    const double msgs = received.count(m) ? received.at(m) : 0;
    const double reqs = std::max(rpcs, msgs);  // unary: 1 msg per RPC; streams: per message
    total += reqs;
    by[m] = {{"rpcs", rpcs},
             {"msgs", msgs},
             {"handled", handled.count(m) ? handled.at(m) : 0},
             {"per_s", std::round(reqs / secs * 100) / 100}};
  }
  const auto get = [](const Counters& c, const char* k) { return c.count(k) ? c.at(k) : 0.0; };
  const double keepalives = get(received, "LeaseKeepAlive");
  const double puts = get(received, "Put");
  const double lease_periods = secs / ttl;
  json reg = json::object();
  for (auto& [k, v] : diff(after_reg.received, before_reg.received)) reg[k] = v;
  emit({{"mode", "steady"},
        {"services", n},
        {"runtimes", runtimes},
        {"ttl_s", ttl},
        {"interval_s", interval},
        {"window_s", std::round(secs * 100) / 100},
        {"heartbeats_in_window", hb1 - hb0},
        {"register_failures", failures.load()},
        {"etcd_requests", total},
        {"req_per_s", std::round(total / secs * 100) / 100},
        {"req_per_s_per_service", std::round(total / secs / n * 10000) / 10000},
        {"keepalives_per_service_per_lease_period",
         std::round(keepalives / n / lease_periods * 1000) / 1000},
        {"puts_in_window", puts},
        {"puts_per_heartbeat", hb1 > hb0 ? puts / double(hb1 - hb0) : 0.0},
        {"by_method", by},
        {"warmup_requests_by_method", reg}});
  return failures.load() == 0 ? 0 : 1;
}

// ---------------------------------------------------------------- watch latency

int run_watch_latency(const Args& a) {
  const std::string kind = a.str("registry", "etcd");
  const int count = std::max(1, std::min(1000, int(a.num("count", 50))));
  const int ttl = int(a.num("ttl", 30));
  std::vector<std::string> addrs;
  std::string opts = "{}";
  std::optional<fs::path> tmp;
#ifdef MICRO_BENCH_HAVE_FAKE_CONSUL
  std::unique_ptr<micro::test::FakeConsul> consul;
#endif
  if (kind == "etcd") {
    addrs = {a.str("etcd", "127.0.0.1:2379")};
  } else if (kind == "file") {
    std::string t = (fs::temp_directory_path() / "micro-bench-registry-XXXXXX").string();
    if (!::mkdtemp(t.data())) throw std::runtime_error("mkdtemp failed");
    tmp = fs::path(t);
    addrs = {t};
  } else if (kind == "consul") {
#ifdef MICRO_BENCH_HAVE_FAKE_CONSUL
    consul = std::make_unique<micro::test::FakeConsul>(0);
    addrs = {consul->address()};
    opts = R"({"wait_s":30})";
#else
    emit({{"mode", "watch-latency"},
          {"registry", kind},
          {"skipped", "built without the tests' FakeConsul"}});
    return 0;
#endif
  } else if (kind != "memory") {
    throw std::runtime_error("--registry etcd|consul|file|memory");
  }

  int rc = 0;
  {
    auto writer = std::make_unique<RegistryRuntime>(kind, addrs, opts);
    std::unique_ptr<RegistryRuntime> reader_rt;
    std::shared_ptr<micro::Registry> reader = writer->registry;
    if (kind != "memory") {
      reader_rt = std::make_unique<RegistryRuntime>(kind, addrs, opts);
      reader = reader_rt->registry;
    }
    const std::string name = "latency-" + kind;
    // Consul's per-service watch needs the service to exist; one anchor node that stays.
    const auto anchor = make_service(name, name + "-anchor", 9999);
    writer->registry->register_service(anchor, {std::chrono::seconds(ttl)});
    auto watcher = reader->watch(micro::registry::WatchOptions{name});

    std::mutex mu;
    std::condition_variable cv;
    std::map<std::string, SteadyClock::time_point> seen;
    std::atomic<bool> stop{false};
    std::thread wt([&] {
      while (!stop) {
        std::optional<micro::registry::Result> r;
        try {
          r = watcher->next(SteadyClock::now() + std::chrono::milliseconds(200));
        } catch (const std::exception&) {
          break;
        }
        if (!r || (r->action != "create" && r->action != "update")) continue;
        const auto now = SteadyClock::now();
        std::lock_guard lk(mu);
        for (const auto& nd : r->service.nodes) seen.emplace(nd.id, now);
        cv.notify_all();
      }
    });
    // Let the watch settle (consul reports what exists when it starts).
    std::this_thread::sleep_for(std::chrono::milliseconds(300));

    std::vector<double> from_call, from_return, call;
    int missed = 0;
    std::vector<int> missed_ids;
    for (int i = 0; i < count; ++i) {
      const auto s = make_service(name, name + "-" + std::to_string(i), 20000 + i);
      const auto t0 = SteadyClock::now();
      writer->registry->register_service(s, {std::chrono::seconds(ttl)});
      const auto t1 = SteadyClock::now();
      std::unique_lock lk(mu);
      const std::string id = s.nodes[0].id;
      if (!cv.wait_for(lk, std::chrono::seconds(5), [&] { return seen.count(id) > 0; })) {
        ++missed;
        missed_ids.push_back(i);
      } else {
        from_call.push_back(ms_since(t0, seen[id]));
        from_return.push_back(ms_since(t1, seen[id]));
      }
      lk.unlock();
      call.push_back(ms_since(t0, t1));
      writer->registry->deregister(s);
    }
    stop = true;
    watcher->stop();
    wt.join();
    writer->registry->deregister(anchor);
    emit({{"mode", "watch-latency"},
          {"registry", kind},
          {"count", count},
          {"missed", missed},
          {"missed_iterations", missed_ids},
          {"watcher", kind == "memory" ? "same registry instance" : "second plugin instance"},
          {"ms_from_register_call", percentiles(from_call)},
          {"ms_from_register_return", percentiles(from_return)},
          {"ms_register_call", percentiles(call)}});
    rc = missed ? 1 : 0;
  }
  if (tmp) {
    std::error_code ec;
    fs::remove_all(*tmp, ec);
  }
  return rc;
}

// ---------------------------------------------------------------- view

struct Mem {
  size_t heap = 0;  // mallinfo2 in-use bytes, all arenas
  size_t rss = 0;   // /proc/self/statm resident pages * page size
};

Mem mem() {
  Mem m;
  m.heap = mallinfo2().uordblks;
  std::ifstream f("/proc/self/statm");
  size_t size = 0, resident = 0;
  f >> size >> resident;
  m.rss = resident * size_t(::sysconf(_SC_PAGESIZE));
  return m;
}

json mem_delta(const Mem& a, const Mem& b, size_t nodes) {
  const double heap = double(b.heap) - double(a.heap);
  const double rss = double(b.rss) - double(a.rss);
  return {{"heap_bytes", heap},
          {"heap_bytes_per_node", std::round(heap / double(nodes))},
          {"rss_bytes", rss},
          {"rss_bytes_per_node", std::round(rss / double(nodes))}};
}

template <class F>
double ns_per_op(long ops, F&& f) {
  f(0);  // warm
  const auto t0 = SteadyClock::now();
  for (long i = 0; i < ops; ++i) f(i);
  return std::chrono::duration<double, std::nano>(SteadyClock::now() - t0).count() / double(ops);
}

std::vector<Service> shape(int services, int per, const std::string& prefix) {
  std::vector<Service> out;
  for (int s = 0; s < services; ++s) {
    const std::string name = prefix + "-" + std::to_string(s);
    Service svc = make_service(name, name + "-0", 30000);
    svc.nodes.clear();
    for (int k = 0; k < per; ++k) {
      auto n =
          make_service(name, name + "-node-" + std::to_string(k), 1024 + (s * per + k) % 60000);
      svc.nodes.push_back(n.nodes[0]);
    }
    out.push_back(std::move(svc));
  }
  return out;
}

void view_shape(int services, int per, const std::string& etcd) {
  const size_t nodes = size_t(services) * size_t(per);
  const std::string label = std::to_string(services) + "x" + std::to_string(per);
  const auto svcs = shape(services, per, "view" + label);
  json out = {{"mode", "view"}, {"shape", label}, {"nodes", nodes}};
  // Lookups spread over the services in a scrambled order.
  auto pick = [&](long i) -> const std::string& {
    return svcs[size_t((i * 7919) % services)].name;
  };

  RegistryRuntime mem_rt("memory", {});
  auto m0 = mem();
  for (const auto& s : svcs) mem_rt.registry->register_service(s, {});
  out["registry_memory_store"] = mem_delta(m0, mem(), nodes);
  const long get_ops = std::max(20L, 200000L / long(nodes) * services);
  size_t sink = 0;
  out["registry_memory_get_service_ns"] = std::round(ns_per_op(get_ops, [&](long i) {
    sink += mem_rt.registry->get_service(pick(i)).front().nodes.size();
  }));

  {  // core's RegistryCache over registry-memory: the cached view.
    auto c0 = mem();
    micro::RegistryCache cache(mem_rt.registry);
    for (const auto& s : svcs) sink += cache.get_service(s.name)->front().nodes.size();
    out["cache_view"] = mem_delta(c0, mem(), nodes);
    out["cache_get_service_ns"] =
        std::round(ns_per_op(2000000, [&](long i) { sink += cache.get_service(pick(i))->size(); }));
    cache.stop();
  }

  micro::plugin::Loader loader(micro::plugin::LoaderOptions{{g_plugin_dir}});
  for (const char* sel : {"roundrobin", "random"}) {
    auto d = loader.find(micro::plugin::Kind::selector, sel);
    RegistryHost host(mem_rt.registry);
    auto c0 = mem();
    auto s = std::dynamic_pointer_cast<micro::Selector>(loader.create(d, host));
    micro::Selector::Options o;
    o.plugin_options = micro::plugin::validate_options(d.options_schema, "{}", sel);
    s->init(o);
    s->start();
    for (const auto& svc : svcs) sink += s->select(svc.name)().address.size();
    json j = mem_delta(c0, mem(), nodes);
    j["select_next_ns"] = std::round(
        ns_per_op(1000000, [&](long i) { sink += s->select(pick(i))().address.size(); }));
    out[std::string("selector_") + sel] = j;
    s->stop();
  }

  {  // Churn: new nodes of one cached service, each a watch event the cache applies.
    micro::RegistryCache cache(mem_rt.registry);
    const Service& s0 = svcs[0];
    sink += cache.get_service(s0.name)->size();  // cached, watch open
    const int events = 200;
    // A reader meanwhile, as a selector would be: how long a cached lookup takes while the
    // cache applies the events (it waited for the whole apply when that held the lock).
    std::atomic<bool> reading{true};
    std::vector<double> lookup_ms;
    size_t reader_sink = 0;
    std::thread reader([&] {
      while (reading) {
        const auto l0 = SteadyClock::now();
        reader_sink += cache.get_service(s0.name)->size();
        lookup_ms.push_back(ms_since(l0, SteadyClock::now()));
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
    });
    const auto t0 = SteadyClock::now();
    for (int e = 0; e < events; ++e) {
      const Service one{
          s0.name,
          s0.version,
          s0.metadata,
          s0.endpoints,
          {micro::registry::Node{s0.name + "-churn-" + std::to_string(e), "127.0.0.1:1", {}}}};
      mem_rt.registry->register_service(one, {});
    }
    out["churn_register_us_per_event"] =
        std::round(ms_since(t0, SteadyClock::now()) * 1000 / events * 10) / 10;
    const auto want = size_t(per + events);
    const auto deadline = t0 + std::chrono::seconds(60);
    bool done = false;
    while (!done && SteadyClock::now() < deadline) {
      done = cache.get_service(s0.name)->front().nodes.size() == want;
      if (!done) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    reading = false;
    reader.join();
    sink += reader_sink;
    out["churn_lookup_ms"] = percentiles(lookup_ms);
    out["churn_lookups"] = lookup_ms.size();
    if (done) {
      out["cache_apply_us_per_event"] =
          std::round(ms_since(t0, SteadyClock::now()) * 1000 / events * 10) / 10;
    } else {
      out["cache_apply_us_per_event"] = nullptr;
    }
    cache.stop();
    for (int e = 0; e < events; ++e) {
      mem_rt.registry->deregister(
          Service{s0.name,
                  s0.version,
                  {},
                  {},
                  {micro::registry::Node{s0.name + "-churn-" + std::to_string(e), "", {}}}});
    }
  }

  if (!etcd.empty()) {
    RegistryRuntime ert("etcd", {etcd});
    // Put the nodes (no TTL: no lease, no keeper) from 4 threads.
    const auto t0 = SteadyClock::now();
    std::vector<std::thread> ts;
    std::atomic<size_t> next{0};
    std::atomic<int> errors{0};
    for (int t = 0; t < 4; ++t) {
      ts.emplace_back([&] {
        for (size_t i = next++; i < nodes; i = next++) {
          const Service& all = svcs[i / size_t(per)];
          const Service one{
              all.name, all.version, all.metadata, all.endpoints, {all.nodes[i % size_t(per)]}};
          try {
            ert.registry->register_service(one, {});
          } catch (const std::exception&) {
            ++errors;
          }
        }
      });
    }
    for (auto& t : ts) t.join();
    out["etcd_put_ms"] = std::round(ms_since(t0, SteadyClock::now()));
    // get_service through the plugin: etcd's range + transfer + the plugin's decode.
    const long ops = std::max(5L, 20000L / long(nodes) * services);
    const double plugin_ns = ns_per_op(
        ops, [&](long i) { sink += ert.registry->get_service(pick(i)).front().nodes.size(); });
    // The same range request without the plugin (etcd + transfer, body not parsed).
    size_t bytes = 0;
    const double raw_ns = ns_per_op(ops, [&](long i) {
      const std::string prefix = "/micro/registry/" + pick(i) + "/";
      std::string end = prefix;
      end.back() = char(end.back() + 1);
      const json req = {{"key", b64(prefix)}, {"range_end", b64(end)}, {"serializable", true}};
      bytes = http_request(etcd, "POST", "/v3/kv/range", req.dump()).size();
      sink += bytes;
    });
    out["etcd_get_service_ns"] = std::round(plugin_ns);
    out["etcd_range_raw_ns"] = std::round(raw_ns);
    out["etcd_range_response_bytes"] = bytes;
    out["etcd_decode_ns_per_node"] = std::round((plugin_ns - raw_ns) / per);
    {  // A watch on the whole registry keeps a snapshot of every key (for resyncs).
      auto w0 = mem();
      auto w = ert.registry->watch();
      out["etcd_watch_snapshot"] = mem_delta(w0, mem(), nodes);
      w->stop();
    }
    {  // core's RegistryCache over registry-etcd (its watch's snapshot included).
      auto c0 = mem();
      micro::RegistryCache cache(ert.registry);
      for (const auto& s : svcs) sink += cache.get_service(s.name)->front().nodes.size();
      out["etcd_cache_view"] = mem_delta(c0, mem(), nodes);
      cache.stop();
    }
    // Remove the nodes again, so the next shape starts from an empty registry.
    next = 0;
    ts.clear();
    for (int t = 0; t < 4; ++t) {
      ts.emplace_back([&] {
        for (size_t i = next++; i < nodes; i = next++) {
          const Service& all = svcs[i / size_t(per)];
          const Service one{
              all.name, all.version, all.metadata, all.endpoints, {all.nodes[i % size_t(per)]}};
          try {
            ert.registry->deregister(one);
          } catch (const std::exception&) {
            ++errors;
          }
        }
      });
    }
    for (auto& t : ts) t.join();
    out["etcd_errors"] = errors.load();
  }
  out["checksum"] = sink;
  emit(out);
}

int run_view(const Args& a) {
  const int n = std::max(10, int(a.num("nodes", 10000)));
  const std::string etcd = a.str("etcd");
  const std::string which = a.str("shape", "both");
  if (which == "both" || which == "one") view_shape(1, n, etcd);
  if (which == "both" || which == "many") view_shape(n / 10, 10, etcd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    auto a = parse_args(argc, argv);
    if (auto d = a.str("plugin-dir"); !d.empty()) g_plugin_dir = d;
    if (a.mode == "steady") return run_steady(a);
    if (a.mode == "watch-latency") return run_watch_latency(a);
    if (a.mode == "view") return run_view(a);
    throw std::runtime_error("unknown mode " + a.mode + " (steady|watch-latency|view)");
  } catch (const std::exception& e) {
    std::cerr << "micro-bench-registry: " << e.what() << "\n";
    return 2;
  }
}
