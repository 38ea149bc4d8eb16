// The L2 client against a real redis-server of its own (started here on a free port, so that
// killing it disturbs no other test).
#include "cache/redis.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "tests/process.h"

namespace verso::cache {
namespace {

class RedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = test::FreePort();
    dir_ = ::testing::TempDir() + "/redis_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::create_directories(dir_);
    StartRedis();
  }
  void TearDown() override {
    if (redis_ != nullptr) {
      redis_->Kill(SIGKILL);
      redis_->Wait();
    }
    std::filesystem::remove_all(dir_);
  }
  void StartRedis() {
    redis_ = test::StartRedis(port_, dir_);
    ASSERT_NE(redis_, nullptr) << "redis-server did not start";
  }
  std::unique_ptr<RedisClient> Client(RedisOptions options = {}) {
    auto c =
        RedisClient::Open("redis://127.0.0.1:" + std::to_string(port_), options, &Clock::Real());
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }

  int port_ = 0;
  std::string dir_;
  std::unique_ptr<test::Child> redis_;
};

TEST(RedisUrlTest, MalformedUrlsSayWhatIsWrong) {
  auto open = [](std::string_view url) {
    return RedisClient::Open(url, {}, &Clock::Real()).status();
  };
  EXPECT_EQ(open("http://localhost").message(), "expected redis://[:password@]host[:port][/db]");
  EXPECT_EQ(open("redis://localhost:99999").message(), "\"99999\" is not a port");
  EXPECT_EQ(open("redis://localhost:6379/x").message(), "\"x\" is not a database number");
  EXPECT_EQ(open("redis://").message(), "no host");
  EXPECT_TRUE(open("redis://:secret@10.0.0.5:6380/2").ok());
}

TEST_F(RedisTest, ValuesExpireAndAStoresFuzzyKeysAreScannedAway) {
  auto c = Client();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->Get("missing"), std::nullopt);
  c->Set("k", std::string("v\0w", 3), absl::ZeroDuration());
  EXPECT_EQ(c->Get("k"), std::string("v\0w", 3));
  c->Set("short", "lived", absl::Milliseconds(100));
  EXPECT_EQ(c->Get("short"), "lived");
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  EXPECT_EQ(c->Get("short"), std::nullopt);
  for (int i = 0; i < 250; ++i) c->Set("tm_fuzzy:A:" + std::to_string(i), "x", absl::Minutes(10));
  for (int i = 0; i < 5; ++i) c->Set("tm_fuzzy:B:" + std::to_string(i), "x", absl::Minutes(10));
  EXPECT_EQ(c->ScanDelete("tm_fuzzy:A:*", 100, 1000), 250);
  EXPECT_EQ(c->Get("tm_fuzzy:A:7"), std::nullopt);
  EXPECT_EQ(c->Get("tm_fuzzy:B:3"), "x");
  c->Del({"k"});
  EXPECT_EQ(c->Get("k"), std::nullopt);
  RedisStats stats = c->Stats();
  EXPECT_EQ(stats.errors, 0);
  EXPECT_GE(stats.hits, 3);
}

// Two clients (two processes) draw from one bucket.
TEST_F(RedisTest, TheTokenBucketIsSharedBetweenClients) {
  auto a = Client(), b = Client();
  ASSERT_NE(a, nullptr);
  absl::Duration retry;
  EXPECT_EQ(a->TakeToken("rl:key_1", 0.5, 2, true, &retry), true);
  EXPECT_EQ(b->TakeToken("rl:key_1", 0.5, 2, true, &retry), true);
  EXPECT_EQ(a->TakeToken("rl:key_1", 0.5, 2, false, &retry), false);
  EXPECT_EQ(b->TakeToken("rl:key_1", 0.5, 2, true, &retry), false);
  EXPECT_GT(retry, absl::Seconds(1));
  EXPECT_LE(retry, absl::Seconds(2));
  EXPECT_EQ(b->TakeToken("rl:key_2", 0.5, 2, true, &retry), true);  // another key's own bucket
}

