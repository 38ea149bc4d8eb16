// Staying up when dependencies fail: circuit breakers, retries with backoff and jitter that
// respect the caller's deadline, coalescing of identical in-flight calls, and the platform's
// degradation level. The figures (thresholds, delays, levels) are the platform spec's.
//
// Everything takes time from an injected Clock; tests drive it with a FakeClock and never sleep.
#ifndef VERSO_RESILIENCE_RESILIENCE_H_
#define VERSO_RESILIENCE_RESILIENCE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace verso::resilience {

// ---- Circuit breaker -------------------------------------------------------------------------

enum class BreakerState { kClosed, kOpen, kHalfOpen };
std::string_view BreakerStateName(BreakerState state);  // "closed", "open", "half_open"

struct BreakerOptions {
  int failure_threshold = 5;                         // consecutive failures that open it
  absl::Duration reset_timeout = absl::Seconds(30);  // open this long, then one trial call
};
BreakerOptions LlmBreakerOptions();  // 5 failures, 30 s
BreakerOptions NmtBreakerOptions();  // 10 failures, 60 s

// CLOSED: calls go ahead; `failure_threshold` failures in a row open it. OPEN: calls are refused
// until `reset_timeout` has passed since the last failure; then HALF_OPEN: one trial call goes
// ahead (others are refused while it runs); its success closes the breaker, its failure opens
// it again. Thread-safe.
class CircuitBreaker {
 public:
  CircuitBreaker(BreakerOptions options, const Clock* clock);

  // True when a call may go ahead now (and, half open, claims the one trial).
  bool Allow();
  void RecordSuccess();
  void RecordFailure();
  // The state as of now (an open breaker whose reset time has passed reports HALF_OPEN).
  BreakerState state() const;
  const BreakerOptions& options() const { return options_; }

 private:
  const BreakerOptions options_;
  const Clock* clock_;
  mutable absl::Mutex mu_;
  int failures_ ABSL_GUARDED_BY(mu_) = 0;
  bool open_ ABSL_GUARDED_BY(mu_) = false;
  bool trial_running_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_failure_ ABSL_GUARDED_BY(mu_);
};

// ---- Retries ---------------------------------------------------------------------------------

struct RetryPolicy {
  int max_retries = 0;
  // The wait before retry i (0-based); the last entry repeats when there are more retries.
  std::vector<absl::Duration> delays;
  absl::Duration jitter;       // ± this much (uniform)...
  double jitter_fraction = 0;  // ...or ± this fraction of the delay

  // The wait before retry `retry`, with `unit` in [-1, 1] choosing the jitter.
  absl::Duration Delay(int retry, double unit) const;
};
// The platform spec's table.
RetryPolicy TmLookupRetryPolicy();  // 3, exponential 100/200/400 ms, ±50 ms
RetryPolicy NmtRetryPolicy();       // 2, linear 500 ms, ±100 ms
RetryPolicy LlmRetryPolicy();       // 2, exponential 1 s/4 s, ±500 ms
RetryPolicy WebhookRetryPolicy();   // 5, 1 min/5 min/30 min/2 h/12 h, ±10 %
RetryPolicy DbWriteRetryPolicy();   // 3, 50/100/200 ms, ±25 ms

// How long a rate-limited dependency asked us to wait (HTTP 429 Retry-After), carried on the
// status as a payload.
std::optional<absl::Duration> RetryAfter(const absl::Status& status);
absl::Status WithRetryAfter(absl::Status status, absl::Duration retry_after);

// Transient failures worth another try: Unavailable, DeadlineExceeded, Internal, Aborted and
// ResourceExhausted (rate limits).
bool IsRetryable(const absl::Status& status);

struct RetryResult {
  absl::Status status;  // of the last attempt
  int attempts = 0;
};

// Calls `attempt(n)` (n = 0, 1, ...) until it succeeds, fails with a status `retryable` rejects,
// the policy's retries are used up, or the wait before the next try would end at or after
// `deadline` (a retry never outlives its caller). The wait is the policy's delay with jitter,
// or the status's RetryAfter when that is longer. Thread-safe.
class Retrier {
 public:
  Retrier(const Clock* clock, uint64_t seed) : clock_(clock), rng_(seed) {}
  RetryResult Run(const RetryPolicy& policy, absl::Time deadline,
                  const std::function<absl::Status(int attempt)>& attempt,
                  const std::function<bool(const absl::Status&)>& retryable = IsRetryable);

