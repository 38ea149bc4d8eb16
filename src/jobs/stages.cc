// The pipeline's stages and the webhook outbox (see jobs.h): each runs one leased task.
#include <future>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "common/clock.h"
#include "common/crypto.h"
#include "common/json.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"
#include "jobs/internal.h"
#include "jobs/jobs.h"
#include "mt/translate.h"
#include "qe/qe.h"
#include "tm/tm.h"

namespace verso::jobs {
namespace {

using Json = nlohmann::json;

TaskRecord Next(const TaskRecord& task, TaskKind kind, absl::Time now) {
  TaskRecord t;
  t.job_id = task.job_id;
  t.kind = kind;
  t.target_lang = task.target_lang;
  t.run_after = now;
  t.created_at = now;
  return t;
}

// Whether a task of one of `kinds` for `target` is queued or running.
bool AnyOpen(const std::vector<TaskRecord>& tasks, std::string_view target,
             std::initializer_list<TaskKind> kinds, int64_t except = 0) {
  return std::any_of(tasks.begin(), tasks.end(), [&](const TaskRecord& t) {
    return t.id != except && t.target_lang == target &&
           (t.state == TaskState::kQueued || t.state == TaskState::kLeased) &&
           std::find(kinds.begin(), kinds.end(), t.kind) != kinds.end();
  });
}

// How many of `target`'s segments the counts have in `state`.
int64_t SegmentsIn(const std::vector<storage::JobSegmentCount>& groups, std::string_view target,
                   SegmentState state) {
  int64_t n = 0;
  for (const auto& g : groups) n += g.target_lang == target && g.state == state ? g.segments : 0;
  return n;
}

}  // namespace

absl::Status JobService::Run(const TaskRecord& task, const std::string& worker) {
  if (task.kind == TaskKind::kWebhook) return Deliver(task, worker);
  VERSO_ASSIGN_OR_RETURN(JobRecord job, repo_->GetJob(task.job_id));
  if (Ended(job.status)) {
    JobChange drop;  // the job ended (cancelled): nothing more to do
    drop.finish_task = task.id;
    drop.finish_owner = worker;
    return Apply(task.job_id, drop);
  }
  if (task.kind == TaskKind::kAnalyse) return Analyse(task, job, worker);
  if (task.kind == TaskKind::kPretranslate) return Pretranslate(task, job, worker);
  if (task.kind == TaskKind::kMt) return Translate(task, job, worker);
  if (task.kind == TaskKind::kReview) return Review(task, job, worker);
  return absl::InternalError(StrCat("unknown task kind ", EnumName(task.kind)));
}

// The task's segments in state `state` (those a stage has still to do).
absl::StatusOr<std::vector<JobSegmentRecord>> JobService::Pending(const TaskRecord& task,
                                                                  SegmentState state) {
  // Only those rows are read (the MT task reads again as the analysis goes on).
  constexpr int kPage = 10000;
  std::vector<JobSegmentRecord> todo;
  while (true) {
    const int64_t after = todo.empty() ? -1 : todo.back().index;
    VERSO_ASSIGN_OR_RETURN(std::vector<JobSegmentRecord> page,
                           repo_->GetJobSegmentsPage(task.job_id, task.target_lang, EnumName(state),
                                                     task.target_lang, after, kPage));
    const bool more = page.size() == static_cast<size_t>(kPage);
    todo.insert(todo.end(), std::make_move_iterator(page.begin()),
                std::make_move_iterator(page.end()));
    if (!more) return todo;
  }
}

// Runs `fn` on the task's segments in state `from`, chunk by chunk. Every chunk but the last
// is committed at once, after checking (by renewing it) that the worker still holds the lease;
// the last is left in `last` for the caller to commit with the end of the task. `committed`,
// when given, runs after each chunk committed.
absl::Status JobService::Chunks(
    const TaskRecord& task, const std::string& worker, SegmentState from,
    const std::function<absl::Status(std::vector<JobSegmentRecord>&)>& fn,
    std::vector<JobSegmentRecord>* last, const std::function<absl::Status()>& committed) {
  VERSO_ASSIGN_OR_RETURN(std::vector<JobSegmentRecord> todo, Pending(task, from));
  const size_t chunk = static_cast<size_t>(std::max(1, options_.chunk));
  for (size_t begin = 0; begin < todo.size(); begin += chunk) {
    const size_t end = std::min(todo.size(), begin + chunk);
    std::vector<JobSegmentRecord> part(std::make_move_iterator(todo.begin() + begin),
                                       std::make_move_iterator(todo.begin() + end));
    VERSO_RETURN_IF_ERROR(fn(part));
    const absl::Time now = clock_->Now();
    for (auto& s : part) s.updated_at = now;
    if (end == todo.size()) {
      *last = std::move(part);
      break;
    }
    JobChange change;
    change.segments = std::move(part);
    VERSO_RETURN_IF_ERROR(repo_->RenewLease(task.id, worker, now + options_.lease));
    VERSO_RETURN_IF_ERROR(Apply(task.job_id, change));
    if (committed) VERSO_RETURN_IF_ERROR(committed());
  }
  return absl::OkStatus();
}

// Commits the end of a task: its last segments, the job's time in the stage and status, the
// next stage (unless `next` is empty), the task done.
absl::Status JobService::Finish(const TaskRecord& task, const std::string& worker, TaskKind stage,
                                absl::Time started, std::vector<JobSegmentRecord> last,
                                std::optional<TaskKind> next, bool review_done,
                                absl::Duration review_time) {
  absl::MutexLock lock(&job_mu_);
  return repo_->Exclusively(task.job_id, [&] {
    return FinishLocked(task, worker, stage, started, std::move(last), next, review_done,
                        review_time);
  });
}

absl::Status JobService::FinishLocked(const TaskRecord& task, const std::string& worker,
                                      TaskKind stage, absl::Time started,
                                      std::vector<JobSegmentRecord> last,
                                      std::optional<TaskKind> next, bool review_done,
                                      absl::Duration review_time) {
  VERSO_ASSIGN_OR_RETURN(JobRecord job, repo_->GetJob(task.job_id));
  const absl::Time now = clock_->Now();
  JobChange change;
  change.segments = std::move(last);
  change.finish_task = task.id;
  change.finish_owner = worker;
  AddStageTime(&job, EnumName(stage), clock_->MonotonicNow() - started);
  if (review_time > absl::ZeroDuration()) AddStageTime(&job, "review", review_time);
  job.updated_at = now;
  const JobStatus from = job.status;
  if (job.status == JobStatus::kQueued) job.status = JobStatus::kRunning;
  VERSO_ASSIGN_OR_RETURN(next, NextLocked(task, stage, next, change.segments.size()));
  if (next) change.enqueue.push_back(Next(task, *next, now));
  if (review_done) {
    // The last segments were "translated" (open) in storage; those approved now close.
    int64_t closing = 0;
    bool awaiting = false;
    for (const auto& s : change.segments) {
      closing += Finished(job, s.state) ? 1 : 0;
      awaiting |= s.state == SegmentState::kAwaiting;
    }
    VERSO_ASSIGN_OR_RETURN(std::vector<storage::JobSegmentCount> groups,
                           repo_->CountJobSegments(task.job_id));
    int64_t open = 0;
    for (const auto& g : groups) {
      if (!Finished(job, g.state)) open += g.segments;
      awaiting |= g.target_lang == task.target_lang && g.state == SegmentState::kAwaiting;
    }
    if (awaiting) job.status = JobStatus::kPostEditing;
    if (open == closing) {
      AuditStatus(job, from, &change);  // queued -> running, if this stage was the first
      EndJob(&job, JobStatus::kCompleted, "", &change);
      return Apply(task.job_id, change);
    }
  }
  change.jobs.push_back(job);
  AuditStatus(job, from, &change);
  return Apply(task.job_id, change);
}

// The analysis and the MT stage overlap (see Translate): which task follows theirs is decided
// while the job is held, so that an analysis and an MT task ending at once agree on it. The
// analysis hands over to MT unless an MT task is queued or running (it follows the analysis to
// its end). The MT task, whose end commits the `translating` segments it translated last, hands
// over to the review when the analysis has ended and nothing is left to translate; to another
// MT task when something is (the analysis ended after its last read); and to nobody while the
// analysis runs on: the analysis queues MT again when it ends.
absl::StatusOr<std::optional<TaskKind>> JobService::NextLocked(const TaskRecord& task,
                                                               TaskKind stage,
                                                               std::optional<TaskKind> next,
                                                               size_t translating) {
  if (stage != TaskKind::kMt && next != TaskKind::kMt) return next;
  VERSO_ASSIGN_OR_RETURN(std::vector<TaskRecord> tasks, repo_->JobTasks(task.job_id));
  if (stage != TaskKind::kMt) {
    if (AnyOpen(tasks, task.target_lang, {TaskKind::kMt})) return std::nullopt;
    return TaskKind::kMt;
  }
  if (AnyOpen(tasks, task.target_lang, {TaskKind::kAnalyse, TaskKind::kPretranslate})) {
    return std::nullopt;
  }
  VERSO_ASSIGN_OR_RETURN(std::vector<storage::JobSegmentCount> groups,
                         repo_->CountJobSegments(task.job_id));
  const int64_t pending = SegmentsIn(groups, task.target_lang, SegmentState::kMtPending);
  // The segments this task translated last are still pending in storage until its end commits.
  if (pending <= static_cast<int64_t>(translating)) return TaskKind::kReview;
  if (AnyOpen(tasks, task.target_lang, {TaskKind::kMt}, task.id)) return std::nullopt;
  return TaskKind::kMt;
}

// Queues the MT task leased to `owner` (who runs it beside the analysis), unless an MT task of
// the target is queued or running: that one follows the analysis instead.
absl::StatusOr<std::optional<TaskRecord>> JobService::QueueMt(const TaskRecord& task,
                                                              const std::string& owner) {
  absl::MutexLock lock(&job_mu_);
  std::optional<TaskRecord> queued;
  VERSO_RETURN_IF_ERROR(repo_->Exclusively(task.job_id, [&]() -> absl::Status {
    VERSO_ASSIGN_OR_RETURN(std::vector<TaskRecord> tasks, repo_->JobTasks(task.job_id));
    if (AnyOpen(tasks, task.target_lang, {TaskKind::kMt})) return absl::OkStatus();
    JobChange change;
    TaskRecord mt = Next(task, TaskKind::kMt, clock_->Now());
    mt.lease_owner = owner;
    mt.lease_until = clock_->Now() + options_.lease;
    change.enqueue.push_back(mt);
    VERSO_RETURN_IF_ERROR(Apply(task.job_id, change));
    VERSO_ASSIGN_OR_RETURN(tasks, repo_->JobTasks(task.job_id));
    for (TaskRecord& t : tasks) {
      if (t.kind == TaskKind::kMt && t.state == TaskState::kLeased && t.lease_owner == owner) {
        queued = std::move(t);
      }
    }
    return absl::OkStatus();
  }));
  return queued;
}

// Whether the analysis (or pre-translation) of the task's target is queued or running.
absl::StatusOr<bool> JobService::Analysing(const TaskRecord& task) {
  VERSO_ASSIGN_OR_RETURN(std::vector<TaskRecord> tasks, repo_->JobTasks(task.job_id));
  return AnyOpen(tasks, task.target_lang, {TaskKind::kAnalyse, TaskKind::kPretranslate});
}

absl::Status JobService::LookupChunk(const std::string& tenant, const std::string& store,
                                     const std::vector<JobSegmentRecord>& part,
                                     std::vector<std::optional<tm::LookupResult>>* found) {
  tm::LookupOptions o;
  o.max_results = 1;
  o.min_score = 50;
  std::vector<tm::TmService::BatchQuery> queries;
  for (const JobSegmentRecord& s : part) queries.push_back({s.source, {}});
  // One request to a TM node for the whole chunk when a node holds the store.
  absl::StatusOr<std::vector<tm::LookupResult>> many = tm_->LookupMany(tenant, store, queries, o);
  if (many.ok()) {
    for (size_t i = 0; i < part.size(); ++i) (*found)[i] = std::move((*many)[i]);
    return absl::OkStatus();
  }
  if (!absl::IsInvalidArgument(many.status())) return many.status();
  // A segment the TM cannot look up has no match; it does not fail the others: one by one.
  for (size_t i = 0; i < part.size(); ++i) {
    absl::StatusOr<tm::LookupResult> m = tm_->Lookup(tenant, store, part[i].source, o);
    if (!m.ok() && !absl::IsInvalidArgument(m.status())) return m.status();
    if (m.ok()) (*found)[i] = std::move(*m);
  }
  return absl::OkStatus();
}

absl::Status JobService::Analyse(const TaskRecord& task, const JobRecord& job,
                                 const std::string& worker) {
  const absl::Time started = clock_->MonotonicNow();
  const std::string store = TmStoreFor(job, task.target_lang);
  const qe::ReviewOptions review = ReviewOptionsFor(job, task.target_lang);
  std::vector<JobSegmentRecord> last;
  // The MT task starts as soon as a committed chunk has something for it, run by this worker on
  // a second thread (a task it holds, taking no other worker), and follows the analysis from
  // there (see Translate): the engine does not wait for the whole analysis. It is joined after
  // the analysis ended (or failed), which it waits for.
  bool for_mt = false, mt_queued = false;
  const std::string follower_name = StrCat(worker, "/mt");
  std::jthread follower;  // joined when the analysis returns
  VERSO_RETURN_IF_ERROR(Chunks(
      task, worker, SegmentState::kNew,
      [&](std::vector<JobSegmentRecord>& part) -> absl::Status {
        std::vector<std::optional<tm::LookupResult>> found(part.size());
        if (!store.empty()) VERSO_RETURN_IF_ERROR(LookupChunk(job.tenant, store, part, &found));
        for (size_t i = 0; i < part.size(); ++i) {
          JobSegmentRecord& s = part[i];
          if (found[i].has_value() && !found[i]->matches.empty()) {
            const tm::Match& m = found[i]->matches[0];
            s.tm_score = m.score;
            s.tm_target = m.segment.target;
            // Pre-translation takes exact matches: a use of the TM's segment.
            if (s.tm_score >= 100) tm_->RecordUse(store, m.segment.id);
          }
          Pretranslate(&s);  // the same pass: one read and one write of each segment
          for_mt |= s.state == SegmentState::kMtPending;
        }
        return ReviewTmMatches(review, part);
      },
      &last,
      [&]() -> absl::Status {
        if (!for_mt || mt_queued) return absl::OkStatus();
        mt_queued = true;
        VERSO_ASSIGN_OR_RETURN(std::optional<TaskRecord> mt, QueueMt(task, follower_name));
        if (!mt) return absl::OkStatus();
        follower = std::jthread([this, mt = *mt, follower_name] {
          absl::Status s = RunLeased(&mt, follower_name);
          if (!s.ok()) log::Warn("jobs.worker", {{"error", s.message()}});
        });
        return absl::OkStatus();
      }));
  // Segments an earlier version analysed without pre-translating (its task interrupted) still
  // go through the pretranslate stage; otherwise it is done.
  VERSO_ASSIGN_OR_RETURN(std::vector<storage::JobSegmentCount> groups,
                         repo_->CountJobSegments(task.job_id));
  const bool analysed_only = SegmentsIn(groups, task.target_lang, SegmentState::kAnalysed) > 0;
  return Finish(task, worker, TaskKind::kAnalyse, started, std::move(last),
                analysed_only ? TaskKind::kPretranslate : TaskKind::kMt, false);
}

// The TM's translations of `part` reviewed (QA, terms) where they were taken, so that they are
// written once, reviewed, instead of again by the review stage: everything a TM match's review
// depends on is known here (a match is approved unless QA finds an error; no QE threshold
// applies to it).
absl::Status JobService::ReviewTmMatches(const qe::ReviewOptions& options,
                                         std::vector<JobSegmentRecord>& part) {
  std::vector<JobSegmentRecord> matches;
  std::vector<size_t> at;
  for (size_t i = 0; i < part.size(); ++i) {
    if (part[i].state != SegmentState::kTranslated) continue;
    matches.push_back(std::move(part[i]));
    at.push_back(i);
  }
  if (matches.empty()) return absl::OkStatus();
  absl::Status s = ReviewChunk(options, matches);
  for (size_t k = 0; k < at.size(); ++k) part[at[k]] = std::move(matches[k]);
  return s;
}

void JobService::Pretranslate(JobSegmentRecord* s) {
  if (s->tm_score >= 100 && !s->tm_target.empty()) {
    s->target = s->tm_target;
    s->origin = SegmentOrigin::kTm;
    s->state = SegmentState::kTranslated;
  } else {
    s->state = SegmentState::kMtPending;
  }
}

absl::Status JobService::Pretranslate(const TaskRecord& task, const JobRecord& /*job*/,
                                      const std::string& worker) {
  const absl::Time started = clock_->MonotonicNow();
  std::vector<JobSegmentRecord> last;
  VERSO_RETURN_IF_ERROR(Chunks(
      task, worker, SegmentState::kAnalysed,
      [&](std::vector<JobSegmentRecord>& part) -> absl::Status {
        for (auto& s : part) Pretranslate(&s);
        return absl::OkStatus();
      },
      &last));
  return Finish(task, worker, TaskKind::kPretranslate, started, std::move(last), TaskKind::kMt,
                false);
}

qe::ReviewOptions JobService::ReviewOptionsFor(const JobRecord& job, std::string_view target) {
  qe::ReviewOptions o;
  o.tenant = job.tenant;
  o.source_lang = job.source_lang;
  o.target_lang = std::string(target);
  o.glossary = job.glossary;
  o.tm_store = TmStoreFor(job, target);
  if (!job.qa_profile.empty()) {
    auto p = db_->qa_profiles().GetQaProfile(job.tenant, job.qa_profile);
    if (p.ok()) {
      o.qa.disabled.insert(p->disabled_checks.begin(), p->disabled_checks.end());
      o.qa.max_length = p->max_length;
    }
  }
  o.threshold_given = job.qe_threshold >= 0;
  o.threshold = job.qe_threshold >= 0 ? job.qe_threshold : options_.default_threshold;
  if (Expedited()) o.threshold = std::max(0.0, o.threshold - options_.expedite_drop);
  return o;
}

absl::Status JobService::ReviewChunk(const qe::ReviewOptions& o,
                                     std::vector<JobSegmentRecord>& part) {
  std::vector<qe::ReviewSegment> in;
  std::vector<std::string> mt_errors(part.size());
  for (size_t i = 0; i < part.size(); ++i) {
    const JobSegmentRecord& s = part[i];
    qe::ReviewSegment r;
    r.source = s.source;
    r.translation = s.target;
    r.origin = std::string(EnumName(s.origin));
    r.engine = s.engine;
    Json stash = Json::parse(s.review.empty() ? "{}" : s.review, nullptr, false);
    if (stash.is_object() && stash.contains("unknown_words") && stash["unknown_words"].is_array()) {
      for (const auto& w : stash["unknown_words"]) {
        if (w.is_string()) r.unknown_words.push_back(w.get<std::string>());
      }
    }
    if (stash.is_object() && stash.contains("mt_error") && stash["mt_error"].is_string()) {
      mt_errors[i] = stash["mt_error"].get<std::string>();
    }
    in.push_back(std::move(r));
  }
  VERSO_ASSIGN_OR_RETURN(std::vector<qe::Review> reviews, reviewer_->Run(o, in));
  for (size_t i = 0; i < part.size(); ++i) {
    const qe::Review& r = reviews[i];
    Json review = qe::ReviewToJson(r, o.threshold);
    // Why the machine left it untranslated, for the post-editor.
    if (!mt_errors[i].empty()) review["mt_error"] = mt_errors[i];
    part[i].review = DumpJson(review);
    part[i].qe_score = r.qe.has_value() ? r.qe->score : -1;
    // TM matches are approved unless a QA check found an error; machine translations when QE
    // trusts them.
    const bool approved = part[i].origin == SegmentOrigin::kTm ? !r.qa_error : r.auto_approved;
    part[i].state = approved ? SegmentState::kApproved : SegmentState::kAwaiting;
  }
  return absl::OkStatus();
}

struct JobService::MtOutcome {
  mt::SegmentResult result;
  std::string error;  // no engine could take the segment: why
};

// A chunk's translations. When the chunk is refused as input (InvalidArgument: a segment no
// engine can take), each segment is tried alone, so that one bad segment fails alone: it gets
// no translation and goes to post-editing with the reason. Other errors fail the chunk (and are
// retried with the task).
absl::StatusOr<std::vector<JobService::MtOutcome>> JobService::TranslateEach(
    const mt::TranslateInput& in) {
  std::vector<MtOutcome> out(in.texts.size());
  // A pair the chain does not translate (the submission asked for people then, or the policy
  // changed since): every segment goes to them, saying why.
  if (absl::Status pair = translate_->CheckPair(in); absl::IsInvalidArgument(pair)) {
    for (MtOutcome& x : out) x.error = std::string(pair.message());
    return out;
  }
  absl::StatusOr<mt::TranslateResult> all = translate_->Translate(in);
  if (all.ok()) {
    for (size_t i = 0; i < out.size(); ++i) out[i].result = std::move(all->segments[i]);
    return out;
  }
  if (!absl::IsInvalidArgument(all.status())) return all.status();
  size_t failed = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    mt::TranslateInput one = in;
    one.texts = {in.texts[i]};
    absl::StatusOr<mt::TranslateResult> r = translate_->Translate(one);
    if (r.ok()) {
      out[i].result = std::move(r->segments[0]);
    } else if (absl::IsInvalidArgument(r.status())) {
      out[i].error = std::string(r.status().message());
      ++failed;
    } else {
      return r.status();
    }
  }
  // Not one segment could be taken: the request itself is wrong (a pair no engine of the
  // chain translates), not a segment.
  if (failed == out.size()) return all.status();
  return out;
}

