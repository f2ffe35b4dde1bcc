#include "framing.h"

#include "micro/errors.h"

namespace micro::plugins::zmqt {

namespace {
void put_u32(std::string& out, uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 4);
}
bool get_u32(std::string_view& in, uint32_t& v) {
  if (in.size() < 4) return false;
  v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(in[static_cast<size_t>(i)]);
  in.remove_prefix(4);
  return true;
}
bool get_str(std::string_view& in, std::string& out) {
  uint32_t n = 0;
  if (!get_u32(in, n) || in.size() < n) return false;
  out.assign(in.data(), n);
  in.remove_prefix(n);
  return true;
}
}  // namespace

std::string encode_channel(uint64_t id) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(id & 0xff);
    id >>= 8;
  }
  return out;
}

std::optional<uint64_t> decode_channel(std::string_view frame) {
  if (frame.size() != 8) return std::nullopt;
  uint64_t id = 0;
  for (char c : frame) id = (id << 8) | static_cast<unsigned char>(c);
  return id;
}

std::string encode_header(const Metadata& h) {
  size_t size = 4;
  for (const auto& [k, v] : h) size += 8 + k.size() + v.size();
  std::string out;
  out.reserve(size);
  put_u32(out, static_cast<uint32_t>(h.size()));
  for (const auto& [k, v] : h) {
    put_u32(out, static_cast<uint32_t>(k.size()));
    out += k;
    put_u32(out, static_cast<uint32_t>(v.size()));
    out += v;
  }
  return out;
}

bool decode_header(std::string_view in, Metadata& h) {
  h.clear();
  uint32_t n = 0;
  if (!get_u32(in, n) || n > 4096) return false;
  for (uint32_t i = 0; i < n; ++i) {
    std::string k, v;
    if (!get_str(in, k) || !get_str(in, v) || k.empty()) return false;
    // Encoders write the map in order: the end() hint makes each insert O(1).
    h.insert_or_assign(h.end(), std::move(k), std::move(v));
  }
  return in.empty();
}

std::string to_endpoint(std::string_view addr, bool bind) {
  if (addr.starts_with("tcp://") || addr.starts_with("ipc://")) {
    if (addr.size() <= 6)
      throw Error(Errc::unavailable, "zmq: empty address in \"" + std::string(addr) + "\"");
    return std::string(addr);
  }
  if (addr.find("://") != std::string_view::npos)
    throw Error(Errc::unavailable, "zmq: unsupported address \"" + std::string(addr) +
                                       "\" (use host:port, tcp://host:port or ipc://path)");
  const auto colon = addr.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == addr.size())
    throw Error(Errc::unavailable,
                "zmq: address \"" + std::string(addr) + "\" has no port (use host:port)");
  std::string host(addr.substr(0, colon));
  if (host.empty() || host == "*") host = bind ? "*" : "127.0.0.1";
  return "tcp://" + host + std::string(addr.substr(colon));
}

std::string from_endpoint(std::string_view endpoint) {
  if (endpoint.starts_with("tcp://")) return std::string(endpoint.substr(6));
  return std::string(endpoint);
}

}  // namespace micro::plugins::zmqt
