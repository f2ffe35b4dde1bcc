// greeter-server: the example service. Runs on the embedded defaults with no config:
//   greeter-server            (or: greeter-server --config greeter.json)
//   micro call greeter Greeter.Hello '{"name":"John"}'
#include <atomic>
#include <iostream>

#include "greeter.pb.h"
#include "micro/micro.h"

int main(int argc, char** argv) {
  try {
    auto service = micro::new_service("greeter", argc, argv);
    std::atomic<long> events{0};

    service->server().handle(micro::handler(
        "Greeter",
        {
            micro::unary<greeter::HelloRequest, greeter::HelloResponse>(
                "Hello",
                [](micro::Context&, const greeter::HelloRequest& in, greeter::HelloResponse& out) {
                  if (in.name().empty())
                    throw micro::errors::bad_request("greeter", "name is required");
                  out.set_msg("Hello " + in.name());
                }),
            micro::server_stream<greeter::StreamRequest, greeter::StreamResponse>(
                "Stream",
                [](micro::Context&, const greeter::StreamRequest& in,
                   micro::StreamWriter<greeter::StreamResponse>& out) {
                  if (in.count() < 0 || in.count() > 1000000)
                    throw micro::errors::bad_request("greeter",
                                                     "count must be between 0 and 1000000");
                  for (int64_t i = 0; i < in.count(); ++i) {
                    greeter::StreamResponse r;
                    r.set_count(i);
                    r.set_msg("message " + std::to_string(i));
                    out.send(r);
                  }
                }),
            micro::bidi_stream<greeter::ChatMessage, greeter::ChatMessage>(
                "Chat",
                [](micro::Context&,
                   micro::ServerStream<greeter::ChatMessage, greeter::ChatMessage>& s) {
                  greeter::ChatMessage m;
                  while (s.recv(m)) {
                    greeter::ChatMessage r;
                    r.set_text("echo: " + m.text());
                    s.send(r);
                  }
                }),
        }));

    service->server().subscribe(micro::subscriber<greeter::Event>(
        "greeter.events", [&events](micro::Context&, const greeter::Event& e) {
          std::cout << "event " << e.id() << ": " << e.text() << " (" << ++events << " so far)"
                    << std::endl;
        }));

    return service->run();
  } catch (const std::exception& e) {
    std::cerr << "greeter-server: " << e.what() << std::endl;
    return 1;
  }
}
