// Test scaffolding for broker plugins: a JSON message for a topic and an inbox that collects
// the bodies a subscriber receives.
#pragma once

#include <algorithm>
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include "micro/broker.h"

namespace micro::test {

/// A message with Content-Type application/json, Micro-Topic topic and body.
inline broker::Message json_message(const std::string& body, const std::string& topic = "events") {
  broker::Message m;
  m.header["Content-Type"] = "application/json";
  m.header["Micro-Topic"] = topic;
  m.body = body;
  return m;
}

/// Collects the bodies a subscriber received (thread-safe).
struct Inbox {
  std::mutex mu;
  std::vector<std::string> bodies;
  broker::Handler handler() {
    return [this](broker::Event& e) {
      std::lock_guard lk(mu);
      bodies.push_back(e.message().body);
    };
  }
  std::size_t size() {
    std::lock_guard lk(mu);
    return bodies.size();
  }
  bool has(const std::string& body) {
    std::lock_guard lk(mu);
    return std::find(bodies.begin(), bodies.end(), body) != bodies.end();
  }
};

}  // namespace micro::test
