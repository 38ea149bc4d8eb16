#include "api/admission.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace verso::api {
namespace {

using Outcome = Admission::Outcome;
const absl::Time kT0 = absl::FromUnixSeconds(1000);

// The outcome now (single-threaded: nothing changes it meanwhile); Settle on a ticket that is no
// longer queued only reads its outcome.
Outcome OutcomeOf(Admission& a, const std::shared_ptr<Admission::Ticket>& t) {
  return t->outcome == Outcome::kQueued ? Outcome::kQueued : a.Settle(t);
}

TEST(AdmissionTest, SlotsThenAQueueServedOldestFirst) {
  Admission a({/*slots=*/2, /*queue=*/3, absl::Seconds(2)});
  std::vector<std::string> woken;
  auto enter = [&](const std::string& name) {
    return a.Enter("acme", kT0, [&woken, name] { woken.push_back(name); }).ticket;
  };
  auto r1 = enter("r1"), r2 = enter("r2"), q1 = enter("q1"), q2 = enter("q2");
  EXPECT_EQ(OutcomeOf(a, r1), Outcome::kRun);
  EXPECT_EQ(OutcomeOf(a, r2), Outcome::kRun);
  EXPECT_EQ(OutcomeOf(a, q1), Outcome::kQueued);
  EXPECT_EQ(a.GetStats().running, 2);
  EXPECT_EQ(a.GetStats().queued, 2);
  a.Leave();  // r1 ends: q1 gets its slot
  EXPECT_EQ(woken, std::vector<std::string>{"q1"});
  EXPECT_EQ(a.Settle(q1), Outcome::kRun);
  EXPECT_EQ(OutcomeOf(a, q2), Outcome::kQueued);
  a.Leave();
  a.Leave();
  EXPECT_EQ(a.Settle(q2), Outcome::kRun);
  a.Leave();
  Admission::Stats st = a.GetStats();
  EXPECT_EQ(st.running, 0);
  EXPECT_EQ(st.queued, 0);
  EXPECT_EQ(st.admitted, 4);
  EXPECT_EQ(st.shed_full + st.shed_wait, 0);
}

TEST(AdmissionTest, AFullQueueShedsTheOldestWaiterOfTheBusiestTenant) {
  Admission a({/*slots=*/1, /*queue=*/3, absl::Seconds(2)});
  std::vector<std::string> woken;
  auto enter = [&](const std::string& tenant, const std::string& name) {
    return a.Enter(tenant, kT0, [&woken, name] { woken.push_back(name); }).ticket;
  };
  auto run = enter("small", "run");
  auto s1 = enter("small", "s1");
  auto f1 = enter("flood", "f1");
  auto f2 = enter("flood", "f2");
  // Full: flood has 2 waiting (3 with the newcomer), small 1: flood's oldest goes.
  auto f3 = enter("flood", "f3");
  EXPECT_EQ(woken, std::vector<std::string>{"f1"});
  EXPECT_EQ(a.Settle(f1), Outcome::kShedFull);
  // small's newcomer: flood still has the most waiting (f2, f3): f2 goes, s2 waits.
  auto s2 = enter("small", "s2");
  EXPECT_EQ(a.Settle(f2), Outcome::kShedFull);
  EXPECT_EQ(OutcomeOf(a, s2), Outcome::kQueued);
  // Served oldest first: s1, f3, s2.
  a.Leave();
  EXPECT_EQ(a.Settle(s1), Outcome::kRun);
  a.Leave();
  EXPECT_EQ(a.Settle(f3), Outcome::kRun);
  a.Leave();
  EXPECT_EQ(a.Settle(s2), Outcome::kRun);
  EXPECT_EQ(a.GetStats().shed_full, 2);
  EXPECT_EQ(a.GetStats().admitted, 4);
}

TEST(AdmissionTest, AWaiterPastItsWaitIsShedAndTheServiceRecovers) {
  Admission a({/*slots=*/1, /*queue=*/4, absl::Seconds(2)});
  EXPECT_EQ(a.Enter("acme", kT0, nullptr).outcome, Outcome::kRun);
  auto waiting = a.Enter("acme", kT0, nullptr).ticket;
  // Its timer fired before any slot came free.
  EXPECT_EQ(a.Settle(waiting), Outcome::kShedWait);
  EXPECT_EQ(a.GetStats().queued, 0);
  a.Leave();
  // Nothing is left over: the next request runs at once.
  EXPECT_EQ(a.Enter("acme", kT0, nullptr).outcome, Outcome::kRun);
  EXPECT_EQ(a.GetStats().shed_wait, 1);
  EXPECT_EQ(a.GetStats().running, 1);
}

TEST(AdmissionTest, AfterCloseNoWaiterIsWokenAndSlotsAreJustReleased) {
  Admission a({/*slots=*/1, /*queue=*/2, absl::Seconds(2)});
  int woken = 0;
  auto r = a.Enter("acme", kT0, [&woken] { ++woken; }).ticket;
  auto q = a.Enter("acme", kT0, [&woken] { ++woken; }).ticket;
  a.Close();  // the server stopped; the running request's frame goes later
  a.Leave();
  EXPECT_EQ(woken, 0);
  EXPECT_EQ(q->outcome, Outcome::kShedWait);
  EXPECT_EQ(a.GetStats().running, 0);
  EXPECT_EQ(a.GetStats().queued, 0);
}

TEST(AdmissionTest, NoQueueShedsTheNewcomer) {
  Admission a({/*slots=*/1, /*queue=*/0, absl::Seconds(2)});
  EXPECT_EQ(a.Enter("acme", kT0, nullptr).outcome, Outcome::kRun);
  EXPECT_EQ(a.Enter("acme", kT0, nullptr).outcome, Outcome::kShedFull);
  EXPECT_EQ(a.GetStats().running, 1);
}

}  // namespace
}  // namespace verso::api
