// zmq-echo-client: load generator for the bare ZeroMQ baseline. A call is one multipart message
// framed as transport-zmq frames a request, [channel id: 8 bytes][header][body], and it is
// complete when the same three frames come back. Two shapes:
//  - threads (default): C threads, each with its own DEALER (one TCP connection per thread, as
//    the gRPC and Beast load generators have), doing sequential blocking calls until N calls in
//    total have been made (a shared counter, as `micro bench` and the others do);
//  - async (--async): ONE thread and ONE DEALER keeping C calls in flight, replies matched by
//    channel id: transport-zmq's wire pattern (one connection, many channels) with no threads
//    between the caller and zmq, the cheapest way to drive the server.
// Each wait is bounded by a 5 s receive timeout. Prints one JSON line like `micro bench --json`.
//   zmq-echo-client [--async] --address 127.0.0.1:PORT -n N -c C --payload-size BYTES
#include <cstring>
#include <thread>
#include <zmq.hpp>

#include "bench_stats.h"

namespace {

void put_u32(std::string& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
}

// A header frame in transport-zmq's encoding (u32 count, then u32-length-prefixed key/value).
std::string header_frame() {
  std::string h;
  const std::pair<const char*, const char*> kv[] = {{"Content-Type", "application/protobuf"}};
  put_u32(h, 1);
  for (const auto& [k, v] : kv) {
    put_u32(h, static_cast<uint32_t>(std::strlen(k)));
    h += k;
    put_u32(h, static_cast<uint32_t>(std::strlen(v)));
    h += v;
  }
  return h;
}

}  // namespace

// One thread, one DEALER, up to a.c calls in flight; lat gets one sample per reply.
long run_async(zmq::context_t& ctx, const std::string& endpoint, const echo_bench::Args& a,
               const std::string& header, const std::string& body, std::vector<double>& lat) {
  long errors = 0;
  zmq::socket_t sock{ctx, zmq::socket_type::dealer};
  sock.set(zmq::sockopt::linger, 0);
  sock.set(zmq::sockopt::sndtimeo, 5000);
  sock.set(zmq::sockopt::sndhwm, 100000);
  sock.set(zmq::sockopt::rcvhwm, 100000);
  sock.connect(endpoint);
  std::vector<echo_bench::Clock::time_point> sent(static_cast<std::size_t>(a.n) + 1);
  long issued = 0, done = 0;
  auto send_one = [&] {
    const uint64_t seq = static_cast<uint64_t>(++issued);
    char ch[8];
    for (int i = 0; i < 8; ++i) ch[i] = static_cast<char>((seq >> (56 - 8 * i)) & 0xff);
    sent[seq] = echo_bench::Clock::now();
    if (!sock.send(zmq::buffer(ch, 8), zmq::send_flags::sndmore) ||
        !sock.send(zmq::buffer(header), zmq::send_flags::sndmore) ||
        !sock.send(zmq::buffer(body), zmq::send_flags::none))
      throw std::runtime_error("send timed out");
  };
  while (issued < a.c) send_one();
  zmq::message_t f[3];
  while (done < issued) {
    zmq::pollitem_t item{sock.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(5000)) == 0) {
      std::fprintf(stderr, "zmq-echo-client: no reply within 5 s (%ld calls lost)\n",
                   issued - done);
      return errors + (a.n - done);
    }
    while (done < issued) {
      size_t n = 0;
      bool more = true;
      while (more) {
        if (!sock.recv(f[n < 3 ? n : 2],
                       n == 0 ? zmq::recv_flags::dontwait : zmq::recv_flags::none))
          break;
        more = f[n < 3 ? n : 2].more();
        ++n;
      }
      if (n == 0) break;
      uint64_t seq = 0;
      if (n == 3 && f[0].size() == 8)
        for (int i = 0; i < 8; ++i) seq = (seq << 8) | f[0].data<unsigned char>()[i];
      if (seq == 0 || seq > static_cast<uint64_t>(issued)) continue;  // not ours
      ++done;
      if (f[1].size() != header.size() || f[2].to_string_view() != body) {
        if (errors++ == 0) std::fprintf(stderr, "zmq-echo-client: reply does not match\n");
      } else {
        lat.push_back(
            std::chrono::duration<double, std::milli>(echo_bench::Clock::now() - sent[seq])
                .count());
      }
      if (issued < a.n) send_one();
    }
  }
  return errors;
}

