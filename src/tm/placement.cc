#include "tm/placement.h"

#include <algorithm>
#include <utility>

#include "common/hash.h"
#include "common/strings.h"

namespace verso::tm {

Placement::Placement(std::vector<std::string> nodes, PlacementOptions options)
    : nodes_(std::move(nodes)), replicas_(std::max(1, options.replicas)) {
  std::sort(nodes_.begin(), nodes_.end());
  nodes_.erase(std::unique(nodes_.begin(), nodes_.end()), nodes_.end());
  const int points = std::max(1, options.virtual_nodes);
  ring_.reserve(nodes_.size() * points);
  for (uint32_t n = 0; n < nodes_.size(); ++n) {
    for (int v = 0; v < points; ++v) {
      ring_.push_back({StableHash64(StrCat(nodes_[n], "#", v)), n});
    }
  }
  std::sort(ring_.begin(), ring_.end(), [](const Point& a, const Point& b) {
    return a.hash != b.hash ? a.hash < b.hash : a.node < b.node;
  });
}

std::vector<std::string> Placement::Owners(std::string_view store_id) const {
  std::vector<std::string> owners;
  const size_t want = std::min<size_t>(replicas_, nodes_.size());
  if (want == 0) return owners;
  const uint64_t h = StableHash64(store_id);
  auto it = std::lower_bound(ring_.begin(), ring_.end(), h,
                             [](const Point& p, uint64_t v) { return p.hash < v; });
  size_t i = static_cast<size_t>(it - ring_.begin());
  std::vector<bool> taken(nodes_.size(), false);
  for (size_t seen = 0; owners.size() < want && seen < ring_.size(); ++seen, ++i) {
    const Point& p = ring_[i % ring_.size()];
    if (taken[p.node]) continue;
    taken[p.node] = true;
    owners.push_back(nodes_[p.node]);
  }
  return owners;
}

}  // namespace verso::tm
