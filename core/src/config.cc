#include "micro/config.h"

#include <dlfcn.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "micro/errors.h"

extern char** environ;

namespace fs = std::filesystem;

namespace micro {
namespace {

using nlohmann::json;

class Reader {
 public:
  Reader(std::string origin, fs::path base) : origin_(std::move(origin)), base_(std::move(base)) {}

  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    throw Error(Errc::config, origin_ + ": " + path + ": " + what);
  }

  static std::string type_of(const json& v) {
    if (v.is_null()) return "null";
    if (v.is_boolean()) return "boolean";
    if (v.is_number_integer()) return "integer";
    if (v.is_number()) return "number";
    if (v.is_string()) return "string";
    if (v.is_array()) return "array";
    return "object";
  }

  // Calls fn(key, value) for each key of an object; a key not in `known` is an error.
  template <class Fn>
  void object(const json& v, const std::string& path, std::initializer_list<const char*> known,
              Fn fn) const {
    if (!v.is_object()) fail(path, "expected object, got " + type_of(v));
    for (auto& [k, val] : v.items()) {
      bool ok = false;
      for (const char* n : known) ok = ok || k == n;
      if (!ok) {
        std::string list;
        for (const char* n : known) list += (list.empty() ? "" : ", ") + std::string(n);
        fail(join(path, k), "unknown key (known: " + list + ")");
      }
      fn(k, val, join(path, k));
    }
  }

