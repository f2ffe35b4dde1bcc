// grpc-echo-server: the gRPC C++ side of the echo benchmark. Synchronous server (gRPC's own
// thread pool), one unary method that copies the payload back.
//   grpc-echo-server 127.0.0.1:PORT
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <memory>
#include <string>

#include "echo.grpc.pb.h"

namespace {

class EchoImpl final : public echo::Echo::Service {
  grpc::Status Echo(grpc::ServerContext*, const echo::EchoRequest* in,
                    echo::EchoResponse* out) override {
    out->set_payload(in->payload());
    return grpc::Status::OK;
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s HOST:PORT\n", argv[0]);
    return 2;
  }
  EchoImpl impl;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(argv[1], grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&impl);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::fprintf(stderr, "grpc-echo-server: cannot listen on %s\n", argv[1]);
    return 1;
  }
  std::fprintf(stderr, "grpc-echo-server: listening on %s\n", argv[1]);
  server->Wait();
  return 0;
}
