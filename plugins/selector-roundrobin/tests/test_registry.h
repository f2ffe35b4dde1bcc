// A registry for selector tests: in memory, with a watch, that can be taken down (every call
// then throws Error{unavailable} and open watches end) and that counts get_service() calls.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "micro/registry.h"

namespace micro::test {

class TestRegistry final : public Registry {
 public:
  std::string name() const override { return "test"; }
  void init(const Options& o) override { options_ = o; }
  Options options() const override { return options_; }

  void register_service(const registry::Service& s, const registry::RegisterOptions& o) override;
  void deregister(const registry::Service& s) override;
  std::vector<registry::Service> get_service(std::string_view name) override;
  std::vector<registry::Service> list_services() override;
  std::unique_ptr<registry::Watcher> watch(const registry::WatchOptions& o = {}) override;

  /// Down: every call throws Error{unavailable} and open watches end with it.
  void set_down(bool down);
  /// get_service() calls so far, failed ones included.
  int get_calls() const { return get_calls_.load(); }
  /// Watches opened so far.
  int watches() const { return watches_.load(); }

  struct Stream;

 private:
  void check_up() const;
  void publish(const registry::Result& r);  // mu_ held

  mutable std::mutex mu_;
  Options options_;
  bool down_ = false;
  std::map<std::string, std::map<std::string, registry::Service>> services_;  // name, version
  std::vector<std::weak_ptr<Stream>> streams_;
  std::atomic<int> get_calls_{0};
  std::atomic<int> watches_{0};
};

}  // namespace micro::test
