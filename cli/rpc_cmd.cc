// The registry-driven verbs: services, describe, call, stream, bench.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "commands.h"
#include "micro/micro.h"
#include "micro/runtime.h"

namespace micro::cli {
namespace {

using nlohmann::json;

// Flags with values (--metadata k=v, --timeout 5s, -n 100) and booleans (-v, --json).
struct RpcArgs {
  std::vector<std::string> positional;
  bool verbose = false;
  bool json_out = false;
  Metadata metadata;
  std::chrono::milliseconds timeout{0};
  std::string address;
  std::string content_type;
  long n = 1000;
  long c = 1;
};

long parse_count(const std::string& flag, const std::string& v, long min, long max) {
  long x = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || p != v.data() + v.size() || x < min || x > max)
    throw UsageError(flag + " needs a whole number between " + std::to_string(min) + " and " +
                     std::to_string(max));
  return x;
}

RpcArgs parse(const std::vector<std::string>& args, bool bench_flags) {
  RpcArgs a;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& s = args[i];
    auto value = [&](const std::string& flag) -> const std::string& {
      if (i + 1 >= args.size()) throw UsageError(flag + " needs a value");
      return args[++i];
    };
    if (s == "-v" || s == "--verbose")
      a.verbose = true;
    else if (s == "--json")
      a.json_out = true;
    else if (s == "--metadata" || s == "-m") {
      const std::string& kv = value(s);
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0)
        throw UsageError("--metadata needs key=value, got \"" + kv + "\"");
      a.metadata.insert_or_assign(kv.substr(0, eq), kv.substr(eq + 1));
    } else if (s == "--timeout")
      a.timeout = duration_arg(value(s));
    else if (s == "--address")
      a.address = value(s);
    else if (s == "--content-type")
      a.content_type = value(s);
    else if (bench_flags && s == "-n")
      a.n = parse_count("-n", value(s), 1, 100000000);
    else if (bench_flags && s == "-c")
      a.c = parse_count("-c", value(s), 1, 10000);
    else if (s.size() > 1 && s[0] == '-')
      throw UsageError("unknown flag " + s);
    else
      a.positional.push_back(s);
  }
  return a;
}

std::string json_arg(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded()) throw UsageError("the request is not valid JSON: " + text);
  return j.dump();
}

std::string pretty(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  return j.is_discarded() ? text : j.dump();
}

// A runtime and a client, with a wrapper that records which node served each attempt.
struct Session {
  std::unique_ptr<Runtime> rt;
  std::unique_ptr<Client> client;
  std::mutex mu;
  std::map<std::string, long> per_node;

  explicit Session(bool record_nodes) {
    rt = std::make_unique<Runtime>(load_config());
    rt->start();
    client = new_client(*rt, "micro.cli");
    auto opts = client_options(rt->config());
    if (record_nodes) {
      opts.wrappers.push_back([this](client::CallFunc next) -> client::CallFunc {
        return [this, next](Context& ctx, const registry::Node& node, const client::Request& req,
                            const codec::Payload& in, const codec::Payload& out,
                            const client::CallOptions& o) {
          next(ctx, node, req, in, out, o);
          std::lock_guard lock(mu);
          ++per_node[node.id];
        };
      });
    }
    client->init(opts);
  }
  ~Session() {
    client.reset();
    rt->stop();
  }
};

void print_value(std::ostream& o, const std::optional<registry::Value>& v) {
  if (!v)
    o << "-";
  else
    o << v->type;
}

}  // namespace

int services(const std::vector<std::string>& args) {
  auto a = parse(args, false);
  if (!a.positional.empty()) throw UsageError("services takes no arguments");
  Runtime rt(load_config());
  auto list = rt.registry()->list_services();
  std::vector<std::string> names;
  for (const auto& s : list) names.push_back(s.name);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  if (a.json_out) {
    std::cout << json(names).dump() << "\n";
  } else {
    for (const auto& n : names) std::cout << n << "\n";
  }
  return 0;
}

