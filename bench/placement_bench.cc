// TM store placement on the ring (src/tm/placement.h), printed for the issue-15 table: balance
// (max/mean stores and segments per node) for 1, 16, 64 and 256 virtual nodes, the fraction of
// stores whose primary moves when a node joins (beside the ideal 1/(N+1)), and the cost of one
// Owners() call. Store sizes follow a log-normal distribution (median 20,000 segments, a few
// stores of millions: a realistic spread of customers' memories), fixed seed.
//   placement_bench [STORES] [NODES]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "tm/placement.h"

using verso::tm::Placement;
using verso::tm::PlacementOptions;

namespace {

struct Balance {
  double stores_max_mean;
  double segments_max_mean;
};

// Max over mean of stores and of segments per node, counting every owner (replicas included).
Balance Measure(const Placement& p, const std::vector<std::string>& ids,
                const std::vector<double>& sizes) {
  std::map<std::string, double> stores, segments;
  for (const std::string& n : p.nodes()) stores[n] = segments[n] = 0;
  double total_stores = 0, total_segments = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    for (const std::string& owner : p.Owners(ids[i])) {
      stores[owner] += 1;
      segments[owner] += sizes[i];
      total_stores += 1;
      total_segments += sizes[i];
    }
  }
  double max_stores = 0, max_segments = 0;
  for (const auto& [node, n] : stores) max_stores = std::max(max_stores, n);
  for (const auto& [node, n] : segments) max_segments = std::max(max_segments, n);
  const double nodes = static_cast<double>(p.nodes().size());
  return {max_stores / (total_stores / nodes), max_segments / (total_segments / nodes)};
}

}  // namespace

int main(int argc, char** argv) {
  const int n_stores = argc > 1 ? std::atoi(argv[1]) : 1000;
  const int n_nodes = argc > 2 ? std::atoi(argv[2]) : 3;
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> size(std::log(20000.0), 1.5);
  std::vector<std::string> ids;
  std::vector<double> sizes;
  double total = 0;
  for (int i = 0; i < n_stores; ++i) {
    ids.push_back("tm_" + std::to_string(rng()));
    sizes.push_back(std::round(size(rng)));
    total += sizes.back();
  }
  std::vector<double> sorted = sizes;
  std::sort(sorted.begin(), sorted.end());
  std::printf(
      "%d stores, %.1fM segments (median %.0f, largest %.0f); %d nodes, R = 2 "
      "(balance counts every owner)\n",
      n_stores, total / 1e6, sorted[sorted.size() / 2], sorted.back(), n_nodes);
  std::vector<std::string> nodes, grown;
  for (int n = 1; n <= n_nodes + 1; ++n) {
    (n <= n_nodes ? nodes : grown).push_back("tm-" + std::to_string(n));
  }
  grown.insert(grown.begin(), nodes.begin(), nodes.end());
  std::printf("%8s %18s %20s %22s %14s\n", "vnodes", "stores max/mean", "segments max/mean",
              "primaries moved +1", "Owners() us");
  for (int vnodes : {1, 16, 64, 256}) {
    const PlacementOptions options{.virtual_nodes = vnodes, .replicas = 2};
    Placement before(nodes, options), after(grown, options);
    const Balance b = Measure(before, ids, sizes);
    int moved = 0;
    for (const std::string& id : ids) moved += before.Owners(id)[0] != after.Owners(id)[0];
    const auto t0 = std::chrono::steady_clock::now();
    size_t sink = 0;
    constexpr int kCalls = 200000;
    for (int i = 0; i < kCalls; ++i) sink += before.Owners(ids[i % ids.size()]).size();
    const double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() /
        kCalls;
    std::printf("%8d %18.2f %20.2f %13.1f%% (1/%d = %.1f%%) %8.2f%s\n", vnodes, b.stores_max_mean,
                b.segments_max_mean, 100.0 * moved / n_stores, n_nodes + 1, 100.0 / (n_nodes + 1),
                us, sink == 0 ? "!" : "");
  }
  return 0;
}
