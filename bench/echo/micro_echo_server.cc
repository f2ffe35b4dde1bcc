// micro-bench-echo-server: the micro-cpp side of the echo benchmark, on the public API only.
// Runs on the embedded defaults (transport-http); address from MICRO_SERVER_ADDRESS.
//   micro-bench-echo-server
//   micro bench echo Echo.Echo '{"payload":"..."}' -n N -c C --json
#include <iostream>

#include "echo.pb.h"
#include "micro/micro.h"

int main(int argc, char** argv) {
  try {
    auto service = micro::new_service("echo", argc, argv);
    service->server().handle(micro::handler(
        "Echo", {
                    micro::unary<echo::EchoRequest, echo::EchoResponse>(
                        "Echo", [](micro::Context&, const echo::EchoRequest& in,
                                   echo::EchoResponse& out) { out.set_payload(in.payload()); }),
                }));
    return service->run();
  } catch (const std::exception& e) {
    std::cerr << "micro-bench-echo-server: " << e.what() << std::endl;
    return 1;
  }
}
