// The job service (see jobs.h).
#include <algorithm>
#include <condition_variable>
#include <nlohmann/json.hpp>
#include <set>

#include "cache/redis.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/ids.h"
#include "common/json.h"
#include "common/log.h"
#include "common/names.h"
#include "common/status.h"
#include "common/strings.h"
#include "formats/formats.h"
#include "jobs/internal.h"
#include "jobs/jobs.h"
#include "mt/translate.h"
#include "qe/qe.h"
#include "resilience/resilience.h"
#include "text/text.h"
#include "tm/tm.h"

namespace verso::jobs {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxSegments = 500'000;
// How long the oldest post-edit's age is trusted (the expedite policy acts on hours; every status
// read and review used to ask the database).
constexpr absl::Duration kOldestAwaitingReread = absl::Seconds(1);
constexpr char kQaPayload[] = "verso.dev/qa";
constexpr TaskKind kStages[] = {TaskKind::kAnalyse, TaskKind::kPretranslate, TaskKind::kMt,
                                TaskKind::kReview};

// Another tenant's job is answered as a job that does not exist.
absl::Status NotFound(std::string_view id) {
  return absl::NotFoundError(StrCat("job ", id, " not found"));
}

// The stage a segment state has passed: 0 none, 1 analysed, 2 pretranslated, 3 translated,
// 4 reviewed.
int Progress(SegmentState state) {
  if (state == SegmentState::kNew) return 0;
  if (state == SegmentState::kAnalysed) return 1;
  if (state == SegmentState::kMtPending) return 2;
  if (state == SegmentState::kTranslated) return 3;
  return 4;
}

std::string FormatOf(std::string_view file_name) {
  std::string lower = AsciiLower(file_name);
  for (auto [ext, format] :
       std::initializer_list<std::pair<std::string_view, std::string_view>>{{".xlf", "xliff"},
                                                                            {".xliff", "xliff"},
                                                                            {".sdlxliff", "xliff"},
                                                                            {".po", "po"},
                                                                            {".pot", "po"},
                                                                            {".json", "json"},
                                                                            {".txt", "text"}}) {
    if (lower.ends_with(ext)) return std::string(format);
  }
  return "";
}

// The format name ReadDocument takes for a stored job's format.
std::string ReadFormat(std::string_view stored) {
  return stored.starts_with("xliff") ? "xliff" : std::string(stored);
}

absl::StatusOr<std::string> Lang(std::string_view field, std::string_view tag) {
  auto c = text::CanonicalLanguageTag(tag);
  if (!c.ok()) return absl::InvalidArgumentError(StrCat(field, ": ", c.status().message()));
  return *c;
}

}  // namespace

JobService::JobService(storage::Database* db, tm::TmService* tm, mt::TranslateService* translate,
                       qe::Reviewer* reviewer, resilience::DegradationController* degradation,
                       WebhookSender* webhooks, const Clock* clock, IdGenerator* ids,
                       ServiceOptions options)
    : db_(db),
      repo_(&db->jobs()),
      tm_(tm),
      translate_(translate),
      reviewer_(reviewer),
      degradation_(degradation),
      webhooks_(webhooks),
      clock_(clock),
      ids_(ids),
      options_(std::move(options)),
      rng_(options_.seed) {}

JobService::~JobService() { Stop(); }

// ---- Submission ---------------------------------------------------------------------------

absl::StatusOr<JobInfo> JobService::Submit(const SubmitRequest& r) {
  if (!r.idempotency_key.empty()) {
    auto earlier = repo_->FindJobByIdempotencyKey(r.tenant, r.idempotency_key);
    if (earlier.ok()) {
      VERSO_ASSIGN_OR_RETURN(JobInfo info, Info(std::move(*earlier)));
      info.replayed = true;
      return info;
    }
    if (!absl::IsNotFound(earlier.status())) return earlier.status();
  }
  VERSO_ASSIGN_OR_RETURN(JobRecord job, NewJob(r));
  std::vector<SubmittedUnit> units;
  VERSO_RETURN_IF_ERROR(ReadUnits(r, &job, &units));
  if (job.source_lang.empty()) return absl::InvalidArgumentError("source_lang: required");
  if (job.target_langs.empty()) return absl::InvalidArgumentError("target_langs: required");
  for (const std::string& t : job.target_langs) {
    if (t == job.source_lang) {
      return absl::InvalidArgumentError(StrCat("target_langs: ", t, " is the source language"));
    }
  }
  if (units.size() * job.target_langs.size() > kMaxSegments) {
    return absl::InvalidArgumentError(StrCat("the job would have ",
                                             units.size() * job.target_langs.size(),
                                             " segments; at most ", kMaxSegments));
  }
  VERSO_RETURN_IF_ERROR(CheckReferences(job, r.unsupported_to_human));
  const absl::Time now = clock_->Now();
  job.created_at = job.updated_at = now;
  // How the segments' client speaks: the download answers the same way.
  job.stats =
      r.segments.empty() || !r.plain_segments ? "{}" : DumpJson(Json{{"text_format", "plain"}});
  JobChange change;
  std::set<std::string> seen;
  std::vector<JobSegmentRecord> base;
  for (size_t i = 0; i < units.size(); ++i) {
    // What the TM accepts (valid UTF-8, no control characters but tab, CR and LF, bounded): a
    // source it would refuse can never be confirmed, and no database stores a NUL in text.
    VERSO_RETURN_IF_ERROR(tm::ValidateText(
        units[i].source, r.segments.empty() ? StrCat("unit \"", units[i].id, "\" source")
                                            : StrCat("segments[", i, "]")));
    JobSegmentRecord s;
    s.job_id = job.id;
    s.index = units[i].index;
    s.unit_id = units[i].id;
    s.source = units[i].source;
    const text::WordCount wc = text::CountWords(s.source, job.source_lang);
    s.words = wc.words;
    s.characters = wc.characters;
    s.repetition = !seen.insert(s.source).second;
    s.updated_at = now;
    base.push_back(std::move(s));
  }
  for (const std::string& target : job.target_langs) {
    for (JobSegmentRecord s : base) {
      s.target_lang = target;
      change.segments.push_back(std::move(s));
    }
    TaskRecord t;
    t.job_id = job.id;
    t.kind = TaskKind::kAnalyse;
    t.target_lang = target;
    t.run_after = now;
    t.created_at = now;
    change.enqueue.push_back(std::move(t));
  }
  change.jobs.push_back(job);
  absl::Status s = Apply(job.id, change);
  if (absl::IsAlreadyExists(s) && !r.idempotency_key.empty()) {
    // Another request with the same key won the race.
    VERSO_ASSIGN_OR_RETURN(JobRecord earlier,
                           repo_->FindJobByIdempotencyKey(r.tenant, r.idempotency_key));
    VERSO_ASSIGN_OR_RETURN(JobInfo info, Info(std::move(earlier)));
    info.replayed = true;
    return info;
  }
  VERSO_RETURN_IF_ERROR(s);
  wake_.SignalAll();
  job.document.clear();  // the caller's copy; storage keeps it
  return Info(std::move(job));
}

