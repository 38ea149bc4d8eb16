// Quality estimation: how good is a machine translation, without a reference?
//
// A scorer turns (source, translation, languages, what the engine reported, TM matches, glossary
// hits) into a score 0-100, the features behind it and readable reasons. Three scorers:
//   builtin   signals computed here (QA mismatches, unknown words, length against the pair's
//             norm, untranslated copies, spelling with hunspell, repetitions, TM agreement,
//             round trip, the engine's own log-probability when it reports one), combined with
//             weights fitted on MLQE-PE by scripts/fit-qe into a versioned model file
//             (models/qe-builtin.json). No download, microseconds per segment.
//   comet     an HTTP service in the COMET-Kiwi style: POST {"data": [{"src", "mt"}...]} ->
//             {"scores": [0..1 or 0..100 ...]}.
//   llm       an LLM judge through the MT router's LLM engines (GEMBA-DA prompt, the answer
//             must be one integer 0-100).
// The QE service runs an external scorer behind its own circuit breaker; when it is unavailable
// the builtin score is returned as provisional and the platform is at degradation level 2
// ("Quality verification in progress"): nothing is auto-approved.
#ifndef VERSO_QE_QE_H_
#define VERSO_QE_QE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "qa/qa.h"
#include "terms/terms.h"

namespace verso {
class Clock;
namespace tm {
class TmService;
}
namespace resilience {
class DegradationController;
class CircuitBreaker;
}  // namespace resilience
namespace mt {
class Router;
}
}  // namespace verso

namespace verso::qe {

struct Input {
  std::string source;  // markup
  std::string translation;
  std::string source_lang;  // BCP 47
  std::string target_lang;
  std::vector<std::string> unknown_words;  // the engine's unknown source words
  // The engine's mean token log-probability, when it reports one (glass-box).
  std::optional<double> engine_logprob;
  // The best fuzzy TM match for the source (score 0: none).
  int tm_score = 0;
  std::string tm_target;  // markup
  const terms::TermCheck* terms = nullptr;
  // The QA counts of this source and translation when the caller has already run the checks
  // (with `terms`); null: the scorer runs them.
  const qa::Counts* qa = nullptr;
  // The translation translated back into the source language (round trip), when available.
  std::optional<std::string> back_translation;
};

struct Feature {
  std::string name;
  double value;
};

struct Result {
  double score = 0;                  // 0-100
  std::string scorer;                // "builtin", "comet", "llm"
  std::vector<Feature> features;     // builtin: every feature, in model order
  std::vector<std::string> reasons;  // what lowered the score, most important first
  bool provisional = false;          // the configured scorer was unavailable: builtin instead
};

class Scorer {
 public:
  virtual ~Scorer() = default;
  virtual const std::string& name() const = 0;
  // One result per input, in order, or an error for the whole batch.
  virtual absl::StatusOr<std::vector<Result>> Score(const std::vector<Input>& inputs,
                                                    absl::Time deadline) = 0;
};

// ---- Builtin ---------------------------------------------------------------------------------

// The feature values of one input (without the model: raw values, before the pair's norms).
// Names are stable; the model file refers to them.
std::vector<Feature> RawFeatures(const Input& input);

// chrF (character n-grams 1-6, beta 2), 0-1.
double ChrF(std::string_view hypothesis, std::string_view reference);

struct BuiltinOptions {
  std::string model_path;  // empty: models/qe-builtin.json as compiled in
  std::string hunspell_dir = "/usr/share/hunspell";
};
absl::StatusOr<std::unique_ptr<Scorer>> NewBuiltinScorer(const BuiltinOptions& options);

// The model's version string ("verso-qe-1 2026-11-27 ..."), for responses and `verso qe eval`.
std::string BuiltinModelVersion(const Scorer& builtin);

// ---- External scorers ------------------------------------------------------------------------

struct CometOptions {
  std::string url;      // the scoring endpoint, e.g. http://127.0.0.1:8000/score
  std::string api_key;  // sent as a bearer token when set
  int batch_size = 32;
};
std::unique_ptr<Scorer> NewCometScorer(CometOptions options);

// GEMBA-DA through `router`'s LLM engines in `chain` order (empty: the default chain).
std::unique_ptr<Scorer> NewLlmJudge(mt::Router* router, std::vector<std::string> chain);

// The GEMBA-DA prompt and the strict parse of its answer ("87" -> 87; anything else is an
// error), exposed for tests.
std::string JudgePrompt(const Input& input);
absl::StatusOr<int> ParseJudgeAnswer(std::string_view answer);

// ---- The service -----------------------------------------------------------------------------

struct ServiceOptions {
  // Auto-approve at or above this score (with no QA error). See docs/quality.md for how the
  // default was chosen.
  double approve_threshold = 0;
  absl::Duration timeout = absl::Seconds(10);  // an external scorer's call
  size_t cache_bytes = 16 << 20;               // cached builtin scores; 0: none
};

// Thread-safe. `builtin` is required; `external` (comet or llm) is optional. Both must outlive
// the service, and so must `degradation` (may be null) and `clock`.
class QeService {
 public:
  QeService(Scorer* builtin, Scorer* external, ServiceOptions options, const Clock* clock,
            resilience::DegradationController* degradation);
  ~QeService();

  // Scores with the external scorer when configured and its breaker allows, else the builtin
  // (provisional when the external one failed or is open).
  absl::StatusOr<std::vector<Result>> Score(const std::vector<Input>& inputs, absl::Time deadline);
  double approve_threshold() const { return options_.approve_threshold; }
  // Called with each Score call's duration from now on (the QE latency metric). Call before
  // scoring starts (before serving).
  void ObserveLatency(std::function<void(absl::Duration)> observe) {
    observe_ = std::move(observe);
  }
  // True while an external scorer is configured and unavailable.
  bool degraded() const;
  const std::string& scorer_name() const;

