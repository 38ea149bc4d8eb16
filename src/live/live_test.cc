#include "live/live.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace verso::live {
namespace {

using nlohmann::json;

class Inbox : public Peer {
 public:
  void Send(std::string message) override { got.push_back(json::parse(message)); }
  // The messages of one type, in order.
  std::vector<json> Of(std::string_view type) const {
    std::vector<json> out;
    for (const json& m : got) {
      if (m["type"] == type) out.push_back(m);
    }
    return out;
  }
  std::vector<json> got;
};

class HubTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  Hub hub_{&clock_, HubOptions{.lock_ttl = absl::Seconds(60), .max_locks_per_peer = 2}};
  Inbox lee_, bea_, other_;
};

TEST_F(HubTest, JoiningSaysHelloAndTellsTheOthers) {
  int64_t lee = hub_.Join("job_1", {"user:usr_lee", "Lee"}, &lee_);
  ASSERT_GT(lee, 0);
  hub_.Join("job_1", {"user:usr_bea", "Bea"}, &bea_);
  hub_.Join("job_2", {"user:usr_ola", "Ola"}, &other_);
  ASSERT_EQ(bea_.Of("hello").size(), 1u);
  const json hello = bea_.Of("hello")[0];
  EXPECT_EQ(hello["you"]["name"], "Bea");
  EXPECT_EQ(hello["editors"].size(), 2u);
  EXPECT_EQ(hello["lock_seconds"], 60);
  // Lee saw Bea arrive; the other job saw nothing of job_1.
  EXPECT_EQ(lee_.Of("presence").back()["editors"].size(), 2u);
  EXPECT_EQ(other_.Of("presence").back()["editors"].size(), 1u);
  hub_.Leave(lee);
  EXPECT_EQ(bea_.Of("presence").back()["editors"],
            json::parse(R"([{"id":"user:usr_bea","name":"Bea"}])"));
}

TEST_F(HubTest, OneEditorPerSegment) {
  int64_t lee = hub_.Join("job_1", {"user:usr_lee", "Lee"}, &lee_);
  int64_t bea = hub_.Join("job_1", {"user:usr_bea", "Bea"}, &bea_);
  hub_.Receive(lee, R"({"type":"lock","target":"es","index":3})");
  ASSERT_EQ(bea_.Of("lock").size(), 1u);
  EXPECT_EQ(bea_.Of("lock")[0]["by"]["name"], "Lee");
  EXPECT_EQ(bea_.Of("lock")[0]["index"], 3);
  hub_.Receive(bea, R"({"type":"lock","target":"es","index":3})");
  ASSERT_EQ(bea_.Of("lock_refused").size(), 1u);
  EXPECT_EQ(bea_.Of("lock_refused")[0]["by"]["id"], "user:usr_lee");
  EXPECT_EQ(hub_.Holder("job_1", "es", 3)->name, "Lee");
  // Bea cannot release Lee's lock; Lee can.
  hub_.Receive(bea, R"({"type":"unlock","target":"es","index":3})");
  EXPECT_TRUE(hub_.Holder("job_1", "es", 3).has_value());
  hub_.Receive(lee, R"({"type":"unlock","target":"es","index":3})");
  EXPECT_FALSE(hub_.Holder("job_1", "es", 3).has_value());
  EXPECT_EQ(bea_.Of("unlock").size(), 1u);
  hub_.Receive(bea, R"({"type":"lock","target":"es","index":3})");
  EXPECT_EQ(hub_.Holder("job_1", "es", 3)->name, "Bea");
}

TEST_F(HubTest, LocksExpireUnlessRenewedAndEndWithTheConnection) {
  int64_t lee = hub_.Join("job_1", {"user:usr_lee", "Lee"}, &lee_);
  hub_.Join("job_1", {"user:usr_bea", "Bea"}, &bea_);
  hub_.Receive(lee, R"({"type":"lock","target":"es","index":1})");
  clock_.Advance(absl::Seconds(50));
  hub_.Receive(lee, R"({"type":"lock","target":"es","index":1})");  // renewed
  clock_.Advance(absl::Seconds(50));
  hub_.Sweep();
  EXPECT_EQ(hub_.Holder("job_1", "es", 1)->name, "Lee");
  clock_.Advance(absl::Seconds(11));
  EXPECT_FALSE(hub_.Holder("job_1", "es", 1).has_value());
  hub_.Sweep();
  EXPECT_EQ(bea_.Of("unlock").size(), 1u);
  hub_.Receive(lee, R"({"type":"lock","target":"es","index":2})");
  hub_.Leave(lee);
  EXPECT_FALSE(hub_.Holder("job_1", "es", 2).has_value());
  EXPECT_EQ(bea_.Of("unlock").size(), 2u);
}

