#include "echo_codec.h"

#include <google/protobuf/message.h>

#include <nlohmann/json.hpp>

#include "micro/errors.h"

namespace acme {

void EchoCodec::init(const Options& options) {
  options_ = options;
  // The core validated the text against the schema in plugin.cc and filled the defaults, so
  // "prefix" is present and a string. Any JSON library will do: options cross the boundary as
  // text, so the plugin does not depend on the host's JSON library or its version.
  prefix_ = nlohmann::json::parse(options.plugin_options).at("prefix").get<std::string>();
}

void EchoCodec::marshal(const micro::codec::Payload& in, std::string& out) const {
  std::string body;
  if (in.kind() == micro::codec::Payload::Kind::proto) {
    if (!in.message().SerializeToString(&body))
      throw micro::Error(micro::Errc::bad_request,
                         "codec acme.echo: cannot serialise " + in.message().GetTypeName());
  } else {
    body = in.text();
  }
  out = prefix_ + body;
}

void EchoCodec::unmarshal(std::string_view data, const micro::codec::Payload& out) const {
  if (!data.starts_with(prefix_))
    throw micro::Error(micro::Errc::bad_request,
                       "codec acme.echo: body does not start with the prefix \"" + prefix_ + "\"");
  data.remove_prefix(prefix_.size());
  if (out.kind() == micro::codec::Payload::Kind::proto) {
    if (!out.message().ParseFromArray(data.data(), static_cast<int>(data.size())))
      throw micro::Error(micro::Errc::bad_request,
                         "codec acme.echo: body is not a valid " + out.message().GetTypeName());
    return;
  }
  out.text().assign(data);
}

}  // namespace acme
