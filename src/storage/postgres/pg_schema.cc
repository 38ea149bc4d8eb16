#include "storage/postgres/pg_schema.h"

#include <cstdlib>
#include <iterator>

#include "absl/time/civil_time.h"
#include "common/status.h"
#include "common/strings.h"

namespace verso::storage::pg {
namespace {

// Times are microseconds since the epoch (BIGINT), as in the SQLite schema, so both backends read
// and write the same values; a NULL time is "never".
constexpr const char* kMigrations[] = {
    // 1: everything the SQLite schema's versions 1-8 hold.
    R"sql(
CREATE TABLE tm_stores(
  num BIGSERIAL PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  tenant TEXT NOT NULL,
  name TEXT NOT NULL,
  source_lang TEXT NOT NULL,
  target_lang TEXT NOT NULL,
  created_at BIGINT NOT NULL);
CREATE INDEX tm_stores_tenant ON tm_stores(tenant, id);
CREATE TABLE tm_segments(
  id BIGSERIAL PRIMARY KEY,
  store_num BIGINT NOT NULL REFERENCES tm_stores(num) ON DELETE CASCADE,
  source TEXT NOT NULL,
  target TEXT NOT NULL,
  pair_hash BIGINT NOT NULL,
  ctx_key TEXT NOT NULL DEFAULT '',
  ctx_prev BIGINT NOT NULL DEFAULT 0,
  ctx_next BIGINT NOT NULL DEFAULT 0,
  creator TEXT NOT NULL DEFAULT '',
  changer TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  changed_at BIGINT NOT NULL,
  last_used_at BIGINT,
  usage_count BIGINT NOT NULL DEFAULT 0,
  props TEXT,
  notes TEXT);
CREATE UNIQUE INDEX tm_segments_pair ON tm_segments(store_num, pair_hash);
CREATE INDEX tm_segments_store ON tm_segments(store_num, id);

-- The TM change log, read by every process to keep its indexes current. Writers that record a
-- change take one advisory lock until they commit, so sequence numbers commit in order and a
-- reader that has seen seq N has seen every change before it.
CREATE TABLE tm_changes(
  seq BIGSERIAL PRIMARY KEY,
  store_num BIGINT NOT NULL,
  segment_id BIGINT NOT NULL,
  kind TEXT NOT NULL,
  at BIGINT NOT NULL DEFAULT (EXTRACT(EPOCH FROM now())::BIGINT));
CREATE FUNCTION tm_record_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7243001);
  IF TG_TABLE_NAME = 'tm_stores' THEN
    INSERT INTO tm_changes(store_num, segment_id, kind)
      VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.num ELSE NEW.num END, 0, 's');
  ELSIF TG_OP = 'INSERT' THEN
    INSERT INTO tm_changes(store_num, segment_id, kind) VALUES (NEW.store_num, NEW.id, 'i');
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO tm_changes(store_num, segment_id, kind) VALUES (NEW.store_num, NEW.id, 'u');
  ELSE
    INSERT INTO tm_changes(store_num, segment_id, kind) VALUES (OLD.store_num, OLD.id, 'd');
  END IF;
  PERFORM pg_notify('tm_changes', '');
  RETURN NULL;
END $$;
CREATE TRIGGER tm_changes_segment_insert AFTER INSERT ON tm_segments
  FOR EACH ROW EXECUTE FUNCTION tm_record_change();
CREATE TRIGGER tm_changes_segment_update
  AFTER UPDATE OF source, target, ctx_key, ctx_prev, ctx_next ON tm_segments
  FOR EACH ROW EXECUTE FUNCTION tm_record_change();
CREATE TRIGGER tm_changes_segment_delete AFTER DELETE ON tm_segments
  FOR EACH ROW EXECUTE FUNCTION tm_record_change();
CREATE TRIGGER tm_changes_store AFTER INSERT OR DELETE ON tm_stores
  FOR EACH ROW EXECUTE FUNCTION tm_record_change();

CREATE TABLE api_keys(
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  name TEXT NOT NULL,
  scopes TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  revoked_at BIGINT);
CREATE INDEX api_keys_tenant ON api_keys(tenant, id);
CREATE TABLE tm_imports(
  id TEXT PRIMARY KEY,
  store_id TEXT NOT NULL,
  tenant TEXT NOT NULL,
  file TEXT NOT NULL,
  format TEXT NOT NULL,
  "user" TEXT NOT NULL,
  status TEXT NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  report TEXT NOT NULL DEFAULT '',
  bytes_total BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  finished_at BIGINT);
CREATE INDEX tm_imports_status ON tm_imports(status, created_at);
CREATE TABLE mt_policies(
  tenant TEXT NOT NULL,
  name TEXT NOT NULL,
  engines TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY(tenant, name));
CREATE TABLE glossaries(
  tenant TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY(tenant, name));
CREATE TABLE glossary_concepts(
  tenant TEXT NOT NULL,
  glossary TEXT NOT NULL,
  id TEXT NOT NULL,
  data TEXT NOT NULL,
  terms BIGINT NOT NULL,
  PRIMARY KEY(tenant, glossary, id));
CREATE TABLE qa_profiles(
  tenant TEXT NOT NULL,
  name TEXT NOT NULL,
  disabled TEXT NOT NULL,
  max_length BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY(tenant, name));

-- Jobs, partitioned by month of submission (created_at); the partitions are made ahead by the
-- maintenance task, and anything outside them lands in jobs_default. A job's id is unique
-- across partitions because ids are random; the idempotency keys, which must be unique per
-- tenant, have their own unpartitioned table.
CREATE TABLE jobs(
  id TEXT NOT NULL,
  tenant TEXT NOT NULL,
  status TEXT NOT NULL,
  source_lang TEXT NOT NULL,
  target_langs TEXT NOT NULL,
  tm_store TEXT NOT NULL,
  glossary TEXT NOT NULL,
  engine_policy TEXT NOT NULL,
  qa_profile TEXT NOT NULL,
  qe_threshold DOUBLE PRECISION NOT NULL,
  webhook_url TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  format TEXT NOT NULL,
  file_name TEXT NOT NULL,
  document BYTEA NOT NULL,
  error TEXT NOT NULL,
  stats TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  finished_at BIGINT,
  PRIMARY KEY(id, created_at)) PARTITION BY RANGE (created_at);
CREATE TABLE jobs_default PARTITION OF jobs DEFAULT;
CREATE INDEX jobs_id ON jobs(id);
CREATE INDEX jobs_tenant ON jobs(tenant, created_at);
CREATE TABLE job_idempotency(
  tenant TEXT NOT NULL,
  key TEXT NOT NULL,
  job_id TEXT NOT NULL,
  PRIMARY KEY(tenant, key));
CREATE TABLE job_segments(
  job_id TEXT NOT NULL,
  target_lang TEXT NOT NULL,
  idx BIGINT NOT NULL,
  unit_id TEXT NOT NULL,
  source TEXT NOT NULL,
  target TEXT NOT NULL,
  origin TEXT NOT NULL,
  state TEXT NOT NULL,
  tm_score BIGINT NOT NULL,
  tm_target TEXT NOT NULL,
  repetition BIGINT NOT NULL,
  words BIGINT NOT NULL,
  characters BIGINT NOT NULL,
  engine TEXT NOT NULL,
  review TEXT NOT NULL,
  qe_score DOUBLE PRECISION NOT NULL,
  draft TEXT NOT NULL,
  editor TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY(job_id, target_lang, idx));
CREATE INDEX job_segments_awaiting ON job_segments(updated_at) WHERE state = 'awaiting';
CREATE TABLE tasks(
  id BIGSERIAL PRIMARY KEY,
  job_id TEXT NOT NULL,
  tenant TEXT NOT NULL,
  kind TEXT NOT NULL,
  target_lang TEXT NOT NULL,
  payload TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts BIGINT NOT NULL,
  crashes BIGINT NOT NULL DEFAULT 0,
  run_after BIGINT NOT NULL,
  lease_until BIGINT,
  lease_owner TEXT NOT NULL,
  error TEXT NOT NULL,
  created_at BIGINT NOT NULL);
CREATE INDEX tasks_queued ON tasks(tenant, run_after, id) WHERE state = 'queued';
CREATE INDEX tasks_leased ON tasks(lease_until, id) WHERE state = 'leased';

-- Leases the next runnable task in one round trip: first a task whose lease expired (its worker
-- died), then the earliest queued task of the tenant with the fewest tasks leased now (never one
-- with p_max leased, when p_max > 0). Rows other workers are leasing at the same moment are
-- skipped, not waited for (FOR UPDATE SKIP LOCKED).
CREATE FUNCTION lease_task(p_owner TEXT, p_now BIGINT, p_until BIGINT, p_max BIGINT)
RETURNS SETOF tasks LANGUAGE plpgsql AS $$
DECLARE
  v_id BIGINT;
  v_tenant TEXT;
BEGIN
  -- A lease is soft state: one lost in a crash only returns its task to the queue (a finish by
  -- its old owner is then refused), so it need not wait for the WAL to reach the disk.
  PERFORM set_config('synchronous_commit', 'off', true);
  SELECT t.id INTO v_id FROM tasks t
   WHERE t.state = 'leased' AND t.lease_until < p_now
     AND (p_max <= 0 OR (SELECT count(*) FROM tasks b WHERE b.state = 'leased'
                         AND b.lease_until >= p_now AND b.tenant = t.tenant) < p_max)
   ORDER BY t.lease_until, t.id LIMIT 1 FOR UPDATE SKIP LOCKED;
  IF v_id IS NULL THEN
    FOR v_tenant IN
      WITH RECURSIVE tn(tenant) AS (
        (SELECT q.tenant FROM tasks q WHERE q.state = 'queued' ORDER BY q.tenant LIMIT 1)
        UNION ALL
        SELECT (SELECT q.tenant FROM tasks q WHERE q.state = 'queued' AND q.tenant > tn.tenant
                ORDER BY q.tenant LIMIT 1) FROM tn WHERE tn.tenant IS NOT NULL),
      busy AS (SELECT b.tenant, count(*) AS n FROM tasks b
               WHERE b.state = 'leased' AND b.lease_until >= p_now GROUP BY b.tenant)
      SELECT tn.tenant FROM tn LEFT JOIN busy ON busy.tenant = tn.tenant
       WHERE tn.tenant IS NOT NULL AND (p_max <= 0 OR COALESCE(busy.n, 0) < p_max)
       ORDER BY COALESCE(busy.n, 0),
                (SELECT min(q.run_after) FROM tasks q WHERE q.state = 'queued'
                 AND q.tenant = tn.tenant), tn.tenant
    LOOP
      SELECT t.id INTO v_id FROM tasks t
       WHERE t.state = 'queued' AND t.tenant = v_tenant AND t.run_after <= p_now
       ORDER BY t.run_after, t.id LIMIT 1 FOR UPDATE SKIP LOCKED;
      EXIT WHEN v_id IS NOT NULL;
    END LOOP;
  END IF;
  IF v_id IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY UPDATE tasks SET state = 'leased', attempts = attempts + 1,
      crashes = crashes + CASE WHEN state = 'leased' THEN 1 ELSE 0 END,
      lease_owner = p_owner, lease_until = p_until
    WHERE id = v_id RETURNING *;
END $$;
CREATE INDEX tasks_job ON tasks(job_id);
CREATE TABLE webhook_deliveries(
  id BIGSERIAL PRIMARY KEY,
  job_id TEXT NOT NULL,
  event TEXT NOT NULL,
  attempt BIGINT NOT NULL,
  http_status BIGINT NOT NULL,
  error TEXT NOT NULL,
  at BIGINT NOT NULL);
CREATE INDEX webhook_deliveries_job ON webhook_deliveries(job_id, id);
)sql",
    // 2: leases for several workers in one call (a process's idle workers lease together).
    R"sql(
