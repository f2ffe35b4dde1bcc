// beast-echo-server: the no-framework baseline of the echo benchmark. Boost.Beast HTTP/1.1,
// synchronous, one detached thread per connection, keep-alive; POST / answers 200 with the
// request body; anything else answers 404.
//   beast-echo-server 127.0.0.1 PORT
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

void serve(tcp::socket sock) {
  beast::error_code ec;
  sock.set_option(tcp::no_delay(true), ec);
  beast::flat_buffer buf;
  for (;;) {
    http::request<http::string_body> req;
    http::read(sock, buf, req, ec);
    if (ec) break;  // peer closed or sent garbage: drop the connection
    http::response<http::string_body> res;
    res.version(req.version());
    res.keep_alive(req.keep_alive());
    if (req.method() == http::verb::post && req.target() == "/") {
      res.result(http::status::ok);
      res.set(http::field::content_type, req[http::field::content_type]);
      res.body() = std::move(req.body());
    } else {
      res.result(http::status::not_found);
    }
    res.prepare_payload();
    http::write(sock, res, ec);
    if (ec || !res.keep_alive()) break;
  }
  sock.shutdown(tcp::socket::shutdown_send, ec);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
    return 2;
  }
  try {
    asio::io_context ioc{1};
    tcp::acceptor acceptor{
        ioc, {asio::ip::make_address(argv[1]), static_cast<unsigned short>(std::atoi(argv[2]))}};
    std::fprintf(stderr, "beast-echo-server: listening on %s:%s\n", argv[1], argv[2]);
    for (;;) {
      tcp::socket sock{ioc};
      acceptor.accept(sock);
      std::thread(serve, std::move(sock)).detach();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "beast-echo-server: %s\n", e.what());
    return 1;
  }
}