// Machine translation. The task starts while the analysis still runs (it is queued on the
// analysis's first committed chunk) and follows it: it translates what is pending, reads again,
// and waits up to `follow_wait` for the analysis's next chunk; once the analysis has ended (seen
// before a read, so that the read holds everything it wrote) the last segments are translated
// and the review follows. A task that waited in vain ends without one: the analysis queues MT
// again when it ends (NextLocked). The time spent waiting is not the stage's.
absl::Status JobService::Translate(const TaskRecord& task, const JobRecord& job,
                                   const std::string& worker) {
  const absl::Time started = clock_->MonotonicNow();
  const qe::ReviewOptions review = ReviewOptionsFor(job, task.target_lang);
  absl::Duration review_time, waited;
  std::vector<JobSegmentRecord> last;
  while (true) {
    VERSO_ASSIGN_OR_RETURN(const bool analysing, Analysing(task));
    VERSO_ASSIGN_OR_RETURN(std::vector<JobSegmentRecord> todo,
                           Pending(task, SegmentState::kMtPending));
    const bool none = todo.empty();
    if (!none) {
      VERSO_RETURN_IF_ERROR(TranslateChunks(task, job, worker, review, std::move(todo),
                                            /*keep_last=*/!analysing, &last, &review_time));
    }
    if (!analysing) break;
    if (none) {
      VERSO_ASSIGN_OR_RETURN(const bool more, AwaitAnalysis(task, &waited));
      if (!more) break;
    }
  }
  return Finish(task, worker, TaskKind::kMt, started + waited, std::move(last), TaskKind::kReview,
                false, review_time);
}

