// Small internal helpers shared by the rpc client, server and service.
#pragma once

#include <string>
#include <string_view>

namespace micro::detail {

/// A random UUID v4 in canonical text form.
std::string uuid4();

/// Splits "host:port" (IPv6 "[::1]:80" too). Returns false when there is no port.
bool split_host_port(std::string_view addr, std::string& host, std::string& port);

/// The address to advertise for a bound address: unspecified hosts (0.0.0.0, ::, "") become
/// the first non-loopback IPv4 address of the machine, else 127.0.0.1.
std::string advertise_address(std::string_view bound);

}  // namespace micro::detail
