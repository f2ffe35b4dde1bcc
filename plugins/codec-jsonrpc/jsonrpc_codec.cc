#include "jsonrpc_codec.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "json_convert.h"
#include "micro/errors.h"

namespace micro::plugins {
namespace {

constexpr std::string_view kWho = "codec jsonrpc";

Error bad(const std::string& what) {
  return Error(Errc::bad_request, std::string(kWho) + ": " + what);
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  return s;
}

// A tiny scanner over text already known to be valid JSON: it finds the byte spans of values
// so that nested values (the request, the reply) are handed on exactly as they were written.
class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}

  void ws() {
    while (i_ < s_.size() && is_space(s_[i_])) ++i_;
  }
  char peek() {
    ws();
    return i_ < s_.size() ? s_[i_] : '\0';
  }
  void eat() { ++i_; }

  // The span of the value starting at the current position.
  std::string_view value() {
    ws();
    const std::size_t start = i_;
    int depth = 0;
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c == '"') {
        skip_string();
        if (depth == 0) break;
        continue;
      }
      if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (depth == 0) break;  // the end of the enclosing container: a scalar just ended
        if (--depth == 0) {
          ++i_;
          break;
        }
      } else if (depth == 0 && (c == ',' || is_space(c))) {
        break;
      }
      ++i_;
    }
    return s_.substr(start, i_ - start);
  }

 private:
  void skip_string() {
    ++i_;  // opening quote
    while (i_ < s_.size() && s_[i_] != '"') i_ += s_[i_] == '\\' ? 2 : 1;
    ++i_;  // closing quote
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

struct Member {
  std::string key;
  std::string_view value;
};

// The members of a JSON object, values as spans. Precondition: s is a valid JSON object.
std::vector<Member> members(std::string_view s) {
  std::vector<Member> out;
  Scanner sc(s);
  sc.eat();  // '{'
  while (sc.peek() != '}') {
    auto key = sc.value();
    sc.peek();  // ':'
    sc.eat();
    out.push_back({nlohmann::json::parse(key).get<std::string>(), sc.value()});
    if (sc.peek() == ',') sc.eat();
  }
  return out;
}

// The first element of a JSON array, if any. Precondition: s is a valid JSON array.
std::optional<std::string_view> first_element(std::string_view s) {
  Scanner sc(s);
  sc.eat();  // '['
  if (sc.peek() == ']') return std::nullopt;
  return sc.value();
}

std::optional<std::string_view> find(const std::vector<Member>& ms, std::string_view key) {
  // encoding/json matches keys case-insensitively; an exact match wins.
  for (const auto& m : ms)
    if (m.key == key) return m.value;
  for (const auto& m : ms)
    if (m.key.size() == key.size() &&
        std::equal(m.key.begin(), m.key.end(), key.begin(),
                   [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
      return m.value;
  return std::nullopt;
}

std::string quote(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// A JSON-RPC id as go-micro's server prints it (fmt "%v"): strings as they are, numbers as text.
std::string id_text(std::string_view v) {
  auto j = nlohmann::json::parse(v);
  if (j.is_null()) return "";
  if (j.is_string()) return j.get<std::string>();
  if (j.is_number()) return std::string(v);
  throw bad("envelope id must be a string or a number");
}

std::string string_member(const std::vector<Member>& ms, std::string_view key) {
  auto v = find(ms, key);
  if (!v || *v == "null") return "";
  auto j = nlohmann::json::parse(*v);
  if (!j.is_string()) throw bad("envelope " + std::string(key) + " must be a string");
  return j.get<std::string>();
}

// The JSON text of a value to put inside the envelope (no newline).
std::string value_text(const codec::Payload* body) {
  if (body == nullptr) return "null";
  if (body->kind() == codec::Payload::Kind::bytes) {
    auto text = trim(body->text());
    if (!json_convert::valid_json(text))
      throw bad("raw bytes to put in the envelope are not a JSON value");
    return json_convert::compact(text);
  }
  std::string out;
  json_convert::encode(*body, out, kWho);
  return out;
}

}  // namespace

void JsonRpcCodec::marshal(const codec::Payload& in, std::string& out) const {
  json_convert::encode(in, out, kWho);
  if (in.kind() != codec::Payload::Kind::bytes) out += '\n';
}

void JsonRpcCodec::unmarshal(std::string_view data, const codec::Payload& out) const {
  json_convert::decode(data, out, kWho);
}

void JsonRpcCodec::read_header(transport::Message in, codec::Message& out,
                               codec::MessageType type) const {
  Codec::read_header(std::move(in), out, type);
  if (type == codec::MessageType::event) return;  // events are bare values
  if (trim(out.body).empty()) return;
  if (type != codec::MessageType::request && get(out.header, "Content-Type") == "text/plain")
    return;  // a plain-text reply such as "Unsupported Content-Type"
  const std::string raw = std::move(out.body);  // the envelope; out.body becomes its value
  out.body.clear();
  const auto body = trim(raw);
  if (!json_convert::valid_json(body)) throw bad("body is not a JSON-RPC envelope: invalid JSON");
  if (body.front() != '{') throw bad("body is not a JSON-RPC envelope: not a JSON object");
  const auto ms = members(body);

  std::string id;
  if (auto v = find(ms, "id")) id = id_text(*v);
  if (out.id.empty()) out.id = id;

  if (type == codec::MessageType::request) {
    const std::string method = string_member(ms, "method");
    if (out.method.empty()) out.method = method;
    if (out.endpoint.empty()) out.endpoint = method;
    out.body = "null";
    if (auto params = find(ms, "params"); params && *params != "null") {
      if (params->front() != '[') throw bad("envelope params must be an array");
      if (auto first = first_element(*params)) out.body = std::string(*first);
    }
    return;
  }

  // Responses and errors: the envelope's error wins, as go-micro's client reads it.
  if (auto e = find(ms, "error"); e && *e != "null") {
    auto j = nlohmann::json::parse(*e);
    if (!j.is_string())
      throw bad("envelope error must be a string or null, got " + std::string(*e));
    out.error = j.get<std::string>();
    if (out.error.empty()) out.error = "unspecified error";
  }
  auto result = find(ms, "result");
  out.body = result ? std::string(*result) : "null";
}

void JsonRpcCodec::write(codec::Message m, const codec::Payload* body,
                         transport::Message& out) const {
  if (m.type == codec::MessageType::event) return Codec::write(std::move(m), body, out);
  Codec::write(m, nullptr, out);  // the mucp headers
  std::string& b = out.body;
  if (m.type == codec::MessageType::request) {
    b = "{\"method\":" + quote(m.method.empty() ? m.endpoint : m.method) + ",\"params\":[" +
        value_text(body) + "],\"id\":" + quote(m.id) + "}\n";
  } else {
    const bool failed = m.type == codec::MessageType::error;
    b = "{\"id\":" + quote(m.id) + ",\"result\":" + (failed ? "null" : value_text(body)) +
        ",\"error\":" + (m.error.empty() ? std::string("null") : quote(m.error)) + "}\n";
  }
  out.header.insert_or_assign("Content-Type", content_types().front());
}

}  // namespace micro::plugins
