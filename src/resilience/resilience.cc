#include "resilience/resilience.h"

#include <algorithm>

#include "absl/strings/cord.h"
#include "common/strings.h"

namespace verso::resilience {

// ---- Circuit breaker -------------------------------------------------------------------------

std::string_view BreakerStateName(BreakerState state) {
  switch (state) {
    case BreakerState::kClosed:
      return "closed";
    case BreakerState::kOpen:
      return "open";
    case BreakerState::kHalfOpen:
      return "half_open";
  }
  return "unknown";
}

BreakerOptions LlmBreakerOptions() { return {5, absl::Seconds(30)}; }
BreakerOptions NmtBreakerOptions() { return {10, absl::Seconds(60)}; }

CircuitBreaker::CircuitBreaker(BreakerOptions options, const Clock* clock)
    : options_(options), clock_(clock) {}

bool CircuitBreaker::Allow() {
  absl::MutexLock lock(&mu_);
  if (!open_) return true;
  if (clock_->Now() - last_failure_ < options_.reset_timeout) return false;
  if (trial_running_) return false;  // half open: one trial at a time
  trial_running_ = true;
  return true;
}

void CircuitBreaker::RecordSuccess() {
  absl::MutexLock lock(&mu_);
  failures_ = 0;
  open_ = false;
  trial_running_ = false;
}

void CircuitBreaker::RecordFailure() {
  absl::MutexLock lock(&mu_);
  ++failures_;
  last_failure_ = clock_->Now();
  trial_running_ = false;
  if (open_ || failures_ >= options_.failure_threshold) open_ = true;
}

BreakerState CircuitBreaker::state() const {
  absl::MutexLock lock(&mu_);
  if (!open_) return BreakerState::kClosed;
  if (clock_->Now() - last_failure_ < options_.reset_timeout) return BreakerState::kOpen;
  return BreakerState::kHalfOpen;
}

// ---- Retries ---------------------------------------------------------------------------------

absl::Duration RetryPolicy::Delay(int retry, double unit) const {
  if (delays.empty()) return absl::ZeroDuration();
  absl::Duration base = delays[std::min<size_t>(static_cast<size_t>(retry), delays.size() - 1)];
  absl::Duration spread = jitter + base * jitter_fraction;
  absl::Duration d = base + spread * std::clamp(unit, -1.0, 1.0);
  return std::max(d, absl::ZeroDuration());
}

RetryPolicy TmLookupRetryPolicy() {
  return {3,
          {absl::Milliseconds(100), absl::Milliseconds(200), absl::Milliseconds(400)},
          absl::Milliseconds(50),
          0};
}
RetryPolicy NmtRetryPolicy() {
  return {2, {absl::Milliseconds(500), absl::Milliseconds(500)}, absl::Milliseconds(100), 0};
}
RetryPolicy LlmRetryPolicy() {
  return {2, {absl::Seconds(1), absl::Seconds(4)}, absl::Milliseconds(500), 0};
}
RetryPolicy WebhookRetryPolicy() {
  return {5,
          {absl::Minutes(1), absl::Minutes(5), absl::Minutes(30), absl::Hours(2), absl::Hours(12)},
          absl::ZeroDuration(),
          0.10};
}
RetryPolicy DbWriteRetryPolicy() {
  return {3,
          {absl::Milliseconds(50), absl::Milliseconds(100), absl::Milliseconds(200)},
          absl::Milliseconds(25),
          0};
}

namespace {
constexpr char kRetryAfterPayload[] = "verso/retry-after-ms";
}  // namespace

std::optional<absl::Duration> RetryAfter(const absl::Status& status) {
  auto payload = status.GetPayload(kRetryAfterPayload);
  if (!payload.has_value()) return std::nullopt;
  int64_t ms = 0;
  for (char c : std::string(*payload)) {
    if (c < '0' || c > '9') return std::nullopt;
    ms = ms * 10 + (c - '0');
  }
  return absl::Milliseconds(ms);
}

absl::Status WithRetryAfter(absl::Status status, absl::Duration retry_after) {
  status.SetPayload(kRetryAfterPayload,
                    absl::Cord(std::to_string(absl::ToInt64Milliseconds(retry_after))));
  return status;
}

bool IsRetryable(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kResourceExhausted:
      return true;
    default:
      return false;
  }
}

