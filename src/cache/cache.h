// L1: an in-process LRU cache with a time to live and a memory bound (L2, shared by every
// process, is Redis: cache/redis.h).
//
// Entries expire `ttl` after they were stored (by the injected Clock) and the least recently
// used ones are evicted when the entries' cost (bytes, as the caller counts them) would exceed
// `max_bytes`. Thread-safe; the lock is held only for map and list updates.
#ifndef VERSO_CACHE_CACHE_H_
#define VERSO_CACHE_CACHE_H_

#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace verso::cache {

struct CacheStats {
  int64_t hits = 0;
  int64_t misses = 0;
  int64_t evictions = 0;  // for room
  int64_t expirations = 0;
  int64_t entries = 0;
  int64_t bytes = 0;
};

template <typename V>
class LruCache {
 public:
  // `cost(value)` approximates the bytes a value holds; the key's size is added to it.
  LruCache(size_t max_bytes, absl::Duration ttl, const Clock* clock,
           std::function<size_t(const V&)> cost)
      : max_bytes_(max_bytes), ttl_(ttl), clock_(clock), cost_(std::move(cost)) {}

  // `count` false: neither a hit nor a miss is counted (a first look that a counted one may
  // follow; CountHits counts the hits it kept).
  std::optional<V> Get(const std::string& key, bool count = true) {
    absl::MutexLock lock(&mu_);
    auto it = map_.find(key);
    if (it == map_.end()) {
      if (count) ++stats_.misses;
      return std::nullopt;
    }
    if (clock_->Now() >= it->second->expires) {
      ++stats_.expirations;
      if (count) ++stats_.misses;
      Erase(it);
      return std::nullopt;
    }
    lru_.splice(lru_.begin(), lru_, it->second);  // most recently used first
    if (count) ++stats_.hits;
    return it->second->value;
  }

  void CountHits(int64_t n) {
    absl::MutexLock lock(&mu_);
    stats_.hits += n;
  }

  void Put(const std::string& key, V value) {
    size_t bytes = key.size() + cost_(value) + kOverhead;
    if (bytes > max_bytes_) return;  // would evict everything else
    absl::MutexLock lock(&mu_);
    if (auto it = map_.find(key); it != map_.end()) Erase(it);
    while (bytes_ + bytes > max_bytes_ && !lru_.empty()) {
      ++stats_.evictions;
      Erase(map_.find(lru_.back().key));
    }
    lru_.push_front(Entry{key, std::move(value), clock_->Now() + ttl_, bytes});
    map_[key] = lru_.begin();
    bytes_ += bytes;
  }

  void Erase(const std::string& key) {
    absl::MutexLock lock(&mu_);
    if (auto it = map_.find(key); it != map_.end()) Erase(it);
  }

  // Erases the entries whose key starts with `prefix` (a walk over every entry); returns how
  // many.
  int64_t ErasePrefix(std::string_view prefix) {
    absl::MutexLock lock(&mu_);
    int64_t erased = 0;
    for (auto it = map_.begin(); it != map_.end();) {
      auto next = std::next(it);
      if (std::string_view(it->first).starts_with(prefix)) {
        Erase(it);
        ++erased;
      }
      it = next;
    }
    return erased;
  }

  void Clear() {
    absl::MutexLock lock(&mu_);
    map_.clear();
    lru_.clear();
    bytes_ = 0;
  }

  CacheStats stats() const {
    absl::MutexLock lock(&mu_);
    CacheStats s = stats_;
    s.entries = static_cast<int64_t>(map_.size());
    s.bytes = static_cast<int64_t>(bytes_);
    return s;
  }

 private:
  // Per entry: list node, hash node, key copy in the map.
  static constexpr size_t kOverhead = 96;
  struct Entry {
    std::string key;
    V value;
    absl::Time expires;
    size_t bytes;
  };
  using List = std::list<Entry>;

  void Erase(typename std::unordered_map<std::string, typename List::iterator>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    bytes_ -= it->second->bytes;
    lru_.erase(it->second);
    map_.erase(it);
  }

  const size_t max_bytes_;
  const absl::Duration ttl_;
  const Clock* clock_;
  const std::function<size_t(const V&)> cost_;
  mutable absl::Mutex mu_;
  List lru_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, typename List::iterator> map_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  CacheStats stats_;
};

}  // namespace verso::cache

#endif  // VERSO_CACHE_CACHE_H_
