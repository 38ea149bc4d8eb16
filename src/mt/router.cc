#include <algorithm>
#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "absl/synchronization/mutex.h"
#include "cache/cache.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/hash.h"
#include "common/json.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"
#include "mt/translate.h"
#include "text/text.h"

namespace verso::mt {
namespace {

struct Slot {
  std::unique_ptr<Engine> engine;
  std::unique_ptr<resilience::CircuitBreaker> breaker;
  std::vector<LanguagePair> pairs;
  std::atomic<int64_t> calls{0};
  std::atomic<int64_t> failures{0};
  std::atomic<int64_t> segments{0};
  // Fast mode, per tenant: a slow call puts the engine in its hold for the tenant that made it
  // only, so one tenant's long texts never send another's requests to a lesser engine.
  mutable absl::Mutex slow_mu;
  std::map<std::string, absl::Time> slow_until ABSL_GUARDED_BY(slow_mu);  // tenant -> hold end
  std::atomic<int64_t> slow_calls{0};
  std::atomic<int64_t> passed_over{0};
};

using Outcome = absl::StatusOr<std::vector<Translation>>;

// An L2 entry's key: the L1 key (tenant, engine, pair, glossary, text) hashed, so that no text
// or tenant appears in Redis's key space.
std::string L2Key(const std::string& l1_key) { return StrCat("llm:", Sha256Hex(l1_key)); }

std::string ToL2(const Translation& t) {
  return DumpJson(nlohmann::json{
      {"text", t.text}, {"engine", t.engine}, {"model", t.model}, {"unknown", t.unknown_words}});
}

std::optional<Translation> FromL2(const std::optional<std::string>& value) {
  if (!value) return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(*value, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j["text"].is_string()) return std::nullopt;
  Translation t;
  t.text = j["text"];
  t.engine = j.value("engine", "");
  t.model = j.value("model", "");
  if (j["unknown"].is_array()) {
    for (const auto& w : j["unknown"]) {
      if (w.is_string()) t.unknown_words.push_back(w);
    }
  }
  return t;
}

std::string GlossaryKey(const std::vector<GlossaryTerm>& glossary) {
  std::string k;
  for (const auto& t : glossary) k += t.source + "\x1f" + t.target + "\x1e";
  return k;
}

size_t TranslationBytes(const Translation& t) {
  size_t n = t.text.size() + t.engine.size() + t.model.size() + sizeof(Translation);
  for (const auto& w : t.unknown_words) n += w.size() + 32;
  return n;
}

}  // namespace

struct Router::Impl {
  RouterOptions options;
  const Clock* clock;
  std::map<std::string, std::unique_ptr<Slot>> slots;
  std::vector<std::string> order;  // default chain order, then the rest
  resilience::Retrier retrier;
  resilience::Singleflight<Outcome> flights;
  std::unique_ptr<cache::LruCache<Translation>> cache;
  std::atomic<int64_t> coalesced{0};

  Impl(RouterOptions o, const Clock* c)
      : options(std::move(o)), clock(c), retrier(c, options.seed) {}

  // One upstream call for `request` on `slot`, retried per the engine kind's policy; counts
  // every attempt against the breaker.
  // The engines of a chain (empty: the default chain); InvalidArgument for an unknown one.
  absl::StatusOr<std::vector<std::string>> Resolve(
      const std::vector<std::string>& chain_names) const;

  // Fast mode: whether `slot` is an LLM engine in its hold after a slow call of `tenant`'s.
  bool Slow(const Slot& slot, const std::string& tenant) const {
    if (slot.engine->kind() != EngineKind::kLlm) return false;
    absl::MutexLock lock(&slot.slow_mu);
    auto it = slot.slow_until.find(tenant);
    return it != slot.slow_until.end() && clock->Now() < it->second;
  }
  // Whether any tenant's hold on `slot` lasts (/v1/status, /metrics).
  bool SlowForAnyone(const Slot& slot) const {
    const absl::Time now = clock->Now();
    absl::MutexLock lock(&slot.slow_mu);
    for (const auto& [tenant, until] : slot.slow_until) {
      if (now < until) return true;
    }
    return false;
  }
  // Whether an engine after `chain[at]` could take the pair.
  bool LaterEngine(const std::vector<std::string>& chain, size_t at,
                   const TranslateRequest& request) const {
    for (size_t k = at + 1; k < chain.size(); ++k) {
      const Slot& s = *slots.at(chain[k]);
      if (SupportsPair(s.pairs, request.source_lang, request.target_lang) &&
          !Slow(s, request.tenant)) {
        return true;
      }
    }
    return false;
  }

