// go-micro's broker envelope (spec/gomicro-wire.md §5.2): exact keys, standard padded base64.
//
// core/src/broker_envelope.cc writes and reads the envelope without a JSON DOM. The reference
// below is the nlohmann implementation it replaced: the encoder must give the same bytes for
// every message, and the decoder the same message or the same error for every text.
#include <nlohmann/json.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "micro/broker.h"

using micro::broker::from_envelope;
using micro::broker::Message;
using micro::broker::to_envelope;

namespace {

// ---- the reference: the nlohmann implementation, as it was ----

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string ref_base64(std::string_view in) {
  std::string out;
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

int ref_value_of(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::string ref_unbase64(std::string_view in) {
  using micro::Errc;
  using micro::Error;
  if (in.size() % 4 != 0)
    throw Error(Errc::bad_request, "broker envelope: Body is not padded base64");
  std::string out;
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
      v[k] = ref_value_of(c);
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

std::string ref_to_envelope(const Message& m) {
  nlohmann::ordered_json j;
  j["Header"] = nlohmann::ordered_json::object();
  for (const auto& [k, v] : m.header) j["Header"][k] = v;
  j["Body"] = ref_base64(m.body);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Message ref_from_envelope(std::string_view text) {
  using micro::Errc;
  using micro::Error;
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
    m.body = ref_unbase64(b->get<std::string>());
  }
  return m;
}

// ---- comparing outcomes ----

// What decoding gave: the message, or the error (errc and text).
struct Outcome {
  std::optional<Message> message;
  micro::Errc errc{};
  std::string error;
};

template <class F>
Outcome outcome(F&& decode, std::string_view text) {
  Outcome o;
  try {
    o.message = decode(text);
  } catch (const micro::Error& e) {
    o.errc = e.errc();
    o.error = e.what();
  }
  return o;
}

bool same(const Outcome& a, const Outcome& b) {
  if (a.message.has_value() != b.message.has_value()) return false;
  if (a.message)
    return a.message->header == b.message->header && a.message->body == b.message->body;
  return a.errc == b.errc && a.error == b.error;
}

std::string describe(const Outcome& o) {
  if (!o.message) return "error: " + o.error;
  std::string s = "message: header";
  for (const auto& [k, v] : o.message->header) s += " [" + k + "]=[" + v + "]";
  return s + " body " + std::to_string(o.message->body.size()) + " bytes";
}

// Checks from_envelope and the reference agree on text; returns whether they did.
bool decodes_as_reference(std::string_view text) {
  const Outcome got = outcome([](std::string_view t) { return from_envelope(t); }, text);
  const Outcome want = outcome([](std::string_view t) { return ref_from_envelope(t); }, text);
  if (same(got, want)) return true;
  UNSCOPED_INFO("text: " << nlohmann::json(std::string(text))
                                .dump(-1, ' ', true, nlohmann::json::error_handler_t::replace));
  UNSCOPED_INFO("got " << describe(got));
  UNSCOPED_INFO("want " << describe(want));
  return false;
}

// ---- random data ----

// Bytes that matter to a JSON writer and to UTF-8: control characters, the escaped characters,
// DEL, every boundary of the UTF-8 lead and continuation ranges, and plain letters.
const std::vector<unsigned char> kInteresting = {
    0x00, 0x01, 0x08, 0x09, 0x0A, 0x0C, 0x0D, 0x1F, 0x20, '"',  '\\', '/',  'a',
    'Z',  0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0,
    0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF};

std::string random_string(std::mt19937& rng, std::size_t max_len) {
  std::string s;
  const std::size_t n = rng() % (max_len + 1);
  while (s.size() < n) {
    switch (rng() % 8) {
      case 0:
      case 1: s += char('a' + rng() % 26); break;
      case 2: s += char(kInteresting[rng() % kInteresting.size()]); break;
      case 3: s += char(rng() % 256); break;
      case 4:
        s += "\xC3\xA9";  // é
        break;
      case 5:
        s += "\xE2\x82\xAC";  // €
        break;
      case 6:
        s += "\xF0\x9F\x98\x80";  // U+1F600
        break;
      default: s += "\"\\-";
    }
  }
  return s;
}

std::string random_body(std::mt19937& rng) {
  std::string b(rng() % 301, '\0');
  for (auto& c : b) c = char(rng() % 256);
  return b;
}

Message random_message(std::mt19937& rng, bool valid_utf8_only) {
  Message m;
  const std::size_t n = rng() % 6;
  for (std::size_t i = 0; i < n; ++i) {
    std::string k = random_string(rng, 12), v = random_string(rng, 40);
    if (valid_utf8_only) {
      // Through a round trip of the reference: ill-formed UTF-8 replaced.
      k = nlohmann::json(k).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      v = nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      k = nlohmann::json::parse(k).get<std::string>();
      v = nlohmann::json::parse(v).get<std::string>();
    }
    m.header.insert_or_assign(k, v);
  }
  if (rng() % 3 == 0) {
    m.header.insert_or_assign("Content-Type", "application/json");
    m.header.insert_or_assign("Micro-Topic", "events");
  }
  m.body = random_body(rng);
  return m;
}

// The text with whitespace after every structural character outside strings.
std::string spaced(std::string_view text) {
  std::string out;
  bool in_string = false, escaped = false;
  for (char c : text) {
    out += c;
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '{' || c == ':' || c == ',')
      out += " \n\t";
  }
  return " " + out + "\r\n";
}

}  // namespace

// ---- the format ----

TEST_CASE("the envelope is go-micro's JSON with Header and padded base64 Body") {
  Message m;
  m.header.emplace("Content-Type", "application/json");
  m.header.emplace("Micro-Topic", "events");
  m.body = "{\"a\":1}\n";
  CHECK(
      to_envelope(m) ==
      R"({"Header":{"Content-Type":"application/json","Micro-Topic":"events"},"Body":"eyJhIjoxfQo="})");
  CHECK(to_envelope(Message{}) == R"({"Header":{},"Body":""})");
}

TEST_CASE("bodies of every length survive the round trip, binary included") {
  for (std::size_t n = 0; n < 40; ++n) {
    Message m;
    for (std::size_t i = 0; i < n; ++i) m.body += char((i * 37 + n) & 0xff);
    m.header.emplace("Micro-Id", std::to_string(n));
    Message back = from_envelope(to_envelope(m));
    CHECK(back.body == m.body);
    CHECK(back.header == m.header);
  }
}

TEST_CASE("an envelope written by Go is read, header key case kept") {
  Message m = from_envelope(
      R"({"Header":{"Micro-ID":"x","Content-Type":"application/protobuf"},"Body":"CgNmb28="})");
  CHECK(m.body == std::string("\x0a\x03"
                              "foo"));
  CHECK(m.header.begin()->first == "Content-Type");
  CHECK(micro::get(m.header, "micro-id") == "x");
}

TEST_CASE("Go's escapes and nulls are read") {
  // json.Marshal escapes <, > and & as \u003c..., writes nil maps and slices as null.
  Message m = from_envelope(
      R"({"Header":{"A":"\u003cb\u003e \u0026 \"q\" \\ \/ \b\f\n\r\t \u00e9\u20ac\ud83d\ude00 \u0000"},"Body":null})");
  CHECK(m.body.empty());
  std::string want = "<b> & \"q\" \\ / \b\f\n\r\t \xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80 ";
  want += '\0';
  CHECK(m.header.at("A") == want);
  m = from_envelope(R"({"Header":null,"Body":"eA=="})");
  CHECK(m.header.empty());
  CHECK(m.body == "x");
  m = from_envelope(R"({"Header":{"a":"b"}})");
  CHECK(m.header.at("a") == "b");
  CHECK(m.body.empty());
}

