#include "nats_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace micro::test {

bool tcp_accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

NatsServer::NatsServer() : port_(free_port()) { start(); }

NatsServer::~NatsServer() { kill(); }

std::string NatsServer::url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

void NatsServer::kill() {
  if (!proc_) return;
  proc_->signal(SIGKILL);
  proc_->wait();
  proc_.reset();
}

void NatsServer::start() {
  std::string bin = "nats-server";
  if (const char* e = std::getenv("MICRO_TEST_NATS_SERVER"); e && *e)
    bin = e;
  else
    for (const char* p : {"/usr/sbin/nats-server", "/usr/bin/nats-server"})
      if (std::filesystem::exists(p)) bin = p;
  proc_ = std::make_unique<Process>(
      std::vector<std::string>{bin, "-a", "127.0.0.1", "-p", std::to_string(port_)});
  if (!wait_for([&] { return tcp_accepts(port_) || !proc_->running(); },
                std::chrono::seconds(10)) ||
      !proc_->running())
    throw std::runtime_error("nats-server on port " + std::to_string(port_) + " did not start (" +
                             bin + "): " + proc_->err());
}

}  // namespace micro::test
