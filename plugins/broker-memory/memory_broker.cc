#include "memory_broker.h"

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

namespace micro::plugins {
namespace {

// Counts handler exceptions; logs the first and then one in `every`.
struct FailureLog {
  std::atomic<uint64_t> count{0};
  std::atomic<uint64_t> every{100};
  void record(const std::string& topic, const char* what) {
    auto n = ++count;
    if (n == 1 || n % every == 0)
      std::fprintf(stderr, "broker memory: a handler of topic %s threw (%llu so far): %s\n",
                   topic.c_str(), static_cast<unsigned long long>(n), what);
  }
};

class MemoryEvent final : public broker::Event {
 public:
  MemoryEvent(const std::string& topic, const broker::Message& m) : topic_(topic), m_(m) {}
  const std::string& topic() const override { return topic_; }
  const broker::Message& message() const override { return m_; }
  void ack() override {}
  const Error* error() const override { return nullptr; }

 private:
  const std::string& topic_;
  const broker::Message& m_;
};

// One subscription: its queue and the worker thread that runs its handler.
struct Sub : std::enable_shared_from_this<Sub> {
  std::string topic;
  broker::SubscribeOptions options;
  broker::Handler handler;
  std::size_t capacity = 0;
  std::shared_ptr<FailureLog> failures;

  std::mutex mu;
  std::condition_variable cv;       // work arrived or stopping
  std::condition_variable idle_cv;  // queue drained and handler idle
  std::deque<broker::Message> queue;
  bool stopping = false;
  bool busy = false;

  std::mutex join_mu;
  std::thread worker;
  std::thread::id worker_id;

  void start() {
    worker = std::thread([self = shared_from_this()] { self->run(); });
    worker_id = worker.get_id();
  }

  bool has_room() {
    std::lock_guard lk(mu);
    return !stopping && queue.size() < capacity;
  }

  void push(const broker::Message& m) {
    {
      std::lock_guard lk(mu);
      if (stopping) return;
      queue.push_back(m);
    }
    cv.notify_one();
  }

  // Waits until the queue is empty and no handler runs, or until deadline.
  void drain(Clock::time_point deadline) {
    std::unique_lock lk(mu);
    idle_cv.wait_until(lk, deadline, [&] { return stopping || (queue.empty() && !busy); });
  }

  void run() {
    std::unique_lock lk(mu);
    while (true) {
      cv.wait(lk, [&] { return stopping || !queue.empty(); });
      if (stopping) break;
      broker::Message m = std::move(queue.front());
      queue.pop_front();
      busy = true;
      lk.unlock();
      MemoryEvent ev(topic, m);
      try {
        handler(ev);
      } catch (const std::exception& e) {
        failures->record(topic, e.what());
      } catch (...) {
        failures->record(topic, "unknown exception");
      }
      lk.lock();
      busy = false;
      if (queue.empty()) idle_cv.notify_all();
    }
    busy = false;
    idle_cv.notify_all();
  }

  // Stops delivery and returns once the handler no longer runs. From the handler itself it
  // cannot wait: it returns `true` and whoever joins later (unsubscribe, broker stop) does.
  bool shut() {
    {
      std::lock_guard lk(mu);
      stopping = true;
      queue.clear();
    }
    cv.notify_all();
    idle_cv.notify_all();
    if (std::this_thread::get_id() == worker_id) return true;
    std::lock_guard j(join_mu);
    if (worker.joinable()) worker.join();
    return false;
  }
};

}  // namespace

struct MemoryBroker::Core {
  std::mutex mu;
  Options options;
  std::size_t queue_size = 10000;
  std::shared_ptr<FailureLog> failures = std::make_shared<FailureLog>();
  bool connected = true;
  bool stopped = false;
  std::map<std::string, std::vector<std::shared_ptr<Sub>>, std::less<>> topics;
  std::map<std::pair<std::string, std::string>, std::size_t> turn;  // (topic, queue) -> next
  std::vector<std::shared_ptr<Sub>> retired;  // shut from their own handler, not joined yet

  void remove(const std::shared_ptr<Sub>& s) {
    std::lock_guard lk(mu);
    auto it = topics.find(s->topic);
    if (it == topics.end()) return;
    std::erase(it->second, s);
    if (it->second.empty()) topics.erase(it);
  }
};

namespace {

class MemorySubscriber final : public broker::Subscriber {
 public:
  MemorySubscriber(std::weak_ptr<MemoryBroker::Core> core, std::shared_ptr<Sub> sub)
      : core_(std::move(core)), sub_(std::move(sub)) {}
  ~MemorySubscriber() override { unsubscribe(); }
  const std::string& topic() const override { return sub_->topic; }
  const broker::SubscribeOptions& options() const override { return sub_->options; }
  void unsubscribe() override {
    auto core = core_.lock();
    if (core) core->remove(sub_);
    if (sub_->shut() && core) {
      std::lock_guard lk(core->mu);
      core->retired.push_back(sub_);
    } else if (!core) {
      std::lock_guard j(sub_->join_mu);  // from its own handler after the broker is gone
      if (sub_->worker.joinable() && std::this_thread::get_id() == sub_->worker_id)
        sub_->worker.detach();
    }
  }

