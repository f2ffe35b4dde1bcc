// go-micro's broker envelope: {"Header":{...},"Body":"<base64>"} (spec/gomicro-wire.md §5.2).
//
// Both directions are on the pub/sub hot path (issue #6), so neither builds a JSON DOM:
// - to_envelope writes the text straight into one pre-sized string. Its output is byte for byte
//   what nlohmann's ordered_json dump (indent -1, ensure_ascii false, error_handler_t::replace)
//   gave for the same message, which is what this file used before: keys in header order, the
//   escapes nlohmann writes, and each ill-formed UTF-8 sequence replaced by U+FFFD the way
//   nlohmann's serializer does it.
// - from_envelope reads the shape writers produce (ours and Go's json.Marshal):
//   {"Header":{"k":"v",...}|null,"Body":"<base64>"|null} with no whitespace, strings with or
//   without escapes. Anything else, and anything the fast reader is unsure of (bad base64,
//   ill-formed UTF-8, header names equal but for case), goes to the full nlohmann parse, which
//   decides what is accepted and which error is thrown, exactly as before.
#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <cstring>

#include "micro/broker.h"

namespace micro::broker {
namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// ---- UTF-8 --------------------------------------------------------------------------------------

// The number of bytes of the well-formed UTF-8 sequence (RFC 3629, Unicode table 3-7) that starts
// at p, a byte >= 0x80; or, when there is none, minus the length of its longest well-formed prefix
// (0 when *p cannot start a sequence). These are the ranges both nlohmann's lexer and its
// serializer's DFA accept.
inline int utf8_sequence(const unsigned char* p, const unsigned char* end) {
  const unsigned char c = *p;
  int need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  for (int j = 1; j <= need; ++j) {
    if (p + j >= end || p[j] < lo || p[j] > hi) return -j;
    lo = 0x80;
    hi = 0xBF;
  }
  return need + 1;
}

// ---- encoding -----------------------------------------------------------------------------------

// True for the bytes a JSON string can hold as they are: printable ASCII but '"' and '\\'.
constexpr std::array<bool, 256> make_plain() {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x80; ++c) t[c] = c != '"' && c != '\\';
  return t;
}
constexpr std::array<bool, 256> kPlain = make_plain();

// The most bytes escape() writes for s: s itself when every byte is plain, else 6 per byte
// (a control character becomes \u00XX; an ill-formed byte becomes the 3-byte U+FFFD).
inline std::size_t escaped_bound(std::string_view s) {
  for (unsigned char c : s)
    if (!kPlain[c]) return s.size() * 6;
  return s.size();
}

// Writes s as the inside of a JSON string at o, as nlohmann's dump_escaped does with
// ensure_ascii false and error_handler_t::replace; returns the end.
char* escape(std::string_view s, char* o) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    const unsigned char c = *p;
    if (kPlain[c]) {
      *o++ = char(c);
      ++p;
      continue;
    }
    if (c < 0x80) {
      *o++ = '\\';
      switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\t': *o++ = 't'; break;
        case '\n': *o++ = 'n'; break;
        case '\f': *o++ = 'f'; break;
        case '\r': *o++ = 'r'; break;
        default:
          *o++ = 'u';
          *o++ = '0';
          *o++ = '0';
          *o++ = kHex[c >> 4];
          *o++ = kHex[c & 0xf];
      }
      ++p;
      continue;
    }
    const int n = utf8_sequence(p, end);
    if (n > 0) {
      std::memcpy(o, p, std::size_t(n));
      o += n;
      p += n;
    } else {
      // nlohmann drops the ill-formed prefix, writes one U+FFFD and reads on from the byte that
      // broke the sequence (or from the next one when the first could not start a sequence).
      *o++ = '\xEF';
      *o++ = '\xBF';
      *o++ = '\xBD';
      p += n < 0 ? -n : 1;
    }
  }
  return o;
}

char* base64(std::string_view in, char* o) {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t n = in.size();
  std::size_t i = 0;
  for (; i + 2 < n; i += 3) {
    const uint32_t v = (uint32_t(p[i]) << 16) | (uint32_t(p[i + 1]) << 8) | uint32_t(p[i + 2]);
    o[0] = kB64[v >> 18];
    o[1] = kB64[(v >> 12) & 63];
    o[2] = kB64[(v >> 6) & 63];
    o[3] = kB64[v & 63];
    o += 4;
  }
  if (i < n) {
    uint32_t v = uint32_t(p[i]) << 16;
    if (i + 1 < n) v |= uint32_t(p[i + 1]) << 8;
    o[0] = kB64[v >> 18];
    o[1] = kB64[(v >> 12) & 63];
    o[2] = i + 1 < n ? kB64[(v >> 6) & 63] : '=';
    o[3] = '=';
    o += 4;
  }
  return o;
}

char* put(char* o, std::string_view s) {
  std::memcpy(o, s.data(), s.size());
  return o + s.size();
}

// ---- decoding: the full parse -------------------------------------------------------------------