DROP FUNCTION lease_task(TEXT, BIGINT, BIGINT, BIGINT);
-- Leases up to one task per entry of p_owners (the n-th task leased goes to p_owners[n] until
-- p_untils[n]): first tasks whose lease expired (their worker died), then queued tasks in the
-- order of the least busy tenant (tasks leased now, counting those this call leases) and the
-- earliest run_after, never past p_max leased per tenant when p_max > 0 (expired leases taken
-- over together are each checked against the count before the call). Rows other callers are
-- leasing at the same moment are skipped, not waited for (FOR UPDATE SKIP LOCKED).
CREATE FUNCTION lease_tasks(p_owners TEXT[], p_untils BIGINT[], p_now BIGINT, p_max BIGINT)
RETURNS SETOF tasks LANGUAGE plpgsql AS $$
DECLARE
  v_want INT := cardinality(p_owners);
  v_ids BIGINT[];
BEGIN
  -- A lease is soft state: one lost in a crash only returns its task to the queue (a finish by
  -- its old owner is then refused), so it need not wait for the WAL to reach the disk.
  PERFORM set_config('synchronous_commit', 'off', true);
  v_ids := ARRAY(
    SELECT t.id FROM tasks t
     WHERE t.state = 'leased' AND t.lease_until < p_now
       AND (p_max <= 0 OR (SELECT count(*) FROM tasks b WHERE b.state = 'leased'
                           AND b.lease_until >= p_now AND b.tenant = t.tenant) < p_max)
     ORDER BY t.lease_until, t.id LIMIT v_want FOR UPDATE SKIP LOCKED);
  IF cardinality(v_ids) < v_want THEN
    v_ids := v_ids || ARRAY(
      WITH RECURSIVE tn(tenant) AS (
        (SELECT q.tenant FROM tasks q WHERE q.state = 'queued' ORDER BY q.tenant LIMIT 1)
        UNION ALL
        SELECT (SELECT q.tenant FROM tasks q WHERE q.state = 'queued' AND q.tenant > tn.tenant
                ORDER BY q.tenant LIMIT 1) FROM tn WHERE tn.tenant IS NOT NULL),
      busy AS (SELECT b.tenant, count(*) AS n FROM tasks b
               WHERE b.state = 'leased' AND b.lease_until >= p_now GROUP BY b.tenant),
      picked AS (
        SELECT c.id, c.run_after, COALESCE(busy.n, 0) + c.rn AS load
          FROM tn LEFT JOIN busy ON busy.tenant = tn.tenant
          CROSS JOIN LATERAL (
            SELECT l.id, l.run_after, row_number() OVER (ORDER BY l.run_after, l.id) AS rn
              FROM (SELECT q.id, q.run_after FROM tasks q
                     WHERE q.state = 'queued' AND q.tenant = tn.tenant AND q.run_after <= p_now
                     ORDER BY q.run_after, q.id LIMIT v_want - cardinality(v_ids)
                     FOR UPDATE SKIP LOCKED) l) c
         WHERE tn.tenant IS NOT NULL AND (p_max <= 0 OR COALESCE(busy.n, 0) + c.rn <= p_max))
      SELECT picked.id FROM picked ORDER BY picked.load, picked.run_after, picked.id
       LIMIT v_want - cardinality(v_ids));
  END IF;
  RETURN QUERY UPDATE tasks SET state = 'leased', attempts = tasks.attempts + 1,
      crashes = tasks.crashes + CASE WHEN tasks.state = 'leased' THEN 1 ELSE 0 END,
      lease_owner = o.owner, lease_until = o.until
    FROM (SELECT x.id, p_owners[x.n] AS owner, p_untils[x.n] AS until
            FROM unnest(v_ids) WITH ORDINALITY AS x(id, n)) o
    WHERE tasks.id = o.id RETURNING tasks.*;