 private:
  // Builtin scores of inputs that depend on nothing but themselves (no glossary, TM match or
  // round trip): the model does not change while the server runs, so they are cached.
  absl::StatusOr<std::vector<Result>> Builtin(const std::vector<Input>& inputs,
                                              absl::Time deadline);
  struct Cache;

  absl::StatusOr<std::vector<Result>> ScoreWithFallback(const std::vector<Input>& inputs,
                                                        absl::Time deadline);

  Scorer* builtin_;
  Scorer* external_;
  std::function<void(absl::Duration)> observe_;
  std::unique_ptr<Cache> cache_;
  ServiceOptions options_;
  resilience::DegradationController* degradation_;
  std::unique_ptr<resilience::CircuitBreaker> breaker_;
};

// ---- Calibration: where a score may approve ---------------------------------------------------

// How well a scorer's scores of one engine's translations in one pair predict their quality,
// measured by `verso qe calibrate` against human references (FLORES: chrF of the engine's
// output with the reference) and compiled in from models/qe-calibration.json
// (scripts/calibrate-qe writes it). A threshold >= 0 is the lowest one at which the approved
// translations were good (chrF >= good_chrf) at least `min_precision` of the time: only then
// does the default policy auto-approve that engine's output in that pair.
struct Calibration {
  std::string scorer, engine, source_lang, target_lang;
  std::string data;  // what it was measured on ("flores101-devtest")
  int segments = 0;
  double pearson = 0;        // of the score with chrF
  double good_chrf = 0;      // a translation at least this close to the reference is good
  double base_rate = 0;      // the share of good translations
  double min_precision = 0;  // what a threshold had to reach
  double threshold = -1;     // -1: none did (not calibrated)
  double precision = 0;      // at `threshold`
  int approved = 0;          // at `threshold`
  bool calibrated() const { return threshold >= 0; }
};

// The compiled-in table.
const std::vector<Calibration>& Calibrations();
// The entry for the scorer, engine and pair (a regional tag finds its bare language's), or null.
const Calibration* FindCalibration(std::string_view scorer, std::string_view engine,
                                   std::string_view source_lang, std::string_view target_lang);
absl::StatusOr<std::vector<Calibration>> ParseCalibrations(std::string_view json);
nlohmann::json CalibrationToJson(const Calibration& c);

// ---- Review: QA, terminology and QE of translated segments, and the auto-approval decision --

struct ReviewOptions {
  std::string tenant;
  std::string source_lang;  // canonical BCP 47
  std::string target_lang;
  std::string glossary;  // a stored glossary's name, or empty
  std::string tm_store;  // for the TM-agreement signal, or empty
  qa::Options qa;
  double threshold = 100;  // auto-approve at or above
  // The threshold was asked for (by the request or job), not the server's default: it then
  // applies to every engine and pair. By default only calibrated engines and pairs are
  // auto-approved, at no less than their calibrated threshold.
  bool threshold_given = false;
  bool round_trip = false;  // translate back with the built-in engine for the QE signal
  bool estimate = true;     // score machine translations
  absl::Time deadline = absl::InfiniteFuture();
};

struct ReviewSegment {
  std::string source;  // markup
  std::string translation;
  std::string origin;  // "tm" (checked, not scored) or "mt"
  std::string engine;  // the engine that translated it ("apertium"), for the calibration
  std::vector<std::string> unknown_words;
  std::optional<double> engine_logprob;
};

struct Review {
  std::vector<qa::Warning> warnings;
  terms::TermCheck terms;
  std::optional<Result> qe;    // machine translations, when scored
  bool qa_error = false;       // a warning of severity "error"
  bool auto_approved = false;  // scored, not provisional, level < 2, no QA error, >= threshold
  const Calibration* calibration = nullptr;  // of the scorer, engine and pair, when measured
  double threshold = 100;                    // the one applied (see ReviewOptions)
};

// A review as JSON: {"qa": [{"check","severity","message"}], "terms": [{"concept_id","source",
// "term","source_forbidden","targets","forbidden_targets"}], "qe": null or {"score","scorer",
// "provisional","auto_approved","threshold","calibration","reasons","features"}}; "threshold" is
// the one applied, "calibration" null or {"engine","threshold","precision","good_chrf",
// "segments","pearson","data"} (threshold null: measured, not calibrated).
nlohmann::json ReviewToJson(const Review& review, double threshold);
// The "terms" array of the above.
nlohmann::json TermHitsToJson(const std::vector<terms::TermHit>& hits);

// Thread-safe; every dependency may be null (no glossary checks, no TM agreement, no round
// trip, no scores) and must outlive the reviewer.
class Reviewer {
 public:
  Reviewer(QeService* qe, terms::GlossaryService* glossaries, tm::TmService* tm, mt::Router* router,
           resilience::DegradationController* degradation)
      : qe_(qe), glossaries_(glossaries), tm_(tm), router_(router), degradation_(degradation) {}

  // One review per segment, machine translations scored in one batch. NotFound for an unknown
  // glossary or TM store (naming the field), FailedPrecondition for a glossary without a
  // glossary service.
  absl::StatusOr<std::vector<Review>> Run(const ReviewOptions& options,
                                          const std::vector<ReviewSegment>& segments) const;

 private:
  QeService* qe_;
  terms::GlossaryService* glossaries_;
  tm::TmService* tm_;
  mt::Router* router_;
  resilience::DegradationController* degradation_;
};

}  // namespace verso::qe

#endif  // VERSO_QE_QE_H_
