// TmService's per-store state, shared by the service's .cc files; private to the TM area.
#ifndef VERSO_TM_STORE_H_
#define VERSO_TM_STORE_H_

#include <memory>
#include <mutex>
#include <shared_mutex>
#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "tm/index.h"
#include "tm/tm.h"

namespace verso::tm {

struct TmService::Store {
  TmStoreRecord record;
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
  struct Progress {
    std::atomic<int64_t> bytes_read{0};
    std::atomic<int64_t> units{0};
  };
  std::mutex mu;
  std::map<std::string, std::shared_ptr<Progress>> running;  // by import id
  std::vector<std::thread> threads;
  std::atomic<bool> stop{false};
};

}  // namespace verso::tm

#endif  // VERSO_TM_STORE_H_
