// The hubs of several processes linked through Redis pub/sub (channel kLiveChannel). Publishing
// happens on a thread of its own, in order, so that the hub (which publishes with its lock held)
// never waits for Redis; a Redis that is down or slow loses messages (bounded queue), never
// blocks an editor.
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "cache/redis.h"
#include "common/log.h"
#include "live/live.h"

namespace verso::live {
namespace {

class RedisBackplane : public Backplane {
 public:
  explicit RedisBackplane(cache::RedisClient* redis) : redis_(redis), thread_([this] { Run(); }) {}

  ~RedisBackplane() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

  void Publish(std::string envelope) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.size() >= kMaxQueued) {
        if (dropped_++ % 1000 == 0) log::Warn("live.backplane_full", {{"dropped", dropped_}});
        return;
      }
      queue_.push_back(std::move(envelope));
    }
    cv_.notify_one();
  }

 private:
  static constexpr size_t kMaxQueued = 10000;

  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      std::deque<std::string> batch;
      batch.swap(queue_);
      lock.unlock();
      for (const std::string& m : batch) redis_->Publish(kLiveChannel, m);
      lock.lock();
    }
  }

  cache::RedisClient* const redis_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;  // GUARDED_BY(mu_)
  int64_t dropped_ = 0;            // GUARDED_BY(mu_)
  bool stop_ = false;              // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace

std::unique_ptr<Backplane> NewRedisBackplane(cache::RedisClient* redis) {
  return std::make_unique<RedisBackplane>(redis);
}

}  // namespace verso::live
