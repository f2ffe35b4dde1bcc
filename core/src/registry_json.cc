// go-micro's registry JSON (spec/gomicro-wire.md §4.1): no omitempty on output, null accepted
// for any map or list on input, unknown keys ignored.
#include <nlohmann/json.hpp>

#include "micro/errors.h"
#include "micro/registry.h"

namespace micro::registry {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

ordered_json map_to_json(const StringMap& m) {
  if (m.empty()) return nullptr;
  ordered_json j = ordered_json::object();
  for (const auto& [k, v] : m) j[k] = v;
  return j;
}

ordered_json value_to_json(const Value& v) {
  ordered_json j;
  j["name"] = v.name;
  j["type"] = v.type;
  if (v.values.empty()) {
    j["values"] = nullptr;
  } else {
    j["values"] = ordered_json::array();
    for (const auto& c : v.values) j["values"].push_back(value_to_json(c));
  }
  return j;
}

std::string str(const json& j, const char* key, const char* where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  if (!it->is_string())
    throw Error(Errc::bad_request, std::string(where) + "." + key + ": expected a string");
  return it->get<std::string>();
}

StringMap map_from(const json& j, const char* key, const std::string& where) {
  StringMap out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_object()) throw Error(Errc::bad_request, where + "." + key + ": expected an object");
  for (auto& [k, v] : it->items()) {
    if (v.is_string())
      out[k] = v.get<std::string>();
    else if (!v.is_null())
      out[k] = v.dump();
  }
  return out;
}

Value value_from(const json& j, const std::string& where, int depth) {
  if (depth > 16) throw Error(Errc::bad_request, where + ": values nested too deep");
  Value v;
  v.name = str(j, "name", where.c_str());
  v.type = str(j, "type", where.c_str());
  if (auto it = j.find("values"); it != j.end() && it->is_array()) {
    for (const auto& c : *it) {
      if (c.is_object()) v.values.push_back(value_from(c, where + ".values", depth + 1));
    }
  }
  return v;
}

const json* list(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  if (!it->is_array()) throw Error(Errc::bad_request, where + "." + key + ": expected a list");
  return &*it;
}

}  // namespace

std::string to_json(const Service& s) {
  ordered_json j;
  j["name"] = s.name;
  j["version"] = s.version;
  j["metadata"] = map_to_json(s.metadata);
  if (s.endpoints.empty()) {
    j["endpoints"] = nullptr;
  } else {
    j["endpoints"] = ordered_json::array();
    for (const auto& e : s.endpoints) {
      ordered_json ej;
      ej["name"] = e.name;
      ej["request"] = e.request ? value_to_json(*e.request) : ordered_json(nullptr);
      ej["response"] = e.response ? value_to_json(*e.response) : ordered_json(nullptr);
      ej["metadata"] = e.metadata.empty() ? ordered_json::object() : map_to_json(e.metadata);
      j["endpoints"].push_back(std::move(ej));
    }
  }
  if (s.nodes.empty()) {
    j["nodes"] = nullptr;
  } else {
    j["nodes"] = ordered_json::array();
    for (const auto& n : s.nodes) {
      ordered_json nj;
      nj["id"] = n.id;
      nj["address"] = n.address;
      nj["metadata"] = map_to_json(n.metadata);
      j["nodes"].push_back(std::move(nj));
    }
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Service service_from_json(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) throw Error(Errc::bad_request, "service: not valid JSON");
  if (!j.is_object()) throw Error(Errc::bad_request, "service: expected a JSON object");
  Service s;
  s.name = str(j, "name", "service");
  s.version = str(j, "version", "service");
  s.metadata = map_from(j, "metadata", "service");
  if (const json* eps = list(j, "endpoints", "service")) {
    for (const auto& e : *eps) {
      if (!e.is_object()) continue;
      Endpoint ep;
      ep.name = str(e, "name", "service.endpoints");
      if (auto r = e.find("request"); r != e.end() && r->is_object())
        ep.request = value_from(*r, "service.endpoints.request", 0);
      if (auto r = e.find("response"); r != e.end() && r->is_object())
        ep.response = value_from(*r, "service.endpoints.response", 0);
      ep.metadata = map_from(e, "metadata", "service.endpoints");
      s.endpoints.push_back(std::move(ep));
    }
  }
  if (const json* nodes = list(j, "nodes", "service")) {
    for (const auto& n : *nodes) {
      if (!n.is_object()) continue;
      Node node;
      node.id = str(n, "id", "service.nodes");
      node.address = str(n, "address", "service.nodes");
      // go-micro v1.0-v1.7: address was the host only and the port a separate field.
      if (auto p = n.find("port"); p != n.end() && p->is_number_integer() && p->get<int>() > 0 &&
                                   node.address.find(':') == std::string::npos) {
        node.address += ":" + std::to_string(p->get<int>());
      }
      node.metadata = map_from(n, "metadata", "service.nodes");
      s.nodes.push_back(std::move(node));
    }
  }
  if (s.name.empty()) throw Error(Errc::bad_request, "service: missing name");
  return s;
}

}  // namespace micro::registry