int value_of(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::string unbase64(std::string_view in) {
  if (in.size() % 4 != 0)
    throw Error(Errc::bad_request, "broker envelope: Body is not padded base64");
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
    const uint32_t x =
        (uint32_t(v[0]) << 18) | (uint32_t(v[1]) << 12) | (uint32_t(v[2]) << 6) | uint32_t(v[3]);
    out += char(x >> 16);
    if (pad < 2) out += char((x >> 8) & 0xff);
    if (pad < 1) out += char(x & 0xff);
  }
  return out;
}

// Any JSON text: decides what is an envelope and every error message.
Message parse_envelope(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw Error(Errc::bad_request, "broker envelope: not a JSON object");
  Message m;
  auto h = j.find("Header");
  if (h == j.end() || !(h->is_object() || h->is_null()))
    throw Error(Errc::bad_request, "broker envelope: no Header object");
  if (h->is_object()) {
    for (auto& [k, v] : h->items()) {
      if (!v.is_string())
        throw Error(Errc::bad_request, "broker envelope: Header." + k + " is not a string");
      m.header.insert_or_assign(k, v.get<std::string>());
    }
  }
  if (auto b = j.find("Body"); b != j.end() && !b->is_null()) {
    if (!b->is_string()) throw Error(Errc::bad_request, "broker envelope: Body is not a string");
    m.body = unbase64(b->get<std::string>());
  }
  return m;
}

// ---- decoding: the fast reader ------------------------------------------------------------------

// Base64 digit values; -1 for anything else ('=' included).
constexpr std::array<int8_t, 256> make_b64_values() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kB64[i])] = int8_t(i);
  return t;
}
constexpr std::array<int8_t, 256> kB64Value = make_b64_values();

// Bytes that end a run of plain string content: '"', '\\', control characters and non-ASCII.
constexpr std::array<bool, 256> make_special() {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = c < 0x20 || c >= 0x80 || c == '"' || c == '\\';
  return t;
}
constexpr std::array<bool, 256> kSpecial = make_special();

class Reader {
 public:
  explicit Reader(std::string_view t)
      : p_(reinterpret_cast<const unsigned char*>(t.data())), end_(p_ + t.size()) {}

  bool at_end() const { return p_ == end_; }
  bool eat(std::string_view s) {
    if (std::size_t(end_ - p_) < s.size() || std::memcmp(p_, s.data(), s.size()) != 0) return false;
    p_ += s.size();
    return true;
  }
  bool eat(char c) {
    if (p_ == end_ || *p_ != static_cast<unsigned char>(c)) return false;
    ++p_;
    return true;
  }

  // Reads a JSON string whose opening quote was eaten. When it has no escapes, out views it in
  // the input; otherwise it is unescaped into scratch and out views that. False for anything the
  // full parser has to judge (ill-formed UTF-8, a control character, a bad escape, no end).
  bool string(std::string_view& out, std::string& scratch) {
    const unsigned char* start = p_;
    if (!scan()) return false;
    if (*p_ == '"') {
      out = view(start, p_);
      ++p_;
      return true;
    }
    scratch.assign(reinterpret_cast<const char*>(start), std::size_t(p_ - start));
    while (true) {
      // *p_ is '\\' here: the plain run before it is in scratch.
      ++p_;
      if (p_ == end_) return false;
      const unsigned char e = *p_++;
      switch (e) {
        case '"':
        case '\\':
        case '/': scratch += char(e); break;
        case 'b': scratch += '\b'; break;
        case 'f': scratch += '\f'; break;
        case 'n': scratch += '\n'; break;
        case 'r': scratch += '\r'; break;
        case 't': scratch += '\t'; break;
        case 'u':
          if (!unicode_escape(scratch)) return false;
          break;
        default: return false;
      }
      const unsigned char* run = p_;
      if (!scan()) return false;
      scratch.append(reinterpret_cast<const char*>(run), std::size_t(p_ - run));
      if (*p_ == '"') {
        ++p_;
        out = scratch;
        return true;
      }
    }
  }

  // Reads the standard padded base64 of a string whose opening quote was eaten, and its closing
  // quote, into body. False for anything else (the full parser then says what is wrong).
  bool base64_string(std::string& body) {
    const unsigned char* start = p_;
    const void* q = std::memchr(p_, '"', std::size_t(end_ - p_));
    if (!q) return false;
    p_ = static_cast<const unsigned char*>(q);
    const unsigned char* b = start;
    const std::size_t n = std::size_t(p_ - start);
    ++p_;
    if (n % 4 != 0) return false;
    std::size_t pad = 0;
    if (n) pad = b[n - 1] != '=' ? 0 : b[n - 2] != '=' ? 1 : 2;
    body.resize(n / 4 * 3 - pad);
    char* o = body.data();
    const std::size_t full = n == 0 ? 0 : (pad ? n - 4 : n);
    for (std::size_t i = 0; i < full; i += 4) {
      const int a = kB64Value[b[i]], c = kB64Value[b[i + 1]], d = kB64Value[b[i + 2]],
                e = kB64Value[b[i + 3]];
      if ((a | c | d | e) < 0) return false;
      const uint32_t x =
          (uint32_t(a) << 18) | (uint32_t(c) << 12) | (uint32_t(d) << 6) | uint32_t(e);
      o[0] = char(x >> 16);
      o[1] = char(x >> 8);
      o[2] = char(x);
      o += 3;
    }
    if (pad) {
      const unsigned char* l = b + n - 4;
      const int a = kB64Value[l[0]], c = kB64Value[l[1]], d = pad == 2 ? 0 : kB64Value[l[2]];
      if ((a | c | d) < 0) return false;
      const uint32_t x = (uint32_t(a) << 18) | (uint32_t(c) << 12) | (uint32_t(d) << 6);
      *o++ = char(x >> 16);
      if (pad == 1) *o++ = char(x >> 8);
    }
    return true;
  }

