#include "util.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <cstdio>
#include <random>

namespace micro::detail {

std::string uuid4() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t a = rng(), b = rng();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", unsigned(a >> 32),
                unsigned((a >> 16) & 0xffff), unsigned(a & 0xffff), unsigned(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

bool split_host_port(std::string_view addr, std::string& host, std::string& port) {
  if (!addr.empty() && addr.front() == '[') {
    auto close = addr.find(']');
    if (close == std::string_view::npos || close + 1 >= addr.size() || addr[close + 1] != ':')
      return false;
    host = std::string(addr.substr(1, close - 1));
    port = std::string(addr.substr(close + 2));
    return !port.empty();
  }
  auto colon = addr.rfind(':');
  if (colon == std::string_view::npos) return false;
  host = std::string(addr.substr(0, colon));
  port = std::string(addr.substr(colon + 1));
  return !port.empty();
}

std::string advertise_address(std::string_view bound) {
  std::string host, port;
  if (!split_host_port(bound, host, port)) return std::string(bound);
  if (!host.empty() && host != "0.0.0.0" && host != "::") return std::string(bound);
  std::string ip = "127.0.0.1";
  ifaddrs* ifs = nullptr;
  if (::getifaddrs(&ifs) == 0) {
    for (ifaddrs* i = ifs; i != nullptr; i = i->ifa_next) {
      if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
      auto* sin = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
      if ((ntohl(sin->sin_addr.s_addr) >> 24) == 127) continue;
      char b[INET_ADDRSTRLEN];
      if (::inet_ntop(AF_INET, &sin->sin_addr, b, sizeof b)) {
        ip = b;
        break;
      }
    }
    ::freeifaddrs(ifs);
  }
  return ip + ":" + port;
}

}  // namespace micro::detail
