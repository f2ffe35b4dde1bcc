// A sketch of a faster go-micro broker envelope codec, to size what core/src/broker_envelope.cc
// could save. NOT used by any plugin: micro-bench-pubsub --envelope times it next to
// micro::broker::to_envelope / from_envelope and checks both give the same results on the
// bench message. It writes the JSON text directly (no nlohmann DOM) and base64 straight into the
// output; it parses the exact shape writers produce, {"Header":{"k":"v",...},"Body":"..."}
// with no whitespace and no escapes, and returns false for anything else, where the caller
// would fall back to the full parser. Unlike nlohmann's dump with error_handler_t::replace it
// does not replace invalid UTF-8 in header strings (a real version would validate them).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "micro/broker.h"

namespace envelope_sketch {

inline void escape(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += kHex[(c >> 4) & 0xf];
          out += kHex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
}

inline std::string to_envelope(const micro::broker::Message& m) {
  static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::size_t need = 24 + (m.body.size() + 2) / 3 * 4;
  for (const auto& [k, v] : m.header) need += k.size() + v.size() + 6;
  std::string out;
  out.reserve(need);
  out += "{\"Header\":{";
  bool first = true;
  for (const auto& [k, v] : m.header) {
    if (!first) out += ',';
    first = false;
    out += '"';
    escape(k, out);
    out += "\":\"";
    escape(v, out);
    out += '"';
  }
  out += "},\"Body\":\"";
  const auto* in = reinterpret_cast<const unsigned char*>(m.body.data());
  const std::size_t n = m.body.size();
  std::size_t pos = out.size();
  out.resize(pos + (n + 2) / 3 * 4);
  char* o = out.data() + pos;
  std::size_t i = 0;
  for (; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t(in[i]) << 16) | (uint32_t(in[i + 1]) << 8) | in[i + 2];
    *o++ = kB64[v >> 18];
    *o++ = kB64[(v >> 12) & 63];
    *o++ = kB64[(v >> 6) & 63];
    *o++ = kB64[v & 63];
  }
  if (i < n) {
    uint32_t v = uint32_t(in[i]) << 16;
    if (i + 1 < n) v |= uint32_t(in[i + 1]) << 8;
    *o++ = kB64[v >> 18];
    *o++ = kB64[(v >> 12) & 63];
    *o++ = i + 1 < n ? kB64[(v >> 6) & 63] : '=';
    *o++ = '=';
  }
  out += "\"}";
  return out;
}

// Reads a string without escapes at p (just after its opening quote); false on a backslash or
// control character.
inline bool plain_string(std::string_view t, std::size_t& p, std::string_view& s) {
  std::size_t start = p;
  for (; p < t.size(); ++p) {
    char c = t[p];
    if (c == '"') {
      s = t.substr(start, p - start);
      ++p;
      return true;
    }
    if (c == '\\' || static_cast<unsigned char>(c) < 0x20) return false;
  }
  return false;
}

inline bool from_envelope(std::string_view t, micro::broker::Message& m) {
  constexpr std::string_view kHead = "{\"Header\":{", kBody = ",\"Body\":\"";
  if (t.substr(0, kHead.size()) != kHead) return false;
  std::size_t p = kHead.size();
  m.header.clear();
  while (p < t.size() && t[p] != '}') {
    if (t[p] == ',' && !m.header.empty()) ++p;
    std::string_view k, v;
    if (p >= t.size() || t[p++] != '"' || !plain_string(t, p, k)) return false;
    if (p + 1 >= t.size() || t[p] != ':' || t[p + 1] != '"') return false;
    p += 2;
    if (!plain_string(t, p, v)) return false;
    m.header.insert_or_assign(std::string(k), std::string(v));
  }
  ++p;  // '}'
  if (t.substr(p, kBody.size()) != kBody) return false;
  p += kBody.size();
  std::string_view b;
  if (!plain_string(t, p, b) || t.substr(p) != "}" || b.size() % 4 != 0) return false;
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::size_t pad = b.empty() ? 0 : (b.back() == '=') + (b.size() > 1 && b[b.size() - 2] == '=');
  m.body.resize(b.size() / 4 * 3 - pad);
  char* o = m.body.data();
  for (std::size_t i = 0; i < b.size(); i += 4) {
    bool last = i + 4 == b.size();
    int v0 = val(b[i]), v1 = val(b[i + 1]);
    int v2 = last && pad == 2 ? 0 : val(b[i + 2]);
    int v3 = last && pad >= 1 ? 0 : val(b[i + 3]);
    if ((v0 | v1 | v2 | v3) < 0) return false;
    uint32_t x = (uint32_t(v0) << 18) | (uint32_t(v1) << 12) | (uint32_t(v2) << 6) | uint32_t(v3);
    *o++ = char(x >> 16);
    if (!last || pad < 2) *o++ = char((x >> 8) & 0xff);
    if (!last || pad < 1) *o++ = char(x & 0xff);
  }
  return true;
}

}  // namespace envelope_sketch
