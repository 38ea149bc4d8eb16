#include "common/ids.h"

#include <gtest/gtest.h>

#include <set>

#include "common/clock.h"

namespace verso {
namespace {

TEST(IdGeneratorTest, PrefixedBase32AndTimeOrdered) {
  FakeClock clock(absl::FromUnixMillis(1'700'000'000'000));
  IdGenerator ids(clock, 42);
  std::string a = ids.Next("tm");
  ASSERT_EQ(a.size(), 3u + 26u);
  EXPECT_EQ(a.substr(0, 3), "tm_");
  for (char c : a.substr(3)) {
    EXPECT_NE(std::string_view("0123456789abcdefghjkmnpqrstvwxyz").find(c), std::string::npos);
  }
  clock.Advance(absl::Milliseconds(1));
  std::string b = ids.Next("tm");
  EXPECT_LT(a, b);  // later id sorts after
}

TEST(IdGeneratorTest, SameSeedSameIdsDifferentSeedDifferentIds) {
  FakeClock clock;
  IdGenerator x(clock, 7), y(clock, 7), z(clock, 8);
  std::string ax = x.Next("s"), ay = y.Next("s"), az = z.Next("s");
  EXPECT_EQ(ax, ay);
  EXPECT_NE(ax, az);
}

TEST(IdGeneratorTest, NoCollisionsInSameMillisecond) {
  FakeClock clock;
  IdGenerator ids(clock, 1);
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(seen.insert(ids.Next("k")).second);
}

}  // namespace
}  // namespace verso
