// PostgreSQL implementation of the JobRepository (see storage.h): the same records as the SQLite
// one, with PostgreSQL's queue: tasks leased by lease_task() (pg_schema.cc) with FOR UPDATE SKIP
// LOCKED in one round trip, and workers of every process woken by NOTIFY verso_tasks when a
// transaction that queued tasks commits.
#include "storage/postgres/pg_jobs.h"

#include <atomic>
#include <deque>
#include <limits>
#include <nlohmann/json.hpp>
#include <pqxx/stream_to>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/json.h"
#include "common/status.h"
#include "common/strings.h"
#include "storage/postgres/pg_db.h"
#include "storage/postgres/pg_replicas.h"
#include "storage/record_codec.h"

namespace verso::storage {
namespace {

using pg::Double;
using pg::FromMicros;
using pg::Int;
using pg::Micros;
using pg::Param;
using pg::Pool;
using pg::Str;
using pg::TimeOrNever;
using pg::Tx;

template <typename E>
E Enum(const pqxx::field& f) {
  return ParseEnum<E>(f.c_str()).value_or(E{});
}

constexpr const char* kJobColumns =
    "id, tenant, status, source_lang, target_langs, tm_store, glossary, engine_policy, "
    "qa_profile, qe_threshold, webhook_url, idempotency_key, format, file_name, document, error, "
    "stats, created_at, updated_at, finished_at, revision";
constexpr const char* kJobColumnsNoDocument =
    "id, tenant, status, source_lang, target_langs, tm_store, glossary, engine_policy, "
    "qa_profile, qe_threshold, webhook_url, idempotency_key, format, file_name, ''::BYTEA, "
    "error, stats, created_at, updated_at, finished_at, revision";

JobRecord ReadJob(const pqxx::row& r) {
  JobRecord j;
  j.id = Str(r[0]);
  j.tenant = Str(r[1]);
  j.status = Enum<JobStatus>(r[2]);
  j.source_lang = Str(r[3]);
  for (std::string_view t : Split(r[4].c_str(), ' ')) {
    if (!t.empty()) j.target_langs.emplace_back(t);
  }
  j.tm_store = Str(r[5]);
  j.glossary = Str(r[6]);
  j.engine_policy = Str(r[7]);
  j.qa_profile = Str(r[8]);
  j.qe_threshold = Double(r[9]);
  j.webhook_url = Str(r[10]);
  j.idempotency_key = Str(r[11]);
  j.format = Str(r[12]);
  j.file_name = Str(r[13]);
  j.document = pg::Bytes(r[14]);
  j.error = Str(r[15]);
  j.stats = Str(r[16]);
  j.created_at = FromMicros(Int(r[17]));
  j.updated_at = FromMicros(Int(r[18]));
  j.finished_at = TimeOrNever(r[19]);
  j.revision = Int(r[20]) != 0;
  return j;
}

constexpr const char* kSegmentColumns =
    "job_id, target_lang, idx, unit_id, source, target, origin, state, tm_score, tm_target, "
    "repetition, words, engine, review, qe_score, draft, editor, updated_at, characters, version, "
    "edit_id";

JobSegmentRecord ReadSegment(const pqxx::row& r) {
  JobSegmentRecord s;
  s.job_id = Str(r[0]);
  s.target_lang = Str(r[1]);
  s.index = Int(r[2]);
  s.unit_id = Str(r[3]);
  s.source = Str(r[4]);
  s.target = Str(r[5]);
  s.origin = Enum<SegmentOrigin>(r[6]);
  s.state = Enum<SegmentState>(r[7]);
  s.tm_score = static_cast<int>(Int(r[8]));
  s.tm_target = Str(r[9]);
  s.repetition = Int(r[10]) != 0;
  s.words = Int(r[11]);
  s.engine = Str(r[12]);
  s.review = Str(r[13]);
  s.qe_score = Double(r[14]);
  s.draft = Str(r[15]);
  s.editor = Str(r[16]);
  s.updated_at = FromMicros(Int(r[17]));
  s.characters = Int(r[18]);
  s.version = Int(r[19]);
  s.edit_id = Str(r[20]);
  return s;
}

constexpr const char* kTaskColumns =
    "id, job_id, kind, target_lang, payload, state, attempts, run_after, lease_until, "
    "lease_owner, error, created_at, crashes";

TaskRecord ReadTask(const pqxx::row& r) {
  TaskRecord t;
  t.id = Int(r[0]);
  t.job_id = Str(r[1]);
  t.kind = Enum<TaskKind>(r[2]);
  t.target_lang = Str(r[3]);
  t.payload = Str(r[4]);
  t.state = Enum<TaskState>(r[5]);
  t.attempts = static_cast<int>(Int(r[6]));
  t.run_after = FromMicros(Int(r[7]));
  t.lease_until = TimeOrNever(r[8]);
  t.lease_owner = Str(r[9]);
  t.error = Str(r[10]);
  t.created_at = FromMicros(Int(r[11]));
  t.crashes = static_cast<int>(Int(r[12]));
  return t;
}

std::vector<JobSegmentRecord> Segments(const pqxx::result& r) {
  std::vector<JobSegmentRecord> out;
  out.reserve(r.size());
  for (const auto& row : r) out.push_back(ReadSegment(row));
  return out;
}

// The segments of a change to write: a segment given twice is written once, as it was given
// last, at its first place (as SQLite's INSERT OR REPLACE keeps the last); one upsert statement
// may not change a row twice.
std::vector<const JobSegmentRecord*> LastOfEach(const std::vector<JobSegmentRecord>& segments) {
  std::vector<const JobSegmentRecord*> rows;
  rows.reserve(segments.size());
  std::map<std::tuple<std::string_view, std::string_view, int64_t>, size_t> seen;
  for (const JobSegmentRecord& s : segments) {
    auto [it, added] = seen.try_emplace({s.job_id, s.target_lang, s.index}, rows.size());
    if (added) {
      rows.push_back(&s);
    } else {
      rows[it->second] = &s;
    }
  }
  return rows;
}

// Text as PostgreSQL can store it: bytes that are not UTF-8 become U+FFFD, as DumpJson writes
// them (and as the JSON this path used to send had them).
std::string PgText(std::string_view value) {
  if (IsUtf8(value)) return std::string(value);
  return nlohmann::json::parse(DumpJson(nlohmann::json(std::string(value)))).get<std::string>();
}

// Job segments are written with COPY into a temporary table of the connection, then upserted
// from it in one statement. For 10,000 segments that took 10 + 80-92 ms of the server's time,
// against 154-238 ms for the same rows sent as one JSON array (json_populate_recordset; psql,
// this machine). COPY straight into job_segments would be cheaper still for a new job's rows
// (38-46 ms against 111-122), but cannot upsert.
void PutSegments(Tx& tx, const std::vector<JobSegmentRecord>& segments) {
  // Kept by the connection for its next transactions; emptied at each commit (and below).
  if (tx.Exec("SELECT to_regclass('pg_temp.job_segments_in') IS NULL")[0][0].as<bool>()) {
    tx.Run("CREATE TEMP TABLE job_segments_in (LIKE job_segments) ON COMMIT DELETE ROWS");
  }
  static const std::vector<std::string> columns = absl::StrSplit(kSegmentColumns, ", ");
  pqxx::stream_to copy(tx.raw(), "job_segments_in", columns);
  for (const JobSegmentRecord* s : LastOfEach(segments)) {
    copy << std::make_tuple(
        PgText(s->job_id), PgText(s->target_lang), s->index, PgText(s->unit_id), PgText(s->source),
        PgText(s->target), std::string(EnumName(s->origin)), std::string(EnumName(s->state)),
        int64_t{s->tm_score}, PgText(s->tm_target), int64_t{s->repetition ? 1 : 0}, s->words,
        PgText(s->engine), PgText(s->review), s->qe_score, PgText(s->draft), PgText(s->editor),
        Micros(s->updated_at), s->characters, s->version, PgText(s->edit_id));
  }
  copy.complete();
  static const std::string upsert =
      StrCat("INSERT INTO job_segments(", kSegmentColumns, ") SELECT ", kSegmentColumns,
             " FROM job_segments_in ON CONFLICT(job_id, target_lang, idx) DO UPDATE SET ",
             ExcludedAssignments(kSegmentColumns, {"job_id", "target_lang", "idx"}));
  tx.Exec(upsert);
  tx.Exec("DELETE FROM job_segments_in");  // a second change in this transaction starts empty
}

class PgJobs : public JobRepository {
 public:
  PgJobs(Pool* pool, pg::ReplicaSet* replicas, absl::Duration max_lag, pg::Listener* listener)
      : pool_(pool), replicas_(replicas), max_lag_(max_lag), listener_(listener) {}