TEST_F(RedisTest, PublishedMessagesReachSubscribers) {
  auto sub = Client(), pub = Client();
  ASSERT_NE(sub, nullptr);
  absl::Mutex mu;
  std::vector<std::string> got;
  sub->Subscribe("tm_invalidation", [&](std::string_view m) {
    absl::MutexLock lock(&mu);
    got.emplace_back(m);
  });
  for (int i = 0; i < 100; ++i) {
    pub->Publish("tm_invalidation", "tm_1:42");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    absl::MutexLock lock(&mu);
    if (!got.empty()) break;
  }
  absl::MutexLock lock(&mu);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got[0], "tm_1:42");
}

// Two processes share a versioned cache: a change made stale what was cached before it, even an
// entry its reader stored after the change (it read the truth before), and nothing else.
TEST_F(RedisTest, AChangeMakesEveryEntryReadBeforeItStale) {
  auto a = Client(), b = Client();
  ASSERT_NE(a, nullptr);
  VersionedCache pa(a.get(), "js", absl::Seconds(30)), pb(b.get(), "js", absl::Seconds(30));
  std::optional<VersionedCache::Read> first = pa.Get("job_1");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->value, std::nullopt);
  EXPECT_EQ(first->version, "0");
  pa.Put("job_1", first->version, "queued");
  EXPECT_EQ(pb.Get("job_1")->value, "queued");
  // A reader reads the truth (version seen first), a writer changes it, the reader stores late.
  std::optional<VersionedCache::Read> slow = pb.Get("job_2");
  pa.Changed("job_2");
  pb.Put("job_2", slow->version, "read before the change");
  std::optional<VersionedCache::Read> after = pa.Get("job_2");
  EXPECT_EQ(after->value, std::nullopt);
  EXPECT_EQ(after->version, "1");
  pa.Put("job_2", after->version, "read after the change");
  EXPECT_EQ(pb.Get("job_2")->value, "read after the change");
  pb.Changed("job_1");
  EXPECT_EQ(pa.Get("job_1")->value, std::nullopt);
  EXPECT_EQ(pa.Get("job_2")->value, "read after the change");  // another id's entry stays
  // The counter expires an hour after its last change (entries: 30 s).
  const int64_t pttl = std::stoll(
      test::Run({"/usr/bin/redis-cli", "-p", std::to_string(port_), "pttl", "js:v:job_1"}).out);
  EXPECT_GT(pttl, 3'590'000);
  EXPECT_LE(pttl, 3'600'000);
  VersionedCache::Stats stats = pa.stats();
  EXPECT_EQ(stats.hits, 1);
  EXPECT_EQ(stats.misses, 3);
  EXPECT_EQ(stats.changes, 1);
}

// Redis killed: calls fail fast, the breaker opens and bypasses Redis; Redis back: the breaker's
// trial call closes it and the cache works again, without a restart.
TEST_F(RedisTest, ALostRedisIsBypassedAndComesBack) {
  RedisOptions options;
  options.breaker = {.failure_threshold = 3, .reset_timeout = absl::Milliseconds(300)};
  auto c = Client(options);
  ASSERT_NE(c, nullptr);
  c->Set("k", "v", absl::ZeroDuration());
  ASSERT_EQ(c->Get("k"), "v");
  redis_->Kill(SIGKILL);
  redis_->Wait();
  redis_.reset();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(c->Get("k"), std::nullopt);
  RedisStats down = c->Stats();
  EXPECT_EQ(down.breaker, resilience::BreakerState::kOpen);
  EXPECT_GE(down.errors, 3);
  EXPECT_GE(down.bypassed, 1);
  absl::Duration retry;
  EXPECT_EQ(c->TakeToken("rl:x", 1, 1, true, &retry), std::nullopt);
  EXPECT_FALSE(VersionedCache(c.get(), "js", absl::Seconds(30)).Get("job_1").has_value());
  StartRedis();
  std::optional<std::string> value;
  for (int i = 0; i < 50 && !value; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    c->Set("k2", "back", absl::ZeroDuration());
    value = c->Get("k2");
  }
  EXPECT_EQ(value, "back");
  EXPECT_EQ(c->Stats().breaker, resilience::BreakerState::kClosed);
}

}  // namespace
}  // namespace verso::cache
