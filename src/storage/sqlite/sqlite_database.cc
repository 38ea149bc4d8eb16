// SQLite implementation of the Database and its repositories.
//
// One write connection (serialized by the pool's write_mu, shared with the job repository) and a
// small pool of read connections (sqlite_db.h's ConnectionPool); WAL mode lets readers run while
// the writer holds its transaction. Segments reference their store by an
// integer (tm_stores.num) to keep rows small. A unique index on (store_num, pair_hash) makes
// "the same source, target and context" a single segment; pair_hash is a 64-bit hash, so two
// different segments collide with probability ~n²/2⁶⁵ (3·10⁻⁸ at a million segments).
#include <sqlite3.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/crypto.h"
#include "common/hash.h"
#include "common/json.h"
#include "common/status.h"
#include "common/strings.h"
#include "storage/record_codec.h"
#include "storage/sqlite/change_log.h"
#include "storage/sqlite/sqlite_db.h"
#include "storage/sqlite/sqlite_jobs.h"
#include "storage/storage.h"

namespace verso::storage {

namespace {

using sqlite::Connection;
using sqlite::ConnectionPool;
using sqlite::Stmt;

constexpr const char* kMigrations[] = {
    // 1: TM stores and segments.
    R"sql(
CREATE TABLE tm_stores(
  num INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  tenant TEXT NOT NULL,
  name TEXT NOT NULL,
  source_lang TEXT NOT NULL,
  target_lang TEXT NOT NULL,
  created_at INTEGER NOT NULL);
CREATE INDEX tm_stores_tenant ON tm_stores(tenant, id);
CREATE TABLE tm_segments(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  store_num INTEGER NOT NULL REFERENCES tm_stores(num) ON DELETE CASCADE,
  source TEXT NOT NULL,
  target TEXT NOT NULL,
  pair_hash INTEGER NOT NULL,
  ctx_key TEXT NOT NULL DEFAULT '',
  ctx_prev INTEGER NOT NULL DEFAULT 0,
  ctx_next INTEGER NOT NULL DEFAULT 0,
  creator TEXT NOT NULL DEFAULT '',
  changer TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  changed_at INTEGER NOT NULL,
  last_used_at INTEGER,
  usage_count INTEGER NOT NULL DEFAULT 0,
  props TEXT,
  notes TEXT);
CREATE UNIQUE INDEX tm_segments_pair ON tm_segments(store_num, pair_hash);
CREATE INDEX tm_segments_store ON tm_segments(store_num, id);
)sql",
    // 2: API keys and background imports.
    R"sql(
CREATE TABLE api_keys(
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  name TEXT NOT NULL,
  scopes TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER);
CREATE INDEX api_keys_tenant ON api_keys(tenant, id);
CREATE TABLE tm_imports(
  id TEXT PRIMARY KEY,
  store_id TEXT NOT NULL,
  tenant TEXT NOT NULL,
  file TEXT NOT NULL,
  format TEXT NOT NULL,
  user TEXT NOT NULL,
  status TEXT NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  report TEXT NOT NULL DEFAULT '',
  bytes_total INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  finished_at INTEGER);
CREATE INDEX tm_imports_status ON tm_imports(status, created_at);
)sql",
    // 3: machine-translation engine policies.
    R"sql(
CREATE TABLE mt_policies(
  tenant TEXT NOT NULL,
  name TEXT NOT NULL,
  engines TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY(tenant, name));
)sql",
    // 4: glossaries.
    R"sql(
CREATE TABLE glossaries(
  tenant TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY(tenant, name));
CREATE TABLE glossary_concepts(
  tenant TEXT NOT NULL,
  glossary TEXT NOT NULL,
  id TEXT NOT NULL,
  data TEXT NOT NULL,
  terms INTEGER NOT NULL,
  PRIMARY KEY(tenant, glossary, id));
)sql",
    // 5: QA profiles.
    R"sql(
CREATE TABLE qa_profiles(
  tenant TEXT NOT NULL,
  name TEXT NOT NULL,
  disabled TEXT NOT NULL,
  max_length INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY(tenant, name));
)sql",
    // 6: jobs, their segments, the task queue, webhook deliveries.
    R"sql(
CREATE TABLE jobs(
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  status TEXT NOT NULL,
  source_lang TEXT NOT NULL,
  target_langs TEXT NOT NULL,
  tm_store TEXT NOT NULL,
  glossary TEXT NOT NULL,
  engine_policy TEXT NOT NULL,
  qa_profile TEXT NOT NULL,
  qe_threshold REAL NOT NULL,
  webhook_url TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  format TEXT NOT NULL,
  file_name TEXT NOT NULL,
  document BLOB NOT NULL,
  error TEXT NOT NULL,
  stats TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  finished_at INTEGER);
CREATE UNIQUE INDEX jobs_idempotency ON jobs(tenant, idempotency_key) WHERE idempotency_key != '';
CREATE INDEX jobs_tenant ON jobs(tenant, created_at);
CREATE TABLE job_segments(
  job_id TEXT NOT NULL,
  target_lang TEXT NOT NULL,
  idx INTEGER NOT NULL,
  unit_id TEXT NOT NULL,
  source TEXT NOT NULL,
  target TEXT NOT NULL,
  origin TEXT NOT NULL,
  state TEXT NOT NULL,
  tm_score INTEGER NOT NULL,
  tm_target TEXT NOT NULL,
  repetition INTEGER NOT NULL,
  words INTEGER NOT NULL,
  characters INTEGER NOT NULL,
  engine TEXT NOT NULL,
  review TEXT NOT NULL,
  qe_score REAL NOT NULL,
  draft TEXT NOT NULL,
  editor TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY(job_id, target_lang, idx)) WITHOUT ROWID;
CREATE INDEX job_segments_awaiting ON job_segments(updated_at) WHERE state = 'awaiting';
CREATE TABLE tasks(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  target_lang TEXT NOT NULL,
  payload TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  run_after INTEGER NOT NULL,
  lease_until INTEGER,
  lease_owner TEXT NOT NULL,
  error TEXT NOT NULL,
  created_at INTEGER NOT NULL);
CREATE INDEX tasks_runnable ON tasks(state, run_after);
CREATE INDEX tasks_job ON tasks(job_id);
CREATE TABLE webhook_deliveries(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id TEXT NOT NULL,
  event TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  http_status INTEGER NOT NULL,
  error TEXT NOT NULL,
  at INTEGER NOT NULL);
CREATE INDEX webhook_deliveries_job ON webhook_deliveries(job_id, id);
)sql",
    // 7: tasks count the leases that expired under them (a worker that died running them).
    R"sql(
ALTER TABLE tasks ADD COLUMN crashes INTEGER NOT NULL DEFAULT 0;
)sql",
    // 8: the TM change log, written by triggers in the writer's transaction, read by every
    // other process to keep its indexes current (a CLI import while the server runs).
    R"sql(
CREATE TABLE tm_changes(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  store_num INTEGER NOT NULL,
  segment_id INTEGER NOT NULL,
  kind TEXT NOT NULL,
  at INTEGER NOT NULL DEFAULT (CAST(strftime('%s','now') AS INTEGER)));
CREATE TRIGGER tm_changes_segment_insert AFTER INSERT ON tm_segments BEGIN
  INSERT INTO tm_changes(store_num, segment_id, kind) VALUES (NEW.store_num, NEW.id, 'i');
END;
CREATE TRIGGER tm_changes_segment_update
  AFTER UPDATE OF source, target, ctx_key, ctx_prev, ctx_next ON tm_segments BEGIN
  INSERT INTO tm_changes(store_num, segment_id, kind) VALUES (NEW.store_num, NEW.id, 'u');
END;
CREATE TRIGGER tm_changes_segment_delete AFTER DELETE ON tm_segments BEGIN
  INSERT INTO tm_changes(store_num, segment_id, kind) VALUES (OLD.store_num, OLD.id, 'd');
END;
CREATE TRIGGER tm_changes_store_insert AFTER INSERT ON tm_stores BEGIN
  INSERT INTO tm_changes(store_num, segment_id, kind) VALUES (NEW.num, 0, 's');
