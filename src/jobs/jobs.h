// Jobs: a document (XLIFF, PO, JSON, text) or a list of segments, translated into one or more
// languages through the pipeline, post-edited where QE did not trust the machine, and written
// back into the original document.
//
//   Submit ─► job + segments + first task, one transaction
//   per target language, each stage one task of the durable queue (storage::JobRepository):
//     analyse       TM lookups: best match per segment, repetitions, word counts (the report);
//                   in the same pass 100 % and context matches become the translation
//                   (origin "tm") — the "pretranslate" stage, a task of its own only for
//                   segments an earlier version analysed without it
//     mt            the rest through the engine chain (mt::TranslateService), in chunks; each
//                   chunk is reviewed (QA, terms, QE: qe::Reviewer) on a second thread while
//                   the next is translated: auto-approved, or awaiting a post-editor. The
//                   task is queued on the analysis's first committed chunk and follows it, so
//                   the engine starts before the analysis ends
//     review        the same for the TM's translations (approved unless QA finds an error)
//   then the job is completed, or post-editing until every segment is approved or confirmed.
//
// Every chunk of a stage is committed with the segments it changed; the last commit marks the
// task done and enqueues the next one in the same transaction. Workers lease tasks for a
// while and renew the lease with a heartbeat (every third of the lease) while they run; a task
// whose lease expired (its worker died) is run again by the next worker and picks up the segments
// not yet done, so a kill -9 loses no segment and no segment's result is written twice. A task that
// keeps failing goes to the dead-letter state with its error and fails the job. In maintenance mode
// (degradation level "emergency") workers lease nothing: jobs are accepted and wait.
//
// Webhooks (job.completed, job.failed) go through the same queue: the event is enqueued in the
// transaction that ends the job (a durable outbox), delivered at least once, signed with
// HMAC-SHA256 over the body with the tenant's secret, retried after 1 min, 5 min, 30 min, 2 h
// and 12 h (±10 %), every attempt logged.
#ifndef VERSO_JOBS_JOBS_H_
#define VERSO_JOBS_JOBS_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/netaddr.h"
#include "storage/storage.h"

namespace verso {
class Clock;
class IdGenerator;
namespace cache {
class VersionedCache;
}  // namespace cache
namespace tm {
class TmService;
struct LookupResult;
}  // namespace tm
namespace mt {
class TranslateService;
struct TranslateInput;
}  // namespace mt
namespace qe {
class Reviewer;
struct Review;
struct ReviewOptions;
}  // namespace qe
namespace resilience {
class DegradationController;
}
}  // namespace verso