  bool OnTasksQueued(std::function<void()> fn) override {
    if (listener_ == nullptr) return false;
    listener_->Set("verso_tasks", std::move(fn));
    return true;
  }

  // A transaction-scoped advisory lock on the job, held on a connection of its own while fn runs
  // (fn's reads and writes use other connections); a process that dies holding it releases it.
  absl::Status Exclusively(std::string_view job_id,
                           const std::function<absl::Status()>& fn) override {
    VERSO_ASSIGN_OR_RETURN(std::unique_ptr<Pool::Held> held, pool_->Begin());
    VERSO_RETURN_IF_ERROR(held->Do([&](Tx& tx) -> absl::Status {
      tx.Exec("SELECT pg_advisory_xact_lock(7243003, hashtext($1))", {job_id});
      return absl::OkStatus();
    }));
    absl::Status status = fn();
    held->Commit().IgnoreError();  // only ends the transaction (and the lock)
    return status;
  }

  absl::Status Apply(const JobChange& change) override {
    const bool finish_only = change.jobs.empty() && change.segments.empty() &&
                             change.enqueue.empty() && change.deliveries.empty() &&
                             change.audit.empty();
    // One statement needs no BEGIN/COMMIT round trips: it is its own transaction.
    if (finish_only) return pool_->Autocommit([&](Tx& tx) { return ApplyIn(tx, change); });
    return pool_->Write([&](Tx& tx) { return ApplyIn(tx, change); });
  }

