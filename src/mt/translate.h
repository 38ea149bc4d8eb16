// Translating segments: the router that chains engines with breakers, retries, coalescing and a
// cache, and the translate service that puts the translation memory in front of it.
//
//   TranslateService::Translate ─► TM exact/context match? ─ yes ─► the TM's translation
//                                        │ no
//                                        ▼
//   Router::Translate: for each engine of the chain that supports the pair:
//       cached translations ─► breaker open? skip ─► one upstream call per identical request in
//       flight (coalescing), retried per the engine kind's policy within the deadline ─► on
//       failure the next engine; no error reaches the user while an engine is left
#ifndef VERSO_MT_TRANSLATE_H_
#define VERSO_MT_TRANSLATE_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "mt/mt.h"
#include "resilience/resilience.h"

namespace verso {
class Clock;
namespace tm {
class TmService;
}
namespace storage {
class PolicyRepository;
}
}  // namespace verso

namespace verso::mt {

struct RouterOptions {
  // Engine names in the order they are tried when a request names no chain (the platform
  // spec's GPT -> Claude -> Gemini -> NMT -> built-in); engines not configured are left out.
  std::vector<std::string> default_chain = {"openai",         "anthropic", "gemini",  "deepl",
                                            "libretranslate", "apy",       "apertium"};
  size_t cache_bytes = 256 << 20;  // L1 cache of translations; 0: no cache
  absl::Duration cache_ttl = absl::Hours(24 * 7);
  // L2 (Redis, shared by every process) for LLM engines' translations (the spec's "LLM responses
  // 7 days"): a miss in L1 asks l2_get, a fresh answer goes to l2_put. Both may fail silently
  // (a lost Redis is a miss). Unset: no L2.
  std::function<std::optional<std::string>(const std::string& key)> l2_get;
  std::function<void(const std::string& key, const std::string& value)> l2_put;
  resilience::BreakerOptions llm_breaker = resilience::LlmBreakerOptions();
  resilience::BreakerOptions nmt_breaker = resilience::NmtBreakerOptions();
  resilience::RetryPolicy llm_retry = resilience::LlmRetryPolicy();
  resilience::RetryPolicy nmt_retry = resilience::NmtRetryPolicy();
  // One attempt may take this long (within the request's deadline): a provider that hangs
  // must leave time for the next engine.
  absl::Duration llm_attempt_timeout = absl::Seconds(30);
  absl::Duration nmt_attempt_timeout = absl::Seconds(10);
  // Fast mode (the spec's "LLM latency > 5 s: fall back to NMT"): an LLM engine whose call took
  // longer than `fast_mode_latency` is passed over for `fast_mode_hold` by requests that have a
  // later engine for their pair (they are told "Using fast translation mode"); the first request
  // after the hold tries it again. 0: never.
  absl::Duration fast_mode_latency = absl::Seconds(5);
  absl::Duration fast_mode_hold = absl::Seconds(30);
  uint64_t seed = 1;  // jitter
};

// What a request that skipped a slow LLM engine is told (the spec's wording).
inline constexpr const char* kFastModeNote = "Using fast translation mode";

struct EngineState {
  std::string name;
  EngineKind kind;
  resilience::BreakerState breaker;
  int64_t calls = 0;        // upstream calls (attempts)
  int64_t failures = 0;     // failed attempts
  int64_t segments = 0;     // segments it translated
  bool slow = false;        // in fast mode: passed over while its hold lasts
  int64_t slow_calls = 0;   // calls that took longer than fast_mode_latency
  int64_t passed_over = 0;  // requests that skipped it while it was slow
};

struct RouterStats {
  int64_t cache_hits = 0;
  int64_t cache_misses = 0;
  int64_t coalesced = 0;  // requests that shared another's upstream call
  int64_t cache_entries = 0;
  int64_t cache_bytes = 0;
};

struct RoutedTranslation {
  Translation translation;
  bool cached = false;
};

struct RouteResult {
  std::vector<RoutedTranslation> segments;
  // Engines that were tried and failed, or skipped, and why ("deepl: HTTP 456: Quota
  // Exceeded", "openai: circuit open"): reported, not fatal while another engine answered.
  std::vector<std::string> notes;
};

// Thread-safe.
class Router {
 public:
  // Registers every engine's breaker with `degradation` (which must outlive the router).
  Router(std::vector<std::unique_ptr<Engine>> engines, RouterOptions options, const Clock* clock,
         resilience::DegradationController* degradation);
  ~Router();

  // Translates every text with the first engine of `chain` (engine names; empty: the default
  // chain) that supports the pair and answers. InvalidArgument for an unknown engine name or
  // a pair no engine of the chain supports; Unavailable (with the notes) when every engine
  // failed.
  absl::StatusOr<RouteResult> Translate(const TranslateRequest& request,
                                        const std::vector<std::string>& chain);

