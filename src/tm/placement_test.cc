#include "tm/placement.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "common/strings.h"

namespace verso::tm {
namespace {

std::vector<std::string> Stores(int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back(StrCat("tm_store_", i));
  return ids;
}

TEST(PlacementTest, EachStoreHasReplicasDistinctOwnersWhateverTheNodeOrder) {
  Placement a({"tm-1", "tm-2", "tm-3"}, {.virtual_nodes = 16, .replicas = 2});
  Placement b({"tm-3", "tm-1", "tm-2", "tm-1"}, {.virtual_nodes = 16, .replicas = 2});
  EXPECT_EQ(b.nodes(), (std::vector<std::string>{"tm-1", "tm-2", "tm-3"}));
  std::map<std::string, int> primaries;
  for (const std::string& store : Stores(300)) {
    const std::vector<std::string> owners = a.Owners(store);
    ASSERT_EQ(owners.size(), 2u) << store;
    EXPECT_NE(owners[0], owners[1]) << store;
    EXPECT_EQ(b.Owners(store), owners) << store;
    ++primaries[owners[0]];
  }
  EXPECT_EQ(primaries.size(), 3u);  // every node is some store's primary
}

TEST(PlacementTest, FewerNodesThanReplicasGivesEveryNodeAndNoNodesNone) {
  Placement one({"tm-1"}, {.virtual_nodes = 4, .replicas = 2});
  EXPECT_EQ(one.Owners("tm_x"), (std::vector<std::string>{"tm-1"}));
  Placement three({"tm-1", "tm-2", "tm-3"}, {.virtual_nodes = 1, .replicas = 5});
  std::vector<std::string> owners = three.Owners("tm_x");
  std::sort(owners.begin(), owners.end());
  EXPECT_EQ(owners, three.nodes());
  EXPECT_TRUE(Placement({}, {}).Owners("tm_x").empty());
}

// Consistent hashing's promise: a new node takes stores only for itself (each store's owners
// are the old ones with the new node inserted, the last dropped), and a node that leaves gives
// up only its own stores (the others keep exactly their owners).
TEST(PlacementTest, ANodeJoiningOrLeavingMovesOnlyTheStoresItTakesOrHeld) {
  const PlacementOptions options{.virtual_nodes = 64, .replicas = 2};
  Placement before({"tm-1", "tm-2", "tm-3"}, options);
  Placement joined({"tm-1", "tm-2", "tm-3", "tm-4"}, options);
  Placement left({"tm-1", "tm-3"}, options);
  int moved_primaries = 0, kept = 0;
  for (const std::string& store : Stores(1000)) {
    const std::vector<std::string> old_owners = before.Owners(store);
    std::vector<std::string> now = joined.Owners(store);
    if (now[0] != old_owners[0]) {
      ++moved_primaries;
      EXPECT_EQ(now[0], "tm-4") << store;
    }
    now.erase(std::remove(now.begin(), now.end(), "tm-4"), now.end());
    EXPECT_EQ(now, std::vector<std::string>(old_owners.begin(), old_owners.begin() + now.size()))
        << store;

    const std::vector<std::string> after = left.Owners(store);
    if (std::find(old_owners.begin(), old_owners.end(), "tm-2") == old_owners.end()) {
      EXPECT_EQ(after, old_owners) << store;
      ++kept;
    } else {
      std::vector<std::string> rest = old_owners;
      rest.erase(std::remove(rest.begin(), rest.end(), "tm-2"), rest.end());
      EXPECT_EQ(std::vector<std::string>(after.begin(), after.begin() + rest.size()), rest)
          << store;
    }
  }
  EXPECT_GT(moved_primaries, 0);
  EXPECT_LT(moved_primaries, 1000);
  EXPECT_GT(kept, 0);
}

}  // namespace
}  // namespace verso::tm