  std::string string(const json& v, const std::string& path) const {
    if (!v.is_string()) fail(path, "expected string, got " + type_of(v));
    return v.get<std::string>();
  }
  bool boolean(const json& v, const std::string& path) const {
    if (!v.is_boolean()) fail(path, "expected boolean, got " + type_of(v));
    return v.get<bool>();
  }
  long long integer(const json& v, const std::string& path, long long min, long long max) const {
    if (!v.is_number_integer()) fail(path, "expected integer, got " + type_of(v));
    auto x = v.get<long long>();
    if (x < min || x > max)
      fail(path, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return x;
  }
  std::vector<std::string> strings(const json& v, const std::string& path) const {
    if (!v.is_array()) fail(path, "expected array of strings, got " + type_of(v));
    std::vector<std::string> out;
    for (std::size_t i = 0; i < v.size(); ++i)
      out.push_back(string(v[i], path + "[" + std::to_string(i) + "]"));
    return out;
  }
  StringMap string_map(const json& v, const std::string& path) const {
    if (!v.is_object()) fail(path, "expected object, got " + type_of(v));
    StringMap out;
    for (auto& [k, val] : v.items()) out[k] = string(val, join(path, k));
    return out;
  }
  PluginChoice choice(const json& v, const std::string& path,
                      std::vector<std::string>* addrs) const {
    PluginChoice c;
    c.use.clear();
    auto fn = [&](const std::string& k, const json& val, const std::string& p) {
      if (k == "use")
        c.use = string(val, p);
      else if (k == "options") {
        if (!val.is_object()) fail(p, "expected object, got " + type_of(val));
        c.options = val.dump();
      } else if (k == "addresses")
        *addrs = strings(val, p);
    };
    if (addrs)
      object(v, path, {"use", "options", "addresses"}, fn);
    else
      object(v, path, {"use", "options"}, fn);
    if (c.use.empty())
      fail(join(path, "use"), "required key missing (the plugin name or a path to its .so)");
    return c;
  }
  fs::path path_of(const std::string& p) const {
    fs::path x(p);
    return x.is_relative() && !base_.empty() ? base_ / x : x;
  }

 private:
  static std::string join(const std::string& a, const std::string& b) {
    return a.empty() ? b : a + "." + b;
  }
  std::string origin_;
  fs::path base_;
};

Config parse_with_base(std::string_view text, std::string origin, const fs::path& base) {
  json doc = json::parse(text, nullptr, false, /*ignore_comments=*/false);
  if (doc.is_discarded()) throw Error(Errc::config, origin + ": not valid JSON");
  Config c;
  c.origin = origin;
  Reader r(origin, base);
  using namespace std::chrono;
  r.object(doc, "",
           {"service", "plugins", "transport", "codecs", "registry", "selector", "broker", "client",
            "server"},
           [&](const std::string& k, const json& v, const std::string& p) {
             if (k == "service") {
               r.object(v, p, {"name", "version", "address", "advertise", "metadata"},
                        [&](const std::string& k2, const json& v2, const std::string& p2) {
                          if (k2 == "name")
                            c.service.name = r.string(v2, p2);
                          else if (k2 == "version")
                            c.service.version = r.string(v2, p2);
                          else if (k2 == "address")
                            c.service.address = r.string(v2, p2);
                          else if (k2 == "advertise")
                            c.service.advertise = r.string(v2, p2);
                          else
                            c.service.metadata = r.string_map(v2, p2);
                        });
             } else if (k == "plugins") {
               r.object(v, p, {"path", "allow_insecure_permissions"},
                        [&](const std::string& k2, const json& v2, const std::string& p2) {
                          if (k2 == "path") {
                            c.plugins.path.clear();
                            for (const auto& s : r.strings(v2, p2))
                              c.plugins.path.push_back(r.path_of(s));
                          } else {
                            c.plugins.allow_insecure_permissions = r.boolean(v2, p2);
                          }
                        });
             } else if (k == "transport") {
               c.transport = r.choice(v, p, nullptr);
             } else if (k == "registry") {
               c.registry = r.choice(v, p, &c.registry_addrs);
             } else if (k == "selector") {
               c.selector = r.choice(v, p, nullptr);
             } else if (k == "broker") {
               c.broker = r.choice(v, p, &c.broker_addrs);
             } else if (k == "codecs") {
               if (!v.is_array()) r.fail(p, "expected array, got " + Reader::type_of(v));
               c.codecs.clear();
               for (std::size_t i = 0; i < v.size(); ++i) {
                 const std::string pi = p + "[" + std::to_string(i) + "]";
                 if (v[i].is_string())
                   c.codecs.push_back({r.string(v[i], pi)});
                 else
                   c.codecs.push_back(r.choice(v[i], pi, nullptr));
               }
             } else if (k == "client") {
               r.object(
                   v, p,
                   {"content_type", "retries", "request_timeout_ms", "pool_size", "pool_ttl_s"},
                   [&](const std::string& k2, const json& v2, const std::string& p2) {
                     if (k2 == "content_type")
                       c.client.content_type = r.string(v2, p2);
                     else if (k2 == "retries")
                       c.client.retries = int(r.integer(v2, p2, 0, 100));
                     else if (k2 == "request_timeout_ms")
                       c.client.request_timeout = milliseconds(r.integer(v2, p2, 1, 86400000));
                     else if (k2 == "pool_size")
                       c.client.pool_size = std::size_t(r.integer(v2, p2, 0, 100000));
                     else
                       c.client.pool_ttl = seconds(r.integer(v2, p2, 1, 86400));
                   });
             } else if (k == "server") {
               r.object(v, p, {"register_ttl_s", "register_interval_s", "drain_timeout_ms"},
                        [&](const std::string& k2, const json& v2, const std::string& p2) {
                          if (k2 == "register_ttl_s")
                            c.server.register_ttl = seconds(r.integer(v2, p2, 1, 86400));
                          else if (k2 == "register_interval_s")
                            c.server.register_interval = seconds(r.integer(v2, p2, 1, 86400));
                          else
                            c.server.drain_timeout = milliseconds(r.integer(v2, p2, 0, 3600000));
                        });
             }
           });
  if (c.server.register_interval >= c.server.register_ttl)
    r.fail("server.register_interval_s",
           "must be less than server.register_ttl_s, or nodes expire between heartbeats");
  return c;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep)) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// The directory of libmicro_core.so, found through one of its own functions.
fs::path core_library_dir() {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&core_library_dir), &info) == 0 || info.dli_fname == nullptr)
    return {};
  std::error_code ec;
  return fs::weakly_canonical(fs::path(info.dli_fname), ec).parent_path();
}

}  // namespace

