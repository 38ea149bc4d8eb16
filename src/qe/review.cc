// The reviewer (see qe.h): QA checks, glossary terms and QE scores of translated segments.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "common/status.h"
#include "common/strings.h"
#include "mt/translate.h"
#include "qe/qe.h"
#include "resilience/resilience.h"
#include "tm/tm.h"

namespace verso::qe {
namespace {

using Json = nlohmann::json;

Json HitsJson(const std::vector<terms::TermHit>& hits) {
  Json out = Json::array();
  for (const terms::TermHit& h : hits) {
    Json targets = Json::array();
    for (const auto& t : h.targets) {
      targets.push_back(Json{{"lang", t.lang},
                             {"text", t.text},
                             {"part_of_speech", t.part_of_speech},
                             {"status", t.status},
                             {"case_sensitive", t.case_sensitive},
                             {"note", t.note}});
    }
    Json forbidden = Json::array();
    for (const auto& t : h.forbidden_targets) forbidden.push_back(t.text);
    out.push_back(Json{{"concept_id", h.concept_id},
                       {"source", h.source},
                       {"term", h.term},
                       {"source_forbidden", h.source_forbidden},
                       {"targets", targets},
                       {"forbidden_targets", forbidden}});
  }
  return out;
}

Json CalibrationJson(const Calibration& c) {
  return Json{{"engine", c.engine},
              {"threshold", c.calibrated() ? Json(c.threshold) : Json(nullptr)},
              {"precision", c.calibrated() ? Json(c.precision) : Json(nullptr)},
              {"good_chrf", c.good_chrf},
              {"segments", c.segments},
              {"pearson", c.pearson},
              {"data", c.data}};
}

}  // namespace

Json TermHitsToJson(const std::vector<terms::TermHit>& hits) { return HitsJson(hits); }

Json ReviewToJson(const Review& r, double threshold) {
  Json w = Json::array();
  for (const auto& x : r.warnings) {
    w.push_back(Json{{"check", x.check}, {"severity", x.severity}, {"message", x.message}});
  }
  Json out{{"qa", w}, {"terms", HitsJson(r.terms.hits)}, {"qe", nullptr}};
  if (r.qe.has_value()) {
    Json features = Json::object();
    for (const auto& f : r.qe->features) features[f.name] = f.value;
    out["qe"] = Json{
        {"score", std::round(r.qe->score * 10) / 10},
        {"scorer", r.qe->scorer},
        {"provisional", r.qe->provisional},
        {"auto_approved", r.auto_approved},
        {"threshold", r.qe.has_value() ? r.threshold : threshold},
        {"calibration", r.calibration != nullptr ? CalibrationJson(*r.calibration) : Json(nullptr)},
        {"reasons", r.qe->reasons},
        {"features", features}};
  }
  return out;
}

absl::StatusOr<std::vector<Review>> Reviewer::Run(
    const ReviewOptions& q, const std::vector<ReviewSegment>& segments) const {
  std::vector<Review> out(segments.size());
  std::vector<qa::Counts> counts(segments.size());
  for (size_t i = 0; i < segments.size(); ++i) {
    const ReviewSegment& seg = segments[i];
    Review& r = out[i];
    if (!q.glossary.empty()) {
      if (glossaries_ == nullptr) return absl::FailedPreconditionError("glossaries are off");
      VERSO_ASSIGN_OR_RETURN(r.terms,
                             glossaries_->Check(q.tenant, q.glossary, q.source_lang, q.target_lang,
                                                seg.source, seg.translation));
    }
    r.warnings = qa::Check({seg.source, seg.translation, q.source_lang, q.target_lang,
                            q.glossary.empty() ? nullptr : &r.terms},
                           q.qa, &counts[i]);
    for (const auto& w : r.warnings) r.qa_error |= w.severity == "error";
  }
  // QE for machine translations, in one batch.
  std::vector<Input> inputs;
  std::vector<size_t> scored;
  for (size_t i = 0; i < segments.size(); ++i) {
    if (segments[i].origin == "tm" || qe_ == nullptr || !q.estimate) continue;
    Input in;
    in.source = segments[i].source;
    in.translation = segments[i].translation;
    in.source_lang = q.source_lang;
    in.target_lang = q.target_lang;
    in.unknown_words = segments[i].unknown_words;
    in.engine_logprob = segments[i].engine_logprob;
    in.terms = q.glossary.empty() ? nullptr : &out[i].terms;
    in.qa = &counts[i];
    inputs.push_back(std::move(in));
    scored.push_back(i);
  }
  // Best fuzzy TM match (agreement signal) and the round trip, where asked for and available.
  if (!q.tm_store.empty() && tm_ != nullptr) {
    for (Input& in : inputs) {
      tm::LookupOptions lo;
      lo.max_results = 1;
      lo.min_score = 75;
      auto m = tm_->Lookup(q.tenant, q.tm_store, in.source, lo);
      if (absl::IsNotFound(m.status())) {
        return absl::NotFoundError(StrCat("tm_store: ", m.status().message()));
      }
      if (m.ok() && !m->matches.empty()) {
        in.tm_score = m->matches[0].score;
        in.tm_target = m->matches[0].segment.target;
      }
    }
  }
  if (q.round_trip && router_ != nullptr && !inputs.empty()) {
    mt::TranslateRequest back;
    back.source_lang = q.target_lang;
    back.target_lang = q.source_lang;
    for (const auto& in : inputs) back.texts.push_back(in.translation);
    back.deadline = q.deadline;
    auto r = router_->Translate(back, {"apertium"});
    if (r.ok()) {
      for (size_t k = 0; k < inputs.size(); ++k) {
        inputs[k].back_translation = r->segments[k].translation.text;
      }
    }
  }
  if (inputs.empty()) return out;
  VERSO_ASSIGN_OR_RETURN(std::vector<Result> results, qe_->Score(inputs, q.deadline));
  const int level = degradation_ != nullptr ? degradation_->Current().number : 0;
  for (size_t k = 0; k < scored.size(); ++k) {
    Review& r = out[scored[k]];
    r.qe = std::move(results[k]);
    const ReviewSegment& seg = segments[scored[k]];
    r.calibration = FindCalibration(r.qe->scorer, seg.engine, q.source_lang, q.target_lang);
    // An asked-for threshold is the asker's call; by default only a calibrated engine and pair
    // approve, at no less than the calibrated threshold (101: never).
    r.threshold = q.threshold_given ? q.threshold
                  : r.calibration != nullptr && r.calibration->calibrated()
                      ? std::max(q.threshold, r.calibration->threshold)
                      : 101;
    r.auto_approved = !r.qe->provisional && level < 2 && !r.qa_error && r.qe->score >= r.threshold;
  }
  return out;
}

}  // namespace verso::qe
