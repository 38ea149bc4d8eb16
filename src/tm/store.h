// TmService's per-store state, shared by the service's .cc files; private to the TM area.
#ifndef VERSO_TM_STORE_H_
#define VERSO_TM_STORE_H_

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "tm/index.h"
#include "tm/tm.h"

namespace verso::tm {

// Recently returned segment records, so that repeated lookups do not go back to storage.
// Invalidated by every write of this process that changes a record. Thread-safe.
class RecordCache {
 public:
  static constexpr size_t kCapacity = 100000;
  std::shared_ptr<const SegmentRecord> Get(int64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(id);
    return it == map_.end() ? nullptr : it->second;
  }
  void Put(SegmentRecord record) {
    auto shared = std::make_shared<const SegmentRecord>(std::move(record));
    std::lock_guard<std::mutex> lock(mu_);
    if (map_.size() >= kCapacity) map_.clear();  // crude, cheap, and rare
    map_[shared->id] = std::move(shared);
  }
  void Erase(int64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    map_.erase(id);
  }

 private:
  std::mutex mu_;
  absl::flat_hash_map<int64_t, std::shared_ptr<const SegmentRecord>> map_;
};

struct TmService::Store {
  TmStoreRecord record;
  RecordCache records;
  std::mutex write_mu;  // one writer per store: storage write, then index update
  mutable std::shared_mutex index_mu;
  // False until the index is built from storage (lazily, on first use, unless Load() built it).
  // While false, writes go to storage only. Guarded by index_mu; set with write_mu held.
  bool indexed = false;
  StoreIndex index;
};

struct TmService::Stores {
  std::shared_mutex mu;
  absl::flat_hash_map<std::string, std::shared_ptr<Store>> by_id;
};

// Background imports: live progress of the running ones, and their threads.
struct TmService::Imports {
  // At most this many imports run at once, at most one per tenant; a tenant may have this
  // many queued or running (more: Throttled). One tenant's big imports cannot take every slot,
  // nor start a thread per upload.
  static constexpr int kMaxRunning = 2;
  static constexpr int kMaxRunningPerTenant = 1;
  static constexpr int kMaxPendingPerTenant = 8;
  struct Progress {
    std::string tenant;
    std::atomic<int64_t> bytes_read{0};
    std::atomic<int64_t> units{0};
  };
  std::mutex mu;
  std::condition_variable slot_freed;
  std::map<std::string, std::shared_ptr<Progress>> running;  // by import id; queued ones too
  std::map<std::string, int> running_by_tenant;              // holding a slot
  int running_total = 0;
  std::vector<std::thread> threads;
  std::atomic<bool> stop{false};
};

}  // namespace verso::tm

#endif  // VERSO_TM_STORE_H_