END;
CREATE TRIGGER tm_changes_store_delete AFTER DELETE ON tm_stores BEGIN
  INSERT INTO tm_changes(store_num, segment_id, kind) VALUES (OLD.num, 0, 's');
END;
)sql",
    // 9: tasks carry their job's tenant, so a lease finds each tenant's next runnable task by
    // index instead of sorting the whole backlog (18 ms per lease at 20,000 queued tasks).
    R"sql(
ALTER TABLE tasks ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
UPDATE tasks SET tenant = COALESCE((SELECT j.tenant FROM jobs j WHERE j.id = tasks.job_id), '');
CREATE INDEX tasks_tenant_runnable ON tasks(state, tenant, run_after);
)sql",
    // 10: cluster membership (heartbeats of TM nodes) and settings every process shares.
    R"sql(
CREATE TABLE cluster_nodes(
  id TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  url TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE TABLE cluster_settings(name TEXT PRIMARY KEY, value TEXT NOT NULL);
)sql",
    // 11: the audit log (storage.h: AuditRecord), append-only: updates are refused, deletes too
    // unless PruneAudit set the anchor's pruning flag in its own transaction.
    R"sql(
CREATE TABLE audit_log(
  seq INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  tenant TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  detail TEXT NOT NULL,
  request_id TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL);
CREATE INDEX audit_log_at ON audit_log(at);
CREATE TABLE audit_anchor(
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL,
  pruning INTEGER NOT NULL DEFAULT 0);
INSERT INTO audit_anchor(id, seq, hash) VALUES(1, 0, printf('%.64c', '0'));
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
  WHEN (SELECT pruning FROM audit_anchor WHERE id = 1) = 0
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
)sql",
    // 12: workbench users, their sessions and the job ranges assigned to them (storage.h:
    // UserRecord, SessionRecord).
    R"sql(
CREATE TABLE users(
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  email TEXT NOT NULL,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  disabled_at INTEGER);
CREATE UNIQUE INDEX users_email ON users(tenant, email);
CREATE TABLE sessions(
  hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expires ON sessions(expires_at);
CREATE TABLE job_assignments(
  job_id TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  target_lang TEXT NOT NULL,
  first_index INTEGER NOT NULL,
  last_index INTEGER NOT NULL,
  PRIMARY KEY(job_id, target_lang, first_index, user_id));
)sql",
    // 13: a segment's version and last applied edit (the workbench's edits: storage.h
    // JobSegmentRecord).
    R"sql(
ALTER TABLE job_segments ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE job_segments ADD COLUMN edit_id TEXT NOT NULL DEFAULT '';
)sql",
    // 14: jobs whose confirmed segments wait for a reviewer (storage.h JobRecord::revision).
    R"sql(
ALTER TABLE jobs ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
)sql",
    // 15: a job's counts (JobRepository::CountJobSegments, every GET /v1/jobs/{id}) read from an
    // index that holds them instead of from the segments' rows (texts, reviews).
    R"sql(
CREATE INDEX job_segments_counts ON job_segments(job_id, target_lang, state, origin, engine, words);
)sql",
};

int64_t Micros(absl::Time t) { return absl::ToUnixMicros(t); }
absl::Time FromMicros(int64_t us) { return absl::FromUnixMicros(us); }

void BindText(Stmt* st, int i, const std::string& s) {
  if (s.empty()) {
    st->BindNull(i);
  } else {
    st->Bind(i, s);
  }
}

void BindTime(Stmt* st, int i, absl::Time t) {
  if (t == absl::InfinitePast()) {
    st->BindNull(i);
  } else {
    st->Bind(i, Micros(t));
  }
}

constexpr const char* kSegmentColumns =
    "id, source, target, ctx_key, ctx_prev, ctx_next, creator, changer, created_at, changed_at, "
    "last_used_at, usage_count, props, notes";

absl::StatusOr<SegmentRecord> ReadSegment(const Stmt& st) {
  SegmentRecord s;
  s.id = st.Int(0);
  s.source = std::string(st.Text(1));
  s.target = std::string(st.Text(2));
  s.context.key = std::string(st.Text(3));
  s.context.prev_hash = st.Int(4);
  s.context.next_hash = st.Int(5);
  s.creator = std::string(st.Text(6));
  s.changer = std::string(st.Text(7));
  s.created_at = FromMicros(st.Int(8));
  s.changed_at = FromMicros(st.Int(9));
  s.last_used_at = st.IsNull(10) ? absl::InfinitePast() : FromMicros(st.Int(10));
  s.usage_count = st.Int(11);
  VERSO_RETURN_IF_ERROR(ParseProps(st.Text(12), &s.properties));
  VERSO_RETURN_IF_ERROR(ParseNotes(st.Text(13), &s.notes));
  return s;
}

absl::Status StoreNotFound(std::string_view id) {
  return absl::NotFoundError(StrCat("TM store ", id, " not found"));
}

class SqliteSegmentWriter : public SegmentWriter {
 public:
  // Takes over `write_mu` (held: BeginWrite locked it) until it is destroyed.
  SqliteSegmentWriter(absl::Mutex* write_mu, Connection* conn, int64_t store_num)
      : write_mu_(write_mu), conn_(conn), store_num_(store_num) {}
  ~SqliteSegmentWriter() override ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (!done_) conn_->Exec("ROLLBACK").IgnoreError();
    write_mu_->Unlock();
  }

  absl::StatusOr<PutOutcome> Put(SegmentRecord* s) override {
    if (done_) return absl::FailedPreconditionError("writer already committed");
    const int64_t pair_hash = PairHash(*s);
    const std::string props = PropsJson(s->properties);
    const std::string notes = NotesJson(s->notes);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * ins,
        conn_->Prepare("INSERT INTO tm_segments(store_num, source, target, pair_hash, ctx_key, "
                       "ctx_prev, ctx_next, creator, changer, created_at, changed_at, "
                       "last_used_at, usage_count, "
                       "props, notes) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                       "ON CONFLICT(store_num, pair_hash) DO NOTHING"));
    ins->Reset();
    ins->Bind(1, store_num_).Bind(2, s->source).Bind(3, s->target);
    ins->Bind(4, pair_hash).Bind(5, s->context.key).Bind(6, s->context.prev_hash);
    ins->Bind(7, s->context.next_hash).Bind(8, s->creator).Bind(9, s->changer);
    ins->Bind(10, Micros(s->created_at)).Bind(11, Micros(s->changed_at));
    BindTime(ins, 12, s->last_used_at);
    ins->Bind(13, s->usage_count);
    BindText(ins, 14, props);
    BindText(ins, 15, notes);
    // No RETURNING on the hot path (it costs ~2 µs a row): changes() says whether it inserted.
    VERSO_RETURN_IF_ERROR(ins->Run());
    PutOutcome out;
    if (conn_->Changes() == 1) {
      out.id = conn_->LastInsertRowId();
      out.inserted = true;
    } else {
      // The same source, target and context exists: merge into it.
      VERSO_ASSIGN_OR_RETURN(
          Stmt * up,
          conn_->Prepare("UPDATE tm_segments SET "
                         "creator = CASE WHEN ?1 < created_at THEN ?2 ELSE creator END, "
                         "created_at = MIN(created_at, ?1), changer = ?3, changed_at = ?4, "
                         "last_used_at = CASE WHEN last_used_at IS NULL THEN ?5 WHEN ?5 IS NULL "
                         "THEN last_used_at "
                         "  ELSE MAX(last_used_at, ?5) END, "
                         "usage_count = usage_count + ?6, props = ?7, notes = ?8 "
                         "WHERE store_num = ?9 AND pair_hash = ?10 RETURNING id"));
      up->Reset();
      up->Bind(1, Micros(s->created_at)).Bind(2, s->creator).Bind(3, s->changer);
      up->Bind(4, Micros(s->changed_at));
      BindTime(up, 5, s->last_used_at);
      up->Bind(6, s->usage_count);
      BindText(up, 7, props);
      BindText(up, 8, notes);
      up->Bind(9, store_num_).Bind(10, pair_hash);
      VERSO_ASSIGN_OR_RETURN(bool row, up->Step());
      if (!row) return absl::InternalError("sqlite: conflicting segment vanished");
      out.id = up->Int(0);
      VERSO_RETURN_IF_ERROR(up->Run());
    }
    s->id = out.id;
    return out;
  }

  absl::Status Commit() override {
    if (done_) return absl::FailedPreconditionError("writer already committed");
    absl::Status s = conn_->Exec("COMMIT");
    done_ = true;
    if (!s.ok()) {
      conn_->Exec("ROLLBACK").IgnoreError();
      return s;
    }
    return absl::OkStatus();
  }

 private:
  absl::Mutex* write_mu_;
  Connection* conn_;
  int64_t store_num_;
  bool done_ = false;
};