int main(int argc, char** argv) {
  echo_bench::Args a;
  bool async = false;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--async") == 0)
      async = true;
    else
      rest.push_back(argv[i]);
  }
  if (!echo_bench::parse_args(static_cast<int>(rest.size()), rest.data(), a)) return 2;
  if (a.address.find(':') == std::string::npos) {
    std::fprintf(stderr, "zmq-echo-client: --address needs HOST:PORT\n");
    return 2;
  }
  const std::string endpoint = "tcp://" + a.address;
  const std::string header = header_frame();
  const std::string body(static_cast<std::size_t>(a.payload_size), 'x');

  zmq::context_t ctx{1};  // one I/O thread, as transport-zmq's context has
  if (async) {
    std::vector<std::vector<double>> lat(1);
    lat[0].reserve(static_cast<std::size_t>(a.n));
    const auto start = echo_bench::Clock::now();
    long errors = 0;
    try {
      errors = run_async(ctx, endpoint, a, header, body, lat[0]);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "zmq-echo-client: %s\n", e.what());
      errors = a.n - static_cast<long>(lat[0].size());
    }
    const double secs = std::chrono::duration<double>(echo_bench::Clock::now() - start).count();
    return echo_bench::report(a, lat, errors, secs);
  }
  std::atomic<long> next{0}, errors{0};
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(a.c));
  const auto start = echo_bench::Clock::now();
  std::vector<std::thread> threads;
  for (long t = 0; t < a.c; ++t) {
    threads.emplace_back([&, t] {
      auto& mine = lat[static_cast<std::size_t>(t)];
      mine.reserve(static_cast<std::size_t>(a.n / a.c + 1));
      uint64_t seq = 0;
      try {
        zmq::socket_t sock{ctx, zmq::socket_type::dealer};
        sock.set(zmq::sockopt::linger, 0);
        sock.set(zmq::sockopt::rcvtimeo, 5000);
        sock.set(zmq::sockopt::sndtimeo, 5000);
        sock.connect(endpoint);
        zmq::message_t f[3];
        while (next.fetch_add(1) < a.n) {
          const auto t0 = echo_bench::Clock::now();
          ++seq;
          char ch[8];
          for (int i = 0; i < 8; ++i) ch[i] = static_cast<char>((seq >> (56 - 8 * i)) & 0xff);
          try {
            if (!sock.send(zmq::buffer(ch, 8), zmq::send_flags::sndmore) ||
                !sock.send(zmq::buffer(header), zmq::send_flags::sndmore) ||
                !sock.send(zmq::buffer(body), zmq::send_flags::none))
              throw std::runtime_error("send timed out");
            // Replies to earlier, timed-out calls carry an older channel id: skip them.
            for (;;) {
              size_t n = 0;
              bool more = true;
              while (more) {
                zmq::message_t& m = f[n < 3 ? n : 2];
                if (!sock.recv(m, zmq::recv_flags::none))
                  throw std::runtime_error("no reply within 5 s");
                more = m.more();
                ++n;
              }
              if (n == 3 && f[0].size() == 8 && std::memcmp(f[0].data(), ch, 8) == 0) break;
            }
            if (f[1].size() != header.size() || f[2].to_string_view() != body)
              throw std::runtime_error("reply does not match the request");
            mine.push_back(
                std::chrono::duration<double, std::milli>(echo_bench::Clock::now() - t0).count());
          } catch (const std::exception& e) {
            if (errors.fetch_add(1) == 0)
              std::fprintf(stderr, "zmq-echo-client: first error: %s\n", e.what());
          }
        }
      } catch (const std::exception& e) {
        if (errors.fetch_add(1) == 0)
          std::fprintf(stderr, "zmq-echo-client: first error: %s\n", e.what());
      }
    });
  }
  for (auto& th : threads) th.join();
  const double secs = std::chrono::duration<double>(echo_bench::Clock::now() - start).count();
  return echo_bench::report(a, lat, errors.load(), secs);
}
