// A job's status as the status cache keeps it (see ServiceOptions::status_cache): everything
// JobInfo holds but the live messages, as JSON with a format number.
#include <nlohmann/json.hpp>

#include "jobs/internal.h"
#include "jobs/jobs.h"

namespace verso::jobs {
namespace {

using Json = nlohmann::json;

// Raised whenever the layout changes: an entry of another layout is a miss (processes of two
// versions share the cache during a rolling upgrade).
constexpr int kStatusFormat = 1;

Json CountsJson(const Counts& c) {
  return Json{{"segments", c.segments},
              {"words", c.words},
              {"tm", c.tm},
              {"mt", c.mt},
              {"engines", c.engines},
              {"approved", c.approved},
              {"awaiting", c.awaiting},
              {"confirmed", c.confirmed},
              {"reviewed", c.reviewed}};
}

Counts CountsOf(const Json& j) {
  Counts c;
  c.segments = j.at("segments").get<int64_t>();
  c.words = j.at("words").get<int64_t>();
  c.tm = j.at("tm").get<int64_t>();
  c.mt = j.at("mt").get<int64_t>();
  c.engines = j.at("engines").get<std::map<std::string, int64_t>>();
  c.approved = j.at("approved").get<int64_t>();
  c.awaiting = j.at("awaiting").get<int64_t>();
  c.confirmed = j.at("confirmed").get<int64_t>();
  c.reviewed = j.at("reviewed").get<int64_t>();
  return c;
}

Json MicrosOf(absl::Time t) {
  return t == absl::InfinitePast() ? Json() : Json(absl::ToUnixMicros(t));
}

absl::Time TimeOf(const Json& j) {
  return j.is_null() ? absl::InfinitePast() : absl::FromUnixMicros(j.get<int64_t>());
}

}  // namespace

std::string EncodeStatus(const JobInfo& info) {
  const JobRecord& r = info.job;
  Json job{{"id", r.id},
           {"tenant", r.tenant},
           {"status", storage::EnumName(r.status)},
           {"source_lang", r.source_lang},
           {"target_langs", r.target_langs},
           {"tm_store", r.tm_store},
           {"glossary", r.glossary},
           {"engine_policy", r.engine_policy},
           {"qa_profile", r.qa_profile},
           {"qe_threshold", r.qe_threshold},
           {"webhook_url", r.webhook_url},
           {"idempotency_key", r.idempotency_key},
           {"format", r.format},
           {"file_name", r.file_name},
           {"error", r.error},
           {"stats", r.stats},
           {"revision", r.revision},
           {"created_at", MicrosOf(r.created_at)},
           {"updated_at", MicrosOf(r.updated_at)},
           {"finished_at", MicrosOf(r.finished_at)}};
  Json targets = Json::object();
  for (const auto& [lang, c] : info.by_target) targets[lang] = CountsJson(c);
  Json stages = Json::array();
  for (const Stage& s : info.stages) {
    stages.push_back(Json{{"name", s.name},
                          {"state", s.state},
                          {"done", s.done},
                          {"total", s.total},
                          {"seconds", s.seconds}});
  }
  return Json{{"format", kStatusFormat},
              {"job", std::move(job)},
              {"counts", CountsJson(info.counts)},
              {"targets", std::move(targets)},
              {"stages", std::move(stages)}}
      .dump();
}

std::optional<JobInfo> DecodeStatus(std::string_view text) {
  Json j = Json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  try {
    if (j.at("format").get<int>() != kStatusFormat) return std::nullopt;
    JobInfo info;
    const Json& job = j.at("job");
    JobRecord& r = info.job;
    r.id = job.at("id").get<std::string>();
    r.tenant = job.at("tenant").get<std::string>();
    std::optional<JobStatus> status =
        storage::ParseEnum<JobStatus>(job.at("status").get<std::string>());
    if (!status.has_value()) return std::nullopt;
    r.status = *status;
    r.source_lang = job.at("source_lang").get<std::string>();
    r.target_langs = job.at("target_langs").get<std::vector<std::string>>();
    r.tm_store = job.at("tm_store").get<std::string>();
    r.glossary = job.at("glossary").get<std::string>();
    r.engine_policy = job.at("engine_policy").get<std::string>();
    r.qa_profile = job.at("qa_profile").get<std::string>();
    r.qe_threshold = job.at("qe_threshold").get<double>();
    r.webhook_url = job.at("webhook_url").get<std::string>();
    r.idempotency_key = job.at("idempotency_key").get<std::string>();
    r.format = job.at("format").get<std::string>();
    r.file_name = job.at("file_name").get<std::string>();
    r.error = job.at("error").get<std::string>();
    r.stats = job.at("stats").get<std::string>();
    r.revision = job.at("revision").get<bool>();
    r.created_at = TimeOf(job.at("created_at"));
    r.updated_at = TimeOf(job.at("updated_at"));
    r.finished_at = TimeOf(job.at("finished_at"));
    info.counts = CountsOf(j.at("counts"));
    for (const auto& [lang, c] : j.at("targets").items()) info.by_target[lang] = CountsOf(c);
    for (const Json& s : j.at("stages")) {
      info.stages.push_back(Stage{.name = s.at("name").get<std::string>(),
                                  .state = s.at("state").get<std::string>(),
                                  .done = s.at("done").get<int64_t>(),
                                  .total = s.at("total").get<int64_t>(),
                                  .seconds = s.at("seconds").get<double>()});
    }
    return info;
  } catch (const Json::exception&) {
    return std::nullopt;  // not an entry this version wrote: a miss
  }
}

}  // namespace verso::jobs