namespace verso::jobs {

struct SubmitRequest {
  std::string tenant;
  std::string user;
  std::string idempotency_key;            // optional: the same key returns the same job
  std::string source_lang;                // BCP 47; optional for XLIFF (the file's srcLang)
  std::vector<std::string> target_langs;  // optional for XLIFF with a trgLang
  std::string tm_store;                   // optional
  std::string glossary;                   // optional: a stored glossary's name
  std::string engine_policy;              // optional: a stored policy's name
  std::string qa_profile;                 // optional
  std::optional<double> qe_threshold;     // 0-101; default the server's
  std::string webhook_url;                // optional: http(s)://...
  // A target language no engine of the chain translates: refused at submission (false), or
  // its segments go straight to people (true; each says why it has no machine translation).
  bool unsupported_to_human = false;
  // A document: its bytes, name, and format ("xliff", "po", "json", "text"; empty: from the
  // name's extension) ...
  std::string document;
  std::string file_name;
  std::string format;
  // ... or segments (markup), given as plain text (`plain_segments`: the download answers in
  // plain text too) or as markup.
  std::vector<std::string> segments;
  bool plain_segments = false;
  // A revision step: segments post-editors confirm wait for a reviewer's approval before the
  // job completes (auto-approved ones do not).
  bool revision = false;
};

// Segment counts of a job (or of one target language).
struct Counts {
  int64_t segments = 0;
  int64_t words = 0;
  int64_t tm = 0;                          // translated from the TM
  int64_t mt = 0;                          // machine-translated
  std::map<std::string, int64_t> engines;  // machine-translated, per engine
  int64_t approved = 0;                    // auto-approved (TM matches and trusted MT)
  int64_t awaiting = 0;                    // waiting for a post-editor
  int64_t confirmed = 0;                   // confirmed by a post-editor
  int64_t reviewed = 0;                    // approved by a reviewer
};

struct Stage {
  std::string name;   // "analyse", "pretranslate", "mt", "review", "post_edit"
  std::string state;  // "pending", "running", "done", "failed"
  int64_t done = 0;   // segments (all targets)
  int64_t total = 0;
  double seconds = 0;  // time spent in the stage's tasks
};

struct JobInfo {
  storage::JobRecord job;  // without the document
  Counts counts;
  std::map<std::string, Counts> by_target;
  std::vector<Stage> stages;
  std::vector<std::string> messages;  // degradation and policy notes for users
  bool replayed = false;              // Submit: an earlier job with the same idempotency key
};

// The TM analysis report (what translators are paid by): per band, segments, words (GMX-V)
// and characters. Bands: "repetitions", "101", "100", "95-99", "85-94", "75-84", "50-74",
// "no-match". A repetition is a segment whose source came earlier in the job; it is counted
// there and not in its match band.
struct AnalysisBand {
  std::string band;
  int64_t segments = 0;
  int64_t words = 0;
  int64_t characters = 0;
};
struct Analysis {
  std::string target_lang;
  std::vector<AnalysisBand> bands;
  AnalysisBand total;
};

// A job's translated document.
struct Translated {
  std::string bytes;
  std::string file_name;  // the upload's name with the target language ("guide.de.xlf")
  std::string format;     // the job's format (Document::format, or "segments")
};

// A segment as a post-editor sees it.
struct SegmentDetail {
  storage::JobSegmentRecord segment;
  // TM matches for the source (best first), when the job has a TM for this target.
  std::vector<std::pair<int, std::pair<std::string, std::string>>> matches;  // score, src, tgt
};

// A post-editor's edit as the workbench sends it: `id` names it, so that an edit sent again
// (its answer was lost with the connection) is applied once; `base_version` is the segment's
// version the editor saw, so that an edit made on a text someone has changed since is a
// conflict (Aborted, carrying the segment as it is now, see EditConflict) instead of
// overwriting it. Both are optional (API clients that send neither get last-write-wins).
struct Edit {
  std::string id;  // up to 64 characters of [A-Za-z0-9_-]
  std::optional<int64_t> base_version;
};

// Whether `status` is an edit's conflict (Aborted: the segment changed since its base version).
bool IsEditConflict(const absl::Status& status);

// Outbound webhook calls (main.cc wires libcurl; tests use a local server).
class WebhookSender {
 public:
  virtual ~WebhookSender() = default;
  // The HTTP status of the answer; an error when there was none within `timeout`.
  virtual absl::StatusOr<int> Post(const std::string& url,
                                   const std::vector<std::pair<std::string, std::string>>& headers,
                                   const std::string& body, absl::Duration timeout) = 0;
};

// POSTs with libcurl: no redirects followed, no proxy, only to addresses `addresses` allows
// (checked on every address the host resolves to, when connecting: PermissionDenied when none
// is allowed), no compressed answers, at most 64 KiB of an answer read.
std::unique_ptr<WebhookSender> NewHttpWebhookSender(AddressPolicy addresses);

// The QA findings a refused confirm carries: a JSON array of {"check","severity","message"},
// or empty when `status` carries none.
std::string QaFindings(const absl::Status& status);

struct ServiceOptions {
  double default_threshold = 85;  // qe.threshold
  absl::Duration lease = absl::Seconds(30);
  int max_attempts = 5;  // a stage task's attempts before it is dead
  // A task whose worker died under it this many times (a crash, kill -9, or a stall longer
  // than the lease) is dead-lettered instead of taken over again: input that crashes a worker
  // must not crash every worker that takes it.
  int max_crashes = 2;
  // Tasks one tenant may have running at once across every worker (0: no limit); idle workers
  // take the next task of the tenant with the fewest running.
  int max_tasks_per_tenant = 0;
  int chunk = 1000;  // segments per committed chunk
  // The platform spec: when the oldest segment waiting for a post-editor has waited this long,
  // the auto-approve bar is lowered by `expedite_drop` points ("Expedited processing enabled").
  absl::Duration expedite_after = absl::Hours(4);
  double expedite_drop = 10;
  std::vector<absl::Duration> webhook_delays = {absl::Minutes(1), absl::Minutes(5),
                                                absl::Minutes(30), absl::Hours(2), absl::Hours(12)};
  double webhook_jitter = 0.10;
  absl::Duration webhook_timeout = absl::Seconds(10);
  std::string webhook_secret;  // the server's; a tenant's secret is derived from it
  // Which receivers a webhook_url may name (public addresses and the operator's allow-list);
  // a URL naming another address is refused at submission, and the sender checks again on
  // every address its host resolves to.
  AddressPolicy webhook_addresses;
  absl::Duration poll = absl::Milliseconds(200);  // idle workers look for work this often
  // The MT task starts on the analysis's first committed chunk and follows it: when it has
  // translated everything committed so far it looks again every `follow_poll`, for up to
  // `follow_wait` in all, before it ends and leaves the rest to the MT task the analysis queues
  // when it ends.
  absl::Duration follow_wait = absl::Seconds(2);
  absl::Duration follow_poll = absl::Milliseconds(10);
  // The platform spec's job-status cache (L2, 30 s, invalidated on status change): Get answers
  // from it and every write to a job makes the job's entry stale in every process at once
  // (cache::VersionedCache). A miss reads the primary, never a replica: an entry must be as new
  // as the change counter it is stored with. nullptr (no redis.url): no cache.
  cache::VersionedCache* status_cache = nullptr;
  uint64_t seed = 1;
};

// What the job-status cache did in this process (all zero without one).
struct StatusCacheCounts {
  int64_t hits = 0;
  int64_t misses = 0;
  int64_t changes = 0;
};

// Thread-safe. Everything passed in must outlive the service.
class JobService {
 public:
  JobService(storage::Database* db, tm::TmService* tm, mt::TranslateService* translate,
             qe::Reviewer* reviewer, resilience::DegradationController* degradation,
             WebhookSender* webhooks, const Clock* clock, IdGenerator* ids, ServiceOptions options);
  ~JobService();