TEST_CASE("what is not an envelope is refused with bad_request") {
  for (const char* bad : {"", "nope", "[]", R"({"Body":"eA=="})", R"({"Header":{},"Body":"e"})",
                          R"({"Header":{},"Body":"e!=="})", R"({"Header":{"a":1},"Body":""})"}) {
    INFO(bad);
    try {
      from_envelope(bad);
      FAIL("accepted");
    } catch (const micro::Error& e) {
      CHECK(e.errc() == micro::Errc::bad_request);
    }
  }
}

TEST_CASE("bad envelopes give the reference's errors, canonical-looking ones included") {
  const std::vector<std::string> bad = {
      "",
      "{",
      "[]",
      "null",
      R"({"Header":{},"Body":"e"})",
      R"({"Header":{},"Body":"e!=="})",
      R"({"Header":{},"Body":"eA=a"})",
      R"({"Header":{},"Body":"e==="})",
      R"({"Header":{},"Body":"eA==eA=="})",
      R"({"Header":{},"Body":"eA=="}x)",
      R"({"Header":{},"Body":"eA==})",
      R"({"Header":{},"Body":1})",
      R"({"Header":{},"Body":"\u00e9AAA"})",
      R"({"Header":[],"Body":""})",
      R"({"Header":"x","Body":""})",
      R"({"Header":{"a":1},"Body":""})",
      R"({"Header":{"a":"b",},"Body":""})",
      R"({"Header":{"a":"b"},"Body":""},)",
      R"({"Header":{"a":"\x"},"Body":""})",
      R"({"Header":{"a":"\u12"},"Body":""})",
      R"({"Header":{"a":"\ud800"},"Body":""})",
      R"({"Header":{"a":"\ud800\u0041"},"Body":""})",
      R"({"Header":{"a":"\udc00"},"Body":""})",
      "{\"Header\":{\"a\":\"\x01\"},\"Body\":\"\"}",
      "{\"Header\":{\"a\":\"\xC3\"},\"Body\":\"\"}",
      "{\"Header\":{\"a\":\"\xED\xA0\x80\"},\"Body\":\"\"}",
      "{\"Header\":{\"a\":\"\xC0\xAF\"},\"Body\":\"\"}",
      "{\"Header\":{\"\xFF\":\"b\"},\"Body\":\"\"}",
      R"({"Header":{"a":"b"},"Body":"eA==","Header":1})",
  };
  for (const auto& text : bad) {
    CHECK(decodes_as_reference(text));
    CHECK_THROWS_AS(from_envelope(text), micro::Error);
  }
}