absl::StatusOr<JobRecord> JobService::NewJob(const SubmitRequest& r) {
  JobRecord job;
  job.id = ids_->Next("job");
  job.tenant = r.tenant;
  job.status = JobStatus::kQueued;
  job.idempotency_key = r.idempotency_key;
  job.tm_store = r.tm_store;
  job.glossary = r.glossary;
  job.engine_policy = r.engine_policy;
  job.qa_profile = r.qa_profile;
  job.webhook_url = r.webhook_url;
  job.file_name = r.file_name;
  if (!r.source_lang.empty()) {
    VERSO_ASSIGN_OR_RETURN(job.source_lang, Lang("source_lang", r.source_lang));
  }
  for (size_t i = 0; i < r.target_langs.size(); ++i) {
    VERSO_ASSIGN_OR_RETURN(std::string t, Lang(StrCat("target_langs[", i, "]"), r.target_langs[i]));
    if (std::find(job.target_langs.begin(), job.target_langs.end(), t) != job.target_langs.end()) {
      return absl::InvalidArgumentError(StrCat("target_langs[", i, "]: ", t, " is listed twice"));
    }
    job.target_langs.push_back(std::move(t));
  }
  job.revision = r.revision;
  if (r.qe_threshold.has_value()) {
    if (!(*r.qe_threshold >= 0 && *r.qe_threshold <= 101)) {  // NaN too
      return absl::InvalidArgumentError("qe_threshold: must be 0 to 101 (101: never auto-approve)");
    }
    job.qe_threshold = *r.qe_threshold;
  }
  VERSO_RETURN_IF_ERROR(CheckFileName("file_name", r.file_name));
  if (!r.webhook_url.empty()) {
    VERSO_RETURN_IF_ERROR(
        CheckHttpUrl("webhook_url", r.webhook_url, options_.webhook_addresses).status());
  }
  return job;
}

absl::Status JobService::ReadUnits(const SubmitRequest& r, JobRecord* job,
                                   std::vector<SubmittedUnit>* units) {
  if (!r.document.empty()) {
    if (!r.segments.empty()) {
      return absl::InvalidArgumentError("segments: give a document or segments, not both");
    }
    std::string format = r.format.empty() ? FormatOf(r.file_name) : r.format;
    if (format.empty()) {
      return absl::InvalidArgumentError(StrCat("format: cannot tell the format of \"", r.file_name,
                                               "\"; say xliff, po, json or text"));
    }
    VERSO_ASSIGN_OR_RETURN(
        formats::Document doc,
        formats::ReadDocument(r.document, format, r.file_name.empty() ? "document" : r.file_name,
                              job->source_lang));
    if (!doc.source_lang.empty()) {
      VERSO_ASSIGN_OR_RETURN(std::string declared,
                             Lang("the document's source language", doc.source_lang));
      if (job->source_lang.empty()) job->source_lang = declared;
      // "en" for a document in "en-US" is the same language (the TM's rule); the job keeps the
      // more precise tag. "en-GB" for "en-US" is not.
      if (!text::TagsMatch(declared, job->source_lang)) {
        return absl::InvalidArgumentError(
            StrCat("source_lang: ", job->source_lang, ", but the document declares ", declared,
                   " (", doc.source_lang, "): a different language or region"));
      }
      if (declared.size() > job->source_lang.size()) job->source_lang = declared;
    }
    if (!doc.target_lang.empty()) {
      VERSO_ASSIGN_OR_RETURN(std::string declared,
                             Lang("the document's target language", doc.target_lang));
      if (job->target_langs.empty()) job->target_langs.push_back(declared);
      if (job->target_langs.size() != 1 || !text::TagsMatch(job->target_langs[0], declared)) {
        return absl::InvalidArgumentError(
            StrCat("target_langs: the document declares its target language ", declared, " (",
                   doc.target_lang, "), so the job can only be for ", declared));
      }
      if (declared.size() > job->target_langs[0].size()) job->target_langs[0] = declared;
    }
    job->format = doc.format;
    job->document = r.document;
    for (size_t i = 0; i < doc.units.size(); ++i) {
      if (text::PlainText(doc.units[i].source).find_first_not_of(" \t\r\n") == std::string::npos) {
        continue;  // nothing to translate
      }
      units->push_back({doc.units[i].id, doc.units[i].source, static_cast<int64_t>(i)});
    }
  } else {
    if (r.segments.empty()) {
      return absl::InvalidArgumentError("segments: give a document or at least one segment");
    }
    job->format = "segments";
    for (size_t i = 0; i < r.segments.size(); ++i) {
      auto runs = text::ParseMarkup(r.segments[i]);
      if (!runs.ok()) {
        return absl::InvalidArgumentError(StrCat("segments[", i, "]: ", runs.status().message()));
      }
      units->push_back({StrCat(i), r.segments[i], static_cast<int64_t>(i)});
    }
  }
  return absl::OkStatus();
}

