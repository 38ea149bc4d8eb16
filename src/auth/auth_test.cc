#include "auth/auth.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/clock.h"
#include "common/crypto.h"
#include "common/ids.h"

namespace verso::auth {
namespace {

class KeyServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/auth_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto db = storage::OpenSqlite(dir_ + "/verso.db", {});
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    keys_ = std::make_unique<KeyService>(&db_->keys(), &clock_, &ids_, absl::Seconds(10));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
  FakeClock clock_;
  IdGenerator ids_{clock_, 1};
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<KeyService> keys_;
};

TEST_F(KeyServiceTest, CreatedKeysAuthenticateAndOnlyTheirHashIsStored) {
  auto created = keys_->Create("acme", "ci", {"tm:read"});
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->key.substr(0, 4), "vsk_");
  EXPECT_EQ(created->key.size(), 56u);
  auto listed = keys_->List("acme");
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].hash, Sha256Hex(created->key));
  EXPECT_EQ((*listed)[0].prefix, created->key.substr(0, 12));
  auto who = keys_->Authenticate(created->key);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->tenant, "acme");
  EXPECT_EQ(who->key_id, created->record.id);
  EXPECT_TRUE(who->Has("tm:read"));
  EXPECT_FALSE(who->Has("tm:write"));
}

TEST_F(KeyServiceTest, WrongAndRevokedKeysAreRefused) {
  auto created = keys_->Create("acme", "ci", {"admin"});
  std::string wrong = created->key;
  wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
  EXPECT_EQ(keys_->Authenticate(wrong).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(keys_->Authenticate("").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(keys_->Authenticate("Bearer x").status().code(), absl::StatusCode::kUnauthenticated);
  ASSERT_TRUE(keys_->Authenticate(created->key).ok());
  ASSERT_TRUE(keys_->Revoke(created->record.id).ok());
  EXPECT_EQ(keys_->Authenticate(created->key).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(KeyServiceTest, RevocationElsewhereTakesEffectWhenTheCacheExpires) {
  auto created = keys_->Create("acme", "ci", {"tm:write"});
  ASSERT_TRUE(keys_->Authenticate(created->key).ok());
  // Another process revokes the key directly in storage.
  ASSERT_TRUE(db_->keys().RevokeKey(created->record.id, clock_.Now()).ok());
  EXPECT_TRUE(keys_->Authenticate(created->key).ok());  // cached
  clock_.Advance(absl::Seconds(11));
  EXPECT_EQ(keys_->Authenticate(created->key).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(ScopesTest, ParseAndAdminImpliesAll) {
  EXPECT_EQ(*ParseScopes("tm:read, tm:write,tm:read"),
            (std::vector<std::string>{"tm:read", "tm:write"}));
  EXPECT_EQ(std::string(ParseScopes("tm:read,tm:delete").status().message()),
            "scopes: unknown scope \"tm:delete\" (admin, translate, tm:read, tm:write)");
  EXPECT_FALSE(ParseScopes(" , ").ok());
  Principal admin{.tenant = "t", .key_id = "k", .scopes = {"admin"}};
  EXPECT_TRUE(admin.Has("tm:write"));
  EXPECT_TRUE(admin.Has("translate"));
}

TEST(RateLimiterTest, TokenBucketWithRetryAfter) {
  FakeClock clock;
  RateLimiter limiter(&clock, /*rate=*/2, /*burst=*/3);
  absl::Duration retry;
  EXPECT_TRUE(limiter.Allow("k", &retry));
  EXPECT_TRUE(limiter.Allow("k", &retry));
  EXPECT_TRUE(limiter.Allow("k", &retry));
  EXPECT_FALSE(limiter.Allow("k", &retry));  // burst used up
  EXPECT_EQ(retry, absl::Milliseconds(500));
  EXPECT_TRUE(limiter.Allow("other", &retry));  // buckets are per key
  clock.Advance(absl::Milliseconds(500));
  EXPECT_TRUE(limiter.Allow("k", &retry));
  EXPECT_FALSE(limiter.Allow("k", &retry));
  clock.Advance(absl::Seconds(60));  // refills up to the burst only
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Allow("k", &retry));
  EXPECT_FALSE(limiter.Allow("k", &retry));
  RateLimiter unlimited(&clock, 0, 0);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(unlimited.Allow("k", &retry));
}

}  // namespace
}  // namespace verso::auth
