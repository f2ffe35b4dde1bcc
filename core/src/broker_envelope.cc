// go-micro's broker envelope: {"Header":{...},"Body":"<base64>"} (spec/gomicro-wire.md §5.2).
#include <nlohmann/json.hpp>

#include "micro/broker.h"

namespace micro::broker {
namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t v = uint8_t(in[i]) << 16;
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

int value_of(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::string unbase64(std::string_view in) {
  if (in.size() % 4 != 0) throw Error(Errc::bad_request, "broker envelope: Body is not padded base64");
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (std::size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = in[i + k];
      if (c == '=' && i + 4 == in.size() && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad) throw Error(Errc::bad_request, "broker envelope: bad base64 padding in Body");
      v[k] = value_of(c);
      if (v[k] < 0) throw Error(Errc::bad_request, "broker envelope: Body is not base64");
    }
    const uint32_t x = (uint32_t(v[0]) << 18) | (uint32_t(v[1]) << 12) | (uint32_t(v[2]) << 6) | uint32_t(v[3]);
    out += char(x >> 16);
    if (pad < 2) out += char((x >> 8) & 0xff);
    if (pad < 1) out += char(x & 0xff);
  }
  return out;
}

}  // namespace

std::string to_envelope(const Message& m) {
  nlohmann::ordered_json j;
  j["Header"] = nlohmann::ordered_json::object();
  for (const auto& [k, v] : m.header) j["Header"][k] = v;
  j["Body"] = base64(m.body);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Message from_envelope(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error(Errc::bad_request, "broker envelope: not a JSON object");
  Message m;
  auto h = j.find("Header");
  if (h == j.end() || !(h->is_object() || h->is_null()))
    throw Error(Errc::bad_request, "broker envelope: no Header object");
  if (h->is_object()) {
    for (auto& [k, v] : h->items()) {
      if (!v.is_string()) throw Error(Errc::bad_request, "broker envelope: Header." + k + " is not a string");
      m.header.insert_or_assign(k, v.get<std::string>());
    }
  }
  if (auto b = j.find("Body"); b != j.end() && !b->is_null()) {
    if (!b->is_string()) throw Error(Errc::bad_request, "broker envelope: Body is not a string");
    m.body = unbase64(b->get<std::string>());
  }
  return m;
}

}  // namespace micro::broker