  // Validates and stores the job with its segments and queues its first stage. The same
  // tenant and idempotency key return the earlier job (replayed = true). Errors name the field
  // (InvalidArgument) or the document's line and column.
  absl::StatusOr<JobInfo> Submit(const SubmitRequest& request);
  absl::StatusOr<JobInfo> Get(std::string_view tenant, std::string_view id);
  StatusCacheCounts StatusCacheStats() const;
  // NotFound unless the tenant has the job (cheaper than Get: no counts).
  absl::Status CheckOwned(std::string_view tenant, std::string_view id);
  // Newest first, after the job created at `after_created` with id `after_id` (a page's last).
  absl::StatusOr<std::vector<JobInfo>> List(std::string_view tenant, int limit,
                                            absl::Time after_created = absl::InfiniteFuture(),
                                            std::string_view after_id = "");
  absl::StatusOr<std::vector<Analysis>> GetAnalysis(std::string_view tenant, std::string_view id);
  // The document translated into `target_lang`: approved and confirmed segments in place,
  // the rest as the file had it. For a segment job, JSON {"segments": [...]} (null where
  // there is no approved translation).
  absl::StatusOr<Translated> Download(std::string_view tenant, std::string_view id,
                                      std::string_view target_lang);
  // Stops the job: pending tasks are dropped; FailedPrecondition when it already ended.
  absl::StatusOr<JobInfo> Cancel(std::string_view tenant, std::string_view id);
  // The job's tasks (queue view) and webhook deliveries.
  absl::StatusOr<std::vector<storage::TaskRecord>> Tasks(std::string_view tenant,
                                                         std::string_view id);
  absl::StatusOr<std::vector<storage::WebhookDeliveryRecord>> Deliveries(std::string_view tenant,
                                                                         std::string_view id);

