// The QE service: an external scorer behind a circuit breaker, the builtin as fallback.
#include "absl/time/clock.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/strings.h"
#include "qe/qe.h"
#include "resilience/resilience.h"

namespace verso::qe {

QeService::QeService(Scorer* builtin, Scorer* external, ServiceOptions options, const Clock* clock,
                     resilience::DegradationController* degradation)
    : builtin_(builtin),
      external_(external),
      options_(std::move(options)),
      degradation_(degradation),
      breaker_(
          std::make_unique<resilience::CircuitBreaker>(resilience::LlmBreakerOptions(), clock)) {}

QeService::~QeService() = default;

const std::string& QeService::scorer_name() const {
  return external_ != nullptr ? external_->name() : builtin_->name();
}

bool QeService::degraded() const {
  return external_ != nullptr && breaker_->state() == resilience::BreakerState::kOpen;
}

absl::StatusOr<std::vector<Result>> QeService::Score(const std::vector<Input>& inputs,
                                                     absl::Time deadline) {
  if (external_ != nullptr) {
    if (breaker_->Allow()) {
      const absl::Time attempt_deadline = std::min(deadline, absl::Now() + options_.timeout);
      auto r = external_->Score(inputs, attempt_deadline);
      if (r.ok()) {
        breaker_->RecordSuccess();
        if (degradation_ != nullptr) degradation_->SetQeAvailable(true);
        return r;
      }
      breaker_->RecordFailure();
      log::Warn("qe.scorer_failed",
                {{"scorer", external_->name()}, {"error", r.status().message()}});
    }
    // Unavailable (failed now, or its breaker is open): level 2 while the breaker is open; the
    // builtin score is returned as provisional, and nothing is auto-approved meanwhile.
    if (degradation_ != nullptr) {
      degradation_->SetQeAvailable(breaker_->state() == resilience::BreakerState::kClosed);
    }
    auto fallback = builtin_->Score(inputs, deadline);
    if (!fallback.ok()) return fallback;
    for (Result& r : *fallback) r.provisional = true;
    return fallback;
  }
  return builtin_->Score(inputs, deadline);
}

}  // namespace verso::qe
