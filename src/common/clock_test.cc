#include "common/clock.h"

#include <gtest/gtest.h>

namespace verso {
namespace {

TEST(FakeClockTest, MovesOnlyWhenAdvanced) {
  FakeClock clock(absl::FromUnixSeconds(100));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(100));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(100));
  clock.Advance(absl::Seconds(30));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(130));
  EXPECT_EQ(clock.MonotonicNow(), absl::FromUnixSeconds(130));
  clock.Set(absl::FromUnixSeconds(5));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(5));
}

TEST(RealClockTest, MonotonicNeverGoesBack) {
  absl::Time a = Clock::Real().MonotonicNow();
  absl::Time b = Clock::Real().MonotonicNow();
  EXPECT_LE(a, b);
}

}  // namespace
}  // namespace verso
