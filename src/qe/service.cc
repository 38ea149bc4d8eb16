// The QE service: an external scorer behind a circuit breaker, the builtin as fallback.
#include <bit>

#include "absl/time/clock.h"
#include "cache/cache.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"
#include "qe/qe.h"
#include "resilience/resilience.h"

namespace verso::qe {
namespace {

size_t ResultBytes(const Result& r) {
  size_t n = sizeof(Result) + r.scorer.size() + r.features.size() * (sizeof(Feature) + 24);
  for (const auto& x : r.reasons) n += x.size() + 32;
  return n;
}

// The cache key of an input whose score depends on nothing else; "" when it does.
std::string CacheKey(const Input& in) {
  // (QA counts are a function of the source and translation when there are no terms.)
  if (in.terms != nullptr || in.tm_score > 0 || in.back_translation.has_value()) return "";
  std::string key = StrCat(in.source_lang, "\x1f", in.target_lang, "\x1f", in.source, "\x1f",
                           in.translation, "\x1f");
  for (const auto& w : in.unknown_words) StrAppend(&key, w, "\x1e");
  if (in.engine_logprob.has_value()) {
    StrAppend(&key, "\x1f", std::bit_cast<uint64_t>(*in.engine_logprob));
  }
  return key;
}

}  // namespace

struct QeService::Cache {
  Cache(size_t bytes, const Clock* clock) : lru(bytes, absl::Hours(24), clock, ResultBytes) {}
  cache::LruCache<Result> lru;
};

QeService::QeService(Scorer* builtin, Scorer* external, ServiceOptions options, const Clock* clock,
                     resilience::DegradationController* degradation)
    : builtin_(builtin),
      external_(external),
      cache_(options.cache_bytes > 0 ? std::make_unique<Cache>(options.cache_bytes, clock)
                                     : nullptr),
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
  if (!observe_) return ScoreWithFallback(inputs, deadline);
  const absl::Time start = absl::Now();
  auto scored = ScoreWithFallback(inputs, deadline);
  observe_(absl::Now() - start);
  return scored;
}

absl::StatusOr<std::vector<Result>> QeService::ScoreWithFallback(const std::vector<Input>& inputs,
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
    auto fallback = Builtin(inputs, deadline);
    if (!fallback.ok()) return fallback;
    for (Result& r : *fallback) r.provisional = true;
    return fallback;
  }
  return Builtin(inputs, deadline);
}

absl::StatusOr<std::vector<Result>> QeService::Builtin(const std::vector<Input>& inputs,
                                                       absl::Time deadline) {
  if (cache_ == nullptr) return builtin_->Score(inputs, deadline);
  std::vector<Result> out(inputs.size());
  std::vector<Input> missing;
  std::vector<size_t> where;
  std::vector<std::string> keys(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    keys[i] = CacheKey(inputs[i]);
    if (!keys[i].empty()) {
      if (auto hit = cache_->lru.Get(keys[i]); hit.has_value()) {
        out[i] = std::move(*hit);
        continue;
      }
    }
    missing.push_back(inputs[i]);
    where.push_back(i);
  }
  if (missing.empty()) return out;
  VERSO_ASSIGN_OR_RETURN(std::vector<Result> scored, builtin_->Score(missing, deadline));
  for (size_t k = 0; k < where.size(); ++k) {
    if (!keys[where[k]].empty()) cache_->lru.Put(keys[where[k]], scored[k]);
    out[where[k]] = std::move(scored[k]);
  }
  return out;
}

}  // namespace verso::qe
