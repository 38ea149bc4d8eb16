#include "cache/cache.h"

#include <gtest/gtest.h>

namespace verso::cache {
namespace {

size_t Size(const std::string& s) { return s.size(); }

TEST(LruCacheTest, HitsMissesAndExpiry) {
  FakeClock clock;
  LruCache<std::string> c(1 << 20, absl::Hours(24 * 7), &clock, Size);
  EXPECT_FALSE(c.Get("a").has_value());
  c.Put("a", "Hola");
  EXPECT_EQ(c.Get("a"), "Hola");
  c.Put("a", "Hola de nuevo");
  EXPECT_EQ(c.Get("a"), "Hola de nuevo");
  clock.Advance(absl::Hours(24 * 7) - absl::Seconds(1));
  EXPECT_EQ(c.Get("a"), "Hola de nuevo");
  clock.Advance(absl::Seconds(1));  // seven days after it was stored
  EXPECT_FALSE(c.Get("a").has_value());
  CacheStats s = c.stats();
  EXPECT_EQ(s.hits, 3);
  EXPECT_EQ(s.misses, 2);
  EXPECT_EQ(s.expirations, 1);
  EXPECT_EQ(s.entries, 0);
  EXPECT_EQ(s.bytes, 0);
}

TEST(LruCacheTest, MemoryIsBoundedAndTheLeastRecentlyUsedGoesFirst) {
  FakeClock clock;
  // Each entry costs key (1) + value (1000) + 96 bytes of overhead: three fit in 3400.
  LruCache<std::string> c(3400, absl::Hours(1), &clock, Size);
  std::string v(1000, 'x');
  c.Put("a", v);
  c.Put("b", v);
  c.Put("c", v);
  EXPECT_TRUE(c.Get("a").has_value());  // a is now the most recently used
  c.Put("d", v);                        // evicts b
  EXPECT_FALSE(c.Get("b").has_value());
  EXPECT_TRUE(c.Get("a").has_value());
  EXPECT_TRUE(c.Get("c").has_value());
  EXPECT_TRUE(c.Get("d").has_value());
  CacheStats s = c.stats();
  EXPECT_EQ(s.entries, 3);
  EXPECT_EQ(s.evictions, 1);
  EXPECT_LE(s.bytes, 3400);
  c.Put("huge", std::string(5000, 'y'));  // larger than the whole cache: not stored
  EXPECT_FALSE(c.Get("huge").has_value());
  EXPECT_EQ(c.stats().entries, 3);
}

}  // namespace
}  // namespace verso::cache