TEST_CASE("odd texts the reference accepts are accepted alike") {
  // nlohmann unescapes the Body string before reading base64, and stops at a NUL byte.
  const std::vector<std::string> odd = {
      R"({"Header":{},"Body":"eA\u003d="})",
      R"({"Header":{},"Body":"eA=="})" + std::string(1, '\0') + "junk",
      R"({"Header":{"a":"b"},"Body":"eA==","Header":null})",
      R"({"Body":"eA==","Header":{}})",
      R"({"Header":{"a":"b"},"Body":"eA==","Body":null})",
  };
  for (const auto& text : odd) {
    CHECK(decodes_as_reference(text));
    CHECK_NOTHROW(from_envelope(text));
  }
}

TEST_CASE("header names equal but for case decode as the reference does") {
  for (const char* text :
       {R"({"Header":{"a":"1","A":"2"},"Body":""})", R"({"Header":{"A":"1","a":"2"},"Body":""})",
        R"({"Header":{"a":"1","a":"2"},"Body":""})",
        R"({"Header":{"b":"0","Ab":"1","aB":"2","AB":"3"},"Body":""})"}) {
    CHECK(decodes_as_reference(text));
  }
}

// ---- the encoder against the reference ----

TEST_CASE("the encoder writes the reference's bytes for every short string") {
  // Every string of up to two bytes, and of three bytes over the interesting ones, as a name and
  // as a value: all escapes and every way UTF-8 can be ill-formed at the start, middle and end.
  auto check = [](const std::string& s) {
    Message m;
    m.header.emplace("K", s);
    m.header.emplace(s.empty() ? "x" : s, "v");
    const std::string got = to_envelope(m), want = ref_to_envelope(m);
    if (got != want) {
      UNSCOPED_INFO("string bytes: " << nlohmann::json(std::vector<uint8_t>(s.begin(), s.end())));
      UNSCOPED_INFO("got  " << got);
      UNSCOPED_INFO("want " << want);
    }
    return got == want;
  };
  std::size_t bad = 0;
  for (int a = 0; a < 256; ++a) {
    if (!check(std::string(1, char(a)))) ++bad;
    for (int b = 0; b < 256; ++b)
      if (!check(std::string{char(a), char(b)})) ++bad;
  }
  for (unsigned char a : kInteresting)
    for (unsigned char b : kInteresting)
      for (unsigned char c : kInteresting)
        for (unsigned char d : {0x41, 0x80, 0xBF})
          if (!check(std::string{char(a), char(b), char(c), char(d)}) ||
              !check(std::string{char(a), char(b), char(c)}))
            ++bad;
  CHECK(bad == 0);
}

TEST_CASE("the encoder writes the reference's bytes for random messages") {
  std::mt19937 rng(6);
  std::size_t bad = 0;
  for (int i = 0; i < 3000; ++i) {
    const Message m = random_message(rng, false);
    const std::string got = to_envelope(m), want = ref_to_envelope(m);
    if (got != want && ++bad < 5) {
      UNSCOPED_INFO("got  " << got);
      UNSCOPED_INFO("want " << want);
    }
  }
  CHECK(bad == 0);
}

TEST_CASE("bodies of 0 to 300 bytes encode as the reference and decode back") {
  std::mt19937 rng(7);
  for (std::size_t n = 0; n <= 300; ++n) {
    Message m;
    m.header.emplace("Micro-Id", "3f1c");
    for (std::size_t i = 0; i < n; ++i) m.body += char(rng() % 256);
    const std::string text = to_envelope(m);
    CHECK(text == ref_to_envelope(m));
    const Message back = from_envelope(text);
    CHECK(back.body == m.body);
    CHECK(back.header == m.header);
  }
}

// ---- the decoder against the reference ----

