// SQLite implementation of the JobRepository (see storage.h): jobs, their segments, the durable
// task queue and the webhook delivery log, in the same database file as everything else (the
// tables are created by sqlite_database.cc's migrations). It uses the database's connections
// (one writer for the whole process, a pool of readers).
#include "storage/sqlite/sqlite_jobs.h"
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

#include <limits>

#include "common/status.h"
#include "common/strings.h"
#include "storage/record_codec.h"
#include "storage/sqlite/sqlite_db.h"

namespace verso::storage {
namespace {

using sqlite::Connection;
using sqlite::ConnectionPool;
using sqlite::Stmt;

// A state as storage keeps it (its EnumName). Only verso writes these columns; a name no version
// wrote reads as the first state.
template <typename E>
E Enum(std::string_view name) {
  return ParseEnum<E>(name).value_or(E{});
}

int64_t Micros(absl::Time t) { return absl::ToUnixMicros(t); }
absl::Time FromMicros(int64_t us) { return absl::FromUnixMicros(us); }

constexpr const char* kJobColumns =
    "id, tenant, status, source_lang, target_langs, tm_store, glossary, engine_policy, "
    "qa_profile, qe_threshold, webhook_url, idempotency_key, format, file_name, document, error, "
    "stats, created_at, updated_at, finished_at, revision";
// The same without the document (listing jobs must not read every file).
constexpr const char* kJobColumnsNoDocument =
    "id, tenant, status, source_lang, target_langs, tm_store, glossary, engine_policy, "
    "qa_profile, qe_threshold, webhook_url, idempotency_key, format, file_name, '', error, "
    "stats, created_at, updated_at, finished_at, revision";

JobRecord ReadJob(const Stmt& st) {
  JobRecord j;
  j.id = std::string(st.Text(0));
  j.tenant = std::string(st.Text(1));
  j.status = Enum<JobStatus>(st.Text(2));
  j.source_lang = std::string(st.Text(3));
  for (std::string_view t : Split(st.Text(4), ' ')) {
    if (!t.empty()) j.target_langs.emplace_back(t);
  }
  j.tm_store = std::string(st.Text(5));
  j.glossary = std::string(st.Text(6));
  j.engine_policy = std::string(st.Text(7));
  j.qa_profile = std::string(st.Text(8));
  j.qe_threshold = st.Double(9);
  j.webhook_url = std::string(st.Text(10));
  j.idempotency_key = std::string(st.Text(11));
  j.format = std::string(st.Text(12));
  j.file_name = std::string(st.Text(13));
  j.document = std::string(st.Text(14));
  j.error = std::string(st.Text(15));
  j.stats = std::string(st.Text(16));
  j.created_at = FromMicros(st.Int(17));
  j.updated_at = FromMicros(st.Int(18));
  j.finished_at = st.IsNull(19) ? absl::InfinitePast() : FromMicros(st.Int(19));
  j.revision = st.Int(20) != 0;
  return j;
}

constexpr const char* kSegmentColumns =
    "job_id, target_lang, idx, unit_id, source, target, origin, state, tm_score, tm_target, "
    "repetition, words, engine, review, qe_score, draft, editor, updated_at, characters, version, "
    "edit_id";

JobSegmentRecord ReadSegment(const Stmt& st) {
  JobSegmentRecord s;
  s.job_id = std::string(st.Text(0));
  s.target_lang = std::string(st.Text(1));
  s.index = st.Int(2);
  s.unit_id = std::string(st.Text(3));
  s.source = std::string(st.Text(4));
  s.target = std::string(st.Text(5));
  s.origin = Enum<SegmentOrigin>(st.Text(6));
  s.state = Enum<SegmentState>(st.Text(7));
  s.tm_score = static_cast<int>(st.Int(8));
  s.tm_target = std::string(st.Text(9));
  s.repetition = st.Int(10) != 0;
  s.words = st.Int(11);
  s.engine = std::string(st.Text(12));
  s.review = std::string(st.Text(13));
  s.qe_score = st.Double(14);
  s.draft = std::string(st.Text(15));
  s.editor = std::string(st.Text(16));
  s.updated_at = FromMicros(st.Int(17));
  s.characters = st.Int(18);
  s.version = st.Int(19);
  s.edit_id = std::string(st.Text(20));
  return s;
}

constexpr const char* kTaskColumns =
    "id, job_id, kind, target_lang, payload, state, attempts, run_after, lease_until, "
    "lease_owner, error, created_at, crashes";

TaskRecord ReadTask(const Stmt& st) {
  TaskRecord t;
  t.id = st.Int(0);
  t.job_id = std::string(st.Text(1));
  t.kind = Enum<TaskKind>(st.Text(2));
  t.target_lang = std::string(st.Text(3));
  t.payload = std::string(st.Text(4));
  t.state = Enum<TaskState>(st.Text(5));
  t.attempts = static_cast<int>(st.Int(6));
  t.run_after = FromMicros(st.Int(7));
  t.lease_until = st.IsNull(8) ? absl::InfinitePast() : FromMicros(st.Int(8));
  t.lease_owner = std::string(st.Text(9));
  t.error = std::string(st.Text(10));
  t.created_at = FromMicros(st.Int(11));
  t.crashes = static_cast<int>(st.Int(12));
  return t;
}

class SqliteJobs : public JobRepository {
 public:
  explicit SqliteJobs(ConnectionPool* pool) : pool_(pool) {}

