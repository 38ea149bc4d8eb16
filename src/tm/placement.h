// Where each TM store lives among the TM nodes (the platform spec: the TM service sharded by
// store, rebalanced by consistent hashing with virtual nodes, two read replicas per shard).
// A store's id hashes onto a ring of `virtual_nodes` points per node; its owners are the first
// `replicas` distinct nodes clockwise from there, the first being its primary. Adding a node
// moves only the stores that now hash to it (about 1/N of them); removing one moves only the
// stores it owned. Immutable, so thread-safe; membership changes build a new Placement.
#ifndef VERSO_TM_PLACEMENT_H_
#define VERSO_TM_PLACEMENT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace verso::tm {

struct PlacementOptions {
  int virtual_nodes = 64;  // points per node on the ring (1 or more)
  int replicas = 2;        // owners per store (1 or more), fewer when there are fewer nodes
};

class Placement {
 public:
  // `nodes` in any order, duplicates ignored: the same set always places the same way.
  explicit Placement(std::vector<std::string> nodes, PlacementOptions options = {});

  // The store's owners, primary first: min(replicas, nodes) distinct nodes; none without nodes.
  std::vector<std::string> Owners(std::string_view store_id) const;

  const std::vector<std::string>& nodes() const { return nodes_; }  // sorted

 private:
  struct Point {
    uint64_t hash;
    uint32_t node;  // index in nodes_
  };
  std::vector<std::string> nodes_;
  std::vector<Point> ring_;  // by hash, then node
  int replicas_;
};

}  // namespace verso::tm

#endif  // VERSO_TM_PLACEMENT_H_
