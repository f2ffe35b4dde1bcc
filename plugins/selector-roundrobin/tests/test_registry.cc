#include "test_registry.h"

#include <algorithm>

#include "micro/errors.h"

namespace micro::test {

struct TestRegistry::Stream {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<registry::Result> queue;
  bool stopped = false;
  bool broken = false;
};

namespace {

class TestWatcher final : public registry::Watcher {
 public:
  explicit TestWatcher(std::shared_ptr<TestRegistry::Stream> s) : s_(std::move(s)) {}
  ~TestWatcher() override { stop(); }
  std::optional<registry::Result> next(Deadline deadline) override {
    std::unique_lock lk(s_->mu);
    s_->cv.wait_until(lk, deadline,
                      [&] { return s_->stopped || s_->broken || !s_->queue.empty(); });
    if (s_->stopped) throw Error(Errc::closed, "test registry: watch stopped");
    if (s_->broken) throw Error(Errc::unavailable, "test registry: down");
    if (s_->queue.empty()) return std::nullopt;
    auto r = std::move(s_->queue.front());
    s_->queue.pop_front();
    return r;
  }
  void stop() noexcept override {
    {
      std::lock_guard lk(s_->mu);
      s_->stopped = true;
    }
    s_->cv.notify_all();
  }

 private:
  std::shared_ptr<TestRegistry::Stream> s_;
};

}  // namespace

void TestRegistry::check_up() const {
  if (down_) throw Error(Errc::unavailable, "test registry: down");
}

void TestRegistry::publish(const registry::Result& r) {
  for (auto& w : streams_) {
    if (auto s = w.lock()) {
      {
        std::lock_guard lk(s->mu);
        s->queue.push_back(r);
      }
      s->cv.notify_all();
    }
  }
}

void TestRegistry::register_service(const registry::Service& s, const registry::RegisterOptions&) {
  std::lock_guard lk(mu_);
  check_up();
  auto& cur = services_[s.name][s.version];
  auto nodes = cur.nodes;
  for (const auto& n : s.nodes) {
    std::erase_if(nodes, [&](const registry::Node& x) { return x.id == n.id; });
    nodes.push_back(n);
  }
  cur = s;
  cur.nodes = std::move(nodes);
  publish({"update", s});
}

void TestRegistry::deregister(const registry::Service& s) {
  std::lock_guard lk(mu_);
  check_up();
  auto it = services_.find(s.name);
  if (it == services_.end()) return;
  auto v = it->second.find(s.version);
  if (v == it->second.end()) return;
  for (const auto& n : s.nodes)
    std::erase_if(v->second.nodes, [&](const registry::Node& x) { return x.id == n.id; });
  if (v->second.nodes.empty()) it->second.erase(v);
  if (it->second.empty()) services_.erase(it);
  publish({"delete", s});
}

std::vector<registry::Service> TestRegistry::get_service(std::string_view name) {
  ++get_calls_;
  std::lock_guard lk(mu_);
  check_up();
  auto it = services_.find(std::string(name));
  if (it == services_.end())
    throw Error(Errc::not_found, "test registry: service " + std::string(name) + " not found");
  std::vector<registry::Service> out;
  for (const auto& [_, s] : it->second) out.push_back(s);
  return out;
}

std::vector<registry::Service> TestRegistry::list_services() {
  std::lock_guard lk(mu_);
  check_up();
  std::vector<registry::Service> out;
  for (const auto& [_, versions] : services_)
    for (const auto& [v, s] : versions) out.push_back(s);
  return out;
}

std::unique_ptr<registry::Watcher> TestRegistry::watch(const registry::WatchOptions&) {
  std::lock_guard lk(mu_);
  check_up();
  ++watches_;
  auto s = std::make_shared<Stream>();
  std::erase_if(streams_, [](const std::weak_ptr<Stream>& w) { return w.expired(); });
  streams_.push_back(s);
  return std::make_unique<TestWatcher>(s);
}

void TestRegistry::set_down(bool down) {
  std::lock_guard lk(mu_);
  down_ = down;
  if (!down) return;
  for (auto& w : streams_) {
    if (auto s = w.lock()) {
      {
        std::lock_guard sl(s->mu);
        s->broken = true;
      }
      s->cv.notify_all();
    }
  }
  streams_.clear();
}

}  // namespace micro::test