  // The queue's small writes are group-committed: concurrent workers' leases and finishes share
  // one transaction and one fsync (ConnectionPool::GroupWrite). A change of many rows commits
  // alone: its own writes outweigh a commit, and inside a group its savepoint would copy every
  // page it changes to a statement journal (the jobs benchmark took 30 % longer grouped).
  absl::Status Apply(const JobChange& change) override {
    const size_t rows = change.jobs.size() + change.segments.size() + change.enqueue.size() +
                        change.deliveries.size();
    if (rows <= kGroupedRows) return pool_->GroupWrite([&] { return ApplyLocked(change); });
    absl::MutexLock lock(&pool_->write_mu);
    return pool_->writer->Transaction([&] { return ApplyLocked(change); });
  }
  static constexpr size_t kGroupedRows = 4;

  // One writer process at a time is SQLite's model; within it, one job change at a time.
  absl::Status Exclusively(std::string_view, const std::function<absl::Status()>& fn) override {
    absl::MutexLock lock(&exclusive_mu_);
    return fn();
  }

  absl::StatusOr<JobRecord> GetJob(std::string_view id, Freshness) override {
    ConnectionPool::Reader reader(pool_);
    VERSO_ASSIGN_OR_RETURN(Stmt * st, reader->Prepare(StrCat("SELECT ", kJobColumnsNoDocument,
                                                             " FROM jobs WHERE id=?")));
    st->Reset().Bind(1, id);
    VERSO_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) {
      st->Reset();
      return absl::NotFoundError(StrCat("job ", id, " not found"));
    }
    JobRecord j = ReadJob(*st);
    st->Reset();
    return j;
  }

  absl::StatusOr<std::string> GetJobDocument(std::string_view id) override {
    ConnectionPool::Reader reader(pool_);
    VERSO_ASSIGN_OR_RETURN(Stmt * st, reader->Prepare("SELECT document FROM jobs WHERE id=?"));
    st->Reset().Bind(1, id);
    VERSO_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) {
      st->Reset();
      return absl::NotFoundError(StrCat("job ", id, " not found"));
    }
    std::string document(st->Text(0));
    st->Reset();
    return document;
  }