TEST_CASE("random messages round-trip as with the reference") {
  std::mt19937 rng(8);
  std::size_t bad = 0;
  for (int i = 0; i < 3000; ++i) {
    const bool valid = i % 2 == 0;
    const Message m = random_message(rng, valid);
    const std::string text = to_envelope(m);
    if (!decodes_as_reference(text)) ++bad;
    const Message back = from_envelope(text);
    if (valid && !(back.header == m.header && back.body == m.body)) ++bad;
  }
  CHECK(bad == 0);
}

TEST_CASE("other spellings of the same envelope decode the same") {
  // Whitespace, keys in another order, unknown keys, escapes a writer may use: the full parser
  // reads these; the result must be what the canonical text gives.
  std::mt19937 rng(9);
  std::size_t bad = 0;
  for (int i = 0; i < 1000; ++i) {
    const Message m = random_message(rng, true);
    const std::string canonical = to_envelope(m);
    const Message want = ref_from_envelope(canonical);

    nlohmann::ordered_json j = nlohmann::ordered_json::parse(canonical);
    nlohmann::ordered_json reordered;
    reordered["Extra"] = {1, "x"};
    reordered["Body"] = j["Body"];
    reordered["Header"] = nlohmann::ordered_json::object();
    std::vector<std::string> keys;
    for (auto& [k, v] : j["Header"].items()) keys.push_back(k);
    for (auto it = keys.rbegin(); it != keys.rend(); ++it)
      reordered["Header"][*it] = j["Header"][*it];

    std::string slashes = canonical;  // "\/" for every '/' in Body, as some writers do
    const std::size_t body_at = slashes.rfind(",\"Body\":\"");
    for (std::size_t p = slashes.find('/', body_at); p != std::string::npos;
         p = slashes.find('/', p + 2))
      slashes.replace(p, 1, "\\/");

    for (const std::string& text : {spaced(canonical), reordered.dump(), reordered.dump(2),
                                    j.dump(-1, ' ', true),  // every non-ASCII character as \uXXXX
                                    slashes}) {
      const Message got = from_envelope(text);
      if (!(got.header == want.header && got.body == want.body) && ++bad < 5)
        UNSCOPED_INFO("differs: " << text);
      if (!decodes_as_reference(text)) ++bad;
    }
  }
  CHECK(bad == 0);
}

TEST_CASE("raw bytes in header strings decode, or fail, as with the reference") {
  // Every string of up to two bytes, in a name and in a value, and strings of three and four over
  // the interesting bytes in a value: the fast reader must take exactly the raw bytes (control
  // characters, UTF-8) the full parser takes.
  std::size_t bad = 0;
  auto value = [&](const std::string& s) {
    if (!decodes_as_reference("{\"Header\":{\"a\":\"" + s + "\"},\"Body\":\"\"}")) ++bad;
  };
  auto name = [&](const std::string& s) {
    if (!decodes_as_reference("{\"Header\":{\"" + s + "\":\"v\"},\"Body\":\"eA==\"}")) ++bad;
  };
  for (int a = 0; a < 256 && bad < 5; ++a) {
    value(std::string(1, char(a)));
    name(std::string(1, char(a)));
    for (int b = 0; b < 256; ++b) {
      value(std::string{char(a), char(b)});
      name(std::string{char(a), char(b)});
    }
  }
  for (unsigned char a : kInteresting)
    for (unsigned char b : kInteresting)
      for (unsigned char c : kInteresting) {
        value(std::string{char(a), char(b), char(c)});
        if (a >= 0xF0)
          for (unsigned char d : {0x41, 0x80, 0xBF})
            value(std::string{char(a), char(b), char(c), char(d)});
      }
  CHECK(bad == 0);
}

TEST_CASE("damaged envelopes decode, or fail, as with the reference") {
  // One byte replaced, removed or inserted anywhere in real envelopes: the fast reader must take
  // nothing the full parser refuses and give the same error text for what it refuses.
  std::mt19937 rng(10);
  std::size_t bad = 0;
  for (int i = 0; i < 4000; ++i) {
    Message m;
    const std::size_t n = rng() % 4;
    for (std::size_t h = 0; h < n; ++h)
      m.header.insert_or_assign(random_string(rng, 4), random_string(rng, 6));
    m.body = std::string(rng() % 12, 'q');
    for (auto& c : m.body) c = char(rng() % 256);
    std::string text = to_envelope(m);
    const std::size_t at = rng() % (text.size() + 1);
    const char c = rng() % 2 ? char(kInteresting[rng() % kInteresting.size()])
                             : "{}[]\":,=AaZ+/ n0"[rng() % 16];
    switch (rng() % 3) {
      case 0:
        if (at < text.size()) text[at] = c;
        break;
      case 1:
        if (at < text.size()) text.erase(at, 1);
        break;
      default: text.insert(at, 1, c);
    }
    if (!decodes_as_reference(text) && ++bad > 5) break;
  }
  CHECK(bad == 0);
}