absl::Status JobService::CheckReferences(const JobRecord& job, bool unsupported_to_human) {
  // What the job refers to must exist.
  if (!job.tm_store.empty()) {
    VERSO_ASSIGN_OR_RETURN(tm::StoreInfo store, tm_->GetStore(job.tenant, job.tm_store));
    if (text::PrimaryLanguage(store.record.source_lang) != text::PrimaryLanguage(job.source_lang)) {
      return absl::InvalidArgumentError(
          StrCat("tm_store: ", job.tm_store, " is ", store.record.source_lang, "->",
                 store.record.target_lang, ", the job is from ", job.source_lang));
    }
  }
  if (!job.glossary.empty()) {
    auto g = db_->glossaries().GetGlossary(job.tenant, job.glossary);
    if (!g.ok()) return absl::NotFoundError(StrCat("glossary: ", g.status().message()));
  }
  if (!job.engine_policy.empty()) {
    auto p = db_->policies().GetPolicy(job.tenant, job.engine_policy);
    if (!p.ok()) return absl::NotFoundError(StrCat("engine_policy: ", p.status().message()));
  }
  if (!job.qa_profile.empty()) {
    auto p = db_->qa_profiles().GetQaProfile(job.tenant, job.qa_profile);
    if (!p.ok()) return absl::NotFoundError(StrCat("qa_profile: ", p.status().message()));
  }
  // Decided now, not after minutes of retries: a pair no engine of the chain translates.
  if (!unsupported_to_human) {
    for (const std::string& target : job.target_langs) {
      mt::TranslateInput in;
      in.tenant = job.tenant;
      in.source_lang = job.source_lang;
      in.target_lang = target;
      in.engine_policy = job.engine_policy;
      absl::Status pair = translate_->CheckPair(in);
      if (!pair.ok()) {
        return absl::Status(pair.code(), StrCat("target_langs: ", target, ": ", pair.message(),
                                                ". To have people translate it, submit with "
                                                "\"unsupported_pairs\": \"human\""));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<JobRecord> JobService::Owned(std::string_view tenant, std::string_view id,
                                            storage::Freshness f) {
  auto job = repo_->GetJob(id, f);
  if (!job.ok() || job->tenant != tenant) {
    if (job.ok() || absl::IsNotFound(job.status())) return NotFound(id);
    return job.status();
  }
  return job;
}

absl::Status JobService::CheckOwned(std::string_view tenant, std::string_view id) {
  return Owned(tenant, id).status();
}

absl::StatusOr<JobInfo> JobService::Get(std::string_view tenant, std::string_view id) {
  if (options_.status_cache == nullptr) {
    // Status may come from a read replica (storage's bound for jobs).
    VERSO_ASSIGN_OR_RETURN(JobRecord job, Owned(tenant, id, storage::Freshness::kRecent));
    return Info(std::move(job), storage::Freshness::kRecent);
  }
  std::optional<cache::VersionedCache::Read> cached = options_.status_cache->Get(id);
  if (cached.has_value() && cached->value.has_value()) {
    if (std::optional<JobInfo> info = DecodeStatus(*cached->value); info.has_value()) {
      if (info->job.tenant != tenant) return NotFound(id);
      AddMessages(&*info);
      return *std::move(info);
    }
  }
  // The primary's, not a replica's: the entry is stored with the change counter read above.
  VERSO_ASSIGN_OR_RETURN(JobRecord job, Owned(tenant, id, storage::Freshness::kLatest));
  VERSO_ASSIGN_OR_RETURN(JobInfo info, Info(std::move(job), storage::Freshness::kLatest));
  if (cached.has_value()) options_.status_cache->Put(id, cached->version, EncodeStatus(info));
  return info;
}

StatusCacheCounts JobService::StatusCacheStats() const {
  if (options_.status_cache == nullptr) return {};
  cache::VersionedCache::Stats st = options_.status_cache->stats();
  return {st.hits, st.misses, st.changes};
}

absl::StatusOr<std::vector<JobInfo>> JobService::List(std::string_view tenant, int limit,
                                                      absl::Time after_created,
                                                      std::string_view after_id) {
  VERSO_ASSIGN_OR_RETURN(std::vector<JobRecord> jobs,
                         repo_->ListJobs(tenant, limit, after_created, after_id));
  std::vector<JobInfo> out;
  for (JobRecord& j : jobs) {
    VERSO_ASSIGN_OR_RETURN(JobInfo info, Info(std::move(j), storage::Freshness::kRecent));
    out.push_back(std::move(info));
  }
  return out;
}

absl::StatusOr<JobInfo> JobService::Info(JobRecord job, storage::Freshness f) {
  JobInfo info;
  VERSO_ASSIGN_OR_RETURN(std::vector<storage::JobSegmentCount> groups,
                         repo_->CountJobSegments(job.id, f));
  VERSO_ASSIGN_OR_RETURN(std::vector<TaskRecord> tasks, repo_->JobTasks(job.id, f));
  int64_t passed[5] = {0, 0, 0, 0, 0};
  int64_t total = 0;
  for (const storage::JobSegmentCount& g : groups) {
    total += g.segments;
    for (Counts* c : {&info.counts, &info.by_target[g.target_lang]}) {
      c->segments += g.segments;
      c->words += g.words;
      if (g.origin == SegmentOrigin::kTm) c->tm += g.segments;
      if (g.origin == SegmentOrigin::kMt) c->mt += g.segments;
      if (!g.engine.empty()) c->engines[g.engine] += g.segments;
      if (g.state == SegmentState::kApproved) c->approved += g.segments;
      if (g.state == SegmentState::kAwaiting) c->awaiting += g.segments;
      if (g.state == SegmentState::kConfirmed) c->confirmed += g.segments;
      if (g.state == SegmentState::kReviewed) c->reviewed += g.segments;
    }
    const int p = Progress(g.state);
    for (int k = 1; k <= p; ++k) passed[k] += g.segments;
  }
  Json stats = Json::parse(job.stats.empty() ? "{}" : job.stats, nullptr, false);
  if (stats.is_discarded()) stats = Json::object();
  for (int k = 0; k < 4; ++k) {
    Stage st;
    st.name = std::string(EnumName(kStages[k]));
    st.total = total;
    st.done = passed[k + 1];
    // Pre-translation is done by the analysis task (a task of its own only for segments an
    // earlier version analysed): its state is that task's.
    TaskKind kind = kStages[k];
    if (kind == TaskKind::kPretranslate &&
        std::none_of(tasks.begin(), tasks.end(),
                     [](const TaskRecord& t) { return t.kind == TaskKind::kPretranslate; })) {
      kind = TaskKind::kAnalyse;
    }
    bool any = false, running = false, dead = false, all_done = true;
    for (const TaskRecord& t : tasks) {
      if (t.kind != kind) continue;
      any = true;
      running |= t.state == TaskState::kLeased;
      dead |= t.state == TaskState::kDead;
      all_done &= t.state == TaskState::kDone;
    }
    st.state = dead                                       ? "failed"
               : (any && all_done && st.done == st.total) ? "done"
               : running                                  ? "running"
                                                          : "pending";
    if (stats.contains("seconds") && stats["seconds"].contains(st.name)) {
      st.seconds = stats["seconds"][st.name].get<double>();
    }
    info.stages.push_back(std::move(st));
  }
  Stage pe;
  pe.name = "post_edit";
  pe.total = info.counts.awaiting + info.counts.confirmed + info.counts.reviewed;
  pe.done = info.counts.confirmed + info.counts.reviewed;
  pe.state = job.status == JobStatus::kPostEditing ? "running"
             : job.status == JobStatus::kCompleted ? "done"
                                                   : "pending";
  info.stages.push_back(pe);
  if (job.revision) {  // what post-editors confirmed, waiting for a reviewer
    Stage rev;
    rev.name = "revision";
    rev.total = pe.total;
    rev.done = info.counts.reviewed;
    rev.state = pe.state;
    info.stages.push_back(std::move(rev));
  }
  info.job = std::move(job);
  AddMessages(&info);
  return info;
}

void JobService::AddMessages(JobInfo* info) {
  if (degradation_ != nullptr) {
    resilience::LevelInfo level = degradation_->Current();
    if (!level.message.empty()) info->messages.push_back(level.message);
  }
  if (Expedited()) info->messages.push_back("Expedited processing enabled");
}

absl::Status JobService::Apply(std::string_view job_id, const JobChange& change) {
  absl::Status s = repo_->Apply(change);
  StatusChanged(job_id);  // on failure too: a lost connection may hide a commit
  return s;
}

void JobService::StatusChanged(std::string_view job_id) {
  if (options_.status_cache != nullptr) options_.status_cache->Changed(job_id);
}

absl::StatusOr<std::vector<Analysis>> JobService::GetAnalysis(std::string_view tenant,
                                                              std::string_view id) {
  VERSO_ASSIGN_OR_RETURN(JobRecord job, Owned(tenant, id));
  std::vector<Analysis> out;
  for (const std::string& target : job.target_langs) {
    VERSO_ASSIGN_OR_RETURN(std::vector<JobSegmentRecord> segs,
                           repo_->GetJobSegments(job.id, target));
    Analysis a;
    a.target_lang = target;
    for (std::string_view b :
         {"repetitions", "101", "100", "95-99", "85-94", "75-84", "50-74", "no-match"}) {
      a.bands.push_back({std::string(b)});
    }
    a.total.band = "total";
    for (const JobSegmentRecord& s : segs) {
      size_t band = 0;
      if (!s.repetition) {
        std::string_view name = tm::BandName(tm::BandOf(s.tm_score));
        for (size_t k = 1; k < a.bands.size(); ++k) {
          if (a.bands[k].band == name) band = k;
        }
      }
      for (AnalysisBand* b : {&a.bands[band], &a.total}) {
        ++b->segments;
        b->words += s.words;
        b->characters += s.characters;
      }
    }
    out.push_back(std::move(a));
  }
  return out;
}

absl::StatusOr<Translated> JobService::Download(std::string_view tenant, std::string_view id,
                                                std::string_view target_lang) {
  VERSO_ASSIGN_OR_RETURN(JobRecord job, Owned(tenant, id));
  VERSO_ASSIGN_OR_RETURN(std::string target, Lang("target", target_lang));
  if (std::find(job.target_langs.begin(), job.target_langs.end(), target) ==
      job.target_langs.end()) {
    return absl::NotFoundError(StrCat("target: job ", id, " has no target ", target));
  }
  VERSO_ASSIGN_OR_RETURN(std::vector<JobSegmentRecord> segs, repo_->GetJobSegments(job.id, target));
  Translated out;
  out.format = job.format;
  if (job.format == "segments") {
    const Json stats = Json::parse(job.stats.empty() ? "{}" : job.stats, nullptr, false);
    const bool plain = stats.is_object() && stats.value("text_format", "") == "plain";
    Json list = Json::array();
    for (const JobSegmentRecord& s : segs)
      list.push_back(!Closed(s.state) ? Json()
                     : plain          ? Json(text::PlainText(s.target))
                                      : Json(s.target));
    out.file_name = StrCat(job.id, ".", target, ".json");
    out.bytes = DumpJson(Json{{"segments", list}});
    return out;
  }
  VERSO_ASSIGN_OR_RETURN(std::string original, repo_->GetJobDocument(job.id));
  VERSO_ASSIGN_OR_RETURN(
      formats::Document doc,
      formats::ReadDocument(original, ReadFormat(job.format), job.file_name, job.source_lang));
  std::vector<std::optional<std::string>> translations(doc.units.size());
  for (const JobSegmentRecord& s : segs) {
    if (Closed(s.state) && s.index >= 0 && static_cast<size_t>(s.index) < translations.size()) {
      translations[static_cast<size_t>(s.index)] = s.target;
    }
  }
  VERSO_ASSIGN_OR_RETURN(out.bytes, formats::WriteDocument(doc, translations, target));
  const std::string name = job.file_name.empty() ? job.id : job.file_name;
  const size_t dot = name.rfind('.');
  out.file_name = dot == std::string::npos
                      ? StrCat(name, ".", target)
                      : StrCat(name.substr(0, dot), ".", target, name.substr(dot));
  return out;
}

absl::StatusOr<JobInfo> JobService::Cancel(std::string_view tenant, std::string_view id) {
  JobRecord job;
  // Held: a worker finishing a task at the same moment must not write its older copy back.
  VERSO_RETURN_IF_ERROR(repo_->Exclusively(id, [&]() -> absl::Status {
    VERSO_ASSIGN_OR_RETURN(job, Owned(tenant, id));
    if (Ended(job.status)) {
      return absl::FailedPreconditionError(StrCat("job ", id, " has already ",
                                                  job.status == JobStatus::kCompleted ? "completed"
                                                  : job.status == JobStatus::kFailed
                                                      ? "failed"
                                                      : "been cancelled"));
    }
    JobChange change;
    EndJob(&job, JobStatus::kCancelled, "", &change);
    return Apply(job.id, change);
  }));
  return Info(std::move(job));
}

absl::StatusOr<std::vector<TaskRecord>> JobService::Tasks(std::string_view tenant,
                                                          std::string_view id) {
  VERSO_RETURN_IF_ERROR(Owned(tenant, id).status());
  return repo_->JobTasks(id);
}

absl::StatusOr<std::vector<storage::WebhookDeliveryRecord>> JobService::Deliveries(
    std::string_view tenant, std::string_view id) {
  VERSO_RETURN_IF_ERROR(Owned(tenant, id).status());
  return repo_->Deliveries(id);
}

// ---- Post-editing -------------------------------------------------------------------------

absl::StatusOr<std::vector<JobSegmentRecord>> JobService::Segments(std::string_view tenant,
                                                                   std::string_view id,
                                                                   std::string_view target_lang,
                                                                   std::string_view state) {
  VERSO_RETURN_IF_ERROR(Owned(tenant, id).status());
  std::string target;
  if (!target_lang.empty()) {
    VERSO_ASSIGN_OR_RETURN(target, Lang("target", target_lang));
  }
  VERSO_ASSIGN_OR_RETURN(std::vector<JobSegmentRecord> segs, repo_->GetJobSegments(id, target));
  if (state.empty()) return segs;
  std::optional<SegmentState> wanted = storage::ParseEnum<SegmentState>(state);
  if (!wanted || state.empty()) {
    return absl::InvalidArgumentError(StrCat("state: \"", Abbreviate(state, 40),
                                             "\" is not one of ",
                                             storage::EnumNameList<SegmentState>()));
  }
  std::vector<JobSegmentRecord> out;
  for (auto& s : segs) {
    if (s.state == *wanted) out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<std::vector<JobSegmentRecord>> JobService::SegmentsPage(
    std::string_view tenant, std::string_view id, std::string_view target_lang,
    std::string_view state, std::string_view after_target, int64_t after_index, int limit) {
  VERSO_RETURN_IF_ERROR(Owned(tenant, id).status());
  std::string target;
  if (!target_lang.empty()) {
    VERSO_ASSIGN_OR_RETURN(target, Lang("target", target_lang));
  }
  if (!state.empty() && !storage::ParseEnum<SegmentState>(state)) {
    return absl::InvalidArgumentError(StrCat("state: \"", Abbreviate(state, 40),
                                             "\" is not one of ",
                                             storage::EnumNameList<SegmentState>()));
  }
  return repo_->GetJobSegmentsPage(id, target, state, after_target, after_index, limit);
}

absl::StatusOr<SegmentDetail> JobService::Segment(std::string_view tenant, std::string_view id,
                                                  std::string_view target_lang, int64_t index) {
  VERSO_ASSIGN_OR_RETURN(JobRecord job, Owned(tenant, id));
  VERSO_ASSIGN_OR_RETURN(std::string target, Lang("target", target_lang));
  SegmentDetail d;
  VERSO_ASSIGN_OR_RETURN(d.segment, repo_->GetJobSegment(id, target, index));
  const std::string store = TmStoreFor(job, target);
  if (!store.empty()) {
    tm::LookupOptions o;
    o.max_results = 5;
    auto m = tm_->Lookup(tenant, store, d.segment.source, o);
    if (m.ok()) {
      for (const tm::Match& x : m->matches) {
        d.matches.push_back({x.score, {x.segment.source, x.segment.target}});
      }
    }
  }
  return d;
}

absl::StatusOr<std::vector<JobSegmentRecord>> JobService::Awaiting(std::string_view tenant,
                                                                   int limit,
                                                                   const JobSegmentRecord* after) {
  return repo_->AwaitingSegments(tenant, limit, after);
}

namespace {

constexpr char kConflictPayload[] = "verso.dev/edit-conflict";

absl::Status CheckEditId(const Edit& edit) {
  if (edit.id.size() > 64 ||
      edit.id.find_first_not_of(
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") !=
          std::string::npos) {
    return absl::InvalidArgumentError("edit_id: up to 64 letters, digits, '_' or '-'");
  }
  return absl::OkStatus();
}

// Whether `edit` is still to be applied to `s`: false when it was (the same edit sent again);
// a conflict when `s` changed since the version the edit was made on.
absl::StatusOr<bool> StillToApply(const Edit& edit, const JobSegmentRecord& s) {
  if (!edit.id.empty() && edit.id == s.edit_id) return false;
  if (edit.base_version.has_value() && *edit.base_version != s.version) {
    absl::Status conflict = absl::AbortedError(StrCat(
        "segment ", s.target_lang, "/", s.index, " changed since version ", *edit.base_version,
        " (now version ", s.version, s.editor.empty() ? "" : StrCat(", by ", s.editor),
        "): nothing was written; keep one text or merge them and send again"));
    conflict.SetPayload(kConflictPayload, absl::Cord("1"));
    return conflict;
  }
  return true;
}

// Records an applied edit on the segment about to be written.
void Stamp(const Edit& edit, JobSegmentRecord* s) {
  ++s->version;
  s->edit_id = edit.id;
}

}  // namespace

absl::StatusOr<std::string> JobService::Check(std::string_view tenant, std::string_view id,
                                              std::string_view target_lang, int64_t index,
                                              const std::string& markup) {
  VERSO_ASSIGN_OR_RETURN(JobRecord job, Owned(tenant, id, storage::Freshness::kRecent));
  VERSO_ASSIGN_OR_RETURN(std::string target, Lang("target", target_lang));
  VERSO_RETURN_IF_ERROR(tm::ValidateText(markup, "target"));
  VERSO_ASSIGN_OR_RETURN(JobSegmentRecord s, repo_->GetJobSegment(job.id, target, index));
  VERSO_RETURN_IF_ERROR(CheckEdit(job, &s, markup).status());
  Json review = Json::parse(s.review, nullptr, false);
  return DumpJson(Json{{"qa", review.value("qa", Json::array())},
                       {"terms", review.value("terms", Json::array())}});
}

bool IsEditConflict(const absl::Status& status) {
  return status.GetPayload(kConflictPayload).has_value();
}

absl::StatusOr<JobSegmentRecord> JobService::SaveDraft(std::string_view tenant, std::string_view id,
                                                       std::string_view target_lang, int64_t index,
                                                       const std::string& markup,
                                                       std::string_view user, const Edit& edit) {
  VERSO_RETURN_IF_ERROR(CheckEditId(edit));
  VERSO_ASSIGN_OR_RETURN(JobRecord job, Owned(tenant, id));
  if (Ended(job.status)) {
    return absl::FailedPreconditionError(
        StrCat("job ", id, " has ended (", EnumName(job.status), ")"));
  }
  VERSO_ASSIGN_OR_RETURN(std::string target, Lang("target", target_lang));
  VERSO_RETURN_IF_ERROR(tm::ValidateText(markup, "target"));  // as the TM will take it
  return HoldingJob(id, [&] { return SaveDraftLocked(job, target, index, markup, user, edit); });
}

absl::StatusOr<JobSegmentRecord> JobService::HoldingJob(
    std::string_view id, absl::FunctionRef<absl::StatusOr<JobSegmentRecord>()> edit) {
  absl::MutexLock lock(&confirm_mu_);
  absl::StatusOr<JobSegmentRecord> out = absl::InternalError("the edit did not run");
  VERSO_RETURN_IF_ERROR(repo_->Exclusively(id, [&] {
    out = edit();
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<JobSegmentRecord> JobService::SaveDraftLocked(
    const JobRecord& job, const std::string& target, int64_t index, const std::string& markup,
    std::string_view user, const Edit& edit) {
  VERSO_ASSIGN_OR_RETURN(JobSegmentRecord s, repo_->GetJobSegment(job.id, target, index));
  VERSO_ASSIGN_OR_RETURN(bool pending, StillToApply(edit, s));
  if (!pending) return s;
  VERSO_RETURN_IF_ERROR(CheckEdit(job, &s, markup).status());
  s.draft = markup;
  s.editor = std::string(user);
  s.updated_at = clock_->Now();
  Stamp(edit, &s);
  JobChange change;
  change.segments.push_back(s);
  VERSO_RETURN_IF_ERROR(Apply(s.job_id, change));
  return s;
}

absl::StatusOr<JobSegmentRecord> JobService::Confirm(std::string_view tenant, std::string_view id,
                                                     std::string_view target_lang, int64_t index,
                                                     const std::optional<std::string>& markup,
                                                     std::string_view user, bool override_qa,
                                                     const Edit& edit) {
  VERSO_RETURN_IF_ERROR(CheckEditId(edit));
  VERSO_ASSIGN_OR_RETURN(std::string target, Lang("target", target_lang));
  return HoldingJob(id, [&] {
    return ConfirmLocked(tenant, id, target, index, markup, user, override_qa, edit);
  });
}

absl::StatusOr<JobSegmentRecord> JobService::ConfirmLocked(std::string_view tenant,
                                                           std::string_view id,
                                                           const std::string& target, int64_t index,
                                                           const std::optional<std::string>& markup,
                                                           std::string_view user, bool override_qa,
                                                           const Edit& edit) {
  VERSO_ASSIGN_OR_RETURN(JobRecord job, Owned(tenant, id));
  if (Ended(job.status) && job.status != JobStatus::kCompleted) {
    return absl::FailedPreconditionError(
        StrCat("job ", id, " has ended (", EnumName(job.status), ")"));
  }
  VERSO_ASSIGN_OR_RETURN(JobSegmentRecord s, repo_->GetJobSegment(id, target, index));
  VERSO_ASSIGN_OR_RETURN(bool pending, StillToApply(edit, s));
  if (!pending) return s;
  if (Progress(s.state) < 3) {
    return absl::FailedPreconditionError(StrCat(
        "segment ", index, " (", target, ") has no translation yet (", EnumName(s.state), ")"));
  }
  const std::string text = markup.has_value() ? *markup : !s.draft.empty() ? s.draft : s.target;
  const bool closing = Finished(job, SegmentState::kConfirmed) && !Finished(job, s.state);
  VERSO_RETURN_IF_ERROR(Settle(job, &s, text, user, override_qa));
  s.state = SegmentState::kConfirmed;
  Stamp(edit, &s);
  JobChange change;
  change.segments.push_back(s);
  if (job.status == JobStatus::kPostEditing) {
    VERSO_RETURN_IF_ERROR(MaybeComplete(&job, &change, closing ? 1 : 0));
  }
  VERSO_RETURN_IF_ERROR(Apply(s.job_id, change));
  return s;
}

absl::Status JobService::Settle(const JobRecord& job, JobSegmentRecord* seg,
                                const std::string& text, std::string_view user, bool override_qa) {
  JobSegmentRecord& s = *seg;
  const std::string& target = s.target_lang;
  const int64_t index = s.index;
  VERSO_RETURN_IF_ERROR(tm::ValidateText(text, "target"));
  if (text::PlainText(text).find_first_not_of(" \t\r\n") == std::string::npos) {
    return absl::InvalidArgumentError("target: empty");
  }
  VERSO_ASSIGN_OR_RETURN(qe::Review review, CheckEdit(job, &s, text));
  if (review.qa_error) {
    Json errors = Json::array();
    for (const qa::Warning& w : review.warnings) {
      if (w.severity == "error") {
        errors.push_back({{"check", w.check}, {"severity", w.severity}, {"message", w.message}});
      }
    }
    if (!override_qa) {
      absl::Status refused = absl::FailedPreconditionError(StrCat(
          "segment ", index, " (", target, "): QA found ", errors.size(),
          errors.size() == 1 ? " error" : " errors", " (", errors[0]["message"].get<std::string>(),
          "); fix the translation or confirm with \"override_qa\": true"));
      refused.SetPayload(kQaPayload, absl::Cord(DumpJson(errors)));
      return refused;
    }
    Json stored = Json::parse(s.review, nullptr, false);
    stored["qa_override"] = {
        {"by", std::string(user)}, {"at", Rfc3339(clock_->Now())}, {"findings", errors}};
    s.review = DumpJson(stored);
  }
  // Into the TM first: a confirm that fails after this is simply repeated (the TM merges the
  // same source and target into one segment).
  const std::string store = TmStoreFor(job, target);
  if (!store.empty()) {
    storage::SegmentRecord rec;
    rec.source = s.source;
    rec.target = text;
    rec.context.key = s.unit_id;
    VERSO_RETURN_IF_ERROR(tm_->AddSegments(job.tenant, store, {std::move(rec)}, user).status());
  }
  if (text != s.target) s.origin = SegmentOrigin::kHuman;
  s.target = text;
  s.draft.clear();
  s.editor = std::string(user);
  s.updated_at = clock_->Now();
  return absl::OkStatus();
}

absl::StatusOr<JobSegmentRecord> JobService::Approve(std::string_view tenant, std::string_view id,
                                                     std::string_view target_lang, int64_t index,
                                                     const std::optional<std::string>& markup,
                                                     std::string_view user, bool override_qa,
                                                     const Edit& edit) {
  VERSO_RETURN_IF_ERROR(CheckEditId(edit));
  VERSO_ASSIGN_OR_RETURN(std::string target, Lang("target", target_lang));
  return HoldingJob(id, [&] {
    return ReviseLocked(tenant, id, target, index, markup, "", user, override_qa, edit, true);
  });
}

absl::StatusOr<JobSegmentRecord> JobService::Reject(std::string_view tenant, std::string_view id,
                                                    std::string_view target_lang, int64_t index,
                                                    const std::string& comment,
                                                    std::string_view user, const Edit& edit) {
  VERSO_RETURN_IF_ERROR(CheckEditId(edit));
  VERSO_ASSIGN_OR_RETURN(std::string target, Lang("target", target_lang));
  size_t bad = 0;
  if (!text::IsValidUtf8(comment, &bad)) {
    return absl::InvalidArgumentError(StrCat("comment: not UTF-8 at byte ", bad));
  }
  if (comment.find_first_not_of(" \t\r\n") == std::string::npos) {
    return absl::InvalidArgumentError("comment: say what the post-editor should change");
  }
  if (comment.size() > 2000) return absl::InvalidArgumentError("comment: at most 2000 bytes");
  return HoldingJob(id, [&] {
    return ReviseLocked(tenant, id, target, index, std::nullopt, comment, user, false, edit, false);
  });
}

absl::StatusOr<JobSegmentRecord> JobService::ReviseLocked(
    std::string_view tenant, std::string_view id, const std::string& target, int64_t index,
    const std::optional<std::string>& markup, const std::string& comment, std::string_view user,
    bool override_qa, const Edit& edit, bool approve) {
  VERSO_ASSIGN_OR_RETURN(JobRecord job, Owned(tenant, id));
  // An approval changes no count a finished job's users rely on; a rejection would reopen it.
  if (Ended(job.status) && (job.status != JobStatus::kCompleted || !approve)) {
    return absl::FailedPreconditionError(
        StrCat("job ", id, " has ended (", EnumName(job.status), ")"));
  }
  VERSO_ASSIGN_OR_RETURN(JobSegmentRecord s, repo_->GetJobSegment(id, target, index));
  VERSO_ASSIGN_OR_RETURN(bool pending, StillToApply(edit, s));
  if (!pending) return s;
  if (!Closed(s.state)) {
    return absl::FailedPreconditionError(
        StrCat("segment ", index, " (", target, ") is ", EnumName(s.state),
               ": a reviewer approves or rejects a translation that was confirmed or approved"));
  }
  const bool closing = approve && !Finished(job, s.state);
  if (approve) {
    const std::string text = markup.has_value() ? *markup : !s.draft.empty() ? s.draft : s.target;
    VERSO_RETURN_IF_ERROR(Settle(job, &s, text, user, override_qa));
    s.state = SegmentState::kReviewed;
  } else {
    s.state = SegmentState::kAwaiting;
    s.editor = std::string(user);
    s.updated_at = clock_->Now();
  }
  Json stored = Json::parse(s.review.empty() ? "{}" : s.review, nullptr, false);
  if (!stored.is_object()) stored = Json::object();
  stored["revision"] = {{"verdict", approve ? "approved" : "rejected"},
                        {"by", std::string(user)},
                        {"at", Rfc3339(clock_->Now())},
                        {"comment", comment}};
  s.review = DumpJson(stored);
  Stamp(edit, &s);
  JobChange change;
  change.segments.push_back(s);
  if (!approve && job.status != JobStatus::kPostEditing) {  // running: back to people
    const JobStatus from = job.status;
    job.status = JobStatus::kPostEditing;
    job.updated_at = clock_->Now();
    change.jobs.push_back(job);
    AuditStatus(job, from, &change);
  }
  if (job.status == JobStatus::kPostEditing && closing) {
    VERSO_RETURN_IF_ERROR(MaybeComplete(&job, &change, 1));
  }
  VERSO_RETURN_IF_ERROR(Apply(s.job_id, change));
  return s;
}

absl::StatusOr<qe::Review> JobService::CheckEdit(const JobRecord& job, JobSegmentRecord* s,
                                                 const std::string& markup) {
  qe::ReviewOptions o = ReviewOptionsFor(job, s->target_lang);
  o.estimate = false;
  qe::ReviewSegment in;
  in.source = s->source;
  in.translation = markup;
  in.origin = "human";
  VERSO_ASSIGN_OR_RETURN(std::vector<qe::Review> reviews, reviewer_->Run(o, {in}));
  qe::Review review = std::move(reviews[0]);
  Json stored = Json::parse(s->review.empty() ? "{}" : s->review, nullptr, false);
  if (!stored.is_object()) stored = Json::object();
  Json fresh = qe::ReviewToJson(review, o.threshold);
  stored["qa"] = fresh["qa"];
  stored["terms"] = fresh["terms"];
  if (!stored.contains("qe")) stored["qe"] = nullptr;
  stored.erase("qa_override");
  s->review = DumpJson(stored);
  return review;
}

std::string QaFindings(const absl::Status& status) {
  auto p = status.GetPayload(kQaPayload);
  return p.has_value() ? std::string(*p) : std::string();
}

std::string JobService::WebhookSecret(std::string_view tenant) const {
  return HmacSha256Hex(options_.webhook_secret, StrCat("webhook:", tenant));
}

bool JobService::Expedited() {
  absl::MutexLock lock(&expedite_mu_);
  const absl::Time now = clock_->Now();
  if (now - oldest_read_at_ >= kOldestAwaitingReread) {
    auto oldest = repo_->AwaitingSegments("", 1);
    if (oldest.ok()) {
      oldest_awaiting_ = oldest->empty() ? absl::InfiniteFuture() : (*oldest)[0].updated_at;
      oldest_read_at_ = now;
    }
  }
  return now - oldest_awaiting_ > options_.expedite_after;
}

// ---- Workers ------------------------------------------------------------------------------

absl::StatusOr<bool> JobService::RunOnce(const std::string& worker) {
  if (degradation_ != nullptr && degradation_->Current().level == resilience::Level::kEmergency) {
    return false;  // maintenance: jobs wait
  }
  const absl::Time now = clock_->Now();
  auto task = repo_->LeaseTask(worker, now, now + options_.lease, options_.max_tasks_per_tenant);
  if (absl::IsNotFound(task.status())) return false;
  VERSO_RETURN_IF_ERROR(task.status());
  VERSO_RETURN_IF_ERROR(RunLeased(&*task, worker));
  return true;
}

absl::Status JobService::RunLeased(const TaskRecord* task, const std::string& worker) {
  StatusChanged(task->job_id);  // its stage is running
  if (task->crashes >= options_.max_crashes) {
    VERSO_RETURN_IF_ERROR(Fail(
        *task, worker,
        absl::InternalError(StrCat("the worker running this task stopped ", task->crashes,
                                   " times without finishing it (crashed or killed); it is not "
                                   "run again")),
        /*dead=*/true));
    return absl::OkStatus();
  }
  // The heartbeat: the lease is renewed every third of its length while the task runs, so a
  // slow engine's chunk can take longer than the lease; a worker that dies stops renewing.
  std::mutex beat_mu;
  std::condition_variable beat_cv;
  bool finished = false;
  std::thread heartbeat([&] {
    std::unique_lock<std::mutex> lock(beat_mu);
    while (!beat_cv.wait_for(lock, absl::ToChronoMilliseconds(options_.lease / 3),
                             [&] { return finished; })) {
      lock.unlock();
      absl::Status renewed = repo_->RenewLease(task->id, worker, clock_->Now() + options_.lease);
      lock.lock();
      if (!renewed.ok()) return;  // lost: the task's own commits will be refused
    }
  });
  absl::Status s;
  try {
    s = Run(*task, worker);
  } catch (const std::exception& e) {  // a bug or a library's surprise: this task fails alone
    s = absl::InternalError(StrCat("internal error: ", e.what()));
  }
  {
    std::lock_guard<std::mutex> lock(beat_mu);
    finished = true;
  }
  beat_cv.notify_all();
  heartbeat.join();
  // Aborted: the lease was lost (this worker stalled; another took the task over).
  if (s.ok() || absl::IsAborted(s)) return absl::OkStatus();
  // An error no retry can fix (a pair no engine translates, a provider's 4xx, a bad
  // configuration) ends the task at once.
  const bool dead = task->attempts >= options_.max_attempts || !resilience::IsRetryable(s);
  return Fail(*task, worker, s, dead);
}

absl::Status JobService::Fail(const TaskRecord& task, const std::string& worker,
                              const absl::Status& error, bool dead) {
  log::Warn("jobs.task_failed", {{"job", task.job_id},
                                 {"task", EnumName(task.kind)},
                                 {"target", task.target_lang},
                                 {"attempt", task.attempts},
                                 {"crashes", task.crashes},
                                 {"dead", dead},
                                 {"error", error.message()}});
  const absl::Duration backoff =
      std::min(absl::Seconds(5) * (1 << std::min(task.attempts, 10)), absl::Minutes(5));
  absl::Status failed =
      repo_->FailTask(task.id, worker, ToStd(error.message()), clock_->Now() + backoff, dead);
  StatusChanged(task.job_id);
  VERSO_RETURN_IF_ERROR(failed);
  if (!dead) return absl::OkStatus();
  return repo_->Exclusively(task.job_id, [&]() -> absl::Status {
    auto job = repo_->GetJob(task.job_id);
    if (!job.ok() || Ended(job->status)) return absl::OkStatus();
    JobChange change;
    EndJob(&*job, JobStatus::kFailed,
           StrCat(EnumName(task.kind), " (", task.target_lang, "): ", error.message()), &change);
    return Apply(task.job_id, change);
  });
}

void JobService::Start(int threads) {
  stop_ = false;
  // Woken at once when another process queues a task (PostgreSQL's NOTIFY); the poll then only
  // picks up retries that come due, so it can be slower.
  const bool notified = repo_->OnTasksQueued([this] { wake_.SignalAll(); });
  const absl::Duration poll = notified ? std::max(options_.poll, absl::Seconds(1)) : options_.poll;
  for (int i = 0; i < threads; ++i) {
    std::string name = StrCat("worker-", RandomToken(5), "-", i);
    threads_.emplace_back([this, name, poll] {
      while (!stop_) {
        absl::StatusOr<bool> ran = RunOnce(name);
        if (!ran.ok()) log::Warn("jobs.worker", {{"error", ran.status().message()}});
        if (ran.ok() && *ran) continue;
        absl::MutexLock lock(&wake_mu_);
        if (!stop_) wake_.WaitWithTimeout(&wake_mu_, poll);
      }
    });
  }
}

void JobService::Stop() {
  repo_->OnTasksQueued(nullptr);
  stop_ = true;
  wake_.SignalAll();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

absl::Duration JobService::Jitter(absl::Duration d, double fraction) {
  absl::MutexLock lock(&rng_mu_);
  std::uniform_real_distribution<double> u(-fraction, fraction);
  return d * (1.0 + u(rng_));
}

std::string JobService::TmStoreFor(const JobRecord& job, std::string_view target_lang) {
  if (job.tm_store.empty()) return "";
  auto store = tm_->GetStore(job.tenant, job.tm_store);
  if (!store.ok()) return "";
  return text::PrimaryLanguage(store->record.target_lang) == text::PrimaryLanguage(target_lang)
             ? job.tm_store
             : "";
}

void JobService::AddStageTime(JobRecord* job, std::string_view stage, absl::Duration d) {
  Json stats = Json::parse(job->stats.empty() ? "{}" : job->stats, nullptr, false);
  if (stats.is_discarded() || !stats.is_object()) stats = Json::object();
  Json& seconds = stats["seconds"];
  if (!seconds.is_object()) seconds = Json::object();
  seconds[std::string(stage)] = seconds.value(std::string(stage), 0.0) + absl::ToDoubleSeconds(d);
  job->stats = DumpJson(stats);
}

void JobService::AuditStatus(const JobRecord& job, JobStatus from, JobChange* change) const {
  if (job.status == from) return;
  storage::AuditRecord r;
  r.at = clock_->Now();
  r.tenant = job.tenant;
  r.actor = "system";
  r.action = "job.status";
  r.target = job.id;
  r.detail = StrCat(EnumName(from), " -> ", EnumName(job.status));
  if (!job.error.empty()) StrAppend(&r.detail, ": ", job.error.substr(0, 200));
  change->audit.push_back(std::move(r));
}

void JobService::EndJob(JobRecord* job, JobStatus status, std::string_view error,
                        JobChange* change) {
  const absl::Time now = clock_->Now();
  const JobStatus from = job->status;
  job->status = status;
  job->error = std::string(error);
  job->updated_at = now;
  job->finished_at = now;
  change->jobs.push_back(*job);
  AuditStatus(*job, from, change);
  if (!job->webhook_url.empty() && status != JobStatus::kCancelled) {
    const std::string event = status == JobStatus::kCompleted ? "job.completed" : "job.failed";
    Json body{{"event", event},
              {"job", {{"id", job->id}, {"status", EnumName(job->status)}, {"error", job->error}}},
              {"at", Rfc3339(now)}};
    TaskRecord t;
    t.job_id = job->id;
    t.kind = TaskKind::kWebhook;
    t.payload =
        DumpJson(Json{{"event", event}, {"url", job->webhook_url}, {"body", DumpJson(body)}});
    t.run_after = now;
    t.created_at = now;
    change->enqueue.push_back(std::move(t));
  }
}

absl::Status JobService::MaybeComplete(JobRecord* job, JobChange* change, int64_t closing) {
  VERSO_ASSIGN_OR_RETURN(std::vector<storage::JobSegmentCount> groups,
                         repo_->CountJobSegments(job->id));
  int64_t open = 0;
  for (const auto& g : groups) {
    if (!Finished(*job, g.state)) open += g.segments;
  }
  if (open == closing) EndJob(job, JobStatus::kCompleted, "", change);
  return absl::OkStatus();
}

}  // namespace verso::jobs
