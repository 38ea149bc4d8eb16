#include "common/channel.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace verso {
namespace {

TEST(ChannelTest, DeliversEverythingInOrderThenEnds) {
  Channel<int> ch(3);
  std::vector<int> got;
  std::thread consumer([&] {
    int v;
    while (ch.Pop(&v)) got.push_back(v);
  });
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(ch.Push(int{i}));
  ch.Close();
  consumer.join();
  ASSERT_EQ(got.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(got[i], i);
}

TEST(ChannelTest, PushAfterCloseFailsAndWakesBlockedProducers) {
  Channel<int> ch(1);
  ASSERT_TRUE(ch.Push(1));
  bool pushed = true;
  std::thread producer([&] { pushed = ch.Push(2); });  // blocks: full
  ch.Close();
  producer.join();
  EXPECT_FALSE(pushed);
  int v = 0;
  EXPECT_TRUE(ch.Pop(&v));  // what was queued before Close is still delivered
  EXPECT_EQ(v, 1);
  EXPECT_FALSE(ch.Pop(&v));
}

}  // namespace
}  // namespace verso
