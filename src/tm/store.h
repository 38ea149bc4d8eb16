// TmService's per-store state, shared by the service's .cc files; private to the TM area.
#ifndef VERSO_TM_STORE_H_
#define VERSO_TM_STORE_H_

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "cache/cache.h"
#include "tm/index.h"
#include "tm/tm.h"

namespace verso::tm {

// Recently returned segment records, so that repeated lookups do not go back to storage.
// Invalidated by every change to a record, this process's or one read from the change log.
// A record read from storage is kept only if nothing was erased while it was being read (it
// may predate the change that erased it). Thread-safe.
class RecordCache {
 public:
  static constexpr size_t kCapacity = 100000;
  std::shared_ptr<const SegmentRecord> Get(int64_t id) {
    absl::MutexLock lock(&mu_);
    auto it = map_.find(id);
    return it == map_.end() ? nullptr : it->second;
  }
  // Counts the erasures: read before reading records from storage, passed to Put.
  uint64_t Generation() {
    absl::MutexLock lock(&mu_);
    return generation_;
  }
  void Put(SegmentRecord record, uint64_t generation_read_at) {
    auto shared = std::make_shared<const SegmentRecord>(std::move(record));
    absl::MutexLock lock(&mu_);
    if (generation_ != generation_read_at) return;
    if (map_.size() >= kCapacity) map_.clear();  // crude, cheap, and rare
    map_[shared->id] = std::move(shared);
  }
  void Erase(int64_t id) {
    absl::MutexLock lock(&mu_);
    ++generation_;
    map_.erase(id);
  }
  // The cached record's use, as storage::TmRepository::RecordUsage records it: `count` more
  // uses, the last one no earlier than `when`. Counted as an erasure (a read in flight holds the
  // old count and must not be put).
  void AddUse(int64_t id, int64_t count, absl::Time when) {
    absl::MutexLock lock(&mu_);
    ++generation_;
    auto it = map_.find(id);
    if (it == map_.end()) return;
    auto used = std::make_shared<SegmentRecord>(*it->second);
    used->usage_count += count;
    used->last_used_at = std::max(used->last_used_at, when);
    it->second = std::move(used);
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<int64_t, std::shared_ptr<const SegmentRecord>> map_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
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
  bool from_snapshot ABSL_GUARDED_BY(index_mu) = false;
  // What keys this store's cached lookup results: 1 + the change-log position this process's
  // view of the store reflects; 0 (bypass the cache) until Sync has seen the store change, and
  // while a write of this process is not read back from the log yet. Changed with write_mu held.
  std::atomic<int64_t> cache_version{0};
  // The change log that records the store's changes now (its TM shard's) and the version of its
  // placement there (both 0 unless TM data is sharded); from `record` until the store moves.
  std::atomic<int> log{0};
  std::atomic<int64_t> placement{0};
  // The last change to the store this process has applied from the log (at Load: the log's
  // end then). A position (storage.h): after a move, of another log than before.
  int64_t last_change ABSL_GUARDED_BY(write_mu) = 0;
  std::atomic<int64_t> applied_change{0};  // last_change, readable without write_mu
  // The change-log position of the index's last snapshot (written or read), and when.
  int64_t snapshot_change ABSL_GUARDED_BY(write_mu) = -1;
  absl::Time snapshot_at ABSL_GUARDED_BY(write_mu) = absl::InfinitePast();
  std::atomic<int64_t> own_write{0};  // the epoch (own_writes_) of this process's last write
};

// A cached lookup's answer: the index's hits (records are read as for any lookup).
struct CachedResult {
  std::vector<Hit> hits;
  uint64_t check = 0;  // a second hash of the query (result_cache.cc)
  int64_t candidates = 0;
  int64_t verified = 0;
};

// "r1 ..." (result_cache.cc): what L2 keeps and what a peer answers a lookup with.
std::string EncodeHits(const CachedResult& result);
// nullopt for anything but a well-formed value (another version's, a truncated one).
std::optional<CachedResult> DecodeHits(std::string_view in);

// Cached lookup results (TmService::EnableResultCache).
struct TmService::ResultCache {
  using Entry = CachedResult;
  ResultCache(ResultCacheOptions o, const Clock* clock);
  ResultCacheOptions options;
  cache::LruCache<Entry> l1;
  absl::Mutex mu;
  // By store id: the number of this process's last write to it not yet read back from the log.
  std::map<std::string, int64_t> written ABSL_GUARDED_BY(mu);
  std::atomic<int64_t> l1_hits{0}, l2_hits{0}, misses{0}, bypassed{0};
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