END $$;
)sql",
    // 3: cluster membership (heartbeats of TM nodes) and settings every process shares.
    R"sql(
CREATE TABLE cluster_nodes(
  id TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  url TEXT NOT NULL,
  started_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE TABLE cluster_settings(name TEXT PRIMARY KEY, value TEXT NOT NULL);
)sql",
    // 4: TM stores that move between databases (storage/sharded_tm.h). A store's row says where
    // it went (moved_to; '(incoming)' while a copy arrives); every TM writer takes the store's
    // fence (a shared advisory lock) and reads moved_to in tm_write_fence, so that a move's
    // exclusive hold of the fence sees every write before it and none after. Copies made by a
    // move are not changes of the store: with verso.quiet_tm set they leave no log entry. The
    // home database keeps the directory: each store's shard (tm_placements) and the shards'
    // numbers (tm_shards, which name their change logs).
    R"sql(
ALTER TABLE tm_stores ADD COLUMN moved_to TEXT NOT NULL DEFAULT '';
CREATE OR REPLACE FUNCTION tm_record_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('verso.quiet_tm', true) = 'on' THEN
    RETURN NULL;
  END IF;
  PERFORM pg_advisory_xact_lock(7243001);
  IF TG_TABLE_NAME = 'tm_stores' THEN
    INSERT INTO tm_changes(store_num, segment_id, kind)
      VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.num ELSE NEW.num END, 0, 's');
  ELSIF TG_OP = 'INSERT' THEN
    INSERT INTO tm_changes(store_num, segment_id, kind) VALUES (NEW.store_num, NEW.id, 'i');
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO tm_changes(store_num, segment_id, kind) VALUES (NEW.store_num, NEW.id, 'u');
  ELSE
    INSERT INTO tm_changes(store_num, segment_id, kind) VALUES (OLD.store_num, OLD.id, 'd');
  END IF;
  PERFORM pg_notify('tm_changes', '');
  RETURN NULL;
