#include "resilience/resilience.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace verso::resilience {
namespace {

TEST(CircuitBreakerTest, OpensAfterTheConfiguredFailuresAndHalfOpensAfterTheResetTime) {
  FakeClock clock;
  CircuitBreaker b(LlmBreakerOptions(), &clock);
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(b.Allow());
    b.RecordFailure();
    EXPECT_EQ(b.state(), BreakerState::kClosed) << "after " << i + 1 << " failures";
  }
  EXPECT_TRUE(b.Allow());
  b.RecordFailure();  // the fifth
  EXPECT_EQ(b.state(), BreakerState::kOpen);
  EXPECT_FALSE(b.Allow());
  clock.Advance(absl::Seconds(29));
  EXPECT_FALSE(b.Allow());
  EXPECT_EQ(b.state(), BreakerState::kOpen);
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(b.state(), BreakerState::kHalfOpen);
  EXPECT_TRUE(b.Allow());   // the trial
  EXPECT_FALSE(b.Allow());  // only one at a time
  b.RecordFailure();        // the trial failed: open for another 30 s
  EXPECT_EQ(b.state(), BreakerState::kOpen);
  EXPECT_FALSE(b.Allow());
  clock.Advance(absl::Seconds(30));
  EXPECT_TRUE(b.Allow());
  b.RecordSuccess();  // the trial succeeded
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  EXPECT_TRUE(b.Allow());
  EXPECT_TRUE(b.Allow());
}

TEST(CircuitBreakerTest, NmtBreakerNeedsTenFailuresAndSixtySeconds) {
  FakeClock clock;
  CircuitBreaker b(NmtBreakerOptions(), &clock);
  for (int i = 0; i < 9; ++i) b.RecordFailure();
  b.RecordSuccess();  // a success resets the count
  for (int i = 0; i < 9; ++i) b.RecordFailure();
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  b.RecordFailure();
  EXPECT_EQ(b.state(), BreakerState::kOpen);
  clock.Advance(absl::Seconds(59));
  EXPECT_FALSE(b.Allow());
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(b.Allow());
}

// Runs a policy against an attempt that always fails with `failure`; returns the waits.
std::vector<absl::Duration> Waits(const RetryPolicy& policy, uint64_t seed,
                                  absl::Status failure = absl::UnavailableError("down"),
                                  absl::Duration budget = absl::Hours(100),
                                  int* attempts = nullptr) {
  FakeClock clock;
  Retrier retrier(&clock, seed);
  std::vector<absl::Time> at;
  RetryResult r = retrier.Run(policy, clock.Now() + budget, [&](int n) {
    EXPECT_EQ(n, static_cast<int>(at.size()));
    at.push_back(clock.Now());
    return failure;
  });
  if (attempts != nullptr) *attempts = r.attempts;
  EXPECT_EQ(r.status, failure);
  std::vector<absl::Duration> waits;
  for (size_t i = 1; i < at.size(); ++i) waits.push_back(at[i] - at[i - 1]);
  return waits;
}

void ExpectWaits(const RetryPolicy& policy, std::vector<absl::Duration> base,
                 absl::Duration jitter) {
  bool varied = false;
  std::vector<absl::Duration> first;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::vector<absl::Duration> waits = Waits(policy, seed);
    ASSERT_EQ(waits.size(), base.size());
    for (size_t i = 0; i < base.size(); ++i) {
      absl::Duration j = jitter == absl::ZeroDuration() ? base[i] / 10 : jitter;
      EXPECT_GE(waits[i], base[i] - j) << "retry " << i << " seed " << seed;
      EXPECT_LE(waits[i], base[i] + j) << "retry " << i << " seed " << seed;
    }
    if (seed == 1) first = waits;
    if (waits != first) varied = true;
  }
  EXPECT_TRUE(varied) << "jitter never changed the waits";
}

TEST(RetryTest, RetriesFollowThePlatformTable) {
  ExpectWaits(TmLookupRetryPolicy(),
              {absl::Milliseconds(100), absl::Milliseconds(200), absl::Milliseconds(400)},
              absl::Milliseconds(50));
  ExpectWaits(NmtRetryPolicy(), {absl::Milliseconds(500), absl::Milliseconds(500)},
              absl::Milliseconds(100));
  ExpectWaits(LlmRetryPolicy(), {absl::Seconds(1), absl::Seconds(4)}, absl::Milliseconds(500));
  ExpectWaits(
      WebhookRetryPolicy(),
      {absl::Minutes(1), absl::Minutes(5), absl::Minutes(30), absl::Hours(2), absl::Hours(12)},
      absl::ZeroDuration());  // ±10 %
  ExpectWaits(DbWriteRetryPolicy(),
              {absl::Milliseconds(50), absl::Milliseconds(100), absl::Milliseconds(200)},
              absl::Milliseconds(25));
}

TEST(RetryTest, RetryAfterDelaysTheRetry) {
  absl::Status limited =
      WithRetryAfter(absl::ResourceExhaustedError("429 Too Many Requests"), absl::Seconds(7));
  EXPECT_EQ(RetryAfter(limited), absl::Seconds(7));
  std::vector<absl::Duration> waits = Waits(LlmRetryPolicy(), 1, limited);
  ASSERT_EQ(waits.size(), 2u);
  EXPECT_EQ(waits[0], absl::Seconds(7));  // longer than the policy's 1 s ± 0.5 s
  EXPECT_EQ(waits[1], absl::Seconds(7));  // the policy's 4 s ± 0.5 s is shorter still
}