  // Call, timed: an LLM call slower than the fast-mode bound puts the engine in its hold.
  Outcome TimedCall(Slot& slot, const TranslateRequest& request) {
    const absl::Time start = clock->Now();
    Outcome out = Call(slot, request);
    const absl::Time end = clock->Now();
    if (slot.engine->kind() == EngineKind::kLlm &&
        options.fast_mode_latency > absl::ZeroDuration() &&
        end - start > options.fast_mode_latency) {
      ++slot.slow_calls;
      {
        absl::MutexLock lock(&slot.slow_mu);
        std::erase_if(slot.slow_until, [end](const auto& hold) { return hold.second <= end; });
        slot.slow_until[request.tenant] = end + options.fast_mode_hold;
      }
      log::Warn("mt.fast_mode", {{"engine", slot.engine->name()},
                                 {"took_ms", absl::ToInt64Milliseconds(end - start)}});
    }
    return out;
  }

  Outcome Call(Slot& slot, const TranslateRequest& request) {
    const resilience::RetryPolicy no_retry;
    const resilience::RetryPolicy& policy =
        slot.engine->kind() == EngineKind::kLlm   ? options.llm_retry
        : slot.engine->kind() == EngineKind::kNmt ? options.nmt_retry
                                                  : no_retry;  // the built-in engine retries itself
    Outcome outcome = absl::UnknownError("not called");
    resilience::RetryResult r = retrier.Run(policy, request.deadline, [&](int attempt) {
      // A breaker that opened during the retries (another caller's failures) ends them.
      if (attempt > 0 && !slot.breaker->Allow()) {
        return absl::CancelledError(StrCat(slot.engine->name(), ": circuit open"));
      }
      ++slot.calls;
      TranslateRequest attempt_request = request;
      if (slot.engine->kind() != EngineKind::kBuiltin) {
        absl::Duration timeout = slot.engine->kind() == EngineKind::kLlm
                                     ? options.llm_attempt_timeout
                                     : options.nmt_attempt_timeout;
        attempt_request.deadline = std::min(request.deadline, clock->Now() + timeout);
      }
      try {
        outcome = slot.engine->Translate(attempt_request);
      } catch (const std::exception& e) {  // an adapter's surprise is the engine's failure
        outcome = absl::InternalError(StrCat(slot.engine->name(), ": ", e.what()));
      }
      if (outcome.ok()) {
        slot.breaker->RecordSuccess();
        return absl::OkStatus();
      }
      ++slot.failures;
      if (!absl::IsInvalidArgument(outcome.status())) slot.breaker->RecordFailure();
      return outcome.status();
    });
    if (!r.status.ok()) outcome = r.status;
    return outcome;
  }
};

Router::Router(std::vector<std::unique_ptr<Engine>> engines, RouterOptions options,
               const Clock* clock, resilience::DegradationController* degradation)
    : impl_(std::make_unique<Impl>(std::move(options), clock)) {
  for (auto& e : engines) {
    auto slot = std::make_unique<Slot>();
    bool llm = e->kind() == EngineKind::kLlm;
    slot->breaker = std::make_unique<resilience::CircuitBreaker>(
        llm ? impl_->options.llm_breaker : impl_->options.nmt_breaker, clock);
    slot->pairs = e->Pairs();
    if (degradation != nullptr) {
      degradation->AddEngine(e->name(),
                             llm ? resilience::DegradationController::EngineClass::kLlm
                                 : resilience::DegradationController::EngineClass::kMt,
                             slot->breaker.get());
    }
    std::string name = e->name();
    slot->engine = std::move(e);
    impl_->slots[name] = std::move(slot);
  }
  for (const auto& name : impl_->options.default_chain) {
    if (impl_->slots.count(name)) impl_->order.push_back(name);
  }
  for (const auto& [name, slot] : impl_->slots) {
    if (std::find(impl_->order.begin(), impl_->order.end(), name) == impl_->order.end()) {
      impl_->order.push_back(name);
    }
  }
  if (impl_->options.cache_bytes > 0) {
    impl_->cache = std::make_unique<cache::LruCache<Translation>>(
        impl_->options.cache_bytes, impl_->options.cache_ttl, clock, TranslationBytes);
  }
}

Router::~Router() = default;

absl::StatusOr<std::vector<std::string>> Router::Impl::Resolve(
    const std::vector<std::string>& chain_names) const {
  std::vector<std::string> chain;
  if (chain_names.empty()) {
    for (const auto& name : options.default_chain) {
      if (slots.count(name)) chain.push_back(name);
    }
    return chain;
  }
  for (const auto& name : chain_names) {
    if (!slots.count(name)) {
      return absl::InvalidArgumentError(
          StrCat("unknown engine \"", name, "\"; configured engines: ", Join(order, ", ")));
    }
    chain.push_back(name);
  }
  return chain;
}

absl::Status Router::CheckPair(const std::vector<std::string>& chain_names,
                               std::string_view source_lang, std::string_view target_lang) const {
  VERSO_ASSIGN_OR_RETURN(std::vector<std::string> chain, impl_->Resolve(chain_names));
  std::vector<std::string> offered;
  for (const std::string& name : chain) {
    const Slot& slot = *impl_->slots.at(name);
    if (SupportsPair(slot.pairs, source_lang, target_lang)) return absl::OkStatus();
    for (const LanguagePair& p : slot.pairs) offered.push_back(StrCat(p.source, "->", p.target));
  }
  std::sort(offered.begin(), offered.end());
  offered.erase(std::unique(offered.begin(), offered.end()), offered.end());
  return absl::InvalidArgumentError(
      StrCat("no engine in the chain (", Join(chain, ", "), ") translates ", source_lang, " -> ",
             target_lang, "; it offers ", offered.empty() ? "nothing" : Join(offered, ", ")));
}

absl::StatusOr<RouteResult> Router::Translate(const TranslateRequest& request,
                                              const std::vector<std::string>& chain_names) {
  Impl& im = *impl_;
  VERSO_ASSIGN_OR_RETURN(std::vector<std::string> chain, im.Resolve(chain_names));
  // Input no engine can take fails here, alone, and never counts against an engine's breaker
  // (a tenant's bad bytes must not open the circuit for every tenant).
  for (size_t i = 0; i < request.texts.size(); ++i) {
    if (!text::IsValidUtf8(request.texts[i])) {
      return absl::InvalidArgumentError(StrCat("segments[", i, "]: not valid UTF-8"));
    }
  }
  RouteResult result;
  result.segments.resize(request.texts.size());
  std::vector<size_t> remaining(request.texts.size());
  for (size_t i = 0; i < remaining.size(); ++i) remaining[i] = i;
  const std::string glossary = GlossaryKey(request.glossary);
  bool supported = false;
  absl::Status permanent;  // the first engine's error no retry can fix
  int transient = 0;       // errors worth another try (an open circuit counts)
  for (size_t at = 0; at < chain.size(); ++at) {
    const std::string& name = chain[at];
    Slot& slot = *im.slots[name];
    if (!SupportsPair(slot.pairs, request.source_lang, request.target_lang)) continue;
    supported = true;
    // Per tenant: a cached translation (and that it was cached) tells what someone translated.
    auto cache_key = [&](size_t i) {
      return StrCat(request.tenant, "\x1f", name, "\x1f", request.source_lang, "\x1f",
                    request.target_lang, "\x1f", glossary, "\x1f", request.texts[i]);
    };
    const bool l2 = im.options.l2_get && slot.engine->kind() == EngineKind::kLlm;
    if (im.cache != nullptr || l2) {
      std::vector<size_t> missing;
      for (size_t i : remaining) {
        std::optional<Translation> hit;
        if (im.cache != nullptr) hit = im.cache->Get(cache_key(i), !request.cache_only);
        if (!hit && l2 && !request.cache_only) {
          hit = FromL2(im.options.l2_get(L2Key(cache_key(i))));
          if (hit && im.cache != nullptr) im.cache->Put(cache_key(i), *hit);
        }
        if (hit) {
          result.segments[i] = {std::move(*hit), true};
        } else {
          missing.push_back(i);
        }
      }
      // A cache-only look is counted only when it answers (else the request looks again).
      if (request.cache_only && missing.empty() && im.cache != nullptr) {
        im.cache->CountHits(static_cast<int64_t>(remaining.size()));
      }
      remaining.swap(missing);
    }
    if (remaining.empty()) break;
    if (request.cache_only) return WouldBlock("machine translation");
    if (im.Slow(slot, request.tenant) && im.LaterEngine(chain, at, request)) {
      ++slot.passed_over;
      if (std::find(result.notes.begin(), result.notes.end(), kFastModeNote) ==
          result.notes.end()) {
        result.notes.push_back(kFastModeNote);
      }
      continue;
    }
    if (!slot.breaker->Allow()) {
      ++transient;
      result.notes.push_back(StrCat(name, ": circuit open"));
      continue;
    }
    TranslateRequest sub = request;
    sub.texts.clear();
    for (size_t i : remaining) sub.texts.push_back(request.texts[i]);
    std::string flight = StrCat(request.tenant, "\x1f", name, "\x1f", request.source_lang, "\x1f",
                                request.target_lang, "\x1f", glossary);
    for (const auto& t : sub.texts) flight += "\x1e" + t;
    bool shared = false;
    Outcome outcome = im.flights.Do(
        flight, [&] { return im.TimedCall(slot, sub); }, &shared);
    if (shared) ++im.coalesced;
    if (!outcome.ok()) {
      if (resilience::IsRetryable(outcome.status())) {
        ++transient;
      } else if (permanent.ok()) {
        permanent = outcome.status();
      }
      result.notes.push_back(std::string(outcome.status().message()));
      log::Warn("mt.engine_failed", {{"engine", name}, {"error", outcome.status().message()}});
      continue;
    }
    if (outcome->size() != remaining.size()) {
      result.notes.push_back(StrCat(name, ": answered ", outcome->size(), " translations for ",
                                    remaining.size(), " segments"));
      continue;
    }
    if (!shared) slot.segments += static_cast<int64_t>(remaining.size());
    for (size_t k = 0; k < remaining.size(); ++k) {
      Translation& t = (*outcome)[k];
      if (im.cache != nullptr && !shared) im.cache->Put(cache_key(remaining[k]), t);
      if (l2 && !shared && im.options.l2_put) {
        im.options.l2_put(L2Key(cache_key(remaining[k])), ToL2(t));
      }
      result.segments[remaining[k]] = {std::move(t), false};
    }
    remaining.clear();
    break;
  }
  if (remaining.empty()) return result;
  if (!supported) return CheckPair(chain, request.source_lang, request.target_lang);
  // Every engine refused for good (a bad key, a 4xx): no retry can fix it.
  if (!permanent.ok() && transient == 0) return permanent;
  return absl::UnavailableError(
      StrCat("no engine could translate the request: ", Join(result.notes, "; ")));
}

absl::StatusOr<std::string> Router::Complete(const std::vector<std::string>& chain_names,
                                             const std::string& system, const std::string& user,
                                             absl::Time deadline, std::string* engine_name) {
  Impl& im = *impl_;
  const std::vector<std::string>& chain = chain_names.empty() ? im.order : chain_names;
  std::vector<std::string> notes;
  bool any = false;
  for (const std::string& name : chain) {
    auto it = im.slots.find(name);
    if (it == im.slots.end()) {
      return absl::InvalidArgumentError(
          StrCat("unknown engine \"", name, "\"; configured engines: ", Join(im.order, ", ")));
    }
    Slot& slot = *it->second;
    if (slot.engine->kind() != EngineKind::kLlm) continue;
    any = true;
    if (!slot.breaker->Allow()) {
      notes.push_back(StrCat(name, ": circuit open"));
      continue;
    }
    std::string answer;
    resilience::RetryResult r = im.retrier.Run(im.options.llm_retry, deadline, [&](int attempt) {
      if (attempt > 0 && !slot.breaker->Allow()) {
        return absl::CancelledError(StrCat(name, ": circuit open"));
      }
      ++slot.calls;
      auto out = slot.engine->Complete(
          system, user, std::min(deadline, im.clock->Now() + im.options.llm_attempt_timeout));
      if (out.ok()) {
        slot.breaker->RecordSuccess();
        answer = std::move(*out);
        return absl::OkStatus();
      }
      ++slot.failures;
      slot.breaker->RecordFailure();
      return out.status();
    });
    if (r.status.ok()) {
      if (engine_name != nullptr) *engine_name = name;
      return answer;
    }
    notes.push_back(std::string(r.status.message()));
  }
  if (!any) return absl::FailedPreconditionError("no LLM engine is configured in the chain");
  return absl::UnavailableError(StrCat("no LLM engine answered: ", Join(notes, "; ")));
}

std::vector<std::string> Router::EngineNames() const { return impl_->order; }

std::vector<EngineState> Router::Engines() const {
  std::vector<EngineState> out;
  for (const auto& name : impl_->order) {
    const Slot& s = *impl_->slots.at(name);
    out.push_back({name, s.engine->kind(), s.breaker->state(), s.calls.load(), s.failures.load(),
                   s.segments.load(), impl_->SlowForAnyone(s), s.slow_calls.load(),
                   s.passed_over.load()});
  }
  return out;
}

RouterStats Router::Stats() const {
  RouterStats s;
  if (impl_->cache != nullptr) {
    cache::CacheStats c = impl_->cache->stats();
    s.cache_hits = c.hits;
    s.cache_misses = c.misses;
    s.cache_entries = c.entries;
    s.cache_bytes = c.bytes;
  }
  s.coalesced = impl_->coalesced.load();
  return s;
}

std::vector<std::pair<std::string, std::vector<LanguagePair>>> Router::PairsByEngine() const {
  std::vector<std::pair<std::string, std::vector<LanguagePair>>> out;
  for (const auto& name : impl_->order) out.push_back({name, impl_->slots.at(name)->pairs});
  return out;
}

int Router::Waiting() const { return impl_->flights.Waiting(); }

}  // namespace verso::mt
