#include "common/clock.h"
#include "common/status.h"
#include "common/strings.h"
#include "mt/translate.h"
#include "storage/storage.h"
#include "text/text.h"
#include "tm/tm.h"

namespace verso::mt {

TranslateService::TranslateService(tm::TmService* tm, storage::PolicyRepository* policies,
                                   Router* router, resilience::DegradationController* degradation,
                                   const Clock* clock, absl::Duration policy_revalidate)
    : tm_(tm),
      policies_(policies),
      router_(router),
      degradation_(degradation),
      clock_(clock),
      policy_revalidate_(policy_revalidate) {}

absl::StatusOr<std::optional<std::vector<std::string>>> TranslateService::Policy(
    std::string_view tenant, std::string_view name, bool nonblocking) {
  const std::string key = StrCat(tenant, "\x1f", name);
  const absl::Time now = clock_->MonotonicNow();
  uint64_t changes = 0;
  {
    absl::MutexLock lock(&policy_mu_);
    auto it = policy_cache_.find(key);
    if (it != policy_cache_.end() && now - it->second.read < policy_revalidate_) {
      return it->second.engines;
    }
    changes = policy_changes_;
  }
  if (nonblocking) return WouldBlock("reading the engine policy");
  auto p = policies_->GetPolicy(tenant, name);
  if (!p.ok() && !absl::IsNotFound(p.status())) return p.status();
  std::optional<std::vector<std::string>> engines;
  if (p.ok()) engines = std::move(p->engines);
  if (engines.has_value() || name == "default") {
    absl::MutexLock lock(&policy_mu_);
    // A change while this read ran may be newer than what it read: not cached then.
    if (changes == policy_changes_) policy_cache_[key] = {engines, now};
  }
  return engines;
}

void TranslateService::PolicyChanged(std::string_view tenant, std::string_view name) {
  absl::MutexLock lock(&policy_mu_);
  ++policy_changes_;
  policy_cache_.erase(StrCat(tenant, "\x1f", name));
}

absl::StatusOr<std::vector<std::string>> TranslateService::Chain(const TranslateInput& in) {
  if (!in.engines.empty()) return in.engines;
  if (policies_ != nullptr) {
    if (!in.engine_policy.empty()) {
      VERSO_ASSIGN_OR_RETURN(auto engines, Policy(in.tenant, in.engine_policy, in.nonblocking));
      if (!engines.has_value()) {
        return absl::NotFoundError(StrCat("engine policy \"", in.engine_policy, "\" not found"));
      }
      return *std::move(engines);
    }
    VERSO_ASSIGN_OR_RETURN(auto engines, Policy(in.tenant, "default", in.nonblocking));
    if (engines.has_value()) return *std::move(engines);
  } else if (!in.engine_policy.empty()) {
    return absl::NotFoundError(StrCat("engine policy \"", in.engine_policy, "\" not found"));
  }
  return std::vector<std::string>{};  // the router's default chain
}

absl::Status TranslateService::CheckPair(const TranslateInput& in) {
  VERSO_ASSIGN_OR_RETURN(std::vector<std::string> chain, Chain(in));
  return router_->CheckPair(chain, in.source_lang, in.target_lang);
}

absl::StatusOr<TranslateResult> TranslateService::Translate(const TranslateInput& in) {
  TranslateResult result;
  result.level = degradation_->Current();
  if (result.level.level == resilience::Level::kEmergency) {
    return absl::UnavailableError(result.level.message);
  }
  VERSO_ASSIGN_OR_RETURN(std::vector<std::string> chain, Chain(in));
  result.segments.resize(in.texts.size());
  std::vector<size_t> remaining;
  if (!in.tm_store.empty() && in.nonblocking) return WouldBlock("a translation-memory lookup");
  if (!in.tm_store.empty()) {
    if (tm_ == nullptr) return absl::FailedPreconditionError("no translation memory here");
    VERSO_ASSIGN_OR_RETURN(tm::StoreInfo store, tm_->GetStore(in.tenant, in.tm_store));
    if (text::PrimaryLanguage(store.record.source_lang) != text::PrimaryLanguage(in.source_lang) ||
        text::PrimaryLanguage(store.record.target_lang) != text::PrimaryLanguage(in.target_lang)) {
      return absl::InvalidArgumentError(StrCat(
          "tm_store: store ", in.tm_store, " is ", store.record.source_lang, " -> ",
          store.record.target_lang, ", the request ", in.source_lang, " -> ", in.target_lang));
    }
    tm::LookupOptions options;
    options.min_score = 100;
    options.max_results = 1;
    for (size_t i = 0; i < in.texts.size(); ++i) {
      absl::StatusOr<tm::LookupResult> looked =
          tm_->Lookup(in.tenant, in.tm_store, in.texts[i], options);
      if (absl::IsUnavailable(looked.status())) {
        // The TM nodes holding the store cannot answer: machine translation for every segment
        // not matched yet, and the client is told.
        result.notes.push_back(
            "Translation memory unavailable: segments were machine-translated without it");
        for (size_t j = i; j < in.texts.size(); ++j) remaining.push_back(j);
        break;
      }
      VERSO_ASSIGN_OR_RETURN(tm::LookupResult found, std::move(looked));
      if (!found.matches.empty() && found.matches[0].score >= 100) {
        const tm::Match& m = found.matches[0];
        SegmentResult& s = result.segments[i];
        s.text = m.segment.target;
        s.origin = "tm";
        s.tm_score = m.score;
        s.tm_segment_id = m.segment.id;
        tm_->RecordUse(in.tm_store, m.segment.id);
      } else {
        remaining.push_back(i);
      }
    }
  } else {
    for (size_t i = 0; i < in.texts.size(); ++i) remaining.push_back(i);
  }
  if (remaining.empty()) return result;
  auto refuse = [&](std::string_view why) {
    std::vector<std::string> numbers;
    for (size_t i : remaining) numbers.push_back(std::to_string(i + 1));
    return absl::UnavailableError(
        StrCat(why, ": segment", remaining.size() > 1 ? "s " : " ", Join(numbers, ", "),
               remaining.size() > 1 ? " have" : " has", " no exact translation-memory match"));
  };
  if (result.level.level == resilience::Level::kTmOnly) return refuse(result.level.message);
  TranslateRequest request;
  request.tenant = in.tenant;
  request.source_lang = in.source_lang;
  request.target_lang = in.target_lang;
  request.glossary = in.glossary;
  request.deadline = in.deadline;
  request.cache_only = in.nonblocking;
  for (size_t i : remaining) request.texts.push_back(in.texts[i]);
  auto routed = router_->Translate(request, chain);
  if (!routed.ok()) {
    if (!absl::IsUnavailable(routed.status()) || IsWouldBlock(routed.status())) {
      return routed.status();
    }
    result.level = degradation_->Current();
    return refuse(std::string(routed.status().message()));
  }
  for (size_t k = 0; k < remaining.size(); ++k) {
    RoutedTranslation& r = routed->segments[k];
    SegmentResult& s = result.segments[remaining[k]];
    s.text = std::move(r.translation.text);
    s.origin = "mt";
    s.engine = std::move(r.translation.engine);
    s.model = std::move(r.translation.model);
    s.cached = r.cached;
    s.unknown_words = std::move(r.translation.unknown_words);
  }
  result.notes.insert(result.notes.end(), routed->notes.begin(), routed->notes.end());
  result.level = degradation_->Current();  // failures on the way may have opened breakers
  return result;
}

}  // namespace verso::mt