double Retrier::Unit() {
  absl::MutexLock lock(&mu_);
  return std::uniform_real_distribution<double>(-1.0, 1.0)(rng_);
}

RetryResult Retrier::Run(const RetryPolicy& policy, absl::Time deadline,
                         const std::function<absl::Status(int attempt)>& attempt,
                         const std::function<bool(const absl::Status&)>& retryable) {
  RetryResult result;
  for (int n = 0;; ++n) {
    result.status = attempt(n);
    result.attempts = n + 1;
    if (result.status.ok() || !retryable(result.status) || n >= policy.max_retries) break;
    absl::Duration wait = policy.Delay(n, Unit());
    if (auto after = RetryAfter(result.status); after.has_value() && *after > wait) wait = *after;
    absl::Time next = clock_->Now() + wait;
    if (next >= deadline) break;  // the retry would outlive the caller
    clock_->SleepUntil(next);
  }
  return result;
}

// ---- Degradation -----------------------------------------------------------------------------

LevelInfo DescribeLevel(Level level) {
  switch (level) {
    case Level::kNormal:
      return {level, 0, "normal", ""};
    case Level::kLlmUnavailable:
      return {level, 1, "llm_unavailable", "Using fast translation mode"};
    case Level::kQeUnavailable:
      return {level, 2, "qe_unavailable", "Quality verification in progress"};
    case Level::kMtOnly:
      return {level, 3, "mt_and_tm_only",
              "Reduced service: machine translation and translation memory only, no human "
              "review"};
    case Level::kTmOnly:
      return {level, 4, "tm_only",
              "Machine translation is unavailable: only exact translation-memory matches are "
              "returned"};
    case Level::kEmergency:
      return {level, 5, "emergency",
              "Maintenance mode: requests are not being processed, please retry later"};
  }
  return {level, 0, "normal", ""};
}

void DegradationController::AddEngine(std::string name, EngineClass cls,
                                      const CircuitBreaker* breaker) {
  absl::MutexLock lock(&mu_);
  engines_.push_back({std::move(name), cls, breaker});
}

void DegradationController::SetQeAvailable(bool available) {
  absl::MutexLock lock(&mu_);
  qe_available_ = available;
}

void DegradationController::SetDatabaseHealthy(bool healthy) {
  absl::MutexLock lock(&mu_);
  database_healthy_ = healthy;
}

void DegradationController::SetMaintenance(bool on) {
  absl::MutexLock lock(&mu_);
  maintenance_ = on;
}

void DegradationController::SetNotice(std::string notice) {
  absl::MutexLock lock(&mu_);
  notice_ = std::move(notice);
}

LevelInfo DegradationController::Current() const {
  absl::MutexLock lock(&mu_);
  LevelInfo info = DescribeLevel(CurrentLevel());
  info.notice = notice_;
  return info;
}

Level DegradationController::CurrentLevel() const {
  if (maintenance_ || !database_healthy_) return Level::kEmergency;
  int llms = 0, llms_up = 0, mts = 0, mts_up = 0;
  for (const auto& e : engines_) {
    // A half-open breaker is letting a trial through: the engine counts as up.
    bool up = e.breaker->state() != BreakerState::kOpen;
    if (e.cls == EngineClass::kLlm) {
      ++llms;
      llms_up += up;
    } else {
      ++mts;
      mts_up += up;
    }
  }
  if (llms_up + mts_up == 0) return Level::kTmOnly;
  bool llm_down = llms > 0 && llms_up == 0;
  if (llm_down && mts_up < mts) return Level::kMtOnly;
  if (!qe_available_) return Level::kQeUnavailable;
  if (llm_down) return Level::kLlmUnavailable;
  return Level::kNormal;
}

}  // namespace verso::resilience
