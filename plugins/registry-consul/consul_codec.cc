#include "consul_codec.h"

#include <zlib.h>

#include <map>

#include "micro/errors.h"
#include "micro/log.h"

namespace micro::plugins::consul {

using nlohmann::json;

std::string zlib_compress(std::string_view data) {
  uLongf n = compressBound(static_cast<uLong>(data.size()));
  std::string out(n, '\0');
  const int rc = compress2(reinterpret_cast<Bytef*>(out.data()), &n,
                           reinterpret_cast<const Bytef*>(data.data()),
                           static_cast<uLong>(data.size()), Z_DEFAULT_COMPRESSION);
  if (rc != Z_OK) throw Error(Errc::internal, "registry-consul: zlib compress failed");
  out.resize(n);
  return out;
}

std::string zlib_decompress(std::string_view data) {
  z_stream z{};
  if (inflateInit(&z) != Z_OK) throw Error(Errc::internal, "registry-consul: zlib init failed");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buf[4096];
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
    if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) rc = Z_DATA_ERROR;  // truncated
    if (out.size() > (16u << 20)) rc = Z_MEM_ERROR;
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END) throw Error(Errc::bad_request, "registry-consul: bad zlib data");
  return out;
}

std::string hex_encode(std::string_view data) {
  static const char* d = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (unsigned char c : data) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

std::string hex_decode(std::string_view hex) {
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() % 2) throw Error(Errc::bad_request, "registry-consul: odd hex length");
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = val(hex[i]), lo = val(hex[i + 1]);
    if (hi < 0 || lo < 0) throw Error(Errc::bad_request, "registry-consul: bad hex digit");
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

std::string go_duration(std::chrono::seconds d) {
  long s = static_cast<long>(d.count());
  if (s == 0) return "0s";
  std::string out;
  if (s < 0) {
    out = "-";
    s = -s;
  }
  const long h = s / 3600, m = (s % 3600) / 60, sec = s % 60;
  if (h) out += std::to_string(h) + "h";
  if (h || m) out += std::to_string(m) + "m";
  out += std::to_string(sec) + "s";
  return out;
}

namespace {

json endpoint_json(const registry::Endpoint& e) {
  registry::Service tmp;
  tmp.endpoints.push_back(e);
  return json::parse(registry::to_json(tmp))["endpoints"][0];
}

registry::Endpoint endpoint_from(const std::string& text) {
  auto j = json::parse(text);  // throws on bad JSON: caught by the caller
  if (!j.is_object()) throw Error(Errc::bad_request, "registry-consul: endpoint is not an object");
  json svc = {{"name", "endpoint"}, {"version", ""}, {"endpoints", json::array({j})}};
  auto s = registry::service_from_json(svc.dump());
  return s.endpoints.at(0);
}

std::string enc(std::string_view data) { return hex_encode(zlib_compress(data)); }

}  // namespace

std::vector<std::string> encode_tags(const registry::Service& s, const registry::Node& n) {
  std::vector<std::string> tags;
  for (const auto& [k, v] : n.metadata) tags.push_back("t-" + enc(json{{k, v}}.dump()));
  for (const auto& e : s.endpoints) tags.push_back("e-" + enc(endpoint_json(e).dump()));
  tags.push_back("v-" + enc(s.version));
  return tags;
}

DecodedTags decode_tags(const std::vector<std::string>& tags) {
  DecodedTags out;
  // Per kind, the first variant seen ('-' or '=') is used for the rest (go-micro's decoder).
  std::map<char, char> variant;
  bool have_version = false;
  for (const auto& tag : tags) {
    if (tag.size() < 2 || (tag[0] != 't' && tag[0] != 'e' && tag[0] != 'v')) continue;
    if (tag[1] != '-' && tag[1] != '=') continue;
    const char kind = tag[0];
    auto [it, fresh] = variant.emplace(kind, tag[1]);
    if (!fresh && it->second != tag[1]) continue;
    const std::string_view body = std::string_view(tag).substr(2);
    try {
      const std::string raw = tag[1] == '-' ? zlib_decompress(hex_decode(body)) : std::string(body);
      if (kind == 't') {
        auto j = json::parse(raw);
        if (!j.is_object()) throw Error(Errc::bad_request, "metadata is not an object");
        for (auto& [k, v] : j.items()) {
          if (v.is_string()) out.metadata[k] = v.get<std::string>();
        }
      } else if (kind == 'e') {
        out.endpoints.push_back(endpoint_from(raw));
      } else if (!have_version) {
        out.version = raw;  // the first v tag, as go-micro's decodeVersion
        have_version = true;
      }
    } catch (const std::exception& e) {
      out.skipped.push_back(tag.substr(0, 2) + ": " + e.what());
    }
  }
  return out;
}

json registration(const registry::Service& s, const registry::Node& n, std::chrono::seconds ttl) {
  const auto colon = n.address.rfind(':');
  if (colon == std::string::npos) {
    throw Error(Errc::bad_request, "registry-consul: node address without port: " + n.address);
  }
  std::string host = n.address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    size_t used = 0;
    port = std::stoi(n.address.substr(colon + 1), &used);
    if (used != n.address.size() - colon - 1 || port < 0 || port > 65535) throw 0;
  } catch (...) {
    throw Error(Errc::bad_request, "registry-consul: bad port in node address: " + n.address);
  }
  json meta = json::object();
  for (const auto& [k, v] : n.metadata) meta[k] = v;
  json body = {{"ID", n.id},   {"Name", s.name},  {"Tags", encode_tags(s, n)},
               {"Port", port}, {"Address", host}, {"Meta", meta}};
  if (ttl.count() > 0) {
    const auto after =
        ttl < std::chrono::minutes(1) ? std::chrono::seconds(65) : ttl + std::chrono::seconds(5);
    body["Check"] = {{"TTL", go_duration(ttl)},
                     {"DeregisterCriticalServiceAfter", go_duration(after)}};
  }
  return body;
}

