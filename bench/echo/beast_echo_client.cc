// beast-echo-client: load generator for the Beast baseline. C threads, each with ONE keep-alive
// connection, doing sequential POST / until N requests in total have been made (a shared counter,
// as `micro bench` and grpc-echo-client do). Prints one JSON line like `micro bench --json`.
//   beast-echo-client --address 127.0.0.1:PORT -n N -c C --payload-size BYTES
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <thread>

#include "bench_stats.h"

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

int main(int argc, char** argv) {
  echo_bench::Args a;
  if (!echo_bench::parse_args(argc, argv, a)) return 2;
  const auto colon = a.address.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "beast-echo-client: --address needs HOST:PORT\n");
    return 2;
  }
  const std::string host = a.address.substr(0, colon), port = a.address.substr(colon + 1);
  // The same body micro bench sends: the JSON form of EchoRequest.
  const std::string body =
      "{\"payload\":\"" + std::string(static_cast<std::size_t>(a.payload_size), 'x') + "\"}";

  std::atomic<long> next{0}, errors{0};
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(a.c));
  const auto start = echo_bench::Clock::now();
  std::vector<std::thread> threads;
  for (long t = 0; t < a.c; ++t) {
    threads.emplace_back([&, t] {
      auto& mine = lat[static_cast<std::size_t>(t)];
      mine.reserve(static_cast<std::size_t>(a.n / a.c + 1));
      asio::io_context ioc{1};
      tcp::socket sock{ioc};
      beast::flat_buffer buf;
      bool connected = false;
      while (next.fetch_add(1) < a.n) {
        const auto t0 = echo_bench::Clock::now();
        try {
          if (!connected) {
            tcp::resolver r{ioc};
            asio::connect(sock, r.resolve(host, port));
            sock.set_option(tcp::no_delay(true));
            connected = true;
          }
          http::request<http::string_body> req{http::verb::post, "/", 11};
          req.set(http::field::host, host);
          req.set(http::field::content_type, "application/json");
          req.keep_alive(true);
          req.body() = body;
          req.prepare_payload();
          http::write(sock, req);
          http::response<http::string_body> res;
          http::read(sock, buf, res);
          if (res.result() != http::status::ok || res.body() != body)
            throw std::runtime_error("bad response");
          mine.push_back(
              std::chrono::duration<double, std::milli>(echo_bench::Clock::now() - t0).count());
        } catch (const std::exception& e) {
          if (errors.fetch_add(1) == 0)
            std::fprintf(stderr, "beast-echo-client: first error: %s\n", e.what());
          beast::error_code ec;
          sock.close(ec);
          buf.clear();
          connected = false;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  const double secs = std::chrono::duration<double>(echo_bench::Clock::now() - start).count();
  return echo_bench::report(a, lat, errors.load(), secs);
}
