// greeter-client: calls Greeter.Hello, then reads Greeter.Stream, with the same config as the
// server (none needed on one machine).
#include <iostream>

#include "greeter.pb.h"
#include "micro/micro.h"

int main(int argc, char** argv) {
  try {
    auto service = micro::new_service("greeter.client", argc, argv);
    auto& client = service->client();
    std::string name = "World";
    for (int i = 1; i < argc; ++i)
      if (std::string_view(argv[i]) == "--name" && i + 1 < argc) name = argv[++i];

    micro::Context ctx;
    greeter::HelloRequest req;
    req.set_name(name);
    auto rsp = micro::call<greeter::HelloResponse>(client, ctx, "greeter", "Greeter.Hello", req);
    std::cout << rsp.msg() << std::endl;

    auto stream = micro::stream<greeter::StreamRequest, greeter::StreamResponse>(
        client, ctx, "greeter", "Greeter.Stream");
    greeter::StreamRequest sreq;
    sreq.set_count(3);
    stream.send(sreq);
    stream.close_send();
    greeter::StreamResponse srsp;
    while (stream.recv(srsp)) std::cout << "stream: " << srsp.msg() << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "greeter-client: " << e.what() << std::endl;
    return 1;
  }
}