TEST_F(HubTest, AnExpiredLockIsFreeBeforeAnySweep) {
  int64_t lee = hub_.Join("job_1", {"user:usr_lee", "Lee"}, &lee_);
  int64_t bea = hub_.Join("job_1", {"user:usr_bea", "Bea"}, &bea_);
  EXPECT_TRUE(hub_.Watched("job_1"));
  EXPECT_FALSE(hub_.Watched("job_2"));
  hub_.Receive(lee, R"({"type":"lock","target":"es","index":1})");
  clock_.Advance(absl::Seconds(61));
  hub_.Receive(bea, R"({"type":"lock","target":"es","index":1})");
  EXPECT_EQ(hub_.Holder("job_1", "es", 1)->name, "Bea");
  EXPECT_EQ(bea_.Of("lock_refused").size(), 0u);
  EXPECT_EQ(lee_.Of("unlock").size(), 1u);  // Lee's screen learns his lock ended
  hub_.Leave(lee);
  hub_.Leave(bea);
  EXPECT_FALSE(hub_.Watched("job_1"));
}

TEST_F(HubTest, APeerHoldsAFewLocksAtMost) {
  int64_t lee = hub_.Join("job_1", {"user:usr_lee", "Lee"}, &lee_);
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(absl::Seconds(1));
    hub_.Receive(lee, json{{"type", "lock"}, {"target", "es"}, {"index", i}}.dump());
  }
  EXPECT_EQ(hub_.GetStats().locks, 2);
  EXPECT_TRUE(hub_.Holder("job_1", "es", 4).has_value());
  EXPECT_TRUE(hub_.Holder("job_1", "es", 3).has_value());
  EXPECT_FALSE(hub_.Holder("job_1", "es", 2).has_value());
}

TEST_F(HubTest, BadMessagesAreAnsweredToTheSenderAlone) {
  int64_t lee = hub_.Join("job_1", {"user:usr_lee", "Lee"}, &lee_);
  hub_.Join("job_1", {"user:usr_bea", "Bea"}, &bea_);
  const size_t bea_before = bea_.got.size();
  for (const char* bad :
       {"not json", "[1]", R"({"type":"shout","text":"hi"})", R"({"type":"lock","target":"es"})",
        R"({"type":"lock","target":"es","index":-1})", R"({"type":"lock","target":7,"index":1})",
        R"({"a":[[[[[[[[[[[[1]]]]]]]]]]]]})"}) {
    hub_.Receive(lee, bad);
  }
  EXPECT_EQ(lee_.Of("error").size(), 7u);
  EXPECT_EQ(lee_.Of("error")[3]["message"], "index: a segment index (0 or more) is required");
  EXPECT_EQ(bea_.got.size(), bea_before);
  hub_.Receive(lee, R"({"type":"ping"})");
  EXPECT_EQ(lee_.Of("pong").size(), 1u);
}

TEST_F(HubTest, PublishReachesOnlyTheJob) {
  hub_.Join("job_1", {"user:usr_lee", "Lee"}, &lee_);
  hub_.Join("job_2", {"user:usr_ola", "Ola"}, &other_);
  hub_.Publish("job_1", R"({"type":"segment","segment":{"index":1}})");
  EXPECT_EQ(lee_.Of("segment").size(), 1u);
  EXPECT_EQ(other_.Of("segment").size(), 0u);
}

TEST(HubLimitTest, AJobTakesABoundedNumberOfPeers) {
  FakeClock clock;
  Hub hub(&clock, HubOptions{.max_peers_per_job = 2});
  Inbox a, b, c;
  EXPECT_GT(hub.Join("job_1", {"key:a", "a"}, &a), 0);
  EXPECT_GT(hub.Join("job_1", {"key:b", "b"}, &b), 0);
  EXPECT_EQ(hub.Join("job_1", {"key:c", "c"}, &c), 0);
  EXPECT_TRUE(c.got.empty());
}

}  // namespace
}  // namespace verso::live

