// The broker verbs: publish (through the client, as a service would) and subscribe.
#include <charconv>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "micro/micro.h"
#include "micro/runtime.h"

namespace micro::cli {
namespace {

using nlohmann::json;

// {"topic":..,"header":{..},"body":<JSON when the body is JSON, else a string>}
std::string event_line(const std::string& topic, const broker::Message& m) {
  json header = json::object();
  for (const auto& [k, v] : m.header) header[k] = v;
  auto body = json::parse(m.body, nullptr, false);
  if (body.is_discarded()) body = m.body;
  return json{{"topic", topic}, {"header", header}, {"body", body}}.dump();
}

}  // namespace

int publish(const std::vector<std::string>& args) {
  auto a = parse_args(args, {});
  if (a.positional.size() != 2) throw UsageError("publish needs TOPIC JSON");
  auto j = json::parse(a.positional[1], nullptr, false);
  if (j.is_discarded()) throw UsageError("the message is not valid JSON: " + a.positional[1]);
  const std::string body = j.dump();
  Runtime rt(load_config());
  rt.start();
  try {
    auto client = new_client(rt, "micro.cli");
    Context ctx;
    client->publish(ctx, a.positional[0], codec::Payload::json(body), {});
  } catch (...) {
    rt.stop();
    throw;
  }
  rt.stop();
  return 0;
}

int subscribe(const std::vector<std::string>& args) {
  std::vector<std::string> positional;
  broker::SubscribeOptions so;
  long count = 0;
  std::chrono::milliseconds timeout{5000};
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& s = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw UsageError(s + " needs a value");
      return args[++i];
    };
    if (s == "--queue") {
      so.queue = value();
    } else if (s == "--count") {
      const std::string& v = value();
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), count);
      if (ec != std::errc() || p != v.data() + v.size() || count < 1)
        throw UsageError("--count needs a whole number >= 1");
    } else if (s == "--timeout") {
      timeout = duration_arg(value());
    } else if (s.size() > 1 && s[0] == '-') {
      throw UsageError("unknown flag " + s);
    } else {
      positional.push_back(s);
    }
  }
  if (positional.size() != 1) throw UsageError("subscribe needs TOPIC");
  const std::string topic = positional[0];

  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> lines;
  Runtime rt(load_config());
  rt.start();
  long got = 0;
  try {
    auto sub = rt.broker()->subscribe(
        topic,
        [&](broker::Event& e) {
          auto line = event_line(e.topic(), e.message());
          {
            std::lock_guard lk(mu);
            lines.push_back(std::move(line));
          }
          cv.notify_all();
        },
        so);
    std::cerr << "subscribed to " << topic << (so.queue.empty() ? "" : " in queue " + so.queue)
              << std::endl;
    const auto deadline = Clock::now() + timeout;
    std::unique_lock lk(mu);
    while (count == 0 || got < count) {
      if (!cv.wait_until(lk, deadline, [&] { return !lines.empty(); })) break;
      while (!lines.empty() && (count == 0 || got < count)) {
        std::cout << lines.front() << std::endl;
        lines.pop_front();
        ++got;
      }
    }
    lk.unlock();
    sub->unsubscribe();
  } catch (...) {
    rt.stop();
    throw;
  }
  rt.stop();
  if (count > 0 && got < count) {
    std::cerr << "micro: subscribe got " << got << " of " << count << " messages on " << topic
              << " before the timeout\n";
    return 1;
  }
  return 0;
}

}  // namespace micro::cli