class SqliteDatabase : public Database,
                       public TmRepository,
                       public KeyRepository,
                       public ImportRepository,
                       public PolicyRepository,
                       public GlossaryRepository,
                       public QaProfileRepository,
                       public ClusterRepository,
                       public AuditRepository {
 public:
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& path,
                                                        const SqliteOptions& options) {
    auto repo = std::unique_ptr<SqliteDatabase>(new SqliteDatabase());
    VERSO_ASSIGN_OR_RETURN(repo->pool_, ConnectionPool::Open(path, options.synchronous_full,
                                                             options.read_connections));
    VERSO_RETURN_IF_ERROR(repo->Migrate());
    if (!options.change_log.empty()) {
      VERSO_ASSIGN_OR_RETURN(std::string id, repo->Setting("change_log.id", RandomToken(12)));
      absl::MutexLock lock(&repo->pool_->write_mu);
      VERSO_ASSIGN_OR_RETURN(
          repo->change_log_,
          sqlite::ChangeLog::Attach(repo->pool_->writer->raw(), options.change_log, id,
                                    static_cast<int>(std::size(kMigrations)),
                                    options.synchronous_full, options.change_log_file_bytes));
    }
    repo->jobs_ = NewSqliteJobs(repo->pool_.get());
    repo->users_ = NewSqliteUsers(repo->pool_.get());
    return std::unique_ptr<Database>(std::move(repo));
  }

  TmRepository& tm() override { return *this; }
  KeyRepository& keys() override { return *this; }
  ImportRepository& imports() override { return *this; }
  PolicyRepository& policies() override { return *this; }
  GlossaryRepository& glossaries() override { return *this; }
  QaProfileRepository& qa_profiles() override { return *this; }
  JobRepository& jobs() override { return *jobs_; }
  UserRepository& users() override { return *users_; }
  ClusterRepository& cluster() override { return *this; }
  AuditRepository& audit() override { return *this; }

  absl::Status Backup(const std::string& dest) override {
    Reader r(pool_.get());  // a read connection: writers go on while the copy is taken
    if (change_log_ == nullptr) return CopyDatabase(r->raw(), dest);
    // The snapshot is pinned while no process can log a commit: it holds exactly the change
    // log's records up to `position`, and a restore applies those after it.
    int64_t position;
    {
      absl::MutexLock lock(&pool_->write_mu);
      VERSO_ASSIGN_OR_RETURN(position, change_log_->LockForBackup());
      absl::Status pinned = r->Exec("BEGIN; SELECT count(*) FROM schema_migrations;");
      change_log_->Unlock();
      VERSO_RETURN_IF_ERROR(pinned);
    }
    absl::Status copied = CopyDatabase(r->raw(), dest);
    r->Exec("COMMIT").IgnoreError();
    VERSO_RETURN_IF_ERROR(copied);
    return RecordBackupPosition(dest, position);
  }

  absl::Status Ping() override {
    Reader r(pool_.get());
    VERSO_ASSIGN_OR_RETURN(Stmt * st, r->Prepare("SELECT 1"));
    st->Reset();
    VERSO_ASSIGN_OR_RETURN(bool row, st->Step());
    st->Reset();
    if (!row) return absl::InternalError("sqlite: SELECT 1 returned nothing");
    return absl::OkStatus();
  }

  // ---- API keys ----

  absl::Status CreateKey(const ApiKeyRecord& key) override {
    absl::MutexLock lock(&pool_->write_mu);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st,
        pool_->writer->Prepare(
            "INSERT INTO api_keys(id, tenant, name, scopes, hash, prefix, created_at, revoked_at) "
            "VALUES(?,?,?,?,?,?,?,?)"));
    st->Reset().Bind(1, key.id).Bind(2, key.tenant).Bind(3, key.name);
    st->Bind(4, Join(key.scopes, " ")).Bind(5, key.hash).Bind(6, key.prefix);
    st->Bind(7, Micros(key.created_at));
    BindTime(st, 8, key.revoked_at);
    absl::Status s = st->Run();
    if (absl::IsAlreadyExists(s))
      return absl::AlreadyExistsError(StrCat("key ", key.id, " exists"));
    return s;
  }

  absl::StatusOr<std::vector<ApiKeyRecord>> ListKeys(std::string_view tenant) override {
    Reader r(pool_.get());
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st, r->Prepare(StrCat("SELECT ", kKeyColumns,
                                     " FROM api_keys WHERE ?1 = '' OR tenant = ?1 ORDER BY id")));
    st->Reset().Bind(1, tenant);
    std::vector<ApiKeyRecord> out;
    VERSO_RETURN_IF_ERROR(st->ForEachRow([&](Stmt&) { out.push_back(ReadKey(*st)); }));
    return out;
  }

  absl::StatusOr<ApiKeyRecord> FindKeyByHash(std::string_view hash) override {
    Reader r(pool_.get());
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st, r->Prepare(StrCat("SELECT ", kKeyColumns, " FROM api_keys WHERE hash=?")));
    st->Reset().Bind(1, hash);
    VERSO_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) return absl::NotFoundError("no such key");
    ApiKeyRecord key = ReadKey(*st);
    st->Reset();
    return key;
  }

  absl::Status RevokeKey(std::string_view id, absl::Time when) override {
    absl::MutexLock lock(&pool_->write_mu);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st, pool_->writer->Prepare(
                       "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?"));
    st->Reset().Bind(1, Micros(when)).Bind(2, id);
    return st->RunChanging(absl::NotFoundError(StrCat("key ", id, " not found")));
  }

  // ---- Cluster ----

  // ---- The audit log ----
  absl::Status AppendAudit(std::vector<AuditRecord> records) override {
    if (records.empty()) return absl::OkStatus();
    return pool_->GroupWrite(
        [&] { return sqlite::AppendAuditLocked(pool_->writer.get(), std::move(records)); });
  }

  absl::StatusOr<std::vector<AuditRecord>> ReadAudit(int64_t after_seq, int limit) override {
    Reader r(pool_.get());
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st, r->Prepare("SELECT seq, at, tenant, actor, action, target, detail, request_id, "
                              "prev_hash, hash FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?"));
    st->Reset().Bind(1, after_seq).Bind(2, int64_t{limit});
    std::vector<AuditRecord> out;
    VERSO_RETURN_IF_ERROR(st->ForEachRow([&](Stmt& s) {
      AuditRecord a;
      a.seq = s.Int(0);
      a.at = FromMicros(s.Int(1));
      a.tenant = std::string(s.Text(2));
      a.actor = std::string(s.Text(3));
      a.action = std::string(s.Text(4));
      a.target = std::string(s.Text(5));
      a.detail = std::string(s.Text(6));
      a.request_id = std::string(s.Text(7));
      a.prev_hash = std::string(s.Text(8));
      a.hash = std::string(s.Text(9));
      out.push_back(std::move(a));
    }));
    return out;
  }

  absl::StatusOr<Anchor> AuditAnchor() override {
    Reader r(pool_.get());
    VERSO_ASSIGN_OR_RETURN(Stmt * st, r->Prepare("SELECT seq, hash FROM audit_anchor WHERE id=1"));
    st->Reset();
    VERSO_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) return absl::DataLossError("the audit log's anchor row is missing");
    Anchor a{st->Int(0), std::string(st->Text(1))};
    st->Reset();
    return a;
  }

  absl::StatusOr<int64_t> PruneAudit(absl::Time before) override {
    absl::MutexLock lock(&pool_->write_mu);
    int64_t pruned = 0;
    VERSO_RETURN_IF_ERROR(pool_->writer->Transaction([&]() -> absl::Status {
      Connection* w = pool_->writer.get();
      VERSO_ASSIGN_OR_RETURN(Stmt * last,
                             w->Prepare("SELECT seq, hash FROM audit_log WHERE at < ? ORDER BY seq "
                                        "DESC LIMIT 1"));
      last->Reset().Bind(1, Micros(before));
      VERSO_ASSIGN_OR_RETURN(bool row, last->Step());
      if (!row) {
        last->Reset();
        return absl::OkStatus();
      }
      const int64_t seq = last->Int(0);
      const std::string hash(last->Text(1));
      last->Reset();
      VERSO_RETURN_IF_ERROR(w->Exec("UPDATE audit_anchor SET pruning = 1 WHERE id = 1"));
      VERSO_ASSIGN_OR_RETURN(Stmt * del, w->Prepare("DELETE FROM audit_log WHERE seq <= ?"));
      VERSO_RETURN_IF_ERROR(del->Reset().Bind(1, seq).Run());
      pruned = w->Changes();
      VERSO_ASSIGN_OR_RETURN(
          Stmt * anchor,
          w->Prepare("UPDATE audit_anchor SET seq = ?, hash = ?, pruning = 0 WHERE id = 1"));
      return anchor->Reset().Bind(1, seq).Bind(2, hash).Run();
    }));
    return pruned;
  }

  absl::Status Heartbeat(const NodeRecord& n) override {
    absl::MutexLock lock(&pool_->write_mu);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st, pool_->writer->Prepare(
                       "INSERT INTO cluster_nodes(id, role, url, started_at, expires_at) "
                       "VALUES(?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET role=excluded.role, "
                       "url=excluded.url, started_at=excluded.started_at, "
                       "expires_at=excluded.expires_at"));
    st->Reset().Bind(1, n.id).Bind(2, n.role).Bind(3, n.url);
    st->Bind(4, Micros(n.started_at)).Bind(5, Micros(n.expires_at));
    VERSO_RETURN_IF_ERROR(st->Run());
    VERSO_ASSIGN_OR_RETURN(
        Stmt * gone, pool_->writer->Prepare("DELETE FROM cluster_nodes WHERE expires_at < ?"));
    gone->Reset().Bind(1, Micros(n.expires_at - absl::Hours(1)));
    return gone->Run();
  }

  absl::Status RemoveNode(std::string_view id) override {
    absl::MutexLock lock(&pool_->write_mu);
    VERSO_ASSIGN_OR_RETURN(Stmt * st,
                           pool_->writer->Prepare("DELETE FROM cluster_nodes WHERE id = ?"));
    st->Reset().Bind(1, id);
    return st->Run();
  }

  absl::StatusOr<std::vector<NodeRecord>> ListNodes() override {
    Reader r(pool_.get());
    VERSO_ASSIGN_OR_RETURN(Stmt * st, r->Prepare("SELECT id, role, url, started_at, expires_at "
                                                 "FROM cluster_nodes ORDER BY id"));
    st->Reset();
    std::vector<NodeRecord> out;
    VERSO_RETURN_IF_ERROR(st->ForEachRow([&](Stmt&) {
      out.push_back({std::string(st->Text(0)), std::string(st->Text(1)), std::string(st->Text(2)),
                     FromMicros(st->Int(3)), FromMicros(st->Int(4))});
    }));
    return out;
  }

  absl::StatusOr<std::string> Setting(std::string_view name, std::string_view initial) override {
    absl::MutexLock lock(&pool_->write_mu);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * put,
        pool_->writer->Prepare(
            "INSERT INTO cluster_settings(name, value) VALUES(?,?) ON CONFLICT DO NOTHING"));
    put->Reset().Bind(1, name).Bind(2, initial);
    VERSO_RETURN_IF_ERROR(put->Run());
    VERSO_ASSIGN_OR_RETURN(
        Stmt * get, pool_->writer->Prepare("SELECT value FROM cluster_settings WHERE name = ?"));
    get->Reset().Bind(1, name);
    VERSO_ASSIGN_OR_RETURN(bool row, get->Step());
    if (!row) return absl::InternalError(StrCat("cluster setting ", name, " vanished"));
    std::string value(get->Text(0));
    get->Reset();
    return value;
  }

  absl::StatusOr<std::optional<std::string>> GetSetting(std::string_view name) override {
    Reader r(pool_.get());
    VERSO_ASSIGN_OR_RETURN(Stmt * get,
                           r->Prepare("SELECT value FROM cluster_settings WHERE name = ?"));
    get->Reset().Bind(1, name);
    VERSO_ASSIGN_OR_RETURN(bool row, get->Step());
    std::optional<std::string> value;
    if (row) value = std::string(get->Text(0));
    get->Reset();
    return value;
  }

  absl::Status PutSetting(std::string_view name, std::string_view value) override {
    absl::MutexLock lock(&pool_->write_mu);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * put,
        pool_->writer->Prepare("INSERT INTO cluster_settings(name, value) VALUES(?,?) "
                               "ON CONFLICT(name) DO UPDATE SET value = excluded.value"));
    put->Reset().Bind(1, name).Bind(2, value);
    return put->Run();
  }

  // ---- Engine policies ----

  absl::Status PutPolicy(const EnginePolicyRecord& p) override {
    absl::MutexLock lock(&pool_->write_mu);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st,
        pool_->writer->Prepare("INSERT OR REPLACE INTO mt_policies(tenant, name, engines, "
                               "updated_at) VALUES(?,?,?,?)"));
    st->Reset().Bind(1, p.tenant).Bind(2, p.name).Bind(3, Join(p.engines, " "));
    st->Bind(4, Micros(p.updated_at));
    return st->Run();
  }

  absl::StatusOr<EnginePolicyRecord> GetPolicy(std::string_view tenant,
                                               std::string_view name) override {
    Reader r(pool_.get());
    VERSO_ASSIGN_OR_RETURN(Stmt * st, r->Prepare("SELECT tenant, name, engines, updated_at FROM "
                                                 "mt_policies WHERE tenant=? AND name=?"));
    st->Reset().Bind(1, tenant).Bind(2, name);
    VERSO_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) return absl::NotFoundError(StrCat("engine policy \"", name, "\" not found"));
    EnginePolicyRecord p = ReadPolicy(*st);
    st->Reset();
    return p;
  }

  absl::StatusOr<std::vector<EnginePolicyRecord>> ListPolicies(std::string_view tenant) override {
    Reader r(pool_.get());
    VERSO_ASSIGN_OR_RETURN(Stmt * st, r->Prepare("SELECT tenant, name, engines, updated_at FROM "
                                                 "mt_policies WHERE tenant=? ORDER BY name"));
    st->Reset().Bind(1, tenant);
    std::vector<EnginePolicyRecord> out;
    VERSO_RETURN_IF_ERROR(st->ForEachRow([&](Stmt&) { out.push_back(ReadPolicy(*st)); }));
    return out;
  }

  absl::Status DeletePolicy(std::string_view tenant, std::string_view name) override {
    absl::MutexLock lock(&pool_->write_mu);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st, pool_->writer->Prepare("DELETE FROM mt_policies WHERE tenant=? AND name=?"));
    st->Reset().Bind(1, tenant).Bind(2, name);
    return st->RunChanging(absl::NotFoundError(StrCat("engine policy \"", name, "\" not found")));
  }

  static EnginePolicyRecord ReadPolicy(Stmt& st) {
    EnginePolicyRecord p;
    p.tenant = std::string(st.Text(0));
    p.name = std::string(st.Text(1));
    for (std::string_view e : Split(st.Text(2), ' ')) {
      if (!e.empty()) p.engines.emplace_back(e);
    }
    p.updated_at = FromMicros(st.Int(3));
    return p;
  }

  // ---- Glossaries ----

  absl::Status CreateGlossary(const GlossaryRecord& g) override {
    absl::MutexLock lock(&pool_->write_mu);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st, pool_->writer->Prepare("INSERT INTO glossaries(tenant, name, description, "
                                          "created_at, updated_at) VALUES(?,?,?,?,?)"));
    st->Reset().Bind(1, g.tenant).Bind(2, g.name).Bind(3, g.description);
    st->Bind(4, Micros(g.created_at)).Bind(5, Micros(g.updated_at));
    absl::Status s = st->Run();
    if (absl::IsAlreadyExists(s)) {
      return absl::AlreadyExistsError(StrCat("glossary \"", g.name, "\" exists"));
    }
    return s;
  }

  static constexpr const char* kGlossaryQuery =
      "SELECT g.tenant, g.name, g.description, g.created_at, g.updated_at, "
      "(SELECT COUNT(*) FROM glossary_concepts c WHERE c.tenant=g.tenant AND c.glossary=g.name), "
      "(SELECT COALESCE(SUM(terms), 0) FROM glossary_concepts c WHERE c.tenant=g.tenant AND "
      "c.glossary=g.name) FROM glossaries g WHERE g.tenant=?1 AND (?2 IS NULL OR g.name=?2) "
      "ORDER BY g.name";

  static GlossaryRecord ReadGlossary(Stmt& st) {
    GlossaryRecord g;
    g.tenant = std::string(st.Text(0));
    g.name = std::string(st.Text(1));
    g.description = std::string(st.Text(2));
    g.created_at = FromMicros(st.Int(3));
    g.updated_at = FromMicros(st.Int(4));
    g.concepts = st.Int(5);
    g.terms = st.Int(6);
    return g;
  }

  absl::StatusOr<GlossaryRecord> GetGlossary(std::string_view tenant,
                                             std::string_view name) override {
    Reader r(pool_.get());
    VERSO_ASSIGN_OR_RETURN(Stmt * st, r->Prepare(kGlossaryQuery));
    st->Reset().Bind(1, tenant).Bind(2, name);
    VERSO_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) return absl::NotFoundError(StrCat("glossary \"", name, "\" not found"));
    GlossaryRecord g = ReadGlossary(*st);
    st->Reset();
    return g;
  }

  absl::StatusOr<std::vector<GlossaryRecord>> ListGlossaries(std::string_view tenant) override {
    Reader r(pool_.get());
    VERSO_ASSIGN_OR_RETURN(Stmt * st, r->Prepare(kGlossaryQuery));
    st->Reset().Bind(1, tenant).BindNull(2);
    std::vector<GlossaryRecord> out;
    VERSO_RETURN_IF_ERROR(st->ForEachRow([&](Stmt&) { out.push_back(ReadGlossary(*st)); }));
    return out;
  }

  absl::Status DeleteGlossary(std::string_view tenant, std::string_view name) override {
    absl::MutexLock lock(&pool_->write_mu);
    return pool_->writer->Transaction([&]() -> absl::Status {
      VERSO_ASSIGN_OR_RETURN(
          Stmt * st, pool_->writer->Prepare("DELETE FROM glossaries WHERE tenant=? AND name=?"));
      st->Reset().Bind(1, tenant).Bind(2, name);
      VERSO_RETURN_IF_ERROR(
          st->RunChanging(absl::NotFoundError(StrCat("glossary \"", name, "\" not found"))));
      VERSO_ASSIGN_OR_RETURN(
          Stmt * del,
          pool_->writer->Prepare("DELETE FROM glossary_concepts WHERE tenant=? AND glossary=?"));
      del->Reset().Bind(1, tenant).Bind(2, name);
      return del->Run();
    });
  }

  absl::Status PutConcepts(std::string_view tenant, std::string_view name,
                           const std::vector<ConceptRecord>& concepts, bool replace_all,
                           absl::Time updated_at) override {
    absl::MutexLock lock(&pool_->write_mu);
    return pool_->writer->Transaction([&]() -> absl::Status {
      VERSO_ASSIGN_OR_RETURN(
          Stmt * up,
          pool_->writer->Prepare(
              "UPDATE glossaries SET updated_at=MAX(?, updated_at + 1) WHERE tenant=? AND name=?"));
      up->Reset().Bind(1, Micros(updated_at)).Bind(2, tenant).Bind(3, name);
      VERSO_RETURN_IF_ERROR(
          up->RunChanging(absl::NotFoundError(StrCat("glossary \"", name, "\" not found"))));
      if (replace_all) {
        VERSO_ASSIGN_OR_RETURN(
            Stmt * del,
            pool_->writer->Prepare("DELETE FROM glossary_concepts WHERE tenant=? AND glossary=?"));
        del->Reset().Bind(1, tenant).Bind(2, name);
        VERSO_RETURN_IF_ERROR(del->Run());
      }
      VERSO_ASSIGN_OR_RETURN(
          Stmt * ins, pool_->writer->Prepare("INSERT OR REPLACE INTO glossary_concepts(tenant, "
                                             "glossary, id, data, terms) VALUES(?,?,?,?,?)"));
      for (const ConceptRecord& c : concepts) {
        ins->Reset().Bind(1, tenant).Bind(2, name).Bind(3, c.id).Bind(4, c.data);
        ins->Bind(5, c.terms);
        VERSO_RETURN_IF_ERROR(ins->Run());
      }
      return absl::OkStatus();
    });
  }

  absl::StatusOr<std::vector<ConceptRecord>> ListConcepts(std::string_view tenant,
                                                          std::string_view name) override {
    Reader r(pool_.get());
    VERSO_ASSIGN_OR_RETURN(Stmt * st,
                           r->Prepare("SELECT id, data, terms FROM glossary_concepts WHERE "
                                      "tenant=? AND glossary=? ORDER BY id"));
    st->Reset().Bind(1, tenant).Bind(2, name);
    std::vector<ConceptRecord> out;
    VERSO_RETURN_IF_ERROR(st->ForEachRow([&](Stmt&) {
      out.push_back({std::string(st->Text(0)), std::string(st->Text(1)), st->Int(2)});
    }));
    return out;
  }

  absl::Status DeleteConcept(std::string_view tenant, std::string_view name, std::string_view id,
                             absl::Time updated_at) override {
    absl::MutexLock lock(&pool_->write_mu);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st, pool_->writer->Prepare(
                       "DELETE FROM glossary_concepts WHERE tenant=? AND glossary=? AND id=?"));
    st->Reset().Bind(1, tenant).Bind(2, name).Bind(3, id);
    VERSO_RETURN_IF_ERROR(
        st->RunChanging(absl::NotFoundError(StrCat("concept \"", id, "\" not found"))));
    VERSO_ASSIGN_OR_RETURN(
        Stmt * up,
        pool_->writer->Prepare(
            "UPDATE glossaries SET updated_at=MAX(?, updated_at + 1) WHERE tenant=? AND name=?"));
    up->Reset().Bind(1, Micros(updated_at)).Bind(2, tenant).Bind(3, name);
    return up->Run();
  }

  // ---- QA profiles ----

  absl::Status PutQaProfile(const QaProfileRecord& p) override {
    absl::MutexLock lock(&pool_->write_mu);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st,
        pool_->writer->Prepare("INSERT OR REPLACE INTO qa_profiles(tenant, name, disabled, "
                               "max_length, updated_at) VALUES(?,?,?,?,?)"));
    st->Reset().Bind(1, p.tenant).Bind(2, p.name).Bind(3, Join(p.disabled_checks, " "));
    st->Bind(4, p.max_length).Bind(5, Micros(p.updated_at));
    return st->Run();
  }

  static QaProfileRecord ReadQaProfile(Stmt& st) {
    QaProfileRecord p;
    p.tenant = std::string(st.Text(0));
    p.name = std::string(st.Text(1));
    for (std::string_view c : Split(st.Text(2), ' ')) {
      if (!c.empty()) p.disabled_checks.emplace_back(c);
    }
    p.max_length = st.Int(3);
    p.updated_at = FromMicros(st.Int(4));
    return p;
  }

  absl::StatusOr<QaProfileRecord> GetQaProfile(std::string_view tenant,
                                               std::string_view name) override {
    Reader r(pool_.get());
    VERSO_ASSIGN_OR_RETURN(Stmt * st,
                           r->Prepare("SELECT tenant, name, disabled, max_length, updated_at FROM "
                                      "qa_profiles WHERE tenant=? AND name=?"));
    st->Reset().Bind(1, tenant).Bind(2, name);
    VERSO_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) return absl::NotFoundError(StrCat("QA profile \"", name, "\" not found"));
    QaProfileRecord p = ReadQaProfile(*st);
    st->Reset();
    return p;
  }

  absl::StatusOr<std::vector<QaProfileRecord>> ListQaProfiles(std::string_view tenant) override {
    Reader r(pool_.get());
    VERSO_ASSIGN_OR_RETURN(Stmt * st,
                           r->Prepare("SELECT tenant, name, disabled, max_length, updated_at FROM "
                                      "qa_profiles WHERE tenant=? ORDER BY name"));
    st->Reset().Bind(1, tenant);
    std::vector<QaProfileRecord> out;
    VERSO_RETURN_IF_ERROR(st->ForEachRow([&](Stmt&) { out.push_back(ReadQaProfile(*st)); }));
    return out;
  }

  absl::Status DeleteQaProfile(std::string_view tenant, std::string_view name) override {
    absl::MutexLock lock(&pool_->write_mu);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st, pool_->writer->Prepare("DELETE FROM qa_profiles WHERE tenant=? AND name=?"));
    st->Reset().Bind(1, tenant).Bind(2, name);
    return st->RunChanging(absl::NotFoundError(StrCat("QA profile \"", name, "\" not found")));
  }

  // ---- Imports ----

  absl::Status SaveImport(const ImportRecord& r) override {
    absl::MutexLock lock(&pool_->write_mu);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st,
        pool_->writer->Prepare(
            "INSERT OR REPLACE INTO tm_imports(id, store_id, tenant, file, format, user, status, "
            "error, report, bytes_total, created_at, finished_at) "
            "VALUES(?,?,?,?,?,?,?,?,?,?,?,?)"));
    st->Reset().Bind(1, r.id).Bind(2, r.store_id).Bind(3, r.tenant).Bind(4, r.file);
    st->Bind(5, r.format).Bind(6, r.user).Bind(7, r.status).Bind(8, r.error).Bind(9, r.report);
    st->Bind(10, r.bytes_total).Bind(11, Micros(r.created_at));
    BindTime(st, 12, r.finished_at);
    return st->Run();
  }

  absl::StatusOr<ImportRecord> GetImport(std::string_view id) override {
    Reader r(pool_.get());
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st, r->Prepare(StrCat("SELECT ", kImportColumns, " FROM tm_imports WHERE id=?")));
    st->Reset().Bind(1, id);
    VERSO_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) return absl::NotFoundError(StrCat("import ", id, " not found"));
    ImportRecord rec = ReadImport(*st);
    st->Reset();
    return rec;
  }

  absl::StatusOr<std::vector<ImportRecord>> UnfinishedImports() override {
    Reader r(pool_.get());
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st,
        r->Prepare(StrCat(
            "SELECT ", kImportColumns,
            " FROM tm_imports WHERE status IN ('queued', 'running') ORDER BY created_at, id")));
    st->Reset();
    std::vector<ImportRecord> out;
    VERSO_RETURN_IF_ERROR(st->ForEachRow([&](Stmt&) { out.push_back(ReadImport(*st)); }));
    return out;
  }

  absl::Status CreateStore(const TmStoreRecord& store) override {
    absl::MutexLock lock(&pool_->write_mu);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st,
        pool_->writer->Prepare(
            "INSERT INTO tm_stores(id, tenant, name, source_lang, target_lang, created_at) "
            "VALUES(?,?,?,?,?,?)"));
    st->Reset().Bind(1, store.id).Bind(2, store.tenant).Bind(3, store.name);
    st->Bind(4, store.source_lang).Bind(5, store.target_lang).Bind(6, Micros(store.created_at));
    absl::Status s = st->Run();
    if (absl::IsAlreadyExists(s)) {
      return absl::AlreadyExistsError(StrCat("TM store ", store.id, " already exists"));
    }
    return s;
  }

  absl::StatusOr<TmStoreRecord> GetStore(std::string_view id) override {
    Reader r(pool_.get());
    VERSO_ASSIGN_OR_RETURN(Stmt * st,
                           r->Prepare("SELECT id, tenant, name, source_lang, target_lang, "
                                      "created_at FROM tm_stores WHERE id=?"));
    st->Reset().Bind(1, id);
    VERSO_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) return StoreNotFound(id);
    TmStoreRecord rec = ReadStore(*st);
    st->Reset();
    return rec;
  }

  absl::StatusOr<std::vector<TmStoreRecord>> ListStores(std::string_view tenant) override {
    Reader r(pool_.get());
    std::string sql =
        "SELECT id, tenant, name, source_lang, target_lang, created_at FROM tm_stores";
    sql += tenant.empty() ? " WHERE ?1 = '' ORDER BY id" : " WHERE tenant=?1 ORDER BY id";
    VERSO_ASSIGN_OR_RETURN(Stmt * st, r->Prepare(sql));
    st->Reset().Bind(1, tenant);
    std::vector<TmStoreRecord> out;
    VERSO_RETURN_IF_ERROR(st->ForEachRow([&](Stmt&) { out.push_back(ReadStore(*st)); }));
    return out;
  }

  absl::Status DeleteStore(std::string_view id) override {
    absl::MutexLock lock(&pool_->write_mu);
    VERSO_ASSIGN_OR_RETURN(Stmt * st, pool_->writer->Prepare("DELETE FROM tm_stores WHERE id=?"));
    st->Reset().Bind(1, id);
    VERSO_RETURN_IF_ERROR(st->RunChanging(StoreNotFound(id)));
    absl::MutexLock nums(&nums_mu_);
    store_nums_.erase(std::string(id));
    return absl::OkStatus();
  }

  // The write lock stays held by the writer it returns (the analysis cannot follow that).
  absl::StatusOr<std::unique_ptr<SegmentWriter>> BeginWrite(std::string_view store_id) override
      ABSL_NO_THREAD_SAFETY_ANALYSIS {
    VERSO_ASSIGN_OR_RETURN(int64_t num, StoreNum(store_id));
    pool_->write_mu.Lock();
    if (absl::Status begin = pool_->writer->Exec("BEGIN IMMEDIATE"); !begin.ok()) {
      pool_->write_mu.Unlock();
      return begin;
    }
    return std::unique_ptr<SegmentWriter>(
        new SqliteSegmentWriter(&pool_->write_mu, pool_->writer.get(), num));
  }

  absl::Status UpdateSegment(std::string_view store_id, const SegmentRecord& s) override {
    VERSO_ASSIGN_OR_RETURN(int64_t num, StoreNum(store_id));
    absl::MutexLock lock(&pool_->write_mu);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st,
        pool_->writer->Prepare("UPDATE tm_segments SET source=?, target=?, pair_hash=?, ctx_key=?, "
                               "ctx_prev=?, ctx_next=?, changer=?, changed_at=?, props=?, notes=? "
                               "WHERE id=? AND store_num=?"));
    st->Reset().Bind(1, s.source).Bind(2, s.target).Bind(3, PairHash(s));
    st->Bind(4, s.context.key).Bind(5, s.context.prev_hash).Bind(6, s.context.next_hash);
    st->Bind(7, s.changer).Bind(8, Micros(s.changed_at));
    BindText(st, 9, PropsJson(s.properties));
    BindText(st, 10, NotesJson(s.notes));
    st->Bind(11, s.id).Bind(12, num);
    absl::Status status = st->Run();
    if (absl::IsAlreadyExists(status)) {
      return absl::AlreadyExistsError(
          "an identical segment (same source, target and context) already exists in the store");
    }
    VERSO_RETURN_IF_ERROR(status);
    if (pool_->writer->Changes() == 0) return SegmentNotFound(store_id, s.id);
    return absl::OkStatus();
  }

  absl::Status DeleteSegment(std::string_view store_id, int64_t id) override {
    VERSO_ASSIGN_OR_RETURN(int64_t num, StoreNum(store_id));
    absl::MutexLock lock(&pool_->write_mu);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st, pool_->writer->Prepare("DELETE FROM tm_segments WHERE id=? AND store_num=?"));
    st->Reset().Bind(1, id).Bind(2, num);
    return st->RunChanging(SegmentNotFound(store_id, id));
  }

  absl::StatusOr<int64_t> RecordUsage(const std::vector<SegmentUse>& uses) override {
    std::vector<std::pair<int64_t, const SegmentUse*>> known;  // store num, use
    for (const SegmentUse& u : uses) {
      auto num = StoreNum(u.store_id);
      if (num.ok()) known.emplace_back(*num, &u);
    }
    if (known.empty()) return 0;
    absl::MutexLock lock(&pool_->write_mu);
    return pool_->writer->Transaction([&]() -> absl::StatusOr<int64_t> {
      VERSO_ASSIGN_OR_RETURN(
          Stmt * st,
          pool_->writer->Prepare(
              "UPDATE tm_segments SET usage_count = usage_count + ?, "
              "last_used_at = MAX(COALESCE(last_used_at, ?2), ?2) WHERE id=? AND store_num=?"));
      int64_t n = 0;
      for (const auto& [num, u] : known) {
        st->Reset().Bind(1, u->count).Bind(2, Micros(u->when)).Bind(3, u->id).Bind(4, num);
        VERSO_RETURN_IF_ERROR(st->Run());
        n += pool_->writer->Changes();
      }
      return n;
    });
  }

  absl::StatusOr<SegmentRecord> GetSegment(std::string_view store_id, int64_t id) override {
    VERSO_ASSIGN_OR_RETURN(auto segs, GetSegments(store_id, {id}));
    if (segs.empty()) return SegmentNotFound(store_id, id);
    return std::move(segs[0]);
  }

  absl::StatusOr<std::vector<SegmentRecord>> GetSegments(std::string_view store_id,
                                                         const std::vector<int64_t>& ids) override {
    VERSO_ASSIGN_OR_RETURN(int64_t num, StoreNum(store_id));
    Reader r(pool_.get());
    VERSO_ASSIGN_OR_RETURN(Stmt * st,
                           r->Prepare(StrCat("SELECT ", kSegmentColumns,
                                             " FROM tm_segments WHERE id=? AND store_num=?")));
    std::vector<SegmentRecord> out;
    out.reserve(ids.size());
    for (int64_t id : ids) {
      st->Reset().Bind(1, id).Bind(2, num);
      VERSO_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) continue;
      VERSO_ASSIGN_OR_RETURN(SegmentRecord rec, ReadSegment(*st));
      out.push_back(std::move(rec));
    }
    st->Reset();
    return out;
  }

  absl::StatusOr<std::vector<TmChange>> ChangesAfter(int64_t seq, int limit) override {
    Reader r(pool_.get());
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st, r->Prepare("SELECT c.seq, COALESCE(s.id, ''), c.segment_id, c.kind "
                              "FROM tm_changes c LEFT JOIN tm_stores s ON s.num = c.store_num "
                              "WHERE c.seq > ? ORDER BY c.seq LIMIT ?"));
    st->Reset().Bind(1, seq).Bind(2, static_cast<int64_t>(limit));
    std::vector<TmChange> out;
    VERSO_RETURN_IF_ERROR(st->ForEachRow([&](Stmt&) {
      TmChange c;
      c.seq = st->Int(0);
      c.store_id = std::string(st->Text(1));
      c.segment_id = st->Int(2);
      const std::string kind(st->Text(3));
      c.kind = kind.empty() ? TmChange::Kind::kStore : static_cast<TmChange::Kind>(kind[0]);
      out.push_back(std::move(c));
    }));
    return out;
  }

  absl::StatusOr<int64_t> LastChange() override {
    Reader r(pool_.get());
    VERSO_ASSIGN_OR_RETURN(Stmt * st, r->Prepare("SELECT COALESCE(MAX(seq), 0) FROM tm_changes"));
    st->Reset();
    VERSO_ASSIGN_OR_RETURN(bool row, st->Step());
    int64_t seq = row ? st->Int(0) : 0;
    st->Reset();
    return seq;
  }

  absl::Status PruneChanges(absl::Time before) override {
    absl::MutexLock lock(&pool_->write_mu);
    VERSO_ASSIGN_OR_RETURN(Stmt * st,
                           pool_->writer->Prepare("DELETE FROM tm_changes WHERE at < ?"));
    st->Reset().Bind(1, absl::ToUnixSeconds(before));
    return st->Run();
  }

  absl::StatusOr<int64_t> CountSegments(std::string_view store_id) override {
    VERSO_ASSIGN_OR_RETURN(int64_t num, StoreNum(store_id));
    Reader r(pool_.get());
    VERSO_ASSIGN_OR_RETURN(Stmt * st,
                           r->Prepare("SELECT COUNT(*) FROM tm_segments WHERE store_num=?"));
    st->Reset().Bind(1, num);
    VERSO_ASSIGN_OR_RETURN(bool row, st->Step());
    int64_t n = row ? st->Int(0) : 0;
    st->Reset();
    return n;
  }

  absl::Status ScanSegments(std::string_view store_id, int64_t after_id,
                            const std::function<bool(const SegmentRecord&)>& fn) override {
    VERSO_ASSIGN_OR_RETURN(int64_t num, StoreNum(store_id));
    Reader r(pool_.get());
    // A read transaction pins one snapshot for the whole scan.
    VERSO_RETURN_IF_ERROR(r->Exec("BEGIN"));
    absl::Status status = [&]() -> absl::Status {
      VERSO_ASSIGN_OR_RETURN(
          Stmt * st,
          r->Prepare(StrCat("SELECT ", kSegmentColumns,
                            " FROM tm_segments WHERE store_num=? AND id>? ORDER BY id")));
      st->Reset().Bind(1, num).Bind(2, after_id);
      while (true) {
        VERSO_ASSIGN_OR_RETURN(bool row, st->Step());
        if (!row) break;
        VERSO_ASSIGN_OR_RETURN(SegmentRecord rec, ReadSegment(*st));
        if (!fn(rec)) break;
      }
      st->Reset();
      return absl::OkStatus();
    }();
    r->Exec("COMMIT").IgnoreError();
    return status;
  }

  absl::Status ScanSegmentTexts(std::string_view store_id, int64_t after_id,
                                const std::function<bool(SegmentRecord&)>& fn) override {
    VERSO_ASSIGN_OR_RETURN(int64_t num, StoreNum(store_id));
    Reader r(pool_.get());
    VERSO_RETURN_IF_ERROR(r->Exec("BEGIN"));
    absl::Status status = [&]() -> absl::Status {
      VERSO_ASSIGN_OR_RETURN(
          Stmt * st,
          r->Prepare(
              "SELECT id, source, target, ctx_key, ctx_prev, ctx_next, changed_at FROM tm_segments "
              "WHERE store_num=? AND id>? ORDER BY id"));
      st->Reset().Bind(1, num).Bind(2, after_id);
      SegmentRecord rec;
      while (true) {
        VERSO_ASSIGN_OR_RETURN(bool row, st->Step());
        if (!row) break;
        rec.id = st->Int(0);
        rec.source.assign(st->Text(1));
        rec.target.assign(st->Text(2));
        rec.context.key.assign(st->Text(3));
        rec.context.prev_hash = st->Int(4);
        rec.context.next_hash = st->Int(5);
        rec.changed_at = FromMicros(st->Int(6));
        if (!fn(rec)) break;
      }
      st->Reset();
      return absl::OkStatus();
    }();
    r->Exec("COMMIT").IgnoreError();
    // A whole store read in order (an index build) leaves the connection's page cache full of
    // pages no point read will want (64 MB: a tenth of a million-segment index's memory).
    sqlite3_db_release_memory(r->raw());
    return status;
  }

 private:
  using Reader = ConnectionPool::Reader;

  std::unique_ptr<ConnectionPool> pool_;  // shared with jobs_, which goes first
  std::unique_ptr<JobRepository> jobs_;
  std::unique_ptr<UserRepository> users_;
  // Hooked into pool_->writer (destroyed before it).
  std::unique_ptr<sqlite::ChangeLog> change_log_ ABSL_PT_GUARDED_BY(pool_->write_mu);

  SqliteDatabase() = default;

  absl::Status Migrate() {
    absl::MutexLock lock(&pool_->write_mu);
    VERSO_RETURN_IF_ERROR(pool_->writer->Exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations(version INTEGER PRIMARY KEY, "
        "applied_at INTEGER NOT NULL)"));
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st,
        pool_->writer->Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
    st->Reset();
    VERSO_ASSIGN_OR_RETURN(bool row, st->Step());
    int64_t version = row ? st->Int(0) : 0;
    st->Reset();
    const int64_t latest = static_cast<int64_t>(std::size(kMigrations));
    if (version > latest) {
      return absl::FailedPreconditionError(StrCat("database schema version ", version,
                                                  " is newer than this verso (", latest,
                                                  "); upgrade verso"));
    }
    for (int64_t v = version + 1; v <= latest; ++v) {
      absl::Status s = pool_->writer->Transaction([&]() -> absl::Status {
        VERSO_RETURN_IF_ERROR(pool_->writer->Exec(kMigrations[v - 1]));
        return pool_->writer->Exec(StrCat("INSERT INTO schema_migrations VALUES(", v, ", ",
                                          absl::ToUnixSeconds(absl::Now()), ")"));
      });
      if (!s.ok()) return Annotate(s, StrCat("migrating the database to schema version ", v));
    }
    return absl::OkStatus();
  }

  static constexpr const char* kKeyColumns =
      "id, tenant, name, scopes, hash, prefix, created_at, revoked_at";
  static ApiKeyRecord ReadKey(const Stmt& st) {
    ApiKeyRecord k;
    k.id = std::string(st.Text(0));
    k.tenant = std::string(st.Text(1));
    k.name = std::string(st.Text(2));
    for (std::string_view scope : Split(st.Text(3), ' ')) {
      if (!scope.empty()) k.scopes.emplace_back(scope);
    }
    k.hash = std::string(st.Text(4));
    k.prefix = std::string(st.Text(5));
    k.created_at = FromMicros(st.Int(6));
    k.revoked_at = st.IsNull(7) ? absl::InfinitePast() : FromMicros(st.Int(7));
    return k;
  }

  static constexpr const char* kImportColumns =
      "id, store_id, tenant, file, format, user, status, error, report, bytes_total, created_at, "
      "finished_at";
  static ImportRecord ReadImport(const Stmt& st) {
    ImportRecord r;
    r.id = std::string(st.Text(0));
    r.store_id = std::string(st.Text(1));
    r.tenant = std::string(st.Text(2));
    r.file = std::string(st.Text(3));
    r.format = std::string(st.Text(4));
    r.user = std::string(st.Text(5));
    r.status = std::string(st.Text(6));
    r.error = std::string(st.Text(7));
    r.report = std::string(st.Text(8));
    r.bytes_total = st.Int(9);
    r.created_at = FromMicros(st.Int(10));
    r.finished_at = st.IsNull(11) ? absl::InfinitePast() : FromMicros(st.Int(11));
    return r;
  }

  static TmStoreRecord ReadStore(const Stmt& st) {
    TmStoreRecord r;
    r.id = std::string(st.Text(0));
    r.tenant = std::string(st.Text(1));
    r.name = std::string(st.Text(2));
    r.source_lang = std::string(st.Text(3));
    r.target_lang = std::string(st.Text(4));
    r.created_at = FromMicros(st.Int(5));
    return r;
  }

  static absl::Status SegmentNotFound(std::string_view store_id, int64_t id) {
    return absl::NotFoundError(StrCat("segment ", id, " not found in TM store ", store_id));
  }

  absl::StatusOr<int64_t> StoreNum(std::string_view store_id) {
    {
      absl::MutexLock lock(&nums_mu_);
      auto it = store_nums_.find(std::string(store_id));
      if (it != store_nums_.end()) return it->second;
    }
    Reader r(pool_.get());
    VERSO_ASSIGN_OR_RETURN(Stmt * st, r->Prepare("SELECT num FROM tm_stores WHERE id=?"));
    st->Reset().Bind(1, store_id);
    VERSO_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) return StoreNotFound(store_id);
    int64_t num = st->Int(0);
    st->Reset();
    absl::MutexLock lock(&nums_mu_);
    store_nums_[std::string(store_id)] = num;
    return num;
  }

  absl::Mutex nums_mu_;
  std::unordered_map<std::string, int64_t> store_nums_ ABSL_GUARDED_BY(nums_mu_);
};

}  // namespace

