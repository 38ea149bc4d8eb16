// TmService's per-store state, shared by the service's .cc files; private to the TM area.
#ifndef VERSO_TM_STORE_H_
#define VERSO_TM_STORE_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "tm/index.h"
#include "tm/tm.h"

namespace verso::tm {

// Recently returned segment records, so that repeated lookups do not go back to storage.
// Invalidated by every write of this process that changes a record. Thread-safe.
class RecordCache {
 public:
  static constexpr size_t kCapacity = 100000;
  std::shared_ptr<const SegmentRecord> Get(int64_t id) {
    absl::MutexLock lock(&mu_);
    auto it = map_.find(id);
    return it == map_.end() ? nullptr : it->second;
  }
  void Put(SegmentRecord record) {
    auto shared = std::make_shared<const SegmentRecord>(std::move(record));
    absl::MutexLock lock(&mu_);
    if (map_.size() >= kCapacity) map_.clear();  // crude, cheap, and rare
    map_[shared->id] = std::move(shared);
  }
  void Erase(int64_t id) {
    absl::MutexLock lock(&mu_);
    map_.erase(id);
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<int64_t, std::shared_ptr<const SegmentRecord>> map_ ABSL_GUARDED_BY(mu_);
};

struct TmService::Store {
  TmStoreRecord record;
  RecordCache records;
  absl::Mutex write_mu;  // one writer per store: storage write, then index update
  mutable absl::Mutex index_mu ABSL_ACQUIRED_AFTER(write_mu);
  // False until the index is built from storage (lazily, on first use, unless Load() built it).
  // While false, writes go to storage only. Set with write_mu held too.
  bool indexed ABSL_GUARDED_BY(index_mu) = false;
  StoreIndex index ABSL_GUARDED_BY(index_mu);
};

struct TmService::Stores {
  absl::Mutex mu;
  absl::flat_hash_map<std::string, std::shared_ptr<Store>> by_id ABSL_GUARDED_BY(mu);
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
  absl::Mutex mu;
  absl::CondVar slot_freed;
  // By import id; queued ones too.
  std::map<std::string, std::shared_ptr<Progress>> running ABSL_GUARDED_BY(mu);
  std::map<std::string, int> running_by_tenant ABSL_GUARDED_BY(mu);  // holding a slot
  int running_total ABSL_GUARDED_BY(mu) = 0;
  std::vector<std::thread> threads ABSL_GUARDED_BY(mu);
  std::atomic<bool> stop{false};
};

}  // namespace verso::tm

#endif  // VERSO_TM_STORE_H_