  // The answer of the first LLM engine of `chain` (empty: every engine, default chain order)
  // whose breaker allows a call, with the LLM retry policy; failures count against its breaker
  // and fall through to the next. FailedPrecondition when the chain has no LLM, Unavailable when
  // none answered. `engine` (optional) receives the engine's name.
  absl::StatusOr<std::string> Complete(const std::vector<std::string>& chain,
                                       const std::string& system, const std::string& user,
                                       absl::Time deadline, std::string* engine = nullptr);
  // The engines in the default chain order (configured ones only), then the others.
  // OK when an engine of `chain` (empty: the default chain) translates source -> target, else
  // InvalidArgument naming the chain and the pairs it offers; an unknown engine is
  // InvalidArgument too. No engine is called.
  absl::Status CheckPair(const std::vector<std::string>& chain, std::string_view source_lang,
                         std::string_view target_lang) const;
  std::vector<std::string> EngineNames() const;
  std::vector<EngineState> Engines() const;
  RouterStats Stats() const;
  // Pairs any engine supports (an empty list inside means any pair).
  std::vector<std::pair<std::string, std::vector<LanguagePair>>> PairsByEngine() const;
  // Callers now waiting on another caller's upstream call.
  int Waiting() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---- The translate service ------------------------------------------------------------------

struct TranslateInput {
  std::string tenant;
  std::string source_lang;  // canonical BCP 47
  std::string target_lang;
  std::vector<std::string> texts;    // markup
  std::string tm_store;              // optional: 100 % matches from this store come first
  std::string engine_policy;         // optional: a stored policy's name
  std::vector<std::string> engines;  // optional: an explicit chain (wins over the policy)
  std::vector<GlossaryTerm> glossary;
  absl::Time deadline = absl::InfiniteFuture();
  // Answer from memory only (cached translations, cached policies), or WouldBlock: the caller is
  // an I/O thread, which must not wait on storage, an engine or Redis.
  bool nonblocking = false;
};

struct SegmentResult {
  std::string text;                        // markup
  std::string origin;                      // "tm" or "mt"
  int tm_score = 0;                        // tm: 100 or 101 (context match)
  int64_t tm_segment_id = 0;               // tm
  std::string engine;                      // mt
  std::string model;                       // mt
  bool cached = false;                     // mt: from the cache
  std::vector<std::string> unknown_words;  // mt
};

struct TranslateResult {
  std::vector<SegmentResult> segments;
  resilience::LevelInfo level;
  std::vector<std::string> notes;  // see RouteResult
};

// Thread-safe.
class TranslateService {
 public:
  // All must outlive the service; `tm` and `policies` may be null (no TM / default chain).
  // A policy read from storage is used for `policy_revalidate` before it is read again.
  TranslateService(tm::TmService* tm, storage::PolicyRepository* policies, Router* router,
                   resilience::DegradationController* degradation, const Clock* clock,
                   absl::Duration policy_revalidate = kPolicyRevalidate);

  // Per segment a 100 % (or context) match from `tm_store` as is, else machine translation. When
  // the TM cannot answer (Unavailable: the TM nodes holding the store are down), every segment
  // not matched yet is machine-translated and a note says so.
  // Degradation: at level 4 (no MT) only TM matches are returned, and a request with a segment
  // that has none is refused with Unavailable naming the segments; in an emergency every
  // request is refused with Unavailable. NotFound for an unknown store or policy,
  // InvalidArgument for a store whose languages differ from the request's.
  absl::StatusOr<TranslateResult> Translate(const TranslateInput& input);

  // The chain a tenant's request would use: its explicit engines, its named policy, the
  // tenant's "default" policy, or the router's default chain.
  absl::StatusOr<std::vector<std::string>> Chain(const TranslateInput& input);
  // Router::CheckPair for the chain `input` would use.
  absl::Status CheckPair(const TranslateInput& input);

  // This process changed (or deleted) a tenant's policy: its cached copy is dropped. Another
  // process's change is seen within policy_revalidate.
  void PolicyChanged(std::string_view tenant, std::string_view name);
  static constexpr absl::Duration kPolicyRevalidate = absl::Seconds(1);  // the default

 private:
  struct CachedPolicy {
    std::optional<std::vector<std::string>> engines;  // nullopt: the tenant has no such policy
    absl::Time read;                                  // monotonic
  };
  // The engines of the tenant's policy `name` (nullopt when it has none), from the cache while
  // it is fresh. Only found policies and a missing "default" are cached (a request's unknown
  // names would otherwise fill it). `nonblocking`: WouldBlock instead of a read.
  absl::StatusOr<std::optional<std::vector<std::string>>> Policy(std::string_view tenant,
                                                                 std::string_view name,
                                                                 bool nonblocking);

  tm::TmService* tm_;
  storage::PolicyRepository* policies_;
  Router* router_;
  resilience::DegradationController* degradation_;
  const Clock* clock_;
  const absl::Duration policy_revalidate_;
  absl::Mutex policy_mu_;
  std::map<std::string, CachedPolicy, std::less<>> policy_cache_ ABSL_GUARDED_BY(policy_mu_);
  uint64_t policy_changes_ ABSL_GUARDED_BY(policy_mu_) = 0;  // PolicyChanged calls
};

}  // namespace verso::mt

#endif  // VERSO_MT_TRANSLATE_H_
