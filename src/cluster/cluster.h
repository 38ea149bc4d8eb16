// The TM service sharded by store (the platform spec): TM nodes (`verso serve --roles tm`) hold
// the indexes of the stores placed on them; every other process (API, workers) asks them.
//
// Membership: each node writes a heartbeat row (storage::ClusterRepository) every `heartbeat`,
// valid for `expiry`; every process reads the rows as often and places stores on the live nodes
// with tm::Placement (consistent hashing, `virtual_nodes` points per node, `replicas` owners per
// store). The shared database, not etcd: every process already depends on it (a process that
// cannot reach it cannot write anyway), it is the one place all of them agree on, and a
// heartbeat a second per node is nothing to it; etcd would be a second quorum to run, watch and
// restore, for no stronger guarantee than placement needs (a stale view costs a retry, never a
// wrong answer: any node that holds an index answers correctly).
//
// Moves: a node builds the index of a store placed on it in the background (not ready: askers
// skip it) and keeps the index of a store placed elsewhere until every new owner says it holds
// its index built ("ready"), so no lookup fails while a store moves. Askers try the store's
// nodes in ring order, owners first, then the rest (an old owner still holding it): a node that
// cannot answer (down, not ready, no longer holding) costs one retry, counted.
//
// Peers authenticate with a secret every process reads from the database (cluster_settings):
// only processes that can read the database can ask a node.
#ifndef VERSO_CLUSTER_CLUSTER_H_
#define VERSO_CLUSTER_CLUSTER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/storage.h"
#include "tm/tm.h"

namespace verso {
class Clock;
}  // namespace verso

namespace verso::cluster {

struct Options {
  // This process as a TM node: its id (stable across restarts: placement hashes it) and the
  // URL peers reach it at. Empty id: not a node (it only asks).
  std::string node_id;
  std::string url;
  absl::Duration heartbeat = absl::Seconds(1);
  absl::Duration expiry = absl::Seconds(5);  // a node silent this long is gone
  int replicas = 2;                          // nodes holding each store
  int virtual_nodes = 256;                   // ring points per node
  // How long one node may take to answer a lookup before the next is asked (a hung node must not
  // hold lookups for long), and a concordance query; the whole Ask, retries included.
  absl::Duration lookup_timeout = absl::Seconds(2);
  absl::Duration ask_timeout = absl::Seconds(10);
};

struct Stats {
  std::vector<storage::NodeRecord> nodes;  // live TM nodes
  int64_t stores_owned = 0;                // placed on this node
  int64_t stores_held = 0;                 // indexes held (owned, or handing over)
  int64_t stores_warming = 0;              // owned, index being built
  int64_t asks = 0;                        // requests sent to nodes
  int64_t retries = 0;                     // a node could not answer; the next was asked
  int64_t failures = 0;                    // no node could answer
  int64_t moves_in = 0;                    // indexes built because a store was placed here
  int64_t moves_out = 0;                   // indexes dropped after their new owners had them
};

class TmCluster : public tm::IndexPeers {
 public:
  // Joins (as a node when options.node_id is set) and reads the membership once, so that
  // Holds() is right before `tm` loads its indexes. Then heartbeats, follows the membership and
  // moves indexes on its own thread. `repo`, `tm` and `clock` must outlive it; `tm` must have
  // read its stores (TmService::Load) before.
  static absl::StatusOr<std::unique_ptr<TmCluster>> Start(storage::ClusterRepository* repo,
                                                          tm::TmService* tm, Options options,
                                                          const Clock* clock);
  // A node: from now on builds the indexes of stores placed on it later and drops those of
  // stores moved away (call once its TmService has loaded the indexes placed on it at start).
  // Call once, from one thread.
  void BeginMoves();
  // Leaves: the node's row is removed, so its stores' next owners take over at once.
  ~TmCluster() override;

  bool Holds(std::string_view store_id) override;
  absl::StatusOr<std::string> Ask(std::string_view store_id, std::string_view method,
                                  const std::string& request) override;

  // The secret peers send as "Authorization: Bearer ..."; Authorized checks a header against
  // it in constant time.
  const std::string& secret() const;
  bool Authorized(std::string_view authorization) const;

  Stats GetStats();

  struct Impl;

 private:
  explicit TmCluster(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace verso::cluster

#endif  // VERSO_CLUSTER_CLUSTER_H_