int describe(const std::vector<std::string>& args) {
  auto a = parse(args, false);
  if (a.positional.size() != 1) throw UsageError("describe needs SERVICE");
  Runtime rt(load_config());
  auto versions = rt.registry()->get_service(a.positional[0]);
  if (a.json_out) {
    json out = json::array();
    for (const auto& s : versions) out.push_back(json::parse(registry::to_json(s)));
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  for (const auto& s : versions) {
    std::cout << "service  " << s.name << "\nversion  " << s.version << "\n\nnodes:\n";
    for (const auto& n : s.nodes) {
      std::cout << "  " << n.id << "  " << n.address;
      for (const auto& [k, v] : n.metadata) std::cout << "  " << k << "=" << v;
      std::cout << "\n";
    }
    std::cout << "\nendpoints:\n";
    for (const auto& e : s.endpoints) {
      std::cout << "  " << e.name << "(";
      print_value(std::cout, e.request);
      std::cout << ") -> ";
      print_value(std::cout, e.response);
      for (const auto& [k, v] : e.metadata) std::cout << "  " << k << "=" << v;
      std::cout << "\n";
    }
    std::cout << "\n";
  }
  return 0;
}

int call(const std::vector<std::string>& args) {
  auto a = parse(args, false);
  if (a.positional.size() != 3) throw UsageError("call needs SERVICE ENDPOINT JSON");
  const std::string body = json_arg(a.positional[2]);
  Session s(a.verbose);
  Context ctx;
  ctx.metadata = a.metadata;
  std::string reply;
  client::CallOptions o;
  o.timeout = a.timeout;
  o.address = a.address;
  s.client->call(ctx, {a.positional[0], a.positional[1], a.content_type},
                 codec::Payload::json(body), codec::Payload::json(reply), o);
  if (a.verbose) {
    for (const auto& [node, n] : s.per_node) std::cerr << "node: " << node << "\n";
    for (const auto& [k, v] : ctx.response_metadata) std::cerr << k << ": " << v << "\n";
  }
  std::cout << pretty(reply) << "\n";
  return 0;
}

int stream(const std::vector<std::string>& args) {
  auto a = parse(args, false);
  if (a.positional.size() != 3) throw UsageError("stream needs SERVICE ENDPOINT JSON");
  const std::string body = json_arg(a.positional[2]);
  Session s(false);
  Context ctx;
  ctx.metadata = a.metadata;
  client::CallOptions o;
  o.timeout = a.timeout;
  o.address = a.address;
  auto st = s.client->stream(ctx, {a.positional[0], a.positional[1], a.content_type}, o);
  st->send(codec::Payload::json(body));
  st->close_send();
  std::string reply;
  while (st->recv(codec::Payload::json(reply))) std::cout << pretty(reply) << "\n" << std::flush;
  st->close();
  return 0;
}

int bench(const std::vector<std::string>& args) {
  auto a = parse(args, true);
  if (a.positional.size() != 3) throw UsageError("bench needs SERVICE ENDPOINT JSON");
  const std::string body = json_arg(a.positional[2]);
  Session s(true);
  const long n = a.n, c = std::min(a.c, a.n);
  std::atomic<long> next{0}, errors{0};
  std::vector<std::vector<double>> lat(c);
  std::mutex err_mu;
  std::string first_error;
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (long t = 0; t < c; ++t) {
    threads.emplace_back([&, t] {
      auto& mine = lat[t];
      mine.reserve(n / c + 1);
      std::string reply;
      client::CallOptions o;
      o.timeout = a.timeout;
      o.address = a.address;
      while (next.fetch_add(1) < n) {
        Context ctx;
        ctx.metadata = a.metadata;
        const auto t0 = Clock::now();
        try {
          s.client->call(ctx, {a.positional[0], a.positional[1], a.content_type},
                         codec::Payload::json(body), codec::Payload::json(reply), o);
          mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        } catch (const std::exception& e) {
          if (errors.fetch_add(1) == 0) {
            std::lock_guard lock(err_mu);
            first_error = e.what();
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    if (all.empty()) return 0.0;
    auto i = static_cast<std::size_t>(std::ceil(p / 100.0 * all.size()));
    return all[std::min(all.size() - 1, i == 0 ? 0 : i - 1)];
  };
  const double qps = secs > 0 ? double(all.size()) / secs : 0;
  std::cout << "requests " << n << "  errors " << errors << "  concurrency " << c << "  time "
            << std::fixed << std::setprecision(3) << secs << " s\n";
  std::cout << "qps " << std::setprecision(1) << qps << "\n";
  std::cout << std::setprecision(3) << "latency ms  p50 " << pct(50) << "  p90 " << pct(90)
            << "  p99 " << pct(99) << "  max " << (all.empty() ? 0 : all.back()) << "\n";
  for (const auto& [node, count] : s.per_node)
    std::cout << "node " << node << "  " << count << "\n";
  if (!first_error.empty()) std::cout << "first error: " << first_error << "\n";
  if (a.json_out) {
    json j;
    j["requests"] = n;
    j["errors"] = errors.load();
    j["concurrency"] = c;
    j["seconds"] = secs;
    j["qps"] = qps;
    j["latency_ms"] = {{"p50", pct(50)},
                       {"p90", pct(90)},
                       {"p99", pct(99)},
                       {"max", all.empty() ? 0 : all.back()}};
    j["nodes"] = json::object();
    for (const auto& [node, count] : s.per_node) j["nodes"][node] = count;
    std::cout << j.dump() << "\n";
  }
  return errors == 0 ? 0 : 1;
}

}  // namespace micro::cli