  absl::StatusOr<JobRecord> GetJob(std::string_view id, Freshness f) override {
    return ReadAt(f, [&](Tx& tx) -> absl::StatusOr<JobRecord> {
      pqxx::result r =
          tx.Exec(StrCat("SELECT ", kJobColumnsNoDocument, " FROM jobs WHERE id=$1"), {id});
      if (r.empty()) return absl::NotFoundError(StrCat("job ", id, " not found"));
      return ReadJob(r[0]);
    });
  }

  absl::StatusOr<std::string> GetJobDocument(std::string_view id) override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<std::string> {
      pqxx::result r = tx.Exec("SELECT document FROM jobs WHERE id=$1", {id});
      if (r.empty()) return absl::NotFoundError(StrCat("job ", id, " not found"));
      return pg::Bytes(r[0][0]);
    });
  }

  absl::StatusOr<JobRecord> FindJobByIdempotencyKey(std::string_view tenant,
                                                    std::string_view key) override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<JobRecord> {
      pqxx::result r = tx.Exec(StrCat("SELECT ", kJobColumnsNoDocument,
                                      " FROM jobs WHERE id = (SELECT job_id FROM job_idempotency "
                                      "WHERE tenant=$1 AND key=$2)"),
                               {tenant, key});
      if (r.empty()) return absl::NotFoundError(StrCat("no job with idempotency key ", key));
      return ReadJob(r[0]);
    });
  }

  absl::StatusOr<std::vector<JobRecord>> ListJobs(std::string_view tenant, int limit,
                                                  absl::Time after_created,
                                                  std::string_view after_id) override {
    const int64_t created = after_created == absl::InfiniteFuture()
                                ? std::numeric_limits<int64_t>::max()
                                : Micros(after_created);
    return ReadAt(Freshness::kRecent, [&](Tx& tx) -> absl::StatusOr<std::vector<JobRecord>> {
      pqxx::result r = tx.Exec(
          StrCat("SELECT ", kJobColumnsNoDocument,
                 " FROM jobs WHERE tenant=$1 AND (created_at < $3 OR (created_at = $3 AND id > "
                 "$4)) ORDER BY created_at DESC, id LIMIT $2"),
          {tenant, limit, created, after_id});
      std::vector<JobRecord> out;
      for (const auto& row : r) out.push_back(ReadJob(row));
      return out;
    });
  }

  absl::StatusOr<std::vector<JobSegmentRecord>> GetJobSegments(
      std::string_view job_id, std::string_view target_lang) override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<std::vector<JobSegmentRecord>> {
      return Segments(tx.Exec(StrCat("SELECT ", kSegmentColumns,
                                     " FROM job_segments WHERE job_id=$1 AND ($2='' OR "
                                     "target_lang=$2) ORDER BY target_lang, idx"),
                              {job_id, target_lang}));
    });
  }

  absl::StatusOr<std::vector<JobSegmentRecord>> GetJobSegmentsPage(
      std::string_view job_id, std::string_view target_lang, std::string_view state,
      std::string_view after_target, int64_t after_index, int limit) override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<std::vector<JobSegmentRecord>> {
      return Segments(tx.Exec(
          StrCat("SELECT ", kSegmentColumns,
                 " FROM job_segments WHERE job_id=$1 AND ($2='' OR target_lang=$2) AND ($3='' OR "
                 "state=$3) AND (target_lang, idx) > ($4, $5::BIGINT) ORDER BY target_lang, idx "
                 "LIMIT $6::BIGINT"),
          {job_id, target_lang, state, after_target, after_index, static_cast<int64_t>(limit)}));
    });
  }

  absl::StatusOr<std::vector<JobSegmentCount>> CountJobSegments(std::string_view job_id,
                                                                Freshness f) override {
    return ReadAt(f, [&](Tx& tx) -> absl::StatusOr<std::vector<JobSegmentCount>> {
      pqxx::result r = tx.Exec(
          "SELECT target_lang, state, origin, engine, COUNT(*), SUM(words) FROM job_segments "
          "WHERE job_id=$1 GROUP BY target_lang, state, origin, engine ORDER BY target_lang, "
          "state, origin, engine",
          {job_id});
      std::vector<JobSegmentCount> out;
      for (const auto& row : r) {
        out.push_back({Str(row[0]), Enum<SegmentState>(row[1]), Enum<SegmentOrigin>(row[2]),
                       Str(row[3]), Int(row[4]), Int(row[5])});
      }
      return out;
    });
  }

  absl::StatusOr<JobSegmentRecord> GetJobSegment(std::string_view job_id,
                                                 std::string_view target_lang,
                                                 int64_t index) override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<JobSegmentRecord> {
      pqxx::result r = tx.Exec(StrCat("SELECT ", kSegmentColumns,
                                      " FROM job_segments WHERE job_id=$1 AND target_lang=$2 "
                                      "AND idx=$3"),
                               {job_id, target_lang, index});
      if (r.empty()) {
        return absl::NotFoundError(
            StrCat("segment ", index, " (", target_lang, ") not found in job ", job_id));
      }
      return ReadSegment(r[0]);
    });
  }

  absl::StatusOr<std::vector<JobSegmentRecord>> AwaitingSegments(
      std::string_view tenant, int limit, const JobSegmentRecord* after) override {
    static const std::string sql = StrCat(
        "SELECT ", PrefixColumns("s.", kSegmentColumns),
        " FROM job_segments s JOIN jobs j ON j.id = s.job_id WHERE s.state='awaiting' AND "
        "($1='' OR j.tenant=$1) AND ($3 = 0 OR (s.updated_at, s.job_id, s.target_lang, s.idx) > "
        "($4, $5, $6, $7)) ORDER BY s.updated_at, s.job_id, s.target_lang, s.idx LIMIT $2");
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<std::vector<JobSegmentRecord>> {
      return Segments(tx.Exec(
          sql,
          {tenant, limit, after != nullptr ? 1 : 0, after ? Micros(after->updated_at) : int64_t{0},
           after ? std::string_view(after->job_id) : std::string_view(),
           after ? std::string_view(after->target_lang) : std::string_view(),
           after ? after->index : int64_t{0}}));
    });
  }

  // Concurrent calls of this process share one lease_tasks call: the first waiter leads and
  // leases for up to kMaxLeaseGroup waiters in line behind it (same per-tenant limit, distinct
  // owners), so idle workers pay one round trip and one scan of the queue between them.
  absl::StatusOr<TaskRecord> LeaseTask(std::string_view owner, absl::Time now,
                                       absl::Time lease_until, int max_per_tenant) override {
    LeaseWaiter self{owner, now, lease_until, max_per_tenant};
    std::vector<LeaseWaiter*> group;
    {
      absl::MutexLock lock(&lease_mu_);
      lease_queue_.push_back(&self);
      while (!self.done && lease_queue_.front() != &self) lease_cv_.Wait(&lease_mu_);
      if (self.done) return std::move(self.result);
      for (LeaseWaiter* w : lease_queue_) {
        if (group.size() == kMaxLeaseGroup || w->max_per_tenant != max_per_tenant) break;
        bool same_owner = false;
        for (const LeaseWaiter* g : group) same_owner |= g->owner == w->owner;
        if (same_owner) break;
        group.push_back(w);
      }
    }
    LeaseGroup(group);
    {
      absl::MutexLock lock(&lease_mu_);
      for (LeaseWaiter* w : group) {
        lease_queue_.pop_front();  // the group is the front of the line: only leaders pop
        w->done = true;
      }
    }
    lease_cv_.SignalAll();
    return std::move(self.result);
  }

  absl::Status RenewLease(int64_t task_id, std::string_view owner,
                          absl::Time lease_until) override {
    return pool_->Read([&](Tx& tx) -> absl::Status {
      pqxx::result r = tx.Exec(
          "UPDATE tasks SET lease_until=$1 WHERE id=$2 AND state='leased' AND lease_owner=$3",
          {Micros(lease_until), task_id, owner});
      if (r.affected_rows() == 0) return NoLonger(task_id, owner);
      return absl::OkStatus();
    });
  }

  absl::Status FailTask(int64_t task_id, std::string_view owner, std::string_view error,
                        absl::Time run_after, bool dead) override {
    return pool_->Autocommit([&](Tx& tx) -> absl::Status {
      pqxx::result r = tx.Exec(
          "UPDATE tasks SET state=$1, error=$2, run_after=$3, lease_until=NULL, lease_owner='' "
          "WHERE id=$4 AND state='leased' AND lease_owner=$5",
          {dead ? "dead" : "queued", error, Micros(run_after), task_id, owner});
      if (r.affected_rows() == 0) return NoLonger(task_id, owner);
      return absl::OkStatus();
    });
  }

  absl::StatusOr<std::vector<TaskRecord>> JobTasks(std::string_view job_id, Freshness f) override {
    return ReadAt(f, [&](Tx& tx) -> absl::StatusOr<std::vector<TaskRecord>> {
      pqxx::result r = tx.Exec(
          StrCat("SELECT ", kTaskColumns, " FROM tasks WHERE job_id=$1 ORDER BY id"), {job_id});
      std::vector<TaskRecord> out;
      for (const auto& row : r) out.push_back(ReadTask(row));
      return out;
    });
  }

  absl::StatusOr<QueueStats> GetQueueStats() override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<QueueStats> {
      pqxx::result r = tx.Exec(
          "SELECT state, COUNT(*), MIN(created_at) FROM tasks WHERE state != 'done' GROUP BY "
          "state");
      QueueStats q;
      for (const auto& row : r) {
        const std::string state = Str(row[0]);
        if (state == "queued") {
          q.queued = Int(row[1]);
          q.oldest_queued = FromMicros(Int(row[2]));
        } else if (state == "leased") {
          q.leased = Int(row[1]);
        } else if (state == "dead") {
          q.dead = Int(row[1]);
        }
      }
      q.awaiting_post_edit =
          Int(tx.Exec("SELECT COUNT(*) FROM job_segments WHERE state = 'awaiting'")[0][0]);
      return q;
    });
  }

  absl::StatusOr<std::vector<WebhookDeliveryRecord>> Deliveries(std::string_view job_id) override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<std::vector<WebhookDeliveryRecord>> {
      pqxx::result r = tx.Exec(
          "SELECT job_id, event, attempt, http_status, error, at FROM webhook_deliveries WHERE "
          "job_id=$1 ORDER BY id",
          {job_id});
      std::vector<WebhookDeliveryRecord> out;
      for (const auto& row : r) {
        out.push_back({Str(row[0]), Str(row[1]), static_cast<int>(Int(row[2])),
                       static_cast<int>(Int(row[3])), Str(row[4]), FromMicros(Int(row[5]))});
      }
      return out;
    });
  }

 private:
  // A read of the primary, or with kRecent of a replica within max_lag_ (see ReplicaSet::Read).
  template <typename F>
  auto ReadAt(Freshness f, F&& fn) -> decltype(fn(std::declval<Tx&>())) {
    if (f == Freshness::kRecent && replicas_ != nullptr) {
      return replicas_->Read(pool_, max_lag_, std::forward<F>(fn));
    }
    return pool_->Read(std::forward<F>(fn));
  }

  static absl::Status NoLonger(int64_t task_id, std::string_view owner) {
    return absl::AbortedError(StrCat("task ", task_id, " is no longer leased to ", owner));
  }

  absl::Status ApplyIn(Tx& tx, const JobChange& c) {
    if (!c.audit.empty()) VERSO_RETURN_IF_ERROR(pg::AppendAudit(tx, c.audit));
    if (c.finish_task > 0) {
      pqxx::result r = tx.Exec(
          "UPDATE tasks SET state='done', lease_until=NULL WHERE id=$1 AND state='leased' AND "
          "lease_owner=$2",
          {c.finish_task, c.finish_owner});
      if (r.affected_rows() == 0) return NoLonger(c.finish_task, c.finish_owner);
    }
    for (const JobRecord& j : c.jobs) VERSO_RETURN_IF_ERROR(PutJob(tx, j));
    if (!c.segments.empty()) PutSegments(tx, c.segments);
    for (const TaskRecord& t : c.enqueue) {
      tx.Exec(
          "INSERT INTO tasks(job_id, tenant, kind, target_lang, payload, state, attempts, "
          "run_after, lease_until, lease_owner, error, created_at) VALUES($1, COALESCE((SELECT "
          "tenant FROM jobs WHERE id=$1 LIMIT 1), ''), $2, $3, $4, CASE WHEN $7::TEXT = '' THEN "
          "'queued' ELSE 'leased' END, CASE WHEN $7::TEXT = '' THEN 0 ELSE 1 END, $5, CASE WHEN "
          "$7::TEXT = '' THEN NULL ELSE $8::BIGINT END, $7::TEXT, '', $6)",
          {t.job_id, EnumName(t.kind), t.target_lang, t.payload, Micros(t.run_after),
           Micros(t.created_at), t.lease_owner, Micros(t.lease_until)});
    }
    if (!c.enqueue.empty()) tx.Exec("SELECT pg_notify('verso_tasks', '')");
    for (const WebhookDeliveryRecord& d : c.deliveries) {
      tx.Exec(
          "INSERT INTO webhook_deliveries(job_id, event, attempt, http_status, error, at) "
          "VALUES($1,$2,$3,$4,$5,$6)",
          {d.job_id, d.event, d.attempt, d.http_status, d.error, Micros(d.at)});
    }
    return absl::OkStatus();
  }

  absl::Status PutJob(Tx& tx, const JobRecord& j) {
    if (!j.idempotency_key.empty()) {
      pqxx::result r = tx.Exec(
          "INSERT INTO job_idempotency(tenant, key, job_id) VALUES($1,$2,$3) ON CONFLICT DO "
          "NOTHING RETURNING job_id",
          {j.tenant, j.idempotency_key, j.id});
      if (r.empty()) {
        pqxx::result owner =
            tx.Exec("SELECT job_id FROM job_idempotency WHERE tenant=$1 AND key=$2",
                    {j.tenant, j.idempotency_key});
        if (owner.empty() || Str(owner[0][0]) != j.id) {
          return absl::AlreadyExistsError(
              StrCat("a job with the idempotency key ", j.idempotency_key, " exists"));
        }
      }
    }
    static const std::string upsert =
        StrCat("INSERT INTO jobs(", kJobColumns,
               ") VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,"
               "$20,$21) ON CONFLICT(id, created_at) DO UPDATE SET ",
               ExcludedAssignments(kJobColumns, {"id", "document", "created_at"}));
    tx.Exec(upsert, {j.id,
                     j.tenant,
                     EnumName(j.status),
                     j.source_lang,
                     Join(j.target_langs, " "),
                     j.tm_store,
                     j.glossary,
                     j.engine_policy,
                     j.qa_profile,
                     j.qe_threshold,
                     j.webhook_url,
                     j.idempotency_key,
                     j.format,
                     j.file_name,
                     Param::Bytes(j.document),
                     j.error,
                     j.stats,
                     Micros(j.created_at),
                     Micros(j.updated_at),
                     Param::Time(j.finished_at),
                     int64_t{j.revision ? 1 : 0}});
    return absl::OkStatus();
  }

  struct LeaseWaiter {
    std::string_view owner;
    absl::Time now;
    absl::Time lease_until;
    int max_per_tenant;
    absl::StatusOr<TaskRecord> result = absl::NotFoundError("no runnable task");
    bool done = false;
  };
  static constexpr size_t kMaxLeaseGroup = 64;

  // The leader's step: one lease_tasks call for `group` (at the leader's time, the earliest),
  // each waiter's result set; a waiter no task was left for gets NotFound.
  void LeaseGroup(const std::vector<LeaseWaiter*>& group) {
    std::vector<std::string> owners, untils;
    for (const LeaseWaiter* w : group) {
      owners.emplace_back(w->owner);
      untils.push_back(std::to_string(Micros(w->lease_until)));
    }
    auto leased = pool_->Read([&](Tx& tx) -> absl::StatusOr<std::vector<TaskRecord>> {
      pqxx::result r = tx.Exec(
          StrCat("SELECT ", kTaskColumns, " FROM lease_tasks($1::TEXT[], $2::BIGINT[], $3, $4)"),
          {ArrayLiteral(owners), ArrayLiteral(untils), Micros(group[0]->now),
           group[0]->max_per_tenant});
      std::vector<TaskRecord> out;
      for (const auto& row : r) out.push_back(ReadTask(row));
      return out;
    });
    for (LeaseWaiter* w : group) {
      if (!leased.ok()) {
        w->result = leased.status();
        continue;
      }
      for (TaskRecord& t : *leased) {
        if (t.lease_owner == w->owner) w->result = std::move(t);
      }
    }
  }

  // A PostgreSQL array literal of `items`, each quoted.
  static std::string ArrayLiteral(const std::vector<std::string>& items) {
    std::string out = "{";
    for (size_t i = 0; i < items.size(); ++i) {
      out += i ? ",\"" : "\"";
      for (char c : items[i]) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
      }
      out += '"';
    }
    return out + "}";
  }

  absl::Mutex lease_mu_;
  absl::CondVar lease_cv_;
  std::deque<LeaseWaiter*> lease_queue_ ABSL_GUARDED_BY(lease_mu_);  // front: the leader's group
  Pool* pool_;
  pg::ReplicaSet* replicas_;  // may be null
  const absl::Duration max_lag_;
  pg::Listener* listener_;  // may be null
};

}  // namespace

std::unique_ptr<JobRepository> NewPgJobs(pg::Pool* pool, pg::ReplicaSet* replicas,
                                         absl::Duration max_lag, pg::Listener* listener) {
  return std::make_unique<PgJobs>(pool, replicas, max_lag, listener);
}

}  // namespace verso::storage