namespace {
std::string str_at(const json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
}  // namespace

std::vector<registry::Service> services_from_health(std::string_view name, const json& entries) {
  std::vector<registry::Service> out;
  if (!entries.is_array()) return out;
  for (const auto& e : entries) {
    if (!e.is_object()) continue;
    bool critical = false;
    if (auto c = e.find("Checks"); c != e.end() && c->is_array()) {
      for (const auto& ch : *c) {
        if (ch.is_object() && str_at(ch, "Status") == "critical") critical = true;
      }
    }
    if (critical) continue;
    auto sv = e.find("Service");
    if (sv == e.end() || !sv->is_object() || str_at(*sv, "Service") != name) continue;
    std::vector<std::string> tags;
    if (auto t = sv->find("Tags"); t != sv->end() && t->is_array()) {
      for (const auto& x : *t) {
        if (x.is_string()) tags.push_back(x.get<std::string>());
      }
    }
    auto d = decode_tags(tags);
    for (const auto& why : d.skipped) {
      log::warn("registry-consul", "service " + std::string(name) + " node " + str_at(*sv, "ID") +
                                       ": skipped tag " + why);
    }
    std::string host = str_at(*sv, "Address");
    if (host.empty()) {
      if (auto nd = e.find("Node"); nd != e.end() && nd->is_object()) host = str_at(*nd, "Address");
    }
    long port = 0;
    if (auto p = sv->find("Port"); p != sv->end() && p->is_number_integer()) port = p->get<long>();
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    registry::Node node{str_at(*sv, "ID"), host + ":" + std::to_string(port), d.metadata};
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const registry::Service& s) { return s.version == d.version; });
    if (it == out.end()) {
      registry::Service s;
      s.name = std::string(name);
      s.version = d.version;
      s.endpoints = std::move(d.endpoints);
      out.push_back(std::move(s));
      it = out.end() - 1;
    }
    it->nodes.push_back(std::move(node));
  }
  return out;
}

}  // namespace micro::plugins::consul