Environment process_environment() {
  Environment env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    if (!kv.starts_with("MICRO_")) continue;
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

Config Config::parse(std::string_view json_text, std::string origin) {
  return parse_with_base(json_text, std::move(origin), {});
}

Config Config::load(const std::optional<fs::path>& file, const Environment& env) {
  std::optional<fs::path> path = file;
  if (!path) {
    if (auto it = env.find("MICRO_CONFIG"); it != env.end() && !it->second.empty())
      path = fs::path(it->second);
  }
  Config c;
  if (path) {
    std::ifstream in(*path, std::ios::binary);
    if (!in) throw Error(Errc::config, "config file " + path->string() + ": cannot be read");
    std::stringstream ss;
    ss << in.rdbuf();
    std::error_code ec;
    c = parse_with_base(ss.str(), "config file " + path->string(),
                        fs::absolute(*path, ec).parent_path());
  }
  c.apply_env(env);
  return c;
}

void Config::apply_env(const Environment& env) {
  auto fail = [](const std::string& var, const std::string& what) {
    throw Error(Errc::config, "environment: " + var + ": " + what);
  };
  auto choose = [](PluginChoice& c, const std::string& use) {
    if (c.use != use) c = PluginChoice{use, "{}"};  // options of another plugin do not apply
  };
  auto seconds_of = [&](const std::string& var, const std::string& v) {
    char* end = nullptr;
    long x = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || x < 1 || x > 86400)
      fail(var, "expected whole seconds between 1 and 86400, got \"" + v + "\"");
    return std::chrono::seconds(x);
  };
  static const char* const known[] = {
      "MICRO_CONFIG",       "MICRO_REGISTRY",          "MICRO_REGISTRY_ADDRESS",
      "MICRO_BROKER",       "MICRO_BROKER_ADDRESS",    "MICRO_TRANSPORT",
      "MICRO_SELECTOR",     "MICRO_SERVER_ADDRESS",    "MICRO_SERVER_NAME",
      "MICRO_REGISTER_TTL", "MICRO_REGISTER_INTERVAL", "MICRO_PLUGIN_PATH",
      "MICRO_LOG_LEVEL"};
  for (const auto& [k, v] : env) {
    bool ok = false;
    for (const char* n : known) ok = ok || k == n;
    if (!ok && k.starts_with("MICRO_")) {
      std::string list;
      for (const char* n : known) list += (list.empty() ? "" : ", ") + std::string(n);
      fail(k, "unknown variable (known: " + list + ")");
    }
    if (v.empty() && k != "MICRO_CONFIG") fail(k, "set but empty");
    if (k == "MICRO_REGISTRY")
      choose(registry, v);
    else if (k == "MICRO_REGISTRY_ADDRESS")
      registry_addrs = split(v, ',');
    else if (k == "MICRO_BROKER")
      choose(broker, v);
    else if (k == "MICRO_BROKER_ADDRESS")
      broker_addrs = split(v, ',');
    else if (k == "MICRO_TRANSPORT")
      choose(transport, v);
    else if (k == "MICRO_SELECTOR")
      choose(selector, v);
    else if (k == "MICRO_SERVER_ADDRESS")
      service.address = v;
    else if (k == "MICRO_SERVER_NAME")
      service.name = v;
    else if (k == "MICRO_REGISTER_TTL")
      server.register_ttl = seconds_of(k, v);
    else if (k == "MICRO_REGISTER_INTERVAL")
      server.register_interval = seconds_of(k, v);
    else if (k == "MICRO_PLUGIN_PATH") {
      for (const auto& p : split(v, ':')) plugins.path.emplace_back(p);
    }
  }
  if (server.register_interval >= server.register_ttl)
    fail("MICRO_REGISTER_INTERVAL", "the register interval must be less than the register TTL");
}

std::vector<fs::path> Config::plugin_search_path() const {
  std::vector<fs::path> out = plugins.path;
  if (auto dir = core_library_dir(); !dir.empty()) out.push_back(dir / MICRO_PLUGIN_SUBDIR);
  return out;
}

}  // namespace micro
