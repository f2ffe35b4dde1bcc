#include "etcd_codec.h"

#include <array>

#include "micro/errors.h"
#include "micro/log.h"

namespace micro::plugins::etcd {
namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int decode_char(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}
}  // namespace

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t v = uint8_t(in[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int d = decode_char(c);
    if (d < 0) return std::nullopt;
    acc = (acc << 6) | uint32_t(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    if (uint8_t(end.back()) < 0xff) {
      end.back() = char(uint8_t(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

std::string key_part(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c == '/') c = '-';
  }
  return out;
}

std::string service_prefix(std::string_view service) {
  return std::string(kPrefix) + key_part(service) + "/";
}

std::string node_key(std::string_view service, std::string_view node_id) {
  return service_prefix(service) + key_part(node_id);
}

int64_t json_i64(const nlohmann::json& obj, const char* field) {
  if (!obj.is_object()) return 0;
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_number_unsigned()) return static_cast<int64_t>(it->get<uint64_t>());
  if (it->is_string()) {
    try {
      return std::stoll(it->get<std::string>());
    } catch (const std::exception&) {
      return 0;
    }
  }
  return 0;
}

Endpoint parse_endpoint(std::string_view addr) {
  Endpoint e;
  if (addr.starts_with("https://")) {
    e.tls = true;
    addr.remove_prefix(8);
  } else if (addr.starts_with("http://")) {
    addr.remove_prefix(7);
  }
  while (!addr.empty() && addr.back() == '/') addr.remove_suffix(1);
  if (addr.empty()) throw Error(Errc::config, "registry.etcd: empty etcd address");
  if (addr.front() == '[') {  // [v6]:port
    const auto close = addr.find(']');
    if (close == std::string_view::npos) {
      throw Error(Errc::config, "registry.etcd: bad address '" + std::string(addr) + "'");
    }
    e.host = std::string(addr.substr(1, close - 1));
    auto rest = addr.substr(close + 1);
    e.port = rest.starts_with(":") && rest.size() > 1 ? std::string(rest.substr(1)) : "2379";
    return e;
  }
  const auto colon = addr.rfind(':');
  if (colon == std::string_view::npos || addr.find(':') != colon) {
    e.host = std::string(addr);  // no port, or a bare IPv6 address
    e.port = "2379";
  } else {
    e.host = std::string(addr.substr(0, colon));
    e.port = std::string(addr.substr(colon + 1));
    if (e.port.empty()) e.port = "2379";
  }
  if (e.host.empty()) e.host = "127.0.0.1";
  return e;
}

std::optional<registry::Service> decode_kv(const nlohmann::json& kv, std::string* key_out) {
  std::string key = "?";
  if (kv.is_object() && kv.contains("key") && kv["key"].is_string()) {
    key = base64_decode(kv["key"].get<std::string>()).value_or("?");
  }
  if (key_out) *key_out = key;
  std::string value;
  if (kv.is_object() && kv.contains("value") && kv["value"].is_string()) {
    auto v = base64_decode(kv["value"].get<std::string>());
    if (!v) {
      log::warn("registry-etcd", "skipping " + key + ": value is not base64");
      return std::nullopt;
    }
    value = std::move(*v);
  }
  try {
    auto s = registry::service_from_json(value);
    if (s.nodes.empty()) {
      log::warn("registry-etcd", "skipping " + key + ": the service has no node");
      return std::nullopt;
    }
    for (const auto& n : s.nodes) {
      if (n.address.empty()) {
        log::warn("registry-etcd", "skipping " + key + ": node '" + n.id + "' has no address");
        return std::nullopt;
      }
    }
    return s;
  } catch (const std::exception& e) {
    log::warn("registry-etcd", "skipping " + key + ": " + e.what());
    return std::nullopt;
  }
}

void merge(std::vector<registry::Service>& out, registry::Service s) {
  for (auto& o : out) {
    if (o.name == s.name && o.version == s.version) {
      for (auto& n : s.nodes) o.nodes.push_back(std::move(n));
      return;
    }
  }
  out.push_back(std::move(s));
}

}  // namespace micro::plugins::etcd