END $$;
CREATE TRIGGER tm_changes_store_moved AFTER UPDATE OF moved_to ON tm_stores
  FOR EACH ROW EXECUTE FUNCTION tm_record_change();
-- The store's moved_to once no move holds its fence ('(gone)': no such store). VOLATILE: the
-- SELECT takes its snapshot after the lock is granted, so it sees the move's commit.
CREATE FUNCTION tm_write_fence(p_num BIGINT) RETURNS TEXT LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(7243003, p_num::INT);
  RETURN COALESCE((SELECT moved_to FROM tm_stores WHERE num = p_num), '(gone)');
END $$;
CREATE TABLE tm_placements(
  store_id TEXT PRIMARY KEY,
  shard TEXT NOT NULL,
  version BIGINT NOT NULL);
CREATE TABLE tm_shards(name TEXT PRIMARY KEY, num INT NOT NULL UNIQUE);
)sql",
    // 5: the audit log (storage.h: AuditRecord), append-only: updates are refused, deletes too
    // unless PruneAudit's transaction set verso.audit_prune. Appenders serialize on one
    // advisory lock (7243005) to chain each record after the last.
    R"sql(
CREATE TABLE audit_log(
  seq BIGINT PRIMARY KEY,
  at BIGINT NOT NULL,
  tenant TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  detail TEXT NOT NULL,
  request_id TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL);