  // ---- Post-editing ----
  // Segments of a job (one target or all; `state` filters, empty: all).
  absl::StatusOr<std::vector<storage::JobSegmentRecord>> Segments(std::string_view tenant,
                                                                  std::string_view id,
                                                                  std::string_view target_lang,
                                                                  std::string_view state);
  // A page of them in (target, index) order, after (after_target, after_index), at most `limit`:
  // read from storage as a page (a job of 50,000 segments is not read whole per page).
  absl::StatusOr<std::vector<storage::JobSegmentRecord>> SegmentsPage(
      std::string_view tenant, std::string_view id, std::string_view target_lang,
      std::string_view state, std::string_view after_target, int64_t after_index, int limit);
  absl::StatusOr<SegmentDetail> Segment(std::string_view tenant, std::string_view id,
                                        std::string_view target_lang, int64_t index);
  // The tenant's segments waiting for a post-editor, oldest first, after `after` (the last of
  // the previous page) when given.
  absl::StatusOr<std::vector<storage::JobSegmentRecord>> Awaiting(
      std::string_view tenant, int limit, const storage::JobSegmentRecord* after = nullptr);
  absl::StatusOr<storage::JobSegmentRecord> SaveDraft(std::string_view tenant, std::string_view id,
                                                      std::string_view target_lang, int64_t index,
                                                      const std::string& markup,
                                                      std::string_view user, const Edit& edit = {});
  // Confirms a segment with `markup` (nullopt: its draft, else its current translation): it is
  // written to the job's TM at once, and the job completes when it was the last one open.
  // The job's QA checks run first (drafts are checked too, and keep their findings in the
  // review): a finding of severity "error" refuses the confirm (FailedPrecondition carrying
  // the findings, see QaFindings) unless `override_qa`, which the review records with the
  // user and the findings it overrode.
  absl::StatusOr<storage::JobSegmentRecord> Confirm(std::string_view tenant, std::string_view id,
                                                    std::string_view target_lang, int64_t index,
                                                    const std::optional<std::string>& markup,
                                                    std::string_view user, bool override_qa = false,
                                                    const Edit& edit = {});

  // ---- Revision ----
  // A reviewer approves a translated segment, with `markup` (their correction; nullopt: its
  // draft, else the text as it is) checked and learnt by the TM as Confirm does: it becomes
  // "reviewed". A job with revision completes when every segment is approved or reviewed.
  absl::StatusOr<storage::JobSegmentRecord> Approve(std::string_view tenant, std::string_view id,
                                                    std::string_view target_lang, int64_t index,
                                                    const std::optional<std::string>& markup,
                                                    std::string_view user, bool override_qa = false,
                                                    const Edit& edit = {});
  // A reviewer sends a segment back to post-editing ("awaiting") saying why (`comment`, 1 to
  // 2,000 bytes of text): the segment keeps it ("revision" in its review) for the post-editor.
  // FailedPrecondition for a job that ended or a segment nobody translated yet.
  absl::StatusOr<storage::JobSegmentRecord> Reject(std::string_view tenant, std::string_view id,
                                                   std::string_view target_lang, int64_t index,
                                                   const std::string& comment,
                                                   std::string_view user, const Edit& edit = {});

  // The job's QA checks and glossary on `markup` for a segment, nothing written: the
  // workbench's findings as the editor types. The review's JSON: {"qa": [...], "terms": [...]}.
  absl::StatusOr<std::string> Check(std::string_view tenant, std::string_view id,
                                    std::string_view target_lang, int64_t index,
                                    const std::string& markup);

  // The tenant's webhook signing secret.
  std::string WebhookSecret(std::string_view tenant) const;
  // True while the expedite policy is on. The oldest post-edit's time is read from storage at
  // most once a second.
  bool Expedited();

  // ---- Workers ----
  // Leases and runs one task as `worker`; false when there was nothing to run (or the
  // platform is in maintenance).
  absl::StatusOr<bool> RunOnce(const std::string& worker);
  // Runs `threads` workers until Stop().
  void Start(int threads);
  void Stop();

