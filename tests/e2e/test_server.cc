// A service for the end-to-end tests, on JSON handlers (no .proto): echo, sleep honouring the
// deadline, metadata echo, errors on demand, the node's id, and the three kinds of streams.
//   micro-test-server [--config FILE]     name "test" unless MICRO_SERVER_NAME says otherwise
#include <fstream>
#include <iostream>
#include <thread>

#include "micro/micro.h"

using nlohmann::json;

int main(int argc, char** argv) {
  try {
    auto service = micro::new_service("test", argc, argv);
    micro::Service* svc = service.get();
    service->server().handle(micro::handler(
        "Test",
        {
            micro::unary<json, json>("Echo",
                                     [](micro::Context&, const json& in, json& out) { out = in; }),
            micro::unary<json, json>(
                "Sleep",
                [](micro::Context& ctx, const json& in, json& out) {
                  const auto ms = std::chrono::milliseconds(in.value("ms", 0));
                  if (in.contains("marker")) {  // tells a test the call is in flight
                    std::ofstream(in["marker"].get<std::string>()) << "x";
                  }
                  const auto until =
                      micro::Clock::now() + std::min(ms, std::chrono::milliseconds(30000));
                  while (micro::Clock::now() < until) {
                    if (micro::Clock::now() > ctx.deadline)
                      throw micro::errors::timeout("test", "deadline exceeded while sleeping");
                    std::this_thread::sleep_for(std::chrono::milliseconds(5));
                  }
                  out = {{"slept_ms", ms.count()}};
                }),
            micro::unary<json, json>("Meta",
                                     [](micro::Context& ctx, const json&, json& out) {
                                       out = json::object();
                                       for (const auto& [k, v] : ctx.metadata) out[k] = v;
                                       out["from_service"] = ctx.from_service;
                                       out["has_deadline"] = ctx.deadline != micro::no_deadline;
                                       ctx.response_metadata["X-Echo"] =
                                           std::string(micro::get(ctx.metadata, "X-Echo"));
                                     }),
            micro::unary<json, json>("Fail",
                                     [](micro::Context&, const json& in, json&) {
                                       if (in.value("plain", false))
                                         throw std::runtime_error("plain failure");
                                       throw micro::Error(
                                           micro::errc_from_code(in.value("code", 500)),
                                           in.value("detail", "failed"), "test",
                                           in.value("code", 500));
                                     }),
            micro::unary<json, json>("Whoami",
                                     [svc](micro::Context&, const json&, json& out) {
                                       out = {{"id", svc->server().options().id},
                                              {"address", svc->server().address()}};
                                     }),
            micro::server_stream<json, json>("Count",
                                             [](micro::Context&, const json& in,
                                                micro::StreamWriter<json>& w) {
                                               for (int i = 0; i < in.value("count", 0); ++i)
                                                 w.send(json{{"n", i}});
                                             }),
            micro::bidi_stream<json, json>("Sum",
                                           [](micro::Context&, micro::ServerStream<json, json>& s) {
                                             long sum = 0;
                                             json m;
                                             while (s.recv(m)) sum += m.value("n", 0L);
                                             s.send(json{{"sum", sum}});
                                           }),
            micro::bidi_stream<json, json>("Chat",
                                           [](micro::Context&, micro::ServerStream<json, json>& s) {
                                             json m;
                                             while (s.recv(m)) s.send(json{{"echo", m}});
                                           }),
        }));
    return service->run();
  } catch (const std::exception& e) {
    std::cerr << "micro-test-server: " << e.what() << std::endl;
    return 1;
  }
}