// Waits (up to `follow_wait` in all, `waited` so far) until the analysis of the task's target
// has committed segments for MT or has ended: false when it waited in vain.
absl::StatusOr<bool> JobService::AwaitAnalysis(const TaskRecord& task, absl::Duration* waited) {
  while (*waited < options_.follow_wait) {
    absl::SleepFor(options_.follow_poll);
    *waited += options_.follow_poll;
    VERSO_ASSIGN_OR_RETURN(const bool analysing, Analysing(task));
    if (!analysing) return true;
    VERSO_ASSIGN_OR_RETURN(std::vector<storage::JobSegmentCount> groups,
                           repo_->CountJobSegments(task.job_id));
    if (SegmentsIn(groups, task.target_lang, SegmentState::kMtPending) > 0) return true;
  }
  return false;
}

// `todo` translated chunk by chunk; each translated chunk is reviewed (QA, terms, QE) on a
// second thread while the engine translates the next, and committed reviewed, except the last
// when `keep_last` (left in `last` for Finish to commit with the end of the task).
absl::Status JobService::TranslateChunks(const TaskRecord& task, const JobRecord& job,
                                         const std::string& worker, const qe::ReviewOptions& review,
                                         std::vector<JobSegmentRecord> todo, bool keep_last,
                                         std::vector<JobSegmentRecord>* last,
                                         absl::Duration* review_time) {
  std::mutex time_mu;
  // The chunk translated last, reviewed (and, unless it is kept, committed) on a second thread
  // while the engine translates the next: the engine never waits for a review or a commit.
  std::vector<JobSegmentRecord> reviewing;
  std::future<absl::Status> reviewed;
  auto settle = [&]() -> absl::Status {
    return reviewed.valid() ? reviewed.get() : absl::OkStatus();
  };
  const size_t chunk = static_cast<size_t>(std::max(1, options_.chunk));
  for (size_t begin = 0; begin < todo.size(); begin += chunk) {
    const size_t end = std::min(todo.size(), begin + chunk);
    std::vector<JobSegmentRecord> part(std::make_move_iterator(todo.begin() + begin),
                                       std::make_move_iterator(todo.begin() + end));
    mt::TranslateInput in;
    in.tenant = job.tenant;
    in.source_lang = job.source_lang;
    in.target_lang = task.target_lang;
    in.engine_policy = job.engine_policy;
    // No overall deadline: nobody waits on a job's request, and the router bounds every
    // attempt (RouterOptions::*_attempt_timeout) and the retries.
    in.deadline = absl::InfiniteFuture();
    for (const auto& s : part) in.texts.push_back(s.source);
    // A worker that lost its lease (it stalled; another took the task over) stops here.
    VERSO_RETURN_IF_ERROR(repo_->RenewLease(task.id, worker, clock_->Now() + options_.lease));
    absl::StatusOr<std::vector<MtOutcome>> r = TranslateEach(in);
    VERSO_RETURN_IF_ERROR(settle());  // the previous chunk, reviewed and committed meanwhile
    VERSO_RETURN_IF_ERROR(r.status());
    for (size_t i = 0; i < part.size(); ++i) {
      MtOutcome& x = (*r)[i];
      part[i].state = SegmentState::kTranslated;
      if (!x.error.empty()) {  // left for the post-editor, with the reason
        part[i].review = DumpJson(Json{{"mt_error", x.error}});
        continue;
      }
      part[i].target = std::move(x.result.text);
      part[i].origin = SegmentOrigin::kMt;
      part[i].engine = x.result.engine;
      part[i].review = DumpJson(Json{{"unknown_words", x.result.unknown_words}});
    }
    reviewing = std::move(part);
    const bool commit = end < todo.size() || !keep_last;
    reviewed = std::async(std::launch::async, [&, commit] {
      const absl::Time t = clock_->MonotonicNow();
      absl::Status s = ReviewChunk(review, reviewing);
      {
        std::lock_guard<std::mutex> lock(time_mu);
        *review_time += clock_->MonotonicNow() - t;
      }
      if (!s.ok() || !commit) return s;
      const absl::Time now = clock_->Now();
      for (auto& seg : reviewing) seg.updated_at = now;
      JobChange change;
      change.segments = std::move(reviewing);
      reviewing.clear();
      return Apply(task.job_id, change);
    });
  }
  VERSO_RETURN_IF_ERROR(settle());
  if (!keep_last) return absl::OkStatus();
  const absl::Time now = clock_->Now();
  for (auto& seg : reviewing) seg.updated_at = now;
  *last = std::move(reviewing);
  return absl::OkStatus();
}