TEST(RetryTest, ARetryNeverOutlivesTheDeadline) {
  int attempts = 0;
  // 2.5 s: the first retry (after ~1 s) fits, the second (after another ~4 s) does not.
  std::vector<absl::Duration> waits = Waits(LlmRetryPolicy(), 3, absl::UnavailableError("down"),
                                            absl::Milliseconds(2500), &attempts);
  EXPECT_EQ(attempts, 2);
  ASSERT_EQ(waits.size(), 1u);
  // A Retry-After longer than the time left ends the retries at once.
  Waits(LlmRetryPolicy(), 3,
        WithRetryAfter(absl::ResourceExhaustedError("slow down"), absl::Seconds(60)),
        absl::Seconds(30), &attempts);
  EXPECT_EQ(attempts, 1);
}

TEST(RetryTest, NonRetryableErrorsAreNotRetriedAndSuccessStops) {
  int attempts = 0;
  Waits(LlmRetryPolicy(), 1, absl::PermissionDeniedError("401 invalid key"), absl::Hours(1),
        &attempts);
  EXPECT_EQ(attempts, 1);
  Waits(LlmRetryPolicy(), 1, absl::FailedPreconditionError("456 quota exceeded"), absl::Hours(1),
        &attempts);
  EXPECT_EQ(attempts, 1);
  FakeClock clock;
  Retrier retrier(&clock, 1);
  RetryResult r = retrier.Run(NmtRetryPolicy(), absl::InfiniteFuture(), [](int n) {
    return n < 1 ? absl::UnavailableError("blip") : absl::OkStatus();
  });
  EXPECT_TRUE(r.status.ok());
  EXPECT_EQ(r.attempts, 2);
}

TEST(SingleflightTest, ConcurrentIdenticalCallsShareOneExecution) {
  Singleflight<std::string> group;
  std::atomic<int> executions{0};
  std::atomic<int> shared{0};
  constexpr int kCallers = 100;
  std::vector<std::thread> threads;
  std::vector<std::string> results(kCallers);
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&, i] {
      bool was_shared = false;
      results[i] = group.Do(
          "en|es|Hello",
          [&] {
            ++executions;
            // Hold the call open until every caller has joined it.
            while (group.InFlight("en|es|Hello") < kCallers) std::this_thread::yield();
            return std::string("Hola");
          },
          &was_shared);
      if (was_shared) ++shared;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(executions.load(), 1);
  EXPECT_EQ(shared.load(), kCallers - 1);
  for (const auto& r : results) EXPECT_EQ(r, "Hola");
  EXPECT_EQ(group.InFlight("en|es|Hello"), 0);
  // Once it has returned, the next call runs again.
  EXPECT_EQ(group.Do("en|es|Hello",
                     [&] {
                       ++executions;
                       return std::string("Hola de nuevo");
                     }),
            "Hola de nuevo");
  EXPECT_EQ(executions.load(), 2);
}

TEST(DegradationTest, LevelFollowsTheBreakers) {
  FakeClock clock;
  CircuitBreaker gpt(LlmBreakerOptions(), &clock), claude(LlmBreakerOptions(), &clock);
  CircuitBreaker nmt(NmtBreakerOptions(), &clock), apertium(NmtBreakerOptions(), &clock);
  DegradationController d;
  d.AddEngine("openai", DegradationController::EngineClass::kLlm, &gpt);
  d.AddEngine("anthropic", DegradationController::EngineClass::kLlm, &claude);
  d.AddEngine("deepl", DegradationController::EngineClass::kMt, &nmt);
  d.AddEngine("apertium", DegradationController::EngineClass::kMt, &apertium);
  auto open = [](CircuitBreaker& b) {
    for (int i = 0; i < b.options().failure_threshold; ++i) b.RecordFailure();
  };
  EXPECT_EQ(d.Current().level, Level::kNormal);
  EXPECT_EQ(d.Current().message, "");
  open(gpt);
  EXPECT_EQ(d.Current().level, Level::kNormal);  // Claude still answers
  open(claude);
  EXPECT_EQ(d.Current().level, Level::kLlmUnavailable);
  EXPECT_EQ(d.Current().number, 1);
  EXPECT_EQ(d.Current().message, "Using fast translation mode");
  d.SetQeAvailable(false);
  EXPECT_EQ(d.Current().level, Level::kQeUnavailable);
  EXPECT_EQ(d.Current().message, "Quality verification in progress");
  d.SetQeAvailable(true);
  open(nmt);
  EXPECT_EQ(d.Current().level, Level::kMtOnly);
  open(apertium);
  EXPECT_EQ(d.Current().level, Level::kTmOnly);
  EXPECT_EQ(d.Current().number, 4);
  clock.Advance(absl::Seconds(30));  // the LLM breakers half-open: a trial may go through
  EXPECT_EQ(d.Current().level, Level::kNormal);
  clock.Advance(absl::Seconds(25));
  gpt.RecordFailure();  // the trials fail: open for another 30 s
  claude.RecordFailure();
  EXPECT_EQ(d.Current().level, Level::kTmOnly);
  clock.Advance(absl::Seconds(5));  // the NMT breakers (60 s) half-open, the LLMs' not yet
  EXPECT_EQ(d.Current().level, Level::kLlmUnavailable);
  d.SetDatabaseHealthy(false);
  EXPECT_EQ(d.Current().level, Level::kEmergency);
  EXPECT_EQ(d.Current().number, 5);
  d.SetDatabaseHealthy(true);
  d.SetMaintenance(true);
  EXPECT_EQ(d.Current().name, "emergency");
}

TEST(DegradationTest, NoEnginesMeansTmOnly) {
  DegradationController d;
  EXPECT_EQ(d.Current().level, Level::kTmOnly);
}

}  // namespace
}  // namespace verso::resilience