 private:
  static std::string_view view(const unsigned char* a, const unsigned char* b) {
    return {reinterpret_cast<const char*>(a), std::size_t(b - a)};
  }

  // Moves p_ to the next '"' or '\\', over plain ASCII and well-formed UTF-8. False at the end
  // of the input, at a control character and at ill-formed UTF-8.
  bool scan() {
    while (p_ < end_) {
      const unsigned char c = *p_;
      if (!kSpecial[c]) {
        ++p_;
        continue;
      }
      if (c == '"' || c == '\\') return true;
      if (c < 0x80) return false;
      const int n = utf8_sequence(p_, end_);
      if (n <= 0) return false;
      p_ += n;
    }
    return false;
  }

  int hex4() {
    if (end_ - p_ < 4) return -1;
    int v = 0;
    for (int i = 0; i < 4; ++i) {
      const unsigned char c = *p_++;
      int d;
      if (c >= '0' && c <= '9')
        d = c - '0';
      else if (c >= 'a' && c <= 'f')
        d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        d = c - 'A' + 10;
      else
        return -1;
      v = v * 16 + d;
    }
    return v;
  }

  // After "\u": the code point, as UTF-8, with a surrogate pair joined.
  bool unicode_escape(std::string& out) {
    uint32_t cp;
    const int a = hex4();
    if (a < 0 || (a >= 0xDC00 && a <= 0xDFFF)) return false;
    if (a >= 0xD800 && a <= 0xDBFF) {
      if (!eat("\\u")) return false;
      const int b = hex4();
      if (b < 0xDC00 || b > 0xDFFF) return false;
      cp = 0x10000 + ((uint32_t(a) - 0xD800) << 10) + (uint32_t(b) - 0xDC00);
    } else {
      cp = uint32_t(a);
    }
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xF0 | (cp >> 18));
      out += char(0x80 | ((cp >> 12) & 0x3F));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
    return true;
  }

  const unsigned char* p_;
  const unsigned char* end_;
};

// The canonical shape, {"Header":{"k":"v",...}|null,"Body":"<base64>"|null} or without Body, read
// into m. False when text is not exactly that, or when the full parse could read it differently
// (header names equal but for case: it keeps the last in byte order, not in text order).
bool read_canonical(std::string_view text, Message& m) {
  Reader r(text);
  if (!r.eat("{\"Header\":")) return false;
  if (!r.eat("null")) {
    if (!r.eat('{')) return false;
    if (!r.eat('}')) {
      std::string key_scratch, value_scratch;
      do {
        std::string_view k, v;
        if (!r.eat('"') || !r.string(k, key_scratch) || !r.eat(':') || !r.eat('"') ||
            !r.string(v, value_scratch))
          return false;
        const std::size_t before = m.header.size();
        m.header.try_emplace(m.header.cend(), k, v);  // O(1) when names come in order
        if (m.header.size() == before) return false;
      } while (r.eat(','));
      if (!r.eat('}')) return false;
    }
  }
  if (r.eat(",\"Body\":")) {
    if (!r.eat("null") && !(r.eat('"') && r.base64_string(m.body))) return false;
  }
  return r.eat('}') && r.at_end();
}

}  // namespace

std::string to_envelope(const Message& m) {
  constexpr std::string_view kHead = "{\"Header\":{", kBody = "},\"Body\":\"", kEnd = "\"}";
  std::size_t bound = kHead.size() + kBody.size() + kEnd.size() + (m.body.size() + 2) / 3 * 4;
  for (const auto& [k, v] : m.header) bound += escaped_bound(k) + escaped_bound(v) + 6;
  std::string out;
  out.resize(bound);
  char* o = put(out.data(), kHead);
  bool first = true;
  for (const auto& [k, v] : m.header) {
    if (!first) *o++ = ',';
    first = false;
    *o++ = '"';
    o = escape(k, o);
    o = put(o, "\":\"");
    o = escape(v, o);
    *o++ = '"';
  }
  o = put(o, kBody);
  o = base64(m.body, o);
  o = put(o, kEnd);
  out.resize(std::size_t(o - out.data()));
  return out;
}

Message from_envelope(std::string_view text) {
  Message m;
  if (read_canonical(text, m)) return m;
  return parse_envelope(text);
}

}  // namespace micro::broker
