// registry-consul: a Watcher on blocking queries. One thread follows /v1/catalog/services (when
// all services are watched) and one thread per service follows /v1/health/service/<name>; each
// diffs against its last answer (go-micro's watcher.go) and queues create/update/delete.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "consul_http.h"
#include "micro/registry.h"

namespace micro::plugins::consul {

class ConsulWatcher final : public registry::Watcher {
 public:
  /// Starts the query threads. service "" = all services.
  ConsulWatcher(std::shared_ptr<Http> http, std::string service, int wait_s);
  ~ConsulWatcher() override;
  std::optional<registry::Result> next(Deadline deadline = no_deadline) override;
  void stop() noexcept override;

 private:
  struct Follower {
    std::string name;
    Canceller cancel;
    std::thread thread;
    std::mutex mu;
    std::vector<registry::Service> last;  ///< guarded by mu
  };
  void follow_catalog();
  void follow_service(Follower* f);
  void push(std::vector<registry::Result> rs);
  /// Sleeps up to d unless stopped; returns false when stopped.
  bool pause(std::chrono::milliseconds d);
  void start_follower(const std::string& name);
  void end_follower(const std::string& name);

  std::shared_ptr<Http> http_;
  std::string service_;
  int wait_s_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<registry::Result> queue_;
  bool stopped_ = false;
  Canceller catalog_cancel_;
  std::thread catalog_;
  std::map<std::string, std::unique_ptr<Follower>> followers_;  ///< touched by one thread at a time
  std::mutex followers_mu_;
};

/// The results that turn `before` into `after` (one service, versions as entries).
std::vector<registry::Result> diff(const std::string& name,
                                   const std::vector<registry::Service>& before,
                                   const std::vector<registry::Service>& after);

}  // namespace micro::plugins::consul
