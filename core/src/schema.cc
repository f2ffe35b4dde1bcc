// Validation of plugin options against the JSON schema in the plugin's descriptor. A subset of
// JSON Schema: type, properties, required, additionalProperties (false unless the schema says
// true), items, enum, minimum, maximum, minLength, default. Unknown keys are refused.
#include <nlohmann/json.hpp>

#include "micro/errors.h"
#include "micro/loader.h"

namespace micro::plugin {
namespace {

using nlohmann::json;

std::string type_of(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "integer";
    case json::value_t::number_float: return "number";
    case json::value_t::string: return "string";
    case json::value_t::array: return "array";
    case json::value_t::object: return "object";
    default: return "value";
  }
}

bool matches(const std::string& want, const json& v) {
  if (want == "number") return v.is_number();
  if (want == "integer") return v.is_number_integer();
  return type_of(v) == want;
}

class Validator {
 public:
  explicit Validator(std::string where) : where_(std::move(where)) {}

  void check(const json& schema, json& v, const std::string& path) {
    if (!schema.is_object()) return;
    if (auto t = schema.find("type"); t != schema.end()) {
      bool ok = false;
      std::string want;
      if (t->is_string()) {
        want = t->get<std::string>();
        ok = matches(want, v);
      } else if (t->is_array()) {
        for (const auto& x : *t) {
          want += (want.empty() ? "" : " or ") + x.get<std::string>();
          ok = ok || matches(x.get<std::string>(), v);
        }
      }
      if (!ok) fail(path, "expected " + want + ", got " + type_of(v));
    }
    if (auto e = schema.find("enum"); e != schema.end() && e->is_array()) {
      if (std::find(e->begin(), e->end(), v) == e->end()) fail(path, "must be one of " + e->dump());
    }
    if (v.is_number()) {
      if (auto m = schema.find("minimum"); m != schema.end() && v.get<double>() < m->get<double>())
        fail(path, "must be >= " + m->dump());
      if (auto m = schema.find("maximum"); m != schema.end() && v.get<double>() > m->get<double>())
        fail(path, "must be <= " + m->dump());
    }
    if (v.is_string()) {
      if (auto m = schema.find("minLength");
          m != schema.end() && v.get<std::string>().size() < m->get<std::size_t>())
        fail(path, "must be at least " + m->dump() + " characters");
    }
    if (v.is_array()) {
      if (auto items = schema.find("items"); items != schema.end()) {
        for (std::size_t i = 0; i < v.size(); ++i)
          check(*items, v[i], path + "[" + std::to_string(i) + "]");
      }
    }
    if (v.is_object()) {
      const json empty = json::object();
      const json& props = schema.contains("properties") ? schema["properties"] : empty;
      bool additional = false;
      if (auto a = schema.find("additionalProperties"); a != schema.end() && a->is_boolean())
        additional = a->get<bool>();
      for (auto& [k, val] : v.items()) {
        auto p = props.find(k);
        if (p == props.end()) {
          if (!additional) fail(join(path, k), "unknown key" + known(props));
          continue;
        }
        check(*p, val, join(path, k));
      }
      if (auto req = schema.find("required"); req != schema.end() && req->is_array()) {
        for (const auto& r : *req) {
          if (!v.contains(r.get<std::string>()))
            fail(join(path, r.get<std::string>()), "required key missing");
        }
      }
      for (auto& [k, p] : props.items()) {
        if (!v.contains(k) && p.is_object() && p.contains("default")) v[k] = p["default"];
      }
    }
  }

 private:
  static std::string join(const std::string& path, const std::string& k) {
    return path.empty() ? k : path + "." + k;
  }
  static std::string known(const json& props) {
    if (props.empty()) return " (this plugin takes no options)";
    std::string s = " (known: ";
    bool first = true;
    for (auto& [k, _] : props.items()) {
      s += (first ? "" : ", ") + k;
      first = false;
    }
    return s + ")";
  }
  [[noreturn]] void fail(const std::string& path, const std::string& what) {
    throw Error(Errc::config, where_ + (path.empty() ? "" : "." + path) + ": " + what);
  }
  std::string where_;
};

}  // namespace

std::string validate_options(const std::string& schema_text, const std::string& options,
                             const std::string& where) {
  json schema = json::parse(schema_text, nullptr, false);
  if (schema.is_discarded())
    throw Error(Errc::config, where + ": the plugin's options schema is not JSON");
  json v = options.empty() ? json::object() : json::parse(options, nullptr, false);
  if (v.is_discarded()) throw Error(Errc::config, where + ": options are not valid JSON");
  if (!v.is_object()) throw Error(Errc::config, where + ": expected object, got " + type_of(v));
  Validator(where).check(schema, v, "");
  return v.dump();
}

}  // namespace micro::plugin
