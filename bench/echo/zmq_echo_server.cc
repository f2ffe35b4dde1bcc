// zmq-echo-server: the bare ZeroMQ baseline of the echo benchmark, shaped like transport-zmq's
// server without the framework: one ROUTER bound to tcp://HOST:PORT, one thread, every
// multipart message ([routing id][channel][header][body], as transport-zmq frames a call) is
// sent straight back to the peer it came from. No decoding, no handler threads.
//   zmq-echo-server 127.0.0.1 PORT
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>
#include <zmq.hpp>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
    return 2;
  }
  try {
    zmq::context_t ctx{1};
    zmq::socket_t router{ctx, zmq::socket_type::router};
    router.set(zmq::sockopt::sndhwm, 1000);  // transport-zmq's defaults
    router.set(zmq::sockopt::rcvhwm, 1000);
    router.set(zmq::sockopt::linger, 0);
    router.set(zmq::sockopt::router_mandatory, 1);
    router.bind(std::string("tcp://") + argv[1] + ":" + argv[2]);
    std::fprintf(stderr, "zmq-echo-server: listening on %s:%s\n", argv[1], argv[2]);
    std::vector<zmq::message_t> frames(8);
    for (;;) {
      // One whole multipart message (at most 8 frames kept; a longer one is dropped).
      size_t n = 0;
      bool more = true;
      while (more) {
        zmq::message_t& f = frames[n < frames.size() ? n : frames.size() - 1];
        if (!router.recv(f, zmq::recv_flags::none)) break;
        more = f.more();
        ++n;
      }
      if (n < 2 || n > frames.size()) continue;
      try {
        for (size_t i = 0; i < n; ++i)
          router.send(frames[i], i + 1 < n ? zmq::send_flags::sndmore : zmq::send_flags::none);
      } catch (const zmq::error_t& e) {
        if (e.num() != EHOSTUNREACH) throw;  // that client has gone: drop its reply
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "zmq-echo-server: %s\n", e.what());
    return 1;
  }
}
