#include "json_convert.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>

#include <charconv>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "micro/errors.h"

namespace micro::json_convert {
namespace {

namespace pb = google::protobuf;
using ojson = nlohmann::ordered_json;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string_view trim(std::string_view s) {
  s = trim_right(s);
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  return s;
}

bool is_well_known(const pb::Descriptor* d) { return d->file()->package() == "google.protobuf"; }

bool is_64bit(const pb::FieldDescriptor* f) {
  return f->cpp_type() == pb::FieldDescriptor::CPPTYPE_INT64 ||
         f->cpp_type() == pb::FieldDescriptor::CPPTYPE_UINT64;
}

// Whether the JSON of d can hold a 64-bit integer written as a string (cached per type).
bool has_64bit(const pb::Descriptor* d, std::set<const pb::Descriptor*>& seen) {
  if (!seen.insert(d).second) return false;
  if (is_well_known(d))
    return d->full_name() == "google.protobuf.Int64Value" ||
           d->full_name() == "google.protobuf.UInt64Value";
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    if (is_64bit(f)) return true;
    if (f->message_type() && has_64bit(f->message_type(), seen)) return true;
  }
  return false;
}

bool needs_fixing(const pb::Descriptor* d) {
  static std::mutex mu;
  static std::map<const pb::Descriptor*, bool> cache;
  std::lock_guard lk(mu);
  auto it = cache.find(d);
  if (it != cache.end()) return it->second;
  std::set<const pb::Descriptor*> seen;
  return cache[d] = has_64bit(d, seen);
}

// "123" -> 123 for a 64-bit field; left alone when it is not a plain integer.
void to_number(ojson& v, bool is_unsigned) {
  if (!v.is_string()) return;
  const auto& s = v.get_ref<const std::string&>();
  const char* end = s.data() + s.size();
  if (is_unsigned) {
    uint64_t u = 0;
    auto r = std::from_chars(s.data(), end, u);
    if (r.ec == std::errc() && r.ptr == end) v = u;
  } else {
    int64_t i = 0;
    auto r = std::from_chars(s.data(), end, i);
    if (r.ec == std::errc() && r.ptr == end) v = i;
  }
}

void fix_message(ojson& v, const pb::Descriptor* d);

// One value of field f (an element, for repeated fields and maps).
void fix_value(ojson& v, const pb::FieldDescriptor* f) {
  if (is_64bit(f)) return to_number(v, f->cpp_type() == pb::FieldDescriptor::CPPTYPE_UINT64);
  if (f->message_type()) fix_message(v, f->message_type());
}

void fix_message(ojson& v, const pb::Descriptor* d) {
  if (is_well_known(d)) {
    if (d->full_name() == "google.protobuf.Int64Value") to_number(v, false);
    if (d->full_name() == "google.protobuf.UInt64Value") to_number(v, true);
    return;  // Timestamp, Duration, Any, Struct...: their JSON forms stay as protobuf wrote them
  }
  if (!v.is_object()) return;
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    auto it = v.find(f->name());
    if (it == v.end()) continue;
    if (f->is_map()) {
      const auto* value_field = f->message_type()->map_value();
      if (it->is_object())
        for (auto& [k, item] : it->items()) fix_value(item, value_field);
    } else if (f->is_repeated()) {
      if (it->is_array())
        for (auto& item : *it) fix_value(item, f);
    } else {
      fix_value(*it, f);
    }
  }
}

}  // namespace

bool valid_json(std::string_view s) { return nlohmann::json::accept(s); }

std::string compact(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 1);
  bool in_string = false, escaped = false;
  for (char c : s) {
    if (in_string) {
      out += c;
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (!is_space(c)) {
      out += c;
      if (c == '"') in_string = true;
    }
  }
  return out;
}

void encode(const codec::Payload& in, std::string& out, std::string_view who) {
  switch (in.kind()) {
    case codec::Payload::Kind::bytes: out = in.text(); return;
    case codec::Payload::Kind::json: {
      const std::string& text = in.text();
      if (!valid_json(text))
        throw Error(Errc::bad_request, std::string(who) + ": value to encode is not valid JSON");
      out = compact(text);
      return;
    }
    case codec::Payload::Kind::proto: {
      const pb::Message& m = in.message();
      pb::util::JsonPrintOptions po;
      po.preserve_proto_field_names = true;
      po.always_print_enums_as_ints = true;
      po.always_print_primitive_fields = false;
      std::string text;
      auto st = pb::util::MessageToJsonString(m, &text, po);
      if (!st.ok())
        throw Error(Errc::bad_request,
                    std::string(who) + ": cannot encode " + m.GetTypeName() + ": " + st.ToString());
      if (needs_fixing(m.GetDescriptor())) {
        auto j = ojson::parse(text);
        fix_message(j, m.GetDescriptor());
        text = j.dump();
      }
      out = std::move(text);
      return;
    }
  }
}

void decode(std::string_view data, const codec::Payload& out, std::string_view who) {
  switch (out.kind()) {
    case codec::Payload::Kind::bytes: out.text().assign(data); return;
    case codec::Payload::Kind::json: {
      auto body = trim_right(data);
      if (!valid_json(body)) {
        throw Error(Errc::bad_request,
                    std::string(who) + (body.empty() ? ": empty body, expected a JSON value"
                                                     : ": body is not valid JSON"));
      }
      out.text().assign(body);
      return;
    }
    case codec::Payload::Kind::proto: {
      pb::Message& m = out.message();
      auto body = trim(data);
      if (body.empty() || body == "null") {
        m.Clear();
        return;
      }
      pb::util::JsonParseOptions po;
      po.ignore_unknown_fields = true;
      auto st = pb::util::JsonStringToMessage(std::string(body), &m, po);
      if (!st.ok())
        throw Error(Errc::bad_request, std::string(who) + ": body is not a valid " +
                                           m.GetTypeName() + ": " + st.ToString());
      return;
    }
  }
}

}  // namespace micro::json_convert