 private:
  double Unit();
  const Clock* clock_;
  absl::Mutex mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
};

// ---- Coalescing ------------------------------------------------------------------------------

// Identical calls in flight at the same time share one execution: the first caller with a key
// runs `fn`, and callers arriving with the same key before it returns wait and get the same
// result. Nothing is remembered after it returns (that is the cache's job). Thread-safe.
template <typename V>
class Singleflight {
 public:
  // `*shared` (if given) is true when this caller got another caller's result.
  V Do(const std::string& key, const std::function<V()>& fn, bool* shared = nullptr) {
    std::shared_ptr<Call> call;
    bool leader = false;
    {
      absl::MutexLock lock(&mu_);
      auto& slot = calls_[key];
      if (slot == nullptr) {
        slot = std::make_shared<Call>();
        leader = true;
      }
      call = slot;
      ++call->callers;
    }
    if (shared != nullptr) *shared = !leader;
    if (!leader) ++waiting_;
    if (leader) {
      V value = fn();
      {
        absl::MutexLock lock(&mu_);
        calls_.erase(key);
      }
      absl::MutexLock lock(&call->mu);
      call->value = std::move(value);
      call->done = true;
      call->cv.SignalAll();
      return call->value;
    }
    absl::MutexLock lock(&call->mu);
    while (!call->done) call->cv.Wait(&call->mu);
    --waiting_;
    return call->value;
  }

  // Callers now waiting on another's execution, over all keys.
  int Waiting() const { return waiting_.load(); }

  // Callers sharing the call in flight for `key` (0 when none).
  int InFlight(const std::string& key) {
    absl::MutexLock lock(&mu_);
    auto it = calls_.find(key);
    return it == calls_.end() ? 0 : it->second->callers;
  }

 private:
  struct Call {
    absl::Mutex mu;
    absl::CondVar cv;
    bool done ABSL_GUARDED_BY(mu) = false;
    int callers = 0;  // guarded by Singleflight::mu_
    V value ABSL_GUARDED_BY(mu);
  };
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Call>> calls_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> waiting_{0};
};

// ---- Degradation -----------------------------------------------------------------------------

enum class Level {
  kNormal = 0,          // LLM + NMT + QE + MTPE
  kLlmUnavailable = 1,  // every LLM provider is down: NMT and the built-in engine translate
  kQeUnavailable = 2,   // quality estimation is down: every segment goes to human review
  kMtOnly = 3,          // LLMs down and machine translation partly failing: NMT + TM only
  kTmOnly = 4,          // no machine translation: 100 % TM matches or a clear refusal
  kEmergency = 5,       // maintenance: nothing is processed
};

struct LevelInfo {
  Level level;
  int number;           // 0-4, 5 for emergency
  std::string name;     // "normal", "llm_unavailable", ...
  std::string message;  // what users are told; empty when normal
  std::string notice;   // the operators' notice (a region failover), at any level; may be empty
};
LevelInfo DescribeLevel(Level level);

// Derives the platform's degradation level from the breakers of the engines it knows and from
// the health inputs it is given. Thread-safe.
class DegradationController {
 public:
  enum class EngineClass { kLlm, kMt };  // kMt: NMT services and the built-in engine

  // `breaker` must outlive the controller.
  void AddEngine(std::string name, EngineClass cls, const CircuitBreaker* breaker);
  // The hook for the QE issue: false makes the level at least 2.
  void SetQeAvailable(bool available);
  // False (the database is unreachable) or maintenance on: emergency.
  void SetDatabaseHealthy(bool healthy);
  void SetMaintenance(bool on);
  // A message every client is shown (/v1/status, translate responses' notes) whatever the level:
  // the spec's region failover, "Temporary latency increase expected". Empty: none.
  void SetNotice(std::string notice);

  LevelInfo Current() const;

 private:
  Level CurrentLevel() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  struct EngineEntry {
    std::string name;
    EngineClass cls;
    const CircuitBreaker* breaker;
  };
  mutable absl::Mutex mu_;
  std::vector<EngineEntry> engines_ ABSL_GUARDED_BY(mu_);
  bool qe_available_ ABSL_GUARDED_BY(mu_) = true;
  bool database_healthy_ ABSL_GUARDED_BY(mu_) = true;
  bool maintenance_ ABSL_GUARDED_BY(mu_) = false;
  std::string notice_ ABSL_GUARDED_BY(mu_);
};

}  // namespace verso::resilience

#endif  // VERSO_RESILIENCE_RESILIENCE_H_