 private:
  // Submit's steps: the record from the request's fields (languages, threshold, file name,
  // webhook URL checked); the units of the document or the segments (the document's declared
  // languages checked against the request's); what the job names (TM store, glossary, engine
  // policy, QA profile) exists.
  struct SubmittedUnit {
    std::string id;      // the document's unit id, or the segment's position
    std::string source;  // markup
    int64_t index = 0;   // position in the document
  };
  absl::StatusOr<storage::JobRecord> NewJob(const SubmitRequest& r);
  absl::Status ReadUnits(const SubmitRequest& r, storage::JobRecord* job,
                         std::vector<SubmittedUnit>* units);
  absl::Status CheckReferences(const storage::JobRecord& job, bool unsupported_to_human);
  absl::StatusOr<storage::JobRecord> Owned(std::string_view tenant, std::string_view id,
                                           storage::Freshness f = storage::Freshness::kLatest);
  absl::Status Run(const storage::TaskRecord& task, const std::string& worker);
  // Runs a task `worker` holds, renewing its lease while it runs, and records its failure.
  absl::Status RunLeased(const storage::TaskRecord* task, const std::string& worker);
  // Records a task's failure: back to the queue with a backoff, or dead (the job fails with it).
  absl::Status Fail(const storage::TaskRecord& task, const std::string& worker,
                    const absl::Status& error, bool dead);
  absl::Status Analyse(const storage::TaskRecord& task, const storage::JobRecord& job,
                       const std::string& worker);
  // The best TM match (50 or more) of each segment of a chunk, in one request to the TM node
  // holding the store when a node holds it; a segment the TM cannot look up gets none.
  absl::Status LookupChunk(const std::string& tenant, const std::string& store,
                           const std::vector<storage::JobSegmentRecord>& part,
                           std::vector<std::optional<tm::LookupResult>>* found);
  // Segments an earlier version analysed without pre-translating (Analyse does both now).
  absl::Status Pretranslate(const storage::TaskRecord& task, const storage::JobRecord& job,
                            const std::string& worker);
  // A 100 % (or context) match becomes the translation; the rest waits for MT.
  static void Pretranslate(storage::JobSegmentRecord* s);
  absl::Status Translate(const storage::TaskRecord& task, const storage::JobRecord& job,
                         const std::string& worker);
  absl::Status TranslateChunks(const storage::TaskRecord& task, const storage::JobRecord& job,
                               const std::string& worker, const qe::ReviewOptions& review,
                               std::vector<storage::JobSegmentRecord> todo, bool keep_last,
                               std::vector<storage::JobSegmentRecord>* last,
                               absl::Duration* review_time);
  absl::StatusOr<bool> AwaitAnalysis(const storage::TaskRecord& task, absl::Duration* waited);
  absl::StatusOr<bool> Analysing(const storage::TaskRecord& task);
  // The MT task of `task`'s target queued leased to `owner`, unless one is queued or running.
  absl::StatusOr<std::optional<storage::TaskRecord>> QueueMt(const storage::TaskRecord& task,
                                                             const std::string& owner);
  // The task that follows `stage` (`next` unless the analysis and MT overlap), decided while
  // the job is held; `translating`: the MT segments the task's end commits.
  absl::StatusOr<std::optional<storage::TaskKind>> NextLocked(const storage::TaskRecord& task,
                                                              storage::TaskKind stage,
                                                              std::optional<storage::TaskKind> next,
                                                              size_t translating);
  struct MtOutcome;
  absl::StatusOr<std::vector<MtOutcome>> TranslateEach(const mt::TranslateInput& in);
  absl::Status Review(const storage::TaskRecord& task, const storage::JobRecord& job,
                      const std::string& worker);
  absl::Status Deliver(const storage::TaskRecord& task, const std::string& worker);
  absl::Status Chunks(
      const storage::TaskRecord& task, const std::string& worker, storage::SegmentState from,
      const std::function<absl::Status(std::vector<storage::JobSegmentRecord>&)>& fn,
      std::vector<storage::JobSegmentRecord>* last,
      const std::function<absl::Status()>& committed = nullptr);
  // `review_time`: review done inside this task (the MT stage reviews its chunks as it goes).
  absl::Status Finish(const storage::TaskRecord& task, const std::string& worker,
                      storage::TaskKind stage, absl::Time started,
                      std::vector<storage::JobSegmentRecord> last,
                      std::optional<storage::TaskKind> next, bool review_done,
                      absl::Duration review_time = absl::ZeroDuration());
  // Finish's work, run while the job is held (storage's Exclusively).
  absl::Status FinishLocked(const storage::TaskRecord& task, const std::string& worker,
                            storage::TaskKind stage, absl::Time started,
                            std::vector<storage::JobSegmentRecord> last,
                            std::optional<storage::TaskKind> next, bool review_done,
                            absl::Duration review_time);
  // Runs `edit` (of a segment: a draft, a confirm, a verdict) while the job is held against this
  // process's other edits (confirm_mu_) and the workers and edits of every process (storage's
  // Exclusively): the version check and the write are one, and the last segment finished
  // completes the job exactly once.
  absl::StatusOr<storage::JobSegmentRecord> HoldingJob(
      std::string_view id, absl::FunctionRef<absl::StatusOr<storage::JobSegmentRecord>()> edit);
  // Confirm's work, run while the job is held.
  absl::StatusOr<storage::JobSegmentRecord> SaveDraftLocked(
      const storage::JobRecord& job, const std::string& target, int64_t index,
      const std::string& markup, std::string_view user, const Edit& edit);
  absl::StatusOr<storage::JobSegmentRecord> ConfirmLocked(std::string_view tenant,
                                                          std::string_view id,
                                                          const std::string& target, int64_t index,
                                                          const std::optional<std::string>& markup,
                                                          std::string_view user, bool override_qa,
                                                          const Edit& edit);
  // What a confirm and a reviewer's approval share: `text` checked (QA errors refuse unless
  // `override_qa`, recorded), learnt by the job's TM, and made the segment's translation.
  absl::Status Settle(const storage::JobRecord& job, storage::JobSegmentRecord* s,
                      const std::string& text, std::string_view user, bool override_qa);
  // Approve's and Reject's work, run while the job is held: the segment's new state and the
  // reviewer's verdict (and comment) in its review.
  absl::StatusOr<storage::JobSegmentRecord> ReviseLocked(
      std::string_view tenant, std::string_view id, const std::string& target, int64_t index,
      const std::optional<std::string>& markup, const std::string& comment, std::string_view user,
      bool override_qa, const Edit& edit, bool approve);
  qe::ReviewOptions ReviewOptionsFor(const storage::JobRecord& job, std::string_view target);
  // The QA checks of a post-editor's `markup` for segment `s`, written into s->review (its
  // "qa" and "terms"; the machine's score stays for the record).
  absl::StatusOr<qe::Review> CheckEdit(const storage::JobRecord& job, storage::JobSegmentRecord* s,
                                       const std::string& markup);
  absl::Status ReviewTmMatches(const qe::ReviewOptions& options,
                               std::vector<storage::JobSegmentRecord>& part);
  absl::Status ReviewChunk(const qe::ReviewOptions& options,
                           std::vector<storage::JobSegmentRecord>& part);
  // The job's end when no segment of any target is left open once `change` is applied, in which
  // `closing` segments that storage holds open become approved or confirmed: the change that
  // completes it (status, webhook) is added to `change`.
  absl::Status MaybeComplete(storage::JobRecord* job, storage::JobChange* change, int64_t closing);
  absl::StatusOr<std::vector<storage::JobSegmentRecord>> Pending(const storage::TaskRecord& task,
                                                                 storage::SegmentState state);
  // Records job.status's change from `from` in the audit log, with `change` (none if equal).
  void AuditStatus(const storage::JobRecord& job, storage::JobStatus from,
                   storage::JobChange* change) const;
  void EndJob(storage::JobRecord* job, storage::JobStatus status, std::string_view error,
              storage::JobChange* change);
  void AddStageTime(storage::JobRecord* job, std::string_view stage, absl::Duration d);
  std::string TmStoreFor(const storage::JobRecord& job, std::string_view target_lang);
  absl::StatusOr<JobInfo> Info(storage::JobRecord job,
                               storage::Freshness f = storage::Freshness::kLatest);
  // What users are told about the service now (degradation, expedited processing): never cached.
  void AddMessages(JobInfo* info);
  // Every write to a job goes through these: the write, then the status cache told the job
  // changed.
  absl::Status Apply(std::string_view job_id, const storage::JobChange& change);
  void StatusChanged(std::string_view job_id);
  absl::Duration Jitter(absl::Duration d, double fraction);

  storage::Database* db_;
  storage::JobRepository* repo_;
  tm::TmService* tm_;
  mt::TranslateService* translate_;
  qe::Reviewer* reviewer_;
  resilience::DegradationController* degradation_;
  WebhookSender* webhooks_;
  const Clock* clock_;
  IdGenerator* ids_;
  ServiceOptions options_;
  absl::Mutex job_mu_;       // read-modify-write of job records by this process's workers
  absl::Mutex confirm_mu_;   // edits one at a time (HoldingJob): the last one completes the job
  absl::Mutex expedite_mu_;  // held while reading the oldest post-edit: one read at a time
  absl::Time oldest_read_at_ ABSL_GUARDED_BY(expedite_mu_) = absl::InfinitePast();
  absl::Time oldest_awaiting_ ABSL_GUARDED_BY(expedite_mu_) = absl::InfiniteFuture();  // none
  absl::Mutex rng_mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(rng_mu_);
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  absl::Mutex wake_mu_;  // guards nothing: it lets idle workers sleep on wake_
  absl::CondVar wake_;
};

}  // namespace verso::jobs

#endif  // VERSO_JOBS_JOBS_H_
