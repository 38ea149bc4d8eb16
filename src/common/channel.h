// A bounded multi-producer, multi-consumer queue for pipelines (e.g. an import that parses on
// one thread and writes on another). Thread-safe.
#ifndef VERSO_COMMON_CHANNEL_H_
#define VERSO_COMMON_CHANNEL_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>

namespace verso {

template <typename T>
class Channel {
 public:
  explicit Channel(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // Blocks while the channel is full. False (and `item` untouched) once it is closed.
  bool Push(T&& item) {
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }

  // Blocks while the channel is empty and open. False when it is closed and drained.
  bool Pop(T* item) {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return false;
    *item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return true;
  }

  // No more pushes; consumers drain what is queued. Idempotent.
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }

 private:
  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::deque<T> items_;
  bool closed_ = false;
};

}  // namespace verso

#endif  // VERSO_COMMON_CHANNEL_H_