CREATE INDEX audit_log_at ON audit_log(at);
CREATE TABLE audit_anchor(id INT PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL,
                          hash TEXT NOT NULL);
INSERT INTO audit_anchor VALUES (1, 0, repeat('0', 64));
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('verso.audit_prune', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'the audit log is append-only';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
)sql",
    // 6: workbench users, their sessions and the job ranges assigned to them (storage.h:
    // UserRecord, SessionRecord).
    R"sql(
CREATE TABLE users(
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  email TEXT NOT NULL,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  disabled_at BIGINT);
CREATE UNIQUE INDEX users_email ON users(tenant, email);
CREATE TABLE sessions(
  hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expires ON sessions(expires_at);
CREATE TABLE job_assignments(
  job_id TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  target_lang TEXT NOT NULL,
  first_index BIGINT NOT NULL,
  last_index BIGINT NOT NULL,
  PRIMARY KEY(job_id, target_lang, first_index, user_id));
)sql",
    // 7: a segment's version and last applied edit (the workbench's edits: storage.h
    // JobSegmentRecord).
    R"sql(
ALTER TABLE job_segments ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE job_segments ADD COLUMN edit_id TEXT NOT NULL DEFAULT '';
)sql",
    // 8: jobs whose confirmed segments wait for a reviewer (storage.h JobRecord::revision).
    R"sql(
ALTER TABLE jobs ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
)sql",
    // 9: a job's counts (JobRepository::CountJobSegments, every GET /v1/jobs/{id}) read from an
    // index that holds them instead of from the segments' rows (texts, reviews).
    R"sql(
CREATE INDEX job_segments_counts ON job_segments(job_id, target_lang, state, origin, engine, words);
)sql",
};

constexpr int64_t kMigrationLock = 7243000;

std::string PartitionName(absl::CivilMonth m) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "jobs_%04d_%02d", static_cast<int>(m.year()), m.month());
  return buf;
}

int64_t MonthStartMicros(absl::CivilMonth m) {
  return absl::ToUnixMicros(absl::FromCivil(m, absl::UTCTimeZone()));
}

}  // namespace

int64_t LatestSchemaVersion() { return static_cast<int64_t>(std::size(kMigrations)); }

absl::StatusOr<int64_t> SchemaVersion(Pool* pool) {
  return pool->Read([](Tx& tx) -> absl::StatusOr<int64_t> {
    pqxx::result exists = tx.Exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
    if (!exists[0][0].as<bool>()) return int64_t{0};
    pqxx::result r = tx.Exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    return r[0][0].as<int64_t>();
  });
}