 private:
  std::weak_ptr<MemoryBroker::Core> core_;
  std::shared_ptr<Sub> sub_;
};

}  // namespace

MemoryBroker::MemoryBroker() : core_(std::make_shared<Core>()) {}

MemoryBroker::~MemoryBroker() { stop(); }

void MemoryBroker::init(const Options& options) {
  auto o = nlohmann::json::parse(options.plugin_options.empty() ? "{}" : options.plugin_options,
                                 nullptr, false);
  if (o.is_discarded() || !o.is_object())
    throw Error(Errc::config, "broker memory: options are not a JSON object");
  std::lock_guard lk(core_->mu);
  core_->options = options;
  core_->queue_size = o.value("queue_size", std::size_t{10000});
  core_->failures->every = std::max<uint64_t>(1, o.value("error_log_every", uint64_t{100}));
}

Broker::Options MemoryBroker::options() const {
  std::lock_guard lk(core_->mu);
  return core_->options;
}

void MemoryBroker::connect() {
  std::lock_guard lk(core_->mu);
  if (core_->stopped) throw Error(Errc::closed, "broker memory: stopped");
  core_->connected = true;
}

void MemoryBroker::disconnect() noexcept {
  std::vector<std::shared_ptr<Sub>> subs;
  {
    std::lock_guard lk(core_->mu);
    if (!core_->connected) return;
    core_->connected = false;
    for (auto& [topic, list] : core_->topics) subs.insert(subs.end(), list.begin(), list.end());
  }
  auto deadline = Clock::now() + std::chrono::seconds(5);
  for (auto& s : subs) s->drain(deadline);
}

void MemoryBroker::stop() noexcept {
  disconnect();
  std::vector<std::shared_ptr<Sub>> subs;
  {
    std::lock_guard lk(core_->mu);
    core_->stopped = true;
    for (auto& [topic, list] : core_->topics) subs.insert(subs.end(), list.begin(), list.end());
    core_->topics.clear();
    subs.insert(subs.end(), core_->retired.begin(), core_->retired.end());
    core_->retired.clear();
  }
  for (auto& s : subs) s->shut();
}

void MemoryBroker::publish(std::string_view topic, const broker::Message& m,
                           const broker::PublishOptions&) {
  std::lock_guard lk(core_->mu);
  if (core_->stopped) throw Error(Errc::closed, "broker memory: stopped");
  if (!core_->connected) throw Error(Errc::unavailable, "broker memory: not connected");
  auto it = core_->topics.find(topic);
  if (it == core_->topics.end()) return;
  auto full = [&] {
    return Error(Errc::unavailable, "broker memory: a subscriber queue of topic " +
                                        std::string(topic) + " is full (" +
                                        std::to_string(core_->queue_size) + " messages)");
  };
  // Choose every target first, so that a full queue delivers nothing rather than a part.
  // Publishers hold core_->mu, so a queue with room keeps it until the push below.
  std::vector<Sub*> targets;
  std::map<std::string, std::vector<Sub*>> groups;
  for (auto& s : it->second) {
    if (s->options.queue.empty()) {
      if (!s->has_room()) throw full();
      targets.push_back(s.get());
    } else {
      groups[s->options.queue].push_back(s.get());
    }
  }
  for (auto& [queue, members] : groups) {
    auto& turn = core_->turn[{std::string(topic), queue}];
    Sub* chosen = nullptr;
    for (std::size_t i = 0; i < members.size() && !chosen; ++i) {
      Sub* s = members[(turn + i) % members.size()];
      if (s->has_room()) chosen = s;
    }
    if (!chosen) throw full();
    ++turn;
    targets.push_back(chosen);
  }
  for (Sub* s : targets) s->push(m);
}

std::unique_ptr<broker::Subscriber> MemoryBroker::subscribe(std::string_view topic,
                                                            broker::Handler h,
                                                            const broker::SubscribeOptions& o) {
  if (topic.empty()) throw Error(Errc::bad_request, "broker memory: empty topic");
  if (!h)
    throw Error(Errc::bad_request, "broker memory: no handler for topic " + std::string(topic));
  auto s = std::make_shared<Sub>();
  s->topic = std::string(topic);
  s->options = o;
  s->handler = std::move(h);
  {
    std::lock_guard lk(core_->mu);
    if (core_->stopped) throw Error(Errc::closed, "broker memory: stopped");
    s->capacity = core_->queue_size;
    s->failures = core_->failures;
    s->start();
    core_->topics[s->topic].push_back(s);
  }
  return std::make_unique<MemorySubscriber>(core_, s);
}

}  // namespace micro::plugins
