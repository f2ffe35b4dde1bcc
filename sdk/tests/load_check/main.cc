// load_check MODE CONFIG: loads the plugins the config file names, the way a service does, and
// checks the acme.echo codec (content type application/x-acme-echo) works with its options.
//   MODE runtime  micro::Runtime(config): every configured plugin, in dependency order.
//   MODE loader   plugin::Loader on the config's search path: only the "codecs" list.
// Prints what it loaded; exits 0 on success, 1 with the error on stderr otherwise.
#include <cstdio>
#include <exception>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "micro/codec.h"
#include "micro/config.h"
#include "micro/errors.h"
#include "micro/loader.h"
#include "micro/runtime.h"

namespace {

constexpr const char* kContentType = "application/x-acme-echo";

// Host for loader mode: the codecs under test require nothing.
class NoHost final : public micro::plugin::Host {
 public:
  std::shared_ptr<micro::Registry> registry() override { throw none("registry"); }
  std::shared_ptr<micro::Transport> transport() override { throw none("transport"); }
  std::shared_ptr<micro::Broker> broker() override { throw none("broker"); }
  std::shared_ptr<micro::Selector> selector() override { throw none("selector"); }
  std::shared_ptr<micro::Codec> codec(std::string_view) override { throw none("codec"); }

 private:
  static micro::Error none(const std::string& kind) {
    return micro::Error(micro::Errc::plugin, "load_check: no " + kind + " in loader mode");
  }
};

void expect(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("load_check: " + what);
}

// Marshals JSON text with the codec and reads it back; the body must carry the prefix.
void round_trip(const micro::Codec& c, const std::string& prefix) {
  const std::string text = R"({"name":"World"})";
  std::string body;
  c.marshal(micro::codec::Payload::json(text), body);
  expect(body == prefix + text, "marshal gave \"" + body + "\", want \"" + prefix + text + "\"");
  std::string back;
  c.unmarshal(body, micro::codec::Payload::json(back));
  expect(back == text, "unmarshal gave \"" + back + "\", want \"" + text + "\"");
}

void check_echo(const std::shared_ptr<micro::Codec>& c, const std::string& prefix) {
  expect(c != nullptr, "no codec for application/x-acme-echo");
  expect(c->name() == "acme.echo", "codec is named \"" + c->name() + "\", want acme.echo");
  expect(!c->content_types().empty() && c->content_types().front() == kContentType,
         "acme.echo does not serve application/x-acme-echo");
  round_trip(*c, prefix);
}

void run_runtime(const micro::Config& cfg, const std::string& prefix) {
  micro::Runtime rt(cfg);
  for (const auto& d : rt.loaded())
    std::cout << "loaded " << micro::plugin::to_string(d.kind) << " " << d.name << " "
              << d.file.string() << "\n";
  check_echo(rt.codec(kContentType), prefix);
}

void run_loader(const micro::Config& cfg, const std::string& prefix) {
  micro::plugin::Loader loader(micro::plugin::LoaderOptions{
      cfg.plugin_search_path(), cfg.plugins.allow_insecure_permissions});
  NoHost host;
  std::shared_ptr<micro::Codec> echo;
  std::vector<std::shared_ptr<micro::Codec>> codecs;  // kept alive until the end
  for (std::size_t i = 0; i < cfg.codecs.size(); ++i) {
    const auto& choice = cfg.codecs[i];
    auto d = loader.find(micro::plugin::Kind::codec, choice.use);
    auto options =
        micro::plugin::validate_options(d.options_schema, choice.options,
                                        cfg.origin + ": codecs[" + std::to_string(i) + "].options");
    auto c = std::dynamic_pointer_cast<micro::Codec>(loader.create(d, host));
    expect(c != nullptr, d.file.string() + ": created object is not a micro::Codec");
    c->init(micro::Codec::Options{options});
    std::cout << "loaded codec " << d.name << " " << d.file.string() << "\n";
    if (c->name() == "acme.echo") echo = c;
    codecs.push_back(c);
  }
  check_echo(echo, prefix);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: load_check runtime|loader CONFIG EXPECTED_PREFIX\n";
    return 2;
  }
  const std::string mode = argv[1];
  try {
    auto cfg = micro::Config::load(std::filesystem::path(argv[2]), micro::process_environment());
    if (mode == "runtime") {
      run_runtime(cfg, argv[3]);
    } else if (mode == "loader") {
      run_loader(cfg, argv[3]);
    } else {
      std::cerr << "load_check: unknown mode " << mode << "\n";
      return 2;
    }
  } catch (const std::exception& e) {
    std::cerr << "load_check: " << e.what() << "\n";
    return 1;
  }
  std::cout << "OK acme.echo loaded through " << argv[2] << " (" << mode << ")\n";
  return 0;
}