absl::StatusOr<std::vector<int64_t>> Migrate(Pool* pool) {
  std::vector<int64_t> applied;
  const int64_t latest = LatestSchemaVersion();
  while (true) {
    // Each step: lock, read the version, apply the next migration, commit (which unlocks).
    VERSO_ASSIGN_OR_RETURN(int64_t done, pool->Write([&](Tx& tx) -> absl::StatusOr<int64_t> {
      tx.Exec("SELECT pg_advisory_xact_lock($1)", {kMigrationLock});
      tx.Run(
          "CREATE TABLE IF NOT EXISTS schema_migrations(version BIGINT PRIMARY KEY, "
          "applied_at BIGINT NOT NULL)");
      pqxx::result r = tx.Exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
      const int64_t version = r[0][0].as<int64_t>();
      if (version > latest) {
        return absl::FailedPreconditionError(StrCat("the database's schema is version ", version,
                                                    ", newer than this verso's (", latest,
                                                    "); upgrade verso"));
      }
      if (version == latest) return int64_t{0};
      tx.Run(kMigrations[version]);
      tx.Exec("INSERT INTO schema_migrations VALUES($1, $2)",
              {version + 1, absl::ToUnixSeconds(absl::Now())});
      return version + 1;
    }));
    if (done == 0) return applied;
    applied.push_back(done);
  }
}

absl::Status CheckSchema(Pool* pool) {
  VERSO_ASSIGN_OR_RETURN(int64_t version, SchemaVersion(pool));
  const int64_t latest = LatestSchemaVersion();
  if (version == latest) return absl::OkStatus();
  if (version < latest) {
    return absl::FailedPreconditionError(StrCat("the database's schema is version ", version,
                                                " and this verso needs version ", latest,
                                                ": run `verso migrate` first"));
  }
  return absl::FailedPreconditionError(StrCat("the database's schema is version ", version,
                                              ", newer than this verso knows (", latest,
                                              "); upgrade verso"));
}

absl::StatusOr<std::vector<std::string>> EnsureJobPartitions(Pool* pool, absl::Time now,
                                                             int months_ahead) {
  const absl::CivilMonth current = absl::ToCivilMonth(now, absl::UTCTimeZone());
  std::vector<std::string> created;
  for (absl::CivilMonth m = current - 1; m <= current + months_ahead; ++m) {
    const std::string name = PartitionName(m);
    VERSO_ASSIGN_OR_RETURN(bool made, pool->Write([&](Tx& tx) -> absl::StatusOr<bool> {
      pqxx::result exists = tx.Exec("SELECT to_regclass($1) IS NOT NULL", {name});
      if (exists[0][0].as<bool>()) return false;
      // Jobs of that month already in jobs_default (submitted before the partition existed, which
      // making partitions months ahead avoids) stay there: moving them would hide them from
      // readers that planned their query before the move.
      pqxx::result stray = tx.Exec(
          "SELECT EXISTS(SELECT 1 FROM jobs_default WHERE created_at >= $1 AND created_at < $2)",
          {MonthStartMicros(m), MonthStartMicros(m + 1)});
      if (stray[0][0].as<bool>()) return false;
      tx.Run(StrCat("CREATE TABLE ", name, " PARTITION OF jobs FOR VALUES FROM (",
                    MonthStartMicros(m), ") TO (", MonthStartMicros(m + 1), ")"));
      return true;
    }));
    if (made) created.push_back(name);
  }
  return created;
}

absl::StatusOr<std::vector<std::string>> DetachJobPartitions(Pool* pool, absl::Time before) {
  const int64_t limit = absl::ToUnixMicros(before);
  return pool->Write([&](Tx& tx) -> absl::StatusOr<std::vector<std::string>> {
    // The partitions and their upper bounds, from the catalog.
    pqxx::result parts = tx.Exec(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'jobs'::regclass "
        "AND c.relname <> 'jobs_default' ORDER BY c.relname");
    std::vector<std::string> detached;
    for (const auto& row : parts) {
      const std::string name = row[0].as<std::string>();
      const std::string bound = row[1].as<std::string>();  // FOR VALUES FROM (a) TO (b)
      // FOR VALUES FROM ('a') TO ('b'): the upper bound's digits.
      const size_t to = bound.rfind("TO (");
      if (to == std::string::npos) continue;
      const size_t digits = bound.find_first_of("0123456789", to);
      if (digits == std::string::npos) continue;
      const int64_t upper = std::strtoll(bound.c_str() + digits, nullptr, 10);
      if (upper > limit) continue;
      tx.Run(StrCat("ALTER TABLE jobs DETACH PARTITION ", name));
      detached.push_back(name);
    }
    return detached;
  });
}

}  // namespace verso::storage::pg