absl::Status JobService::Review(const TaskRecord& task, const JobRecord& job,
                                const std::string& worker) {
  const absl::Time started = clock_->MonotonicNow();
  const qe::ReviewOptions o = ReviewOptionsFor(job, task.target_lang);
  std::vector<JobSegmentRecord> last;
  VERSO_RETURN_IF_ERROR(Chunks(
      task, worker, SegmentState::kTranslated,
      [&](std::vector<JobSegmentRecord>& part) { return ReviewChunk(o, part); }, &last));
  return Finish(task, worker, TaskKind::kReview, started, std::move(last), std::nullopt, true);
}

absl::Status JobService::Deliver(const TaskRecord& task, const std::string& worker) {
  Json p = Json::parse(task.payload, nullptr, false);
  if (!p.is_object()) return absl::DataLossError("webhook task: corrupt payload");
  VERSO_ASSIGN_OR_RETURN(JobRecord job, repo_->GetJob(task.job_id));
  const std::string event = p.value("event", "");
  const std::string url = p.value("url", "");
  const std::string body = p.value("body", "");
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "application/json"},
      {"User-Agent", "verso-webhooks"},
      {"X-Verso-Event", event},
      {"X-Verso-Delivery", StrCat("whd_", task.id)},
      {"X-Verso-Signature", StrCat("sha256=", HmacSha256Hex(WebhookSecret(job.tenant), body))}};
  const absl::Time now = clock_->Now();
  absl::StatusOr<int> status = webhooks_ != nullptr
                                   ? webhooks_->Post(url, headers, body, options_.webhook_timeout)
                                   : absl::FailedPreconditionError("webhooks are off");
  storage::WebhookDeliveryRecord d;
  d.job_id = task.job_id;
  d.event = event;
  d.attempt = task.attempts;
  d.at = now;
  if (status.ok()) {
    d.http_status = *status;
  } else {
    // The tenant sees what kind of failure it was, never the transport's detail (which would
    // make the delivery log a port scanner); the operator's log has it.
    log::Warn(
        "jobs.webhook_failed",
        {{"job", task.job_id}, {"attempt", task.attempts}, {"error", status.status().message()}});
    d.error = absl::IsPermissionDenied(status.status())
                  ? "the receiver's address is not allowed (not a public address)"
              : absl::IsDeadlineExceeded(status.status())
                  ? StrCat("no answer within ", absl::FormatDuration(options_.webhook_timeout))
                  : "the receiver could not be reached";
  }
  JobChange log;
  log.deliveries.push_back(d);
  if (status.ok() && *status >= 200 && *status < 300) {
    log.finish_task = task.id;
    log.finish_owner = worker;
    return Apply(task.job_id, log);
  }
  // Not delivered: the next attempt on the platform spec's schedule, or the dead letters.
  VERSO_RETURN_IF_ERROR(Apply(task.job_id, log));
  const size_t retry = static_cast<size_t>(task.attempts);  // 1 after the first attempt
  // An address the policy refuses stays refused: no retry can fix it.
  const bool dead = retry > options_.webhook_delays.size() ||
                    (!status.ok() && absl::IsPermissionDenied(status.status()));
  const absl::Time next =
      dead ? now : now + Jitter(options_.webhook_delays[retry - 1], options_.webhook_jitter);
  const std::string why = status.ok() ? StrCat("HTTP ", *status) : d.error;
  return repo_->FailTask(task.id, worker, why, next, dead);
}

}  // namespace verso::jobs
