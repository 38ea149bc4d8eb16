// TM data in several PostgreSQL databases ("shards"): the platform spec's TM service sharded by
// store, for data that outgrows one database. The home database (storage.url, shard "main")
// keeps everything else and the directory: which shard holds each store (tm_placements; a store
// without a row lives in "main") and each shard's number, which names its change log (positions
// in storage.h). New stores are placed by the caller's hash (the TM nodes' consistent hashing,
// one replica); every TM call is routed to the store's shard; a write refused because the store
// moved is routed again.
//
// Moving a store online (MoveStore), losing no write made meanwhile:
//   1. the target gets a fenced copy of the store's row (writes there are refused);
//   2. bulk copy: the source's segments from one snapshot, after noting the source log's end;
//   3. catch-up: the source's changes to the store since then are copied again (ids present in
//      the source are replaced, ids gone are deleted), round after round while they shrink;
//   4. freeze: the move takes the store's write fence in the source exclusively (in-flight
//      writes commit first, new ones wait), copies the last changes and the usage recorded since
//      the move began, lifts the target's fence, marks the source row "moved to TARGET" and
//      releases the fence: the waiting writers are refused with StoreMovedError and go to the
//      target. Only this step blocks writers (milliseconds for a quiet store);
//   5. the directory names the target; a store change in the target's log makes every process
//      read the stores' list again (and its directory);
//   6. after a grace period the source's segments are dropped; its row stays as a tombstone
//      that sends a late writer on.
// Copies leave no entries in the change logs (they change nothing a reader sees) and keep the
// segments' ids: shard N's new ids start at N << 44, so two shards' ids never meet. A move that
// stopped half-way is started again from step 1, or finished when the source is marked moved.
#ifndef VERSO_STORAGE_SHARDED_TM_H_
#define VERSO_STORAGE_SHARDED_TM_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/storage.h"

namespace verso::storage {

inline constexpr std::string_view kHomeShard = "main";

struct TmShardSpec {
  std::string name;  // [a-z0-9_-], not "main"
  std::unique_ptr<Database> db;
};

struct MoveOptions {
  // How long the source keeps the moved segments for processes that have not read the move yet.
  absl::Duration grace = absl::Seconds(5);
  int max_catch_up_rounds = 8;
  // A catch-up round that copies at most this many segments ends the rounds (the rest is copied
  // while writers wait).
  int64_t freeze_below = 200;
  // Usage recorded up to this long before the move began is copied again while frozen (uses are
  // reported in batches, with the time of the use).
  absl::Duration usage_margin = absl::Minutes(10);
  std::function<void(std::string_view)> progress;  // a line per step, for the CLI
};

struct MoveReport {
  std::string from, to;
  int64_t copied = 0;    // segments in the bulk copy
  int64_t replayed = 0;  // segments copied again by catch-up and freeze
  int64_t usage = 0;     // usage rows copied while frozen
  int rounds = 0;        // catch-up rounds
  absl::Duration frozen;
  absl::Duration total;
};

class ShardedTm;

// `place(store_id)` names the shard of a new store ("main" or a shard's name).
absl::StatusOr<std::unique_ptr<ShardedTm>> OpenShardedTm(
    std::unique_ptr<Database> home, std::vector<TmShardSpec> shards,
    std::function<std::string(std::string_view store_id)> place);

// A Database whose TM repository spans the shards (everything else is the home database's).
class ShardedTm : public Database {
 public:
  // The shards' names, "main" first.
  virtual std::vector<std::string> ShardNames() const = 0;
  virtual absl::StatusOr<MoveReport> MoveStore(std::string_view store_id, std::string_view to,
                                               const MoveOptions& options) = 0;
};

}  // namespace verso::storage

#endif  // VERSO_STORAGE_SHARDED_TM_H_
