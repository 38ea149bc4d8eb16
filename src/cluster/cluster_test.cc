#include "cluster/cluster.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "common/clock.h"
#include "common/ids.h"
#include "storage/storage.h"
#include "tm/tm.h"

namespace verso::cluster {
namespace {

class TmClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/cluster_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto db = storage::OpenSqlite(dir_ + "/verso.db", storage::SqliteOptions{});
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    tm_ = std::make_unique<tm::TmService>(db_.get(), &Clock::Real(), &ids_);
    ASSERT_TRUE(tm_->Load(false).ok());
  }
  void TearDown() override {
    tm_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  Options Node(const std::string& id) {
    Options o;
    o.node_id = id;
    o.url = "http://127.0.0.1:1";  // nobody listens: asking it fails at once
    o.heartbeat = absl::Milliseconds(50);
    o.expiry = absl::Milliseconds(500);
    o.ask_timeout = absl::Seconds(2);
    return o;
  }

  std::string dir_;
  IdGenerator ids_{Clock::Real(), 5};
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<tm::TmService> tm_;
};

TEST_F(TmClusterTest, MembershipFollowsHeartbeatsAndAskersNeverHoldIndexes) {
  auto store = tm_->CreateStore("acme", "s", "en", "es");
  ASSERT_TRUE(store.ok());
  auto asker = TmCluster::Start(&db_->cluster(), tm_.get(), Options{}, &Clock::Real());
  ASSERT_TRUE(asker.ok()) << asker.status();
  EXPECT_TRUE((*asker)->GetStats().nodes.empty());
  EXPECT_FALSE((*asker)->Holds(store->record.id));
  // No node: a clear, retryable refusal after the spec's retries.
  auto none = (*asker)->Ask(store->record.id, "lookup", "l1 0 50 5 0 0 0 0\nx");
  EXPECT_TRUE(absl::IsUnavailable(none.status()));
  EXPECT_EQ(none.status().message(), "no TM node could answer for store " + store->record.id +
                                         " (last: no TM node is up (verso serve --roles tm))");
  EXPECT_EQ((*asker)->GetStats().failures, 1);

  {
    // One node: it owns every store (R = 2 with fewer nodes: all of them).
    auto node = TmCluster::Start(&db_->cluster(), tm_.get(), Node("a"), &Clock::Real());
    ASSERT_TRUE(node.ok()) << node.status();
    EXPECT_TRUE((*node)->Holds(store->record.id));
    EXPECT_EQ((*node)->secret(), (*asker)->secret());  // one secret per database
    EXPECT_TRUE((*node)->Authorized("Bearer " + (*node)->secret()));
    EXPECT_FALSE((*node)->Authorized("Bearer " + (*node)->secret() + "x"));
    EXPECT_FALSE((*node)->Authorized((*node)->secret()));
    for (int i = 0; i < 100 && (*asker)->GetStats().nodes.size() != 1; ++i) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    ASSERT_EQ((*asker)->GetStats().nodes.size(), 1u);
    EXPECT_EQ((*asker)->GetStats().nodes[0].url, "http://127.0.0.1:1");
    // The node does not answer: every round fails, the node becomes a suspect, the ask fails.
    auto down = (*asker)->Ask(store->record.id, "lookup", "l1 0 50 5 0 0 0 0\nx");
    EXPECT_TRUE(absl::IsUnavailable(down.status()));
    EXPECT_EQ((*asker)->GetStats().asks, 4);  // a first round and the policy's 3 retries
  }
  // A node that leaves removes its row: the asker sees none again.
  for (int i = 0; i < 100 && !(*asker)->GetStats().nodes.empty(); ++i) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE((*asker)->GetStats().nodes.empty());
}

TEST_F(TmClusterTest, AHungNodeHoldsALookupNoLongerThanTheLookupTimeout) {
  auto store = tm_->CreateStore("acme", "s", "en", "es");
  ASSERT_TRUE(store.ok());
  // A node that accepts connections and never answers (a stopped process).
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const absl::Time now = absl::Now();
  ASSERT_TRUE(
      db_->cluster()
          .Heartbeat({"hung", "tm", "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)), now,
                      now + absl::Hours(1)})
          .ok());
  Options o;
  o.lookup_timeout = absl::Milliseconds(200);
  auto asker = TmCluster::Start(&db_->cluster(), tm_.get(), o, &Clock::Real());
  ASSERT_TRUE(asker.ok());
  ASSERT_EQ((*asker)->GetStats().nodes.size(), 1u);
  auto hung = (*asker)->Ask(store->record.id, "lookup", "l1 0 50 5 0 0 0 0\nx");
  EXPECT_TRUE(absl::IsUnavailable(hung.status())) << hung.status();
  EXPECT_NE(hung.status().message().find("did not answer in time"), std::string::npos)
      << hung.status();
  ::close(fd);
}

TEST_F(TmClusterTest, ANodeSilentPastItsExpiryIsGone) {
  auto asker = TmCluster::Start(&db_->cluster(), tm_.get(), Options{.expiry = absl::Seconds(1)},
                                &Clock::Real());
  ASSERT_TRUE(asker.ok());
  const absl::Time now = absl::Now();
  // A row another process left behind when it was killed: expired a second ago.
  ASSERT_TRUE(db_->cluster()
                  .Heartbeat({"dead", "tm", "http://127.0.0.1:2", now, now - absl::Seconds(1)})
                  .ok());
  ASSERT_TRUE(db_->cluster()
                  .Heartbeat({"alive", "tm", "http://127.0.0.1:3", now, now + absl::Hours(1)})
                  .ok());
  for (int i = 0; i < 100 && (*asker)->GetStats().nodes.empty(); ++i) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ((*asker)->GetStats().nodes.size(), 1u);
  EXPECT_EQ((*asker)->GetStats().nodes[0].id, "alive");
}

}  // namespace
}  // namespace verso::cluster