// Copies the whole database `from` into the file `dest` with SQLite's online backup, in one
// step: one read snapshot, so the copy is consistent while others write.
absl::Status CopyDatabase(sqlite3* from, const std::string& dest) {
  sqlite3* to = nullptr;
  if (sqlite3_open_v2(dest.c_str(), &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    const std::string why = to != nullptr ? sqlite3_errmsg(to) : "out of memory";
    sqlite3_close(to);
    return absl::UnavailableError(StrCat(dest, ": cannot be written: ", why));
  }
  sqlite3_busy_timeout(to, 10000);
  sqlite3_backup* backup = sqlite3_backup_init(to, "main", from, "main");
  if (backup == nullptr) {
    const std::string why = sqlite3_errmsg(to);
    sqlite3_close(to);
    return absl::UnavailableError(StrCat(dest, ": ", why));
  }
  int rc;
  do {
    rc = sqlite3_backup_step(backup, -1);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(20);
  } while (rc == SQLITE_BUSY || rc == SQLITE_LOCKED || rc == SQLITE_OK);
  sqlite3_backup_finish(backup);
  const std::string why = sqlite3_errmsg(to);
  sqlite3_close(to);
  if (rc != SQLITE_DONE) {
    return absl::UnavailableError(StrCat(dest, ": the copy failed: ", why));
  }
  return absl::OkStatus();
}

absl::Status sqlite::AppendAuditLocked(Connection* writer, std::vector<AuditRecord> records) {
  VERSO_ASSIGN_OR_RETURN(
      Stmt * last, writer->Prepare("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"));
  last->Reset();
  VERSO_ASSIGN_OR_RETURN(bool row, last->Step());
  int64_t seq = 0;
  std::string prev;
  if (row) {
    seq = last->Int(0);
    prev = std::string(last->Text(1));
  }
  last->Reset();
  if (!row) {
    VERSO_ASSIGN_OR_RETURN(Stmt * anchor,
                           writer->Prepare("SELECT seq, hash FROM audit_anchor WHERE id=1"));
    anchor->Reset();
    VERSO_ASSIGN_OR_RETURN(bool found, anchor->Step());
    if (found) {
      seq = anchor->Int(0);
      prev = std::string(anchor->Text(1));
    }
    anchor->Reset();
    if (!found) return absl::DataLossError("the audit log's anchor row is missing");
  }
  VERSO_ASSIGN_OR_RETURN(
      Stmt * ins,
      writer->Prepare("INSERT INTO audit_log(seq, at, tenant, actor, action, target, "
                      "detail, request_id, prev_hash, hash) VALUES(?,?,?,?,?,?,?,?,?,?)"));
  for (AuditRecord& r : records) {
    r.seq = ++seq;
    r.prev_hash = prev;
    r.hash = AuditDigest(r, prev);
    ins->Reset().Bind(1, r.seq).Bind(2, Micros(r.at)).Bind(3, r.tenant).Bind(4, r.actor);
    ins->Bind(5, r.action).Bind(6, r.target).Bind(7, r.detail).Bind(8, r.request_id);
    ins->Bind(9, r.prev_hash).Bind(10, r.hash);
    VERSO_RETURN_IF_ERROR(ins->Run());
    prev = r.hash;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Database>> OpenSqlite(const std::string& path,
                                                     const SqliteOptions& options) {
  return SqliteDatabase::Open(path, options);
}

}  // namespace verso::storage
