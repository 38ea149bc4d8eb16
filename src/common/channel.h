// A bounded multi-producer, multi-consumer queue for pipelines (e.g. an import that parses on
// one thread and writes on another). Thread-safe.
#ifndef VERSO_COMMON_CHANNEL_H_
#define VERSO_COMMON_CHANNEL_H_

#include <cstddef>
#include <deque>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace verso {

template <typename T>
class Channel {
 public:
  explicit Channel(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // Blocks while the channel is full. False (and `item` untouched) once it is closed.
  bool Push(T&& item) {
    absl::MutexLock lock(&mu_);
    while (!closed_ && items_.size() >= capacity_) not_full_.Wait(&mu_);
    if (closed_) return false;
    items_.push_back(std::move(item));
    not_empty_.Signal();
    return true;
  }

  // Blocks while the channel is empty and open. False when it is closed and drained.
  bool Pop(T* item) {
    absl::MutexLock lock(&mu_);
    while (!closed_ && items_.empty()) not_empty_.Wait(&mu_);
    if (items_.empty()) return false;
    *item = std::move(items_.front());
    items_.pop_front();
    not_full_.Signal();
    return true;
  }

  // No more pushes; consumers drain what is queued. Idempotent.
  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    not_empty_.SignalAll();
    not_full_.SignalAll();
  }

 private:
  const size_t capacity_;
  absl::Mutex mu_;
  absl::CondVar not_empty_, not_full_;
  std::deque<T> items_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace verso

#endif  // VERSO_COMMON_CHANNEL_H_