  absl::StatusOr<JobRecord> FindJobByIdempotencyKey(std::string_view tenant,
                                                    std::string_view key) override {
    ConnectionPool::Reader reader(pool_);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st, reader->Prepare(StrCat("SELECT ", kJobColumnsNoDocument,
                                          " FROM jobs WHERE tenant=? AND idempotency_key=?")));
    st->Reset().Bind(1, tenant).Bind(2, key);
    VERSO_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) {
      st->Reset();
      return absl::NotFoundError(StrCat("no job with idempotency key ", key));
    }
    JobRecord j = ReadJob(*st);
    st->Reset();
    return j;
  }

  absl::StatusOr<std::vector<JobRecord>> ListJobs(std::string_view tenant, int limit,
                                                  absl::Time after_created,
                                                  std::string_view after_id) override {
    ConnectionPool::Reader reader(pool_);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st,
        reader->Prepare(StrCat("SELECT ", kJobColumnsNoDocument,
                               " FROM jobs WHERE tenant=?1 AND (created_at < ?3 OR "
                               "(created_at = ?3 AND id > ?4)) ORDER BY created_at DESC, id "
                               "LIMIT ?2")));
    const int64_t created = after_created == absl::InfiniteFuture()
                                ? std::numeric_limits<int64_t>::max()
                                : Micros(after_created);
    st->Reset()
        .Bind(1, tenant)
        .Bind(2, static_cast<int64_t>(limit))
        .Bind(3, created)
        .Bind(4, after_id);
    std::vector<JobRecord> out;
    VERSO_RETURN_IF_ERROR(st->ForEachRow([&](Stmt&) { out.push_back(ReadJob(*st)); }));
    return out;
  }

  absl::StatusOr<std::vector<JobSegmentRecord>> GetJobSegments(
      std::string_view job_id, std::string_view target_lang) override {
    ConnectionPool::Reader reader(pool_);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st, reader->Prepare(StrCat("SELECT ", kSegmentColumns,
                                          " FROM job_segments WHERE job_id=? AND "
                                          "(?2='' OR target_lang=?2) ORDER BY target_lang, idx")));
    st->Reset().Bind(1, job_id).Bind(2, target_lang);
    return Segments(st);
  }

  absl::StatusOr<std::vector<JobSegmentRecord>> GetJobSegmentsPage(
      std::string_view job_id, std::string_view target_lang, std::string_view state,
      std::string_view after_target, int64_t after_index, int limit) override {
    ConnectionPool::Reader reader(pool_);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st,
        reader->Prepare(StrCat("SELECT ", kSegmentColumns,
                               " FROM job_segments WHERE job_id=?1 AND (?2='' OR target_lang=?2) "
                               "AND (?3='' OR state=?3) AND (target_lang, idx) > (?4, ?5) "
                               "ORDER BY target_lang, idx LIMIT ?6")));
    st->Reset().Bind(1, job_id).Bind(2, target_lang).Bind(3, state).Bind(4, after_target);
    st->Bind(5, after_index).Bind(6, static_cast<int64_t>(limit));
    return Segments(st);
  }

  absl::StatusOr<std::vector<JobSegmentCount>> CountJobSegments(std::string_view job_id,
                                                                Freshness) override {
    ConnectionPool::Reader reader(pool_);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st,
        reader->Prepare("SELECT target_lang, state, origin, engine, COUNT(*), SUM(words) "
                        "FROM job_segments WHERE job_id=? GROUP BY target_lang, "
                        "state, origin, engine ORDER BY target_lang, state, origin, "
                        "engine"));
    st->Reset().Bind(1, job_id);
    std::vector<JobSegmentCount> out;
    VERSO_RETURN_IF_ERROR(st->ForEachRow([&](Stmt&) {
      out.push_back({std::string(st->Text(0)), Enum<SegmentState>(st->Text(1)),
                     Enum<SegmentOrigin>(st->Text(2)), std::string(st->Text(3)), st->Int(4),
                     st->Int(5)});
    }));
    return out;
  }

  absl::StatusOr<JobSegmentRecord> GetJobSegment(std::string_view job_id,
                                                 std::string_view target_lang,
                                                 int64_t index) override {
    ConnectionPool::Reader reader(pool_);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st, reader->Prepare(StrCat("SELECT ", kSegmentColumns,
                                          " FROM job_segments WHERE job_id=? AND target_lang=? "
                                          "AND idx=?")));
    st->Reset().Bind(1, job_id).Bind(2, target_lang).Bind(3, index);
    VERSO_ASSIGN_OR_RETURN(auto list, Segments(st));
    if (list.empty()) {
      return absl::NotFoundError(
          StrCat("segment ", index, " (", target_lang, ") not found in job ", job_id));
    }
    return std::move(list[0]);
  }

  absl::StatusOr<std::vector<JobSegmentRecord>> AwaitingSegments(
      std::string_view tenant, int limit, const JobSegmentRecord* after) override {
    ConnectionPool::Reader reader(pool_);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st,
        reader->Prepare(StrCat(
            "SELECT ", PrefixColumns("s.", kSegmentColumns),
            " FROM job_segments s JOIN jobs j ON j.id = s.job_id WHERE s.state='awaiting' AND "
            "(?1='' OR j.tenant=?1) AND (?3 = 0 OR (s.updated_at, s.job_id, s.target_lang, "
            "s.idx) > (?4, ?5, ?6, ?7)) ORDER BY s.updated_at, s.job_id, s.target_lang, s.idx "
            "LIMIT ?2")));
    st->Reset().Bind(1, tenant).Bind(2, static_cast<int64_t>(limit));
    st->Bind(3, static_cast<int64_t>(after != nullptr));
    st->Bind(4, after ? Micros(after->updated_at) : int64_t{0});
    st->Bind(5, after ? std::string_view(after->job_id) : std::string_view());
    st->Bind(6, after ? std::string_view(after->target_lang) : std::string_view());
    st->Bind(7, after ? after->index : int64_t{0});
    return Segments(st);
  }

  absl::StatusOr<TaskRecord> LeaseTask(std::string_view owner, absl::Time now,
                                       absl::Time lease_until, int max_per_tenant) override {
    absl::StatusOr<TaskRecord> task;
    absl::Status s = pool_->GroupWrite([&] {
      task = LeaseLocked(owner, now, lease_until, max_per_tenant);
      return task.status();
    });
    if (!s.ok()) return s;
    return task;
  }

  absl::Status RenewLease(int64_t task_id, std::string_view owner,
                          absl::Time lease_until) override {
    return pool_->GroupWrite([&]() -> absl::Status {
      VERSO_ASSIGN_OR_RETURN(Stmt * st,
                             pool_->writer->Prepare("UPDATE tasks SET lease_until=? WHERE id=? AND "
                                                    "state='leased' AND lease_owner=?"));
      st->Reset().Bind(1, Micros(lease_until)).Bind(2, task_id).Bind(3, owner);
      return st->RunChanging(
          absl::AbortedError(StrCat("task ", task_id, " is no longer leased to ", owner)));
    });
  }

  absl::Status FailTask(int64_t task_id, std::string_view owner, std::string_view error,
                        absl::Time run_after, bool dead) override {
    return pool_->GroupWrite([&]() -> absl::Status {
      VERSO_ASSIGN_OR_RETURN(
          Stmt * st, pool_->writer->Prepare("UPDATE tasks SET state=?, error=?, run_after=?, "
                                            "lease_until=NULL, lease_owner='' WHERE id=? AND "
                                            "state='leased' AND lease_owner=?"));
      st->Reset().Bind(1, dead ? "dead" : "queued").Bind(2, error).Bind(3, Micros(run_after));
      st->Bind(4, task_id).Bind(5, owner);
      return st->RunChanging(
          absl::AbortedError(StrCat("task ", task_id, " is no longer leased to ", owner)));
    });
  }

  absl::StatusOr<std::vector<TaskRecord>> JobTasks(std::string_view job_id, Freshness) override {
    ConnectionPool::Reader reader(pool_);
    VERSO_ASSIGN_OR_RETURN(Stmt * st, reader->Prepare(StrCat("SELECT ", kTaskColumns,
                                                             " FROM tasks WHERE job_id=? "
                                                             "ORDER BY id")));
    st->Reset().Bind(1, job_id);
    std::vector<TaskRecord> out;
    VERSO_RETURN_IF_ERROR(st->ForEachRow([&](Stmt&) { out.push_back(ReadTask(*st)); }));
    return out;
  }

  absl::StatusOr<QueueStats> GetQueueStats() override {
    ConnectionPool::Reader reader(pool_);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st, reader->Prepare("SELECT state, COUNT(*), MIN(created_at) FROM tasks WHERE "
                                   "state != 'done' GROUP BY state"));
    st->Reset();
    QueueStats q;
    VERSO_RETURN_IF_ERROR(st->ForEachRow([&](Stmt&) {
      std::string_view state = st->Text(0);
      if (state == "queued") {
        q.queued = st->Int(1);
        q.oldest_queued = FromMicros(st->Int(2));
      } else if (state == "leased") {
        q.leased = st->Int(1);
      } else if (state == "dead") {
        q.dead = st->Int(1);
      }
    }));
    VERSO_ASSIGN_OR_RETURN(
        Stmt * awaiting,
        reader->Prepare("SELECT COUNT(*) FROM job_segments WHERE state = 'awaiting'"));
    awaiting->Reset();
    VERSO_RETURN_IF_ERROR(
        awaiting->ForEachRow([&](Stmt&) { q.awaiting_post_edit = awaiting->Int(0); }));
    return q;
  }

  absl::StatusOr<std::vector<WebhookDeliveryRecord>> Deliveries(std::string_view job_id) override {
    ConnectionPool::Reader reader(pool_);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st, reader->Prepare("SELECT job_id, event, attempt, http_status, error, at FROM "
                                   "webhook_deliveries WHERE job_id=? ORDER BY id"));
    st->Reset().Bind(1, job_id);
    std::vector<WebhookDeliveryRecord> out;
    VERSO_RETURN_IF_ERROR(st->ForEachRow([&](Stmt&) {
      WebhookDeliveryRecord d;
      d.job_id = std::string(st->Text(0));
      d.event = std::string(st->Text(1));
      d.attempt = static_cast<int>(st->Int(2));
      d.http_status = static_cast<int>(st->Int(3));
      d.error = std::string(st->Text(4));
      d.at = FromMicros(st->Int(5));
      out.push_back(std::move(d));
    }));
    return out;
  }

 private:
  SqliteJobs() = default;

  static absl::StatusOr<std::vector<JobSegmentRecord>> Segments(Stmt* st) {
    std::vector<JobSegmentRecord> out;
    while (true) {
      absl::StatusOr<bool> row = st->Step();
      if (!row.ok()) {
        st->Reset();
        return row.status();
      }
      if (!*row) break;
      out.push_back(ReadSegment(*st));
    }
    st->Reset();
    return out;
  }

  absl::Status ApplyLocked(const JobChange& c) {
    if (!c.audit.empty()) {
      VERSO_RETURN_IF_ERROR(sqlite::AppendAuditLocked(pool_->writer.get(), c.audit));
    }
    if (c.finish_task > 0) {
      VERSO_ASSIGN_OR_RETURN(
          Stmt * st, pool_->writer->Prepare("UPDATE tasks SET state='done', lease_until=NULL "
                                            "WHERE id=? AND state='leased' AND lease_owner=?"));
      st->Reset().Bind(1, c.finish_task).Bind(2, c.finish_owner);
      VERSO_RETURN_IF_ERROR(st->RunChanging(absl::AbortedError(
          StrCat("task ", c.finish_task, " is no longer leased to ", c.finish_owner))));
    }
    for (const JobRecord& j : c.jobs) {
      VERSO_ASSIGN_OR_RETURN(Stmt * st, pool_->writer->Prepare(StrCat(
                                            "INSERT INTO jobs(", kJobColumns,
                                            ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                                            "ON CONFLICT(id) DO UPDATE SET ",
                                            ExcludedAssignments(kJobColumns, {"id", "document"}))));
      st->Reset()
          .Bind(1, j.id)
          .Bind(2, j.tenant)
          .Bind(3, EnumName(j.status))
          .Bind(4, j.source_lang);
      st->Bind(5, Join(j.target_langs, " ")).Bind(6, j.tm_store).Bind(7, j.glossary);
      st->Bind(8, j.engine_policy).Bind(9, j.qa_profile).BindDouble(10, j.qe_threshold);
      st->Bind(11, j.webhook_url).Bind(12, j.idempotency_key).Bind(13, j.format);
      st->Bind(14, j.file_name).Bind(15, j.document).Bind(16, j.error).Bind(17, j.stats);
      st->Bind(18, Micros(j.created_at)).Bind(19, Micros(j.updated_at));
      if (j.finished_at == absl::InfinitePast()) {
        st->BindNull(20);
      } else {
        st->Bind(20, Micros(j.finished_at));
      }
      st->Bind(21, int64_t{j.revision ? 1 : 0});
      absl::Status s = st->Run();
      if (absl::IsAlreadyExists(s)) {
        return absl::AlreadyExistsError(
            StrCat("a job with the idempotency key ", j.idempotency_key, " exists"));
      }
      VERSO_RETURN_IF_ERROR(s);
    }
    for (const JobSegmentRecord& s : c.segments) {
      VERSO_ASSIGN_OR_RETURN(
          Stmt * st,
          pool_->writer->Prepare(StrCat("INSERT OR REPLACE INTO job_segments(", kSegmentColumns,
                                        ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")));
      st->Reset().Bind(1, s.job_id).Bind(2, s.target_lang).Bind(3, s.index).Bind(4, s.unit_id);
      st->Bind(5, s.source)
          .Bind(6, s.target)
          .Bind(7, EnumName(s.origin))
          .Bind(8, EnumName(s.state));
      st->Bind(9, static_cast<int64_t>(s.tm_score)).Bind(10, s.tm_target);
      st->Bind(11, static_cast<int64_t>(s.repetition ? 1 : 0)).Bind(12, s.words);
      st->Bind(13, s.engine).Bind(14, s.review).BindDouble(15, s.qe_score).Bind(16, s.draft);
      st->Bind(17, s.editor).Bind(18, Micros(s.updated_at)).Bind(19, s.characters);
      st->Bind(20, s.version).Bind(21, s.edit_id);
      VERSO_RETURN_IF_ERROR(st->Run());
    }
    for (const TaskRecord& t : c.enqueue) {
      VERSO_ASSIGN_OR_RETURN(
          Stmt * st, pool_->writer->Prepare(
                         "INSERT INTO tasks(job_id, kind, target_lang, payload, state, "
                         "attempts, run_after, lease_until, lease_owner, error, created_at, "
                         "tenant) VALUES(?1,?2,?3,?4,CASE WHEN ?7='' THEN 'queued' ELSE "
                         "'leased' END,?7<>'',?5,CASE WHEN ?7='' THEN NULL ELSE ?8 END,?7,'',?6, "
                         "COALESCE((SELECT tenant FROM jobs WHERE id=?1), ''))"));
      st->Reset()
          .Bind(1, t.job_id)
          .Bind(2, EnumName(t.kind))
          .Bind(3, t.target_lang)
          .Bind(4, t.payload);
      st->Bind(5, Micros(t.run_after)).Bind(6, Micros(t.created_at));
      st->Bind(7, t.lease_owner).Bind(8, Micros(t.lease_until));
      VERSO_RETURN_IF_ERROR(st->Run());
    }
    for (const WebhookDeliveryRecord& d : c.deliveries) {
      VERSO_ASSIGN_OR_RETURN(
          Stmt * st,
          pool_->writer->Prepare("INSERT INTO webhook_deliveries(job_id, event, attempt, "
                                 "http_status, error, at) VALUES(?,?,?,?,?,?)"));
      st->Reset().Bind(1, d.job_id).Bind(2, d.event).Bind(3, static_cast<int64_t>(d.attempt));
      st->Bind(4, static_cast<int64_t>(d.http_status)).Bind(5, d.error).Bind(6, Micros(d.at));
      VERSO_RETURN_IF_ERROR(st->Run());
    }
    return absl::OkStatus();
  }

  absl::StatusOr<TaskRecord> LeaseLocked(std::string_view owner, absl::Time now,
                                         absl::Time lease_until, int max_per_tenant) {
    // Tenants by the tasks they have running; the runnable task of the least busy tenant first.
    // The candidates are the expired leases (few) and each tenant's earliest runnable task,
    // found by index (tenants with queued tasks by a skip scan): the cost grows with tenants,
    // not with the backlog.
    VERSO_ASSIGN_OR_RETURN(
        Stmt * pick,
        pool_->writer->Prepare(
            "WITH RECURSIVE tn(tenant) AS ("
            " SELECT (SELECT tenant FROM tasks WHERE state='queued' ORDER BY tenant LIMIT 1)"
            " UNION ALL SELECT (SELECT tenant FROM tasks WHERE state='queued' AND "
            " tenant>tn.tenant ORDER BY tenant LIMIT 1) FROM tn WHERE tn.tenant IS NOT NULL), "
            "busy AS (SELECT tenant, count(*) AS n FROM tasks WHERE state='leased' AND "
            " lease_until>=?1 GROUP BY tenant), "
            "cand AS (SELECT id, tenant, run_after FROM tasks WHERE state='leased' AND "
            " lease_until<?1 UNION ALL SELECT q.id, q.tenant, q.run_after FROM tn JOIN tasks q "
            " ON q.id=(SELECT id FROM tasks WHERE state='queued' AND tenant=tn.tenant AND "
            " run_after<=?1 ORDER BY run_after, id LIMIT 1)) "
            "SELECT c.id FROM cand c LEFT JOIN busy b ON b.tenant=c.tenant "
            "WHERE ?2<=0 OR coalesce(b.n,0)<?2 ORDER BY coalesce(b.n,0), c.run_after, c.id "
            "LIMIT 1"));
    pick->Reset().Bind(1, Micros(now)).Bind(2, max_per_tenant);
    VERSO_ASSIGN_OR_RETURN(bool row, pick->Step());
    if (!row) {
      pick->Reset();
      return absl::NotFoundError("no runnable task");
    }
    const int64_t id = pick->Int(0);
    pick->Reset();
    VERSO_ASSIGN_OR_RETURN(
        Stmt * up, pool_->writer->Prepare("UPDATE tasks SET state='leased', "
                                          "attempts=attempts+1, crashes=crashes+(state='leased'), "
                                          "lease_owner=?, lease_until=? WHERE id=?"));
    up->Reset().Bind(1, owner).Bind(2, Micros(lease_until)).Bind(3, id);
    VERSO_RETURN_IF_ERROR(up->Run());
    VERSO_ASSIGN_OR_RETURN(Stmt * get, pool_->writer->Prepare(StrCat("SELECT ", kTaskColumns,
                                                                     " FROM tasks WHERE id=?")));
    get->Reset().Bind(1, id);
    VERSO_ASSIGN_OR_RETURN(bool found, get->Step());
    if (!found) {
      get->Reset();
      return absl::InternalError("sqlite: a leased task vanished");
    }
    TaskRecord t = ReadTask(*get);
    get->Reset();
    return t;
  }

  ConnectionPool* pool_;
  absl::Mutex exclusive_mu_;
};

}  // namespace

std::unique_ptr<JobRepository> NewSqliteJobs(sqlite::ConnectionPool* pool) {
  return std::make_unique<SqliteJobs>(pool);
}

}  // namespace verso::storage
