// Read replicas of the PostgreSQL primary: their replication lag, measured every 200 ms, and which
// replica (if any) may serve a read that tolerates a given staleness. A replica lagging more than
// the ejection bound (the spec's 30 s) leaves the rotation until it catches up; so does one that
// cannot be reached.
#ifndef VERSO_STORAGE_POSTGRES_PG_REPLICAS_H_
#define VERSO_STORAGE_POSTGRES_PG_REPLICAS_H_

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/postgres/pg_db.h"
#include "storage/storage.h"

namespace verso::storage::pg {

class ReplicaSet {
 public:
  // `urls`: the replicas' connection URLs; each gets a pool of `connections`.
  ReplicaSet(Pool* primary, const std::vector<std::string>& urls, int connections,
             absl::Duration eject_lag);
  ~ReplicaSet();

  // The replica with the least lag within `bound` and in rotation, or nullptr (read the primary).
  Pool* Pick(absl::Duration bound);
  std::vector<ReplicaState> States();

  // Runs fn(Tx&) on a replica within `bound` when there is one; a replica's NotFound (the row
  // may not have arrived yet: read-your-writes) or Unavailable is asked again of the primary.
  template <typename F>
  auto Read(Pool* primary, absl::Duration bound, F&& fn) -> decltype(fn(std::declval<Tx&>())) {
    if (Pool* replica = Pick(bound); replica != nullptr) {
      // Whatever went wrong on a replica (not there yet, gone, a query cancelled by a conflict
      // with recovery) the primary answers for it: a replica only saves the primary work.
      auto r = replica->Read(fn);
      if (r.ok()) return r;
    }
    return primary->Read(fn);
  }

 private:
  struct Replica {
    std::string name;  // host:port, no credentials
    std::unique_ptr<Pool> pool;
    absl::Duration lag = absl::InfiniteDuration();
    bool reachable = false;
    bool in_rotation = false;
  };
  void Monitor();
  void Measure();

  Pool* primary_;
  const absl::Duration eject_lag_;
  absl::Mutex mu_;
  std::vector<Replica> replicas_ ABSL_GUARDED_BY(mu_);
  // The primary's WAL position over the last minute: (when, bytes).
  std::deque<std::pair<absl::Time, int64_t>> primary_lsn_;  // the monitor thread's alone
  std::atomic<bool> stop_{false};
  std::thread thread_;  // last: starts after the members it uses
};

}  // namespace verso::storage::pg

#endif  // VERSO_STORAGE_POSTGRES_PG_REPLICAS_H_
