// `micro plugins list` and `micro plugins inspect`: what is on the plugin search path, and what
// one plugin file declares. Both read descriptors from the files only; no plugin code runs.
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "micro/loader.h"

namespace micro::cli {
namespace {

using nlohmann::ordered_json;

std::string abi_of(const plugin::Descriptor& d) {
  return std::to_string(d.abi_major) + "." + std::to_string(d.abi_minor);
}

std::string kinds_of(const std::vector<plugin::Kind>& kinds) {
  std::string s;
  for (auto k : kinds) s += (s.empty() ? "" : ", ") + std::string(plugin::to_string(k));
  return s.empty() ? "none" : s;
}

// The reason d cannot be loaded into this host, or "" when it can.
std::string incompatibility(const plugin::Descriptor& d) {
  try {
    plugin::check_compatible(d);
    return {};
  } catch (const plugin::PluginError& e) {
    return e.what();
  }
}

ordered_json build_json(const plugin::Descriptor& d) {
  return {{"compiler", d.compiler},
          {"stdlib", d.stdlib},
          {"cxx11_abi", d.cxx11_abi},
          {"protobuf", d.protobuf_version},
          {"micro", d.micro_version}};
}

}  // namespace

int plugins_list(const std::vector<std::string>& args) {
  const Args a = parse_args(args, {"--json"});
  if (!a.positional.empty()) throw UsageError("unexpected argument " + a.positional[0]);
  const Config config = load_config();
  const auto search_path = config.plugin_search_path();
  plugin::Loader loader(
      plugin::LoaderOptions{search_path, config.plugins.allow_insecure_permissions});

  struct Refused {
    std::string file, stage, error;
  };
  std::vector<plugin::Descriptor> ok;
  std::vector<Refused> refused;
  for (auto& f : loader.scan()) {
    if (f.error) {
      refused.push_back(
          {f.file.string(), std::string(plugin::to_string(f.error->stage())), f.error->what()});
    } else if (auto why = incompatibility(*f.descriptor); !why.empty()) {
      refused.push_back(
          {f.file.string(), std::string(plugin::to_string(plugin::Stage::abi_mismatch)), why});
    } else {
      ok.push_back(std::move(*f.descriptor));
    }
  }

  if (a.has("--json")) {
    ordered_json out = {{"search_path", ordered_json::array()},
                        {"plugins", ordered_json::array()},
                        {"refused", ordered_json::array()}};
    for (const auto& p : search_path) out["search_path"].push_back(p.string());
    for (const auto& d : ok)
      out["plugins"].push_back({{"kind", plugin::to_string(d.kind)},
                                {"name", d.name},
                                {"version", d.version},
                                {"abi", abi_of(d)},
                                {"file", d.file.string()}});
    for (const auto& r : refused)
      out["refused"].push_back({{"file", r.file}, {"stage", r.stage}, {"error", r.error}});
    std::cout << out.dump(2) << "\n";
    return 0;
  }

  std::size_t wk = 4, wn = 4, wv = 7;
  for (const auto& d : ok) {
    wk = std::max(wk, plugin::to_string(d.kind).size());
    wn = std::max(wn, d.name.size());
    wv = std::max(wv, d.version.size());
  }
  auto row = [&](std::string_view k, std::string_view n, std::string_view v, std::string_view abi,
                 std::string_view file) {
    std::cout << std::left << std::setw(int(wk)) << k << "  " << std::setw(int(wn)) << n << "  "
              << std::setw(int(wv)) << v << "  " << std::setw(3) << abi << "  " << file << "\n";
  };
  row("KIND", "NAME", "VERSION", "ABI", "FILE");
  for (const auto& d : ok)
    row(plugin::to_string(d.kind), d.name, d.version, abi_of(d), d.file.string());
  if (ok.empty()) std::cout << "(no plugins found)\n";
  if (!refused.empty()) {
    std::cout << "\nrefused:\n";
    for (const auto& r : refused) std::cout << "  " << r.error << "\n";
  }
  std::cout << "\nsearched: ";
  for (std::size_t i = 0; i < search_path.size(); ++i)
    std::cout << (i ? ":" : "") << search_path[i].string();
  std::cout << "\n";
  return 0;
}

int plugins_inspect(const std::vector<std::string>& args) {
  const Args a = parse_args(args, {"--json"});
  if (a.positional.empty()) throw UsageError("missing FILE.so");
  if (a.positional.size() > 1) throw UsageError("unexpected argument " + a.positional[1]);
  const plugin::Descriptor d = plugin::inspect(a.positional[0]);  // reads the file only
  const std::string why = incompatibility(d);
  // The schema as the plugin's author ordered it (Descriptor::options_schema is re-serialised).
  const auto schema = ordered_json::parse(d.json).at("options");

  if (a.has("--json")) {
    ordered_json required = ordered_json::array();
    for (auto k : d.requires_kinds) required.push_back(plugin::to_string(k));
    ordered_json out = {{"file", d.file.string()},
                        {"kind", plugin::to_string(d.kind)},
                        {"name", d.name},
                        {"version", d.version},
                        {"description", d.description},
                        {"license", d.license},
                        {"abi", abi_of(d)},
                        {"compatible", why.empty()},
                        {"build", build_json(d)},
                        {"requires", required},
                        {"options", schema}};
    if (!why.empty()) out["incompatibility"] = why;
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::cout << "file:        " << d.file.string() << "\n"
            << "kind:        " << plugin::to_string(d.kind) << "\n"
            << "name:        " << d.name << "\n"
            << "version:     " << d.version << "\n"
            << "description: " << d.description << "\n"
            << "license:     " << d.license << "\n"
            << "ABI:         " << abi_of(d) << " (host " << MICRO_ABI_MAJOR << "."
            << MICRO_ABI_MINOR << ")\n"
            << "compatible:  " << (why.empty() ? "yes" : "no: " + why) << "\n"
            << "build:       " << d.compiler << ", " << d.stdlib << " (cxx11 ABI " << d.cxx11_abi
            << "), protobuf " << d.protobuf_version << ", micro " << d.micro_version << "\n"
            << "requires:    " << kinds_of(d.requires_kinds) << "\n"
            << "options:     " << schema.dump(2) << "\n";
  return 0;
}

}  // namespace micro::cli