namespace verso::live {
namespace {

// Two processes' hubs linked by a backplane that delivers when pumped (as Redis pub/sub would,
// a moment later).
class Wire : public Backplane {
 public:
  void Publish(std::string envelope) override { queue.push_back(std::move(envelope)); }
  std::vector<std::string> queue;
};

class TwoHubsTest : public ::testing::Test {
 protected:
  // Delivers what each hub published to the other, until nothing is left.
  void Pump() {
    while (!a_wire_.queue.empty() || !b_wire_.queue.empty()) {
      auto to_b = std::exchange(a_wire_.queue, {});
      auto to_a = std::exchange(b_wire_.queue, {});
      for (const auto& m : to_b) b_.FromOthers(m);
      for (const auto& m : to_a) a_.FromOthers(m);
    }
  }
  FakeClock clock_;
  Wire a_wire_, b_wire_;
  Hub a_{&clock_, {}, &a_wire_, "proc-a"};
  Hub b_{&clock_, {}, &b_wire_, "proc-b"};
  Inbox lee_, bea_;
};

TEST_F(TwoHubsTest, PresenceLocksAndMessagesCrossProcesses) {
  int64_t lee = a_.Join("job_1", {"usr_lee", "Lee"}, &lee_);
  Pump();
  int64_t bea = b_.Join("job_1", {"usr_bea", "Bea"}, &bea_);
  Pump();
  EXPECT_EQ(bea_.Of("hello")[0]["editors"].size(), 2u);
  EXPECT_EQ(lee_.Of("presence").back()["editors"].size(), 2u);
  // Lee's lock on A holds on B: Bea is refused there, and B's edit check sees Lee.
  a_.Receive(lee, R"({"type":"lock","target":"es","index":4})");
  Pump();
  EXPECT_EQ(bea_.Of("lock").back()["by"]["name"], "Lee");
  EXPECT_EQ(b_.Holder("job_1", "es", 4)->id, "usr_lee");
  b_.Receive(bea, R"({"type":"lock","target":"es","index":4})");
  EXPECT_EQ(bea_.Of("lock_refused").size(), 1u);
  // A confirmation announced on B reaches Lee on A.
  b_.Publish("job_1", R"({"type":"segment","segment":{"index":2}})");
  Pump();
  EXPECT_EQ(lee_.Of("segment").size(), 1u);
  // Lee leaves: the lock ends on B too, and B's presence forgets him.
  a_.Leave(lee);
  Pump();
  EXPECT_FALSE(b_.Holder("job_1", "es", 4).has_value());
  EXPECT_EQ(bea_.Of("presence").back()["editors"].size(), 1u);
}

TEST_F(TwoHubsTest, OneSegmentGrantedOnBothAtOnceEndsWithTheEarlierLock) {
  int64_t lee = a_.Join("job_1", {"usr_lee", "Lee"}, &lee_);
  int64_t bea = b_.Join("job_1", {"usr_bea", "Bea"}, &bea_);
  Pump();
  a_.Receive(lee, R"({"type":"lock","target":"es","index":1})");
  clock_.Advance(absl::Milliseconds(1));
  b_.Receive(bea, R"({"type":"lock","target":"es","index":1})");  // before A's news arrived
  Pump();
  EXPECT_EQ(a_.Holder("job_1", "es", 1)->id, "usr_lee");
  EXPECT_EQ(b_.Holder("job_1", "es", 1)->id, "usr_lee");
  ASSERT_EQ(bea_.Of("lock_refused").size(), 1u);
  EXPECT_EQ(bea_.Of("lock_refused")[0]["by"]["name"], "Lee");
}

TEST_F(TwoHubsTest, AProcessThatStopsAnnouncingIsForgotten) {
  a_.Join("job_1", {"usr_lee", "Lee"}, &lee_);
  b_.Join("job_1", {"usr_bea", "Bea"}, &bea_);
  Pump();
  EXPECT_EQ(bea_.Of("presence").back()["editors"].size(), 2u);
  // A dies (nothing more from it); B sweeps past the announcement's lifetime.
  clock_.Advance(absl::Seconds(61));
  b_.Sweep();
  b_wire_.queue.clear();
  a_wire_.queue.clear();
  b_.Join("job_1", {"usr_ola", "Ola"}, &lee_);
  EXPECT_EQ(bea_.Of("presence").back()["editors"].size(), 2u);  // Bea and Ola
  for (const auto& e : bea_.Of("presence").back()["editors"]) EXPECT_NE(e["id"], "usr_lee");
}

TEST_F(TwoHubsTest, HostileEnvelopesAreIgnored) {
  b_.Join("job_1", {"usr_bea", "Bea"}, &bea_);
  const size_t before = bea_.got.size();
  for (const char* bad : {"", "x", "[]", R"({"o":"proc-b","k":"m","j":"job_1","m":"{}"})",
                          R"({"o":"x","k":"lock","j":"job_1","t":5,"i":"x","by":3})",
                          R"({"k":"m","j":"job_1","m":"hi"})"}) {
    b_.FromOthers(bad);
  }
  EXPECT_EQ(bea_.got.size(), before);
}

}  // namespace
}  // namespace verso::live
