// PostgreSQL implementation of the Database and its repositories other than jobs (pg_jobs.cc).
// The same tables and columns as the SQLite schema (times in microseconds), so the two backends
// keep the same records; the differences are PostgreSQL's: a connection pool instead of one
// writer, per-store advisory locks for TM writers, sequences that commit in order for the TM
// change log (see pg_schema.cc).
#include <algorithm>
#include <map>
#include <unordered_map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/status.h"
#include "common/strings.h"
#include "nlohmann/json.hpp"
#include "storage/postgres/pg_db.h"
#include "storage/postgres/pg_jobs.h"
#include "storage/postgres/pg_replicas.h"
#include "storage/postgres/pg_schema.h"
#include "storage/record_codec.h"
#include "storage/storage.h"

namespace verso::storage {
namespace {

using pg::FromMicros;
using pg::Int;
using pg::Micros;
using pg::Param;
using pg::Pool;
using pg::Str;
using pg::TimeOrNever;
using pg::Tx;

constexpr const char* kSegmentColumns =
    "id, source, target, ctx_key, ctx_prev, ctx_next, creator, changer, created_at, changed_at, "
    "last_used_at, usage_count, props, notes";

std::vector<std::string> Words(const pqxx::field& f) {
  std::vector<std::string> out;
  for (std::string_view w : Split(f.c_str(), ' ')) {
    if (!w.empty()) out.emplace_back(w);
  }
  return out;
}

Param TextOrNull(const std::string& s) { return s.empty() ? Param::Null() : Param(s); }

absl::StatusOr<SegmentRecord> ReadSegment(const pqxx::row& r) {
  SegmentRecord s;
  s.id = Int(r[0]);
  s.source = Str(r[1]);
  s.target = Str(r[2]);
  s.context.key = Str(r[3]);
  s.context.prev_hash = Int(r[4]);
  s.context.next_hash = Int(r[5]);
  s.creator = Str(r[6]);
  s.changer = Str(r[7]);
  s.created_at = FromMicros(Int(r[8]));
  s.changed_at = FromMicros(Int(r[9]));
  s.last_used_at = TimeOrNever(r[10]);
  s.usage_count = Int(r[11]);
  VERSO_RETURN_IF_ERROR(ParseProps(Str(r[12]), &s.properties));
  VERSO_RETURN_IF_ERROR(ParseNotes(Str(r[13]), &s.notes));
  return s;
}

absl::Status StoreNotFound(std::string_view id) {
  return absl::NotFoundError(StrCat("TM store ", id, " not found"));
}

absl::Status SegmentNotFound(std::string_view store_id, int64_t id) {
  return absl::NotFoundError(StrCat("segment ", id, " not found in TM store ", store_id));
}

// Takes the store's write fence in `tx` (held until the transaction ends; see schema 4): refuses
// a store that moved away or is still arriving.
absl::Status TakeWriteFence(Tx& tx, std::string_view store_id, int64_t num) {
  const std::string moved = Str(tx.Exec("SELECT tm_write_fence($1)", {num})[0][0]);
  if (moved.empty()) return absl::OkStatus();
  if (moved == "(gone)") return StoreNotFound(store_id);
  return StoreMovedError(store_id, moved);
}

// Refuses to read a store that moved away (or is still arriving): its rows here are an old copy,
// or none. Reads of segments check it in the same snapshot.
// A store without a row is not found, unless `absent_ok` (a replica that has not replayed it).
absl::Status NotMoved(Tx& tx, std::string_view store_id, int64_t num, bool absent_ok = false) {
  pqxx::result r = tx.Exec("SELECT moved_to FROM tm_stores WHERE num=$1", {num});
  if (r.empty()) return absent_ok ? absl::OkStatus() : StoreNotFound(store_id);
  const std::string moved = Str(r[0][0]);
  return moved.empty() ? absl::OkStatus() : StoreMovedError(store_id, moved);
}

// Fails with `status` unless the statement changed a row.
absl::Status Changed(const pqxx::result& r, absl::Status status) {
  return r.affected_rows() > 0 ? absl::OkStatus() : status;
}

class PgSegmentWriter : public SegmentWriter {
 public:
  PgSegmentWriter(std::unique_ptr<Pool::Held> held, int64_t store_num)
      : held_(std::move(held)), store_num_(store_num) {}

  absl::StatusOr<PutOutcome> Put(SegmentRecord* s) override {
    const int64_t pair_hash = PairHash(*s);
    const std::string props = PropsJson(s->properties);
    const std::string notes = NotesJson(s->notes);
    VERSO_ASSIGN_OR_RETURN(PutOutcome out, held_->Do([&](Tx& tx) -> absl::StatusOr<PutOutcome> {
      pqxx::result ins = tx.Exec(
          "INSERT INTO tm_segments(store_num, source, target, pair_hash, ctx_key, ctx_prev, "
          "ctx_next, creator, changer, created_at, changed_at, last_used_at, usage_count, props, "
          "notes) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15) "
          "ON CONFLICT(store_num, pair_hash) DO NOTHING RETURNING id",
          {store_num_, s->source, s->target, pair_hash, s->context.key, s->context.prev_hash,
           s->context.next_hash, s->creator, s->changer, Micros(s->created_at),
           Micros(s->changed_at), Param::Time(s->last_used_at), s->usage_count, TextOrNull(props),
           TextOrNull(notes)});
      if (!ins.empty()) return PutOutcome{ins[0][0].as<int64_t>(), true};
      // The same source, target and context exists: merge into it.
      pqxx::result up = tx.Exec(
          "UPDATE tm_segments SET "
          "creator = CASE WHEN $1 < created_at THEN $2 ELSE creator END, "
          "created_at = LEAST(created_at, $1), changer = $3, changed_at = $4, "
          "last_used_at = CASE WHEN last_used_at IS NULL THEN $5::BIGINT WHEN $5 IS NULL THEN "
          "last_used_at ELSE GREATEST(last_used_at, $5) END, "
          "usage_count = usage_count + $6, props = $7, notes = $8 "
          "WHERE store_num = $9 AND pair_hash = $10 RETURNING id",
          {Micros(s->created_at), s->creator, s->changer, Micros(s->changed_at),
           Param::Time(s->last_used_at), s->usage_count, TextOrNull(props), TextOrNull(notes),
           store_num_, pair_hash});
      if (up.empty()) return absl::InternalError("PostgreSQL: a conflicting segment vanished");
      return PutOutcome{up[0][0].as<int64_t>(), false};
    }));
    s->id = out.id;
    return out;
  }

  absl::Status Commit() override { return held_->Commit(); }

 private:
  std::unique_ptr<Pool::Held> held_;
  int64_t store_num_;
};

class PgDatabase : public Database,
                   public TmRepository,
                   public KeyRepository,
                   public ImportRepository,
                   public PolicyRepository,
                   public GlossaryRepository,
                   public QaProfileRepository,
                   public ClusterRepository,
                   public TmShardOps,
                   public AuditRepository {
 public:
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& url,
                                                        const PostgresOptions& options) {
    auto db = std::unique_ptr<PgDatabase>(new PgDatabase());
    VERSO_ASSIGN_OR_RETURN(db->pool_, Pool::Open(url, options.connections));
    if (options.migrate) {
      VERSO_RETURN_IF_ERROR(pg::Migrate(db->pool_.get()).status());
      // The job partitions exist before the first job is submitted.
      VERSO_RETURN_IF_ERROR(pg::EnsureJobPartitions(db->pool_.get(), absl::Now(), 3).status());
    }
    VERSO_RETURN_IF_ERROR(pg::CheckSchema(db->pool_.get()));
    if (!options.replica_urls.empty()) {
      db->replicas_ = std::make_unique<pg::ReplicaSet>(db->pool_.get(), options.replica_urls,
                                                       options.connections, options.eject_lag);
    }
    db->max_lag_tm_ = options.max_lag_tm;
    db->max_lag_keys_ = options.max_lag_keys;
    if (options.listen) {
      db->listener_ = std::make_unique<pg::Listener>(
          db->pool_.get(), std::vector<std::string>{"verso_tasks", "tm_changes"});
    }
    db->jobs_ =
        NewPgJobs(db->pool_.get(), db->replicas_.get(), options.max_lag_jobs, db->listener_.get());
    db->users_ = NewPgUsers(db->pool_.get());
    return std::unique_ptr<Database>(std::move(db));
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
  TmShardOps* tm_shard_ops() override { return this; }
  AuditRepository& audit() override { return *this; }

  absl::Status Ping() override {
    return pool_->Read([](Tx& tx) -> absl::Status {
      tx.Exec("SELECT 1");
      return absl::OkStatus();
    });
  }

  absl::StatusOr<std::vector<std::string>> Maintain(absl::Time now) override {
    return pg::EnsureJobPartitions(pool_.get(), now, 3);
  }

  bool OnTmChanged(std::function<void()> fn) override {
    if (listener_ == nullptr) return false;
    listener_->Set("tm_changes", std::move(fn));
    return true;
  }

  std::vector<ReplicaState> Replicas() override {
    return replicas_ != nullptr ? replicas_->States() : std::vector<ReplicaState>{};
  }

  absl::StatusOr<std::vector<std::string>> ArchiveJobs(absl::Time before) override {
    return pg::DetachJobPartitions(pool_.get(), before);
  }

  // ---- Cluster ----

  absl::Status Heartbeat(const NodeRecord& n) override {
    return pool_->Write([&](Tx& tx) -> absl::Status {
      tx.Exec(
          "INSERT INTO cluster_nodes(id, role, url, started_at, expires_at) "
          "VALUES($1,$2,$3,$4,$5) ON CONFLICT(id) DO UPDATE SET role=excluded.role, "
          "url=excluded.url, started_at=excluded.started_at, expires_at=excluded.expires_at",
          {n.id, n.role, n.url, Micros(n.started_at), Micros(n.expires_at)});
      tx.Exec("DELETE FROM cluster_nodes WHERE expires_at < $1",
              {Micros(n.expires_at - absl::Hours(1))});
      return absl::OkStatus();
    });
  }

  absl::Status RemoveNode(std::string_view id) override {
    return pool_->Write([&](Tx& tx) -> absl::Status {
      tx.Exec("DELETE FROM cluster_nodes WHERE id = $1", {id});
      return absl::OkStatus();
    });
  }

  absl::StatusOr<std::vector<NodeRecord>> ListNodes() override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<std::vector<NodeRecord>> {
      pqxx::result r =
          tx.Exec("SELECT id, role, url, started_at, expires_at FROM cluster_nodes ORDER BY id");
      std::vector<NodeRecord> out;
      for (const auto& row : r) {
        out.push_back({Str(row[0]), Str(row[1]), Str(row[2]), FromMicros(Int(row[3])),
                       FromMicros(Int(row[4]))});
      }
      return out;
    });
  }

  absl::StatusOr<std::string> Setting(std::string_view name, std::string_view initial) override {
    return pool_->Write([&](Tx& tx) -> absl::StatusOr<std::string> {
      tx.Exec("INSERT INTO cluster_settings(name, value) VALUES($1,$2) ON CONFLICT DO NOTHING",
              {name, initial});
      pqxx::result r = tx.Exec("SELECT value FROM cluster_settings WHERE name = $1", {name});
      if (r.empty()) return absl::InternalError(StrCat("cluster setting ", name, " vanished"));
      return Str(r[0][0]);
    });
  }

  absl::StatusOr<std::optional<std::string>> GetSetting(std::string_view name) override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<std::optional<std::string>> {
      pqxx::result r = tx.Exec("SELECT value FROM cluster_settings WHERE name = $1", {name});
      if (r.empty()) return std::nullopt;
      return Str(r[0][0]);
    });
  }

  absl::Status PutSetting(std::string_view name, std::string_view value) override {
    return pool_->Write([&](Tx& tx) -> absl::Status {
      tx.Exec(
          "INSERT INTO cluster_settings(name, value) VALUES($1,$2) "
          "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
          {name, value});
      return absl::OkStatus();
    });
  }

  // ---- API keys ----

  absl::Status CreateKey(const ApiKeyRecord& key) override {
    absl::Status s = pool_->Write([&](Tx& tx) -> absl::Status {
      tx.Exec(
          "INSERT INTO api_keys(id, tenant, name, scopes, hash, prefix, created_at, revoked_at) "
          "VALUES($1,$2,$3,$4,$5,$6,$7,$8)",
          {key.id, key.tenant, key.name, Join(key.scopes, " "), key.hash, key.prefix,
           Micros(key.created_at), Param::Time(key.revoked_at)});
      return absl::OkStatus();
    });
    if (absl::IsAlreadyExists(s))
      return absl::AlreadyExistsError(StrCat("key ", key.id, " exists"));
    return s;
  }

  static constexpr const char* kKeyColumns =
      "id, tenant, name, scopes, hash, prefix, created_at, revoked_at";
  static ApiKeyRecord ReadKey(const pqxx::row& r) {
    ApiKeyRecord k;
    k.id = Str(r[0]);
    k.tenant = Str(r[1]);
    k.name = Str(r[2]);
    k.scopes = Words(r[3]);
    k.hash = Str(r[4]);
    k.prefix = Str(r[5]);
    k.created_at = FromMicros(Int(r[6]));
    k.revoked_at = TimeOrNever(r[7]);
    return k;
  }

  absl::StatusOr<std::vector<ApiKeyRecord>> ListKeys(std::string_view tenant) override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<std::vector<ApiKeyRecord>> {
      pqxx::result r = tx.Exec(
          StrCat("SELECT ", kKeyColumns, " FROM api_keys WHERE $1 = '' OR tenant = $1 ORDER BY id"),
          {tenant});
      std::vector<ApiKeyRecord> out;
      for (const auto& row : r) out.push_back(ReadKey(row));
      return out;
    });
  }

  absl::StatusOr<ApiKeyRecord> FindKeyByHash(std::string_view hash) override {
    return ReadRecent(max_lag_keys_, [&](Tx& tx) -> absl::StatusOr<ApiKeyRecord> {
      pqxx::result r =
          tx.Exec(StrCat("SELECT ", kKeyColumns, " FROM api_keys WHERE hash=$1"), {hash});
      if (r.empty()) return absl::NotFoundError("no such key");
      return ReadKey(r[0]);
    });
  }

  absl::Status RevokeKey(std::string_view id, absl::Time when) override {
    return pool_->Write([&](Tx& tx) -> absl::Status {
      return Changed(
          tx.Exec("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2",
                  {Micros(when), id}),
          absl::NotFoundError(StrCat("key ", id, " not found")));
    });
  }

  // ---- Engine policies ----

  absl::Status PutPolicy(const EnginePolicyRecord& p) override {
    absl::Status s = pool_->Write([&](Tx& tx) -> absl::Status {
      tx.Exec(
          "INSERT INTO mt_policies(tenant, name, engines, updated_at) VALUES($1,$2,$3,$4) "
          "ON CONFLICT(tenant, name) DO UPDATE SET engines=excluded.engines, "
          "updated_at=excluded.updated_at",
          {p.tenant, p.name, Join(p.engines, " "), Micros(p.updated_at)});
      return absl::OkStatus();
    });
    ForgetPolicy(p.tenant, p.name);  // after the commit: a read before it may have cached
    return s;
  }

  static EnginePolicyRecord ReadPolicy(const pqxx::row& r) {
    return {Str(r[0]), Str(r[1]), Words(r[2]), FromMicros(Int(r[3]))};
  }

  // Every translate request reads its tenant's policy (most often: that there is none), so the
  // answers are kept for kPolicyTtl: a change made in this process applies at once, one made in
  // another process within kPolicyTtl.
  absl::StatusOr<EnginePolicyRecord> GetPolicy(std::string_view tenant,
                                               std::string_view name) override {
    const auto key = std::make_pair(std::string(tenant), std::string(name));
    const absl::Time now = absl::Now();
    {
      absl::MutexLock lock(&policy_mu_);
      auto it = policy_cache_.find(key);
      if (it != policy_cache_.end() && now - it->second.at < kPolicyTtl) return it->second.value;
    }
    absl::StatusOr<EnginePolicyRecord> found =
        pool_->Read([&](Tx& tx) -> absl::StatusOr<EnginePolicyRecord> {
          pqxx::result r = tx.Exec(
              "SELECT tenant, name, engines, updated_at FROM mt_policies WHERE tenant=$1 AND "
              "name=$2",
              {tenant, name});
          if (r.empty()) {
            return absl::NotFoundError(StrCat("engine policy \"", name, "\" not found"));
          }
          return ReadPolicy(r[0]);
        });
    if (found.ok() || absl::IsNotFound(found.status())) {
      absl::MutexLock lock(&policy_mu_);
      if (policy_cache_.size() >= 10000) policy_cache_.clear();
      policy_cache_[key] = {found, now};
    }
    return found;
  }

  absl::StatusOr<std::vector<EnginePolicyRecord>> ListPolicies(std::string_view tenant) override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<std::vector<EnginePolicyRecord>> {
      pqxx::result r = tx.Exec(
          "SELECT tenant, name, engines, updated_at FROM mt_policies WHERE tenant=$1 ORDER BY "
          "name",
          {tenant});
      std::vector<EnginePolicyRecord> out;
      for (const auto& row : r) out.push_back(ReadPolicy(row));
      return out;
    });
  }

  absl::Status DeletePolicy(std::string_view tenant, std::string_view name) override {
    absl::Status s = pool_->Write([&](Tx& tx) -> absl::Status {
      return Changed(tx.Exec("DELETE FROM mt_policies WHERE tenant=$1 AND name=$2", {tenant, name}),
                     absl::NotFoundError(StrCat("engine policy \"", name, "\" not found")));
    });
    ForgetPolicy(tenant, name);
    return s;
  }

  // ---- Glossaries ----

  absl::Status CreateGlossary(const GlossaryRecord& g) override {
    absl::Status s = pool_->Write([&](Tx& tx) -> absl::Status {
      tx.Exec(
          "INSERT INTO glossaries(tenant, name, description, created_at, updated_at) "
          "VALUES($1,$2,$3,$4,$5)",
          {g.tenant, g.name, g.description, Micros(g.created_at), Micros(g.updated_at)});
      return absl::OkStatus();
    });
    if (absl::IsAlreadyExists(s)) {
      return absl::AlreadyExistsError(StrCat("glossary \"", g.name, "\" exists"));
    }
    return s;
  }

  static constexpr const char* kGlossaryQuery =
      "SELECT g.tenant, g.name, g.description, g.created_at, g.updated_at, "
      "(SELECT COUNT(*) FROM glossary_concepts c WHERE c.tenant=g.tenant AND c.glossary=g.name), "
      "(SELECT COALESCE(SUM(terms), 0) FROM glossary_concepts c WHERE c.tenant=g.tenant AND "
      "c.glossary=g.name) FROM glossaries g WHERE g.tenant=$1 AND ($2::TEXT IS NULL OR "
      "g.name=$2) ORDER BY g.name";

  static GlossaryRecord ReadGlossary(const pqxx::row& r) {
    GlossaryRecord g;
    g.tenant = Str(r[0]);
    g.name = Str(r[1]);
    g.description = Str(r[2]);
    g.created_at = FromMicros(Int(r[3]));
    g.updated_at = FromMicros(Int(r[4]));
    g.concepts = Int(r[5]);
    g.terms = Int(r[6]);
    return g;
  }

  absl::StatusOr<GlossaryRecord> GetGlossary(std::string_view tenant,
                                             std::string_view name) override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<GlossaryRecord> {
      pqxx::result r = tx.Exec(kGlossaryQuery, {tenant, name});
      if (r.empty()) return absl::NotFoundError(StrCat("glossary \"", name, "\" not found"));
      return ReadGlossary(r[0]);
    });
  }

  absl::StatusOr<std::vector<GlossaryRecord>> ListGlossaries(std::string_view tenant) override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<std::vector<GlossaryRecord>> {
      pqxx::result r = tx.Exec(kGlossaryQuery, {tenant, Param::Null()});
      std::vector<GlossaryRecord> out;
      for (const auto& row : r) out.push_back(ReadGlossary(row));
      return out;
    });
  }

  absl::Status DeleteGlossary(std::string_view tenant, std::string_view name) override {
    return pool_->Write([&](Tx& tx) -> absl::Status {
      VERSO_RETURN_IF_ERROR(
          Changed(tx.Exec("DELETE FROM glossaries WHERE tenant=$1 AND name=$2", {tenant, name}),
                  absl::NotFoundError(StrCat("glossary \"", name, "\" not found"))));
      tx.Exec("DELETE FROM glossary_concepts WHERE tenant=$1 AND glossary=$2", {tenant, name});
      return absl::OkStatus();
    });
  }

  absl::Status PutConcepts(std::string_view tenant, std::string_view name,
                           const std::vector<ConceptRecord>& concepts, bool replace_all,
                           absl::Time updated_at) override {
    return pool_->Write([&](Tx& tx) -> absl::Status {
      VERSO_RETURN_IF_ERROR(
          Changed(tx.Exec("UPDATE glossaries SET updated_at=GREATEST($1, updated_at + 1) "
                          "WHERE tenant=$2 AND name=$3",
                          {Micros(updated_at), tenant, name}),
                  absl::NotFoundError(StrCat("glossary \"", name, "\" not found"))));
      if (replace_all) {
        tx.Exec("DELETE FROM glossary_concepts WHERE tenant=$1 AND glossary=$2", {tenant, name});
      }
      for (const ConceptRecord& c : concepts) {
        tx.Exec(
            "INSERT INTO glossary_concepts(tenant, glossary, id, data, terms) "
            "VALUES($1,$2,$3,$4,$5) ON CONFLICT(tenant, glossary, id) DO UPDATE SET "
            "data=excluded.data, terms=excluded.terms",
            {tenant, name, c.id, c.data, c.terms});
      }
      return absl::OkStatus();
    });
  }

  absl::StatusOr<std::vector<ConceptRecord>> ListConcepts(std::string_view tenant,
                                                          std::string_view name) override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<std::vector<ConceptRecord>> {
      pqxx::result r = tx.Exec(
          "SELECT id, data, terms FROM glossary_concepts WHERE tenant=$1 AND glossary=$2 "
          "ORDER BY id",
          {tenant, name});
      std::vector<ConceptRecord> out;
      for (const auto& row : r) out.push_back({Str(row[0]), Str(row[1]), Int(row[2])});
      return out;
    });
  }

  absl::Status DeleteConcept(std::string_view tenant, std::string_view name, std::string_view id,
                             absl::Time updated_at) override {
    return pool_->Write([&](Tx& tx) -> absl::Status {
      VERSO_RETURN_IF_ERROR(
          Changed(tx.Exec("DELETE FROM glossary_concepts WHERE tenant=$1 AND glossary=$2 AND id=$3",
                          {tenant, name, id}),
                  absl::NotFoundError(StrCat("concept \"", id, "\" not found"))));
      tx.Exec(
          "UPDATE glossaries SET updated_at=GREATEST($1, updated_at + 1) "
          "WHERE tenant=$2 AND name=$3",
          {Micros(updated_at), tenant, name});
      return absl::OkStatus();
    });
  }

  // ---- QA profiles ----

  absl::Status PutQaProfile(const QaProfileRecord& p) override {
    return pool_->Write([&](Tx& tx) -> absl::Status {
      tx.Exec(
          "INSERT INTO qa_profiles(tenant, name, disabled, max_length, updated_at) "
          "VALUES($1,$2,$3,$4,$5) ON CONFLICT(tenant, name) DO UPDATE SET "
          "disabled=excluded.disabled, max_length=excluded.max_length, "
          "updated_at=excluded.updated_at",
          {p.tenant, p.name, Join(p.disabled_checks, " "), p.max_length, Micros(p.updated_at)});
      return absl::OkStatus();
    });
  }

  static QaProfileRecord ReadQaProfile(const pqxx::row& r) {
    return {Str(r[0]), Str(r[1]), Words(r[2]), Int(r[3]), FromMicros(Int(r[4]))};
  }

  absl::StatusOr<QaProfileRecord> GetQaProfile(std::string_view tenant,
                                               std::string_view name) override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<QaProfileRecord> {
      pqxx::result r = tx.Exec(
          "SELECT tenant, name, disabled, max_length, updated_at FROM qa_profiles WHERE "
          "tenant=$1 AND name=$2",
          {tenant, name});
      if (r.empty()) return absl::NotFoundError(StrCat("QA profile \"", name, "\" not found"));
      return ReadQaProfile(r[0]);
    });
  }

  absl::StatusOr<std::vector<QaProfileRecord>> ListQaProfiles(std::string_view tenant) override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<std::vector<QaProfileRecord>> {
      pqxx::result r = tx.Exec(
          "SELECT tenant, name, disabled, max_length, updated_at FROM qa_profiles WHERE "
          "tenant=$1 ORDER BY name",
          {tenant});
      std::vector<QaProfileRecord> out;
      for (const auto& row : r) out.push_back(ReadQaProfile(row));
      return out;
    });
  }

  absl::Status DeleteQaProfile(std::string_view tenant, std::string_view name) override {
    return pool_->Write([&](Tx& tx) -> absl::Status {
      return Changed(tx.Exec("DELETE FROM qa_profiles WHERE tenant=$1 AND name=$2", {tenant, name}),
                     absl::NotFoundError(StrCat("QA profile \"", name, "\" not found")));
    });
  }

  // ---- Imports ----

  static constexpr const char* kImportColumns =
      "id, store_id, tenant, file, format, \"user\", status, error, report, bytes_total, "
      "created_at, finished_at";
  static ImportRecord ReadImport(const pqxx::row& r) {
    ImportRecord i;
    i.id = Str(r[0]);
    i.store_id = Str(r[1]);
    i.tenant = Str(r[2]);
    i.file = Str(r[3]);
    i.format = Str(r[4]);
    i.user = Str(r[5]);
    i.status = Str(r[6]);
    i.error = Str(r[7]);
    i.report = Str(r[8]);
    i.bytes_total = Int(r[9]);
    i.created_at = FromMicros(Int(r[10]));
    i.finished_at = TimeOrNever(r[11]);
    return i;
  }

  absl::Status SaveImport(const ImportRecord& r) override {
    return pool_->Write([&](Tx& tx) -> absl::Status {
      tx.Exec(StrCat("INSERT INTO tm_imports(", kImportColumns,
                     ") VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) ON CONFLICT(id) DO UPDATE "
                     "SET store_id=excluded.store_id, tenant=excluded.tenant, file=excluded.file, "
                     "format=excluded.format, \"user\"=excluded.\"user\", status=excluded.status, "
                     "error=excluded.error, report=excluded.report, "
                     "bytes_total=excluded.bytes_total, created_at=excluded.created_at, "
                     "finished_at=excluded.finished_at"),
              {r.id, r.store_id, r.tenant, r.file, r.format, r.user, r.status, r.error, r.report,
               r.bytes_total, Micros(r.created_at), Param::Time(r.finished_at)});
      return absl::OkStatus();
    });
  }

  absl::StatusOr<ImportRecord> GetImport(std::string_view id) override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<ImportRecord> {
      pqxx::result r =
          tx.Exec(StrCat("SELECT ", kImportColumns, " FROM tm_imports WHERE id=$1"), {id});
      if (r.empty()) return absl::NotFoundError(StrCat("import ", id, " not found"));
      return ReadImport(r[0]);
    });
  }

  absl::StatusOr<std::vector<ImportRecord>> UnfinishedImports() override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<std::vector<ImportRecord>> {
      pqxx::result r = tx.Exec(StrCat("SELECT ", kImportColumns,
                                      " FROM tm_imports WHERE status IN ('queued', 'running') "
                                      "ORDER BY created_at, id"));
      std::vector<ImportRecord> out;
      for (const auto& row : r) out.push_back(ReadImport(row));
      return out;
    });
  }

  // ---- TM stores ----

  static TmStoreRecord ReadStore(const pqxx::row& r) {
    TmStoreRecord out;
    out.id = Str(r[0]);
    out.tenant = Str(r[1]);
    out.name = Str(r[2]);
    out.source_lang = Str(r[3]);
    out.target_lang = Str(r[4]);
    out.created_at = FromMicros(Int(r[5]));
    return out;
  }

  absl::Status CreateStore(const TmStoreRecord& store) override {
    absl::Status s = pool_->Write([&](Tx& tx) -> absl::Status {
      tx.Exec(
          "INSERT INTO tm_stores(id, tenant, name, source_lang, target_lang, created_at) "
          "VALUES($1,$2,$3,$4,$5,$6)",
          {store.id, store.tenant, store.name, store.source_lang, store.target_lang,
           Micros(store.created_at)});
      return absl::OkStatus();
    });
    if (absl::IsAlreadyExists(s)) {
      return absl::AlreadyExistsError(StrCat("TM store ", store.id, " already exists"));
    }
    return s;
  }

  absl::StatusOr<TmStoreRecord> GetStore(std::string_view id) override {
    return ReadRecent(max_lag_tm_, [&](Tx& tx) -> absl::StatusOr<TmStoreRecord> {
      pqxx::result r = tx.Exec(
          "SELECT id, tenant, name, source_lang, target_lang, created_at, moved_to FROM tm_stores "
          "WHERE id=$1",
          {id});
      if (r.empty()) return StoreNotFound(id);
      // A store that moved to another TM shard, or whose copy is still arriving here.
      if (const std::string moved = Str(r[0][6]); !moved.empty()) {
        return StoreMovedError(id, moved);
      }
      return ReadStore(r[0]);
    });
  }

  absl::StatusOr<std::vector<TmStoreRecord>> ListStores(std::string_view tenant) override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<std::vector<TmStoreRecord>> {
      pqxx::result r = tx.Exec(
          "SELECT id, tenant, name, source_lang, target_lang, created_at FROM tm_stores "
          "WHERE ($1 = '' OR tenant = $1) AND moved_to = '' ORDER BY id",
          {tenant});
      std::vector<TmStoreRecord> out;
      for (const auto& row : r) out.push_back(ReadStore(row));
      return out;
    });
  }

  absl::Status DeleteStore(std::string_view id) override {
    VERSO_RETURN_IF_ERROR(pool_->Write([&](Tx& tx) -> absl::Status {
      return Changed(tx.Exec("DELETE FROM tm_stores WHERE id=$1", {id}), StoreNotFound(id));
    }));
    absl::MutexLock nums(&nums_mu_);
    store_nums_.erase(std::string(id));
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<SegmentWriter>> BeginWrite(std::string_view store_id) override {
    VERSO_ASSIGN_OR_RETURN(int64_t num, StoreNum(store_id));
    VERSO_ASSIGN_OR_RETURN(std::unique_ptr<Pool::Held> held, pool_->Begin());
    // One writer per store at a time, in every process (the store's lock, as in SQLite).
    VERSO_RETURN_IF_ERROR(held->Do([&](Tx& tx) -> absl::Status {
      tx.Exec("SELECT pg_advisory_xact_lock(7243002, $1::INT)", {static_cast<int>(num)});
      return TakeWriteFence(tx, store_id, num);
    }));
    return std::unique_ptr<SegmentWriter>(new PgSegmentWriter(std::move(held), num));
  }

  absl::Status UpdateSegment(std::string_view store_id, const SegmentRecord& s) override {
    VERSO_ASSIGN_OR_RETURN(int64_t num, StoreNum(store_id));
    absl::Status status = pool_->Write([&](Tx& tx) -> absl::Status {
      VERSO_RETURN_IF_ERROR(TakeWriteFence(tx, store_id, num));
      return Changed(
          tx.Exec("UPDATE tm_segments SET source=$1, target=$2, pair_hash=$3, ctx_key=$4, "
                  "ctx_prev=$5, ctx_next=$6, changer=$7, changed_at=$8, props=$9, notes=$10 "
                  "WHERE id=$11 AND store_num=$12",
                  {s.source, s.target, PairHash(s), s.context.key, s.context.prev_hash,
                   s.context.next_hash, s.changer, Micros(s.changed_at),
                   TextOrNull(PropsJson(s.properties)), TextOrNull(NotesJson(s.notes)), s.id, num}),
          SegmentNotFound(store_id, s.id));
    });
    if (absl::IsAlreadyExists(status)) {
      return absl::AlreadyExistsError(
          "an identical segment (same source, target and context) already exists in the store");
    }
    return status;
  }

  absl::Status DeleteSegment(std::string_view store_id, int64_t id) override {
    VERSO_ASSIGN_OR_RETURN(int64_t num, StoreNum(store_id));
    return pool_->Write([&](Tx& tx) -> absl::Status {
      VERSO_RETURN_IF_ERROR(TakeWriteFence(tx, store_id, num));
      return Changed(tx.Exec("DELETE FROM tm_segments WHERE id=$1 AND store_num=$2", {id, num}),
                     SegmentNotFound(store_id, id));
    });
  }

  // One statement for the whole batch (arrays unnested into rows): the usage of a busy second
  // is one round trip, not one per segment. Uses of one segment are added up first (an UPDATE
  // joined to two rows for the same segment would apply only one); the answer counts uses, as
  // SQLite's does.
  absl::StatusOr<int64_t> RecordUsage(const std::vector<SegmentUse>& uses) override {
    struct Sum {
      int64_t count = 0;
      int64_t when = 0;
      int64_t uses = 0;
    };
    std::map<std::pair<int64_t, int64_t>, Sum> sums;  // by (store num, segment id)
    std::map<int64_t, std::string> stores;            // by num
    for (const SegmentUse& u : uses) {
      auto num = StoreNum(u.store_id);
      if (!num.ok()) continue;
      stores.emplace(*num, u.store_id);
      Sum& sum = sums[{*num, u.id}];
      sum.count += u.count;
      sum.when = std::max(sum.when, Micros(u.when));
      ++sum.uses;
    }
    if (sums.empty()) return 0;
    std::string nums = "{", ids = "{", counts = "{", whens = "{";
    for (const auto& [key, value] : sums) {
      const char* sep = nums.size() > 1 ? "," : "";
      StrAppend(&nums, sep, key.first);
      StrAppend(&ids, sep, key.second);
      StrAppend(&counts, sep, value.count);
      StrAppend(&whens, sep, value.when);
    }
    for (std::string* a : {&nums, &ids, &counts, &whens}) *a += "}";
    return pool_->Write([&](Tx& tx) -> absl::StatusOr<int64_t> {
      // Fences in num order (two batches never wait for each other in a cycle); a store gone
      // meanwhile is skipped as a missing segment is, a moved one refuses the batch.
      for (const auto& [num, id] : stores) {
        absl::Status fenced = TakeWriteFence(tx, id, num);
        if (MovedTo(fenced).has_value()) return fenced;
      }
      pqxx::result updated = tx.Exec(
          "UPDATE tm_segments t SET usage_count = t.usage_count + u.n, "
          "last_used_at = GREATEST(COALESCE(t.last_used_at, u.w), u.w) "
          "FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[]) "
          "AS u(num, id, n, w) WHERE t.id = u.id AND t.store_num = u.num "
          "RETURNING t.store_num, t.id",
          {nums, ids, counts, whens});
      int64_t applied = 0;
      for (const auto& row : updated) applied += sums[{Int(row[0]), Int(row[1])}].uses;
      return applied;
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
    if (ids.empty()) return std::vector<SegmentRecord>{};
    std::string array = "{";
    for (size_t i = 0; i < ids.size(); ++i) StrAppend(&array, i ? "," : "", ids[i]);
    array += "}";
    // A replica answers only once it has replayed the store's changes this process has read from
    // the log (else rows are missing and the primary answers): a record read after the
    // change was applied is never an older one, which the record cache would keep.
    const int64_t view = ViewPosition(store_id);
    auto query = [&](Tx& tx) -> absl::StatusOr<std::vector<SegmentRecord>> {
      pqxx::result r = tx.ExecPlanned(
          StrCat("SELECT ", kSegmentColumns,
                 " FROM tm_segments WHERE store_num=$1 AND id = ANY($2::BIGINT[]) AND "
                 "(NOT pg_is_in_recovery() OR "
                 "(pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::BIGINT >= $3) AND "
                 "(SELECT moved_to FROM tm_stores WHERE num=$1) = ''"),
          {num, array, view});
      // Rows missing: perhaps because the store moved (then none were read).
      if (r.size() < ids.size()) VERSO_RETURN_IF_ERROR(NotMoved(tx, store_id, num, true));
      std::unordered_map<int64_t, SegmentRecord> by_id;
      for (const auto& row : r) {
        VERSO_ASSIGN_OR_RETURN(SegmentRecord rec, ReadSegment(row));
        const int64_t id = rec.id;
        by_id.emplace(id, std::move(rec));
      }
      std::vector<SegmentRecord> out;
      out.reserve(by_id.size());
      for (int64_t id : ids) {
        auto it = by_id.find(id);
        if (it != by_id.end()) out.push_back(it->second);
      }
      return out;
    };
    auto found = ReadRecent(max_lag_tm_, query);
    // A segment the replica lacks may be one just written: the primary has it.
    if (found.ok() && found->size() < ids.size() && replicas_ != nullptr) {
      found = pool_->Read(query);
    }
    return found;
  }

  absl::StatusOr<std::vector<TmChange>> ChangesAfter(int64_t seq, int limit) override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<std::vector<TmChange>> {
      pqxx::result r = tx.Exec(
          "SELECT c.seq, COALESCE(s.id, ''), c.segment_id, c.kind FROM tm_changes c "
          "LEFT JOIN tm_stores s ON s.num = c.store_num WHERE c.seq > $1 ORDER BY c.seq LIMIT $2",
          {seq, limit});
      if (!r.empty() && replicas_ != nullptr) {
        // Every change read committed before this position: a replica past it has them all.
        const int64_t at =
            Int(tx.Exec("SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::BIGINT")[0][0]);
        absl::MutexLock lock(&view_mu_);
        for (const auto& row : r) {
          if (Str(row[1]).empty()) continue;  // a store created or deleted
          int64_t& view = view_positions_[Str(row[1])];
          view = std::max(view, at);
        }
      }
      std::vector<TmChange> out;
      for (const auto& row : r) {
        TmChange c;
        c.seq = Int(row[0]);
        c.store_id = Str(row[1]);
        c.segment_id = Int(row[2]);
        const std::string kind = Str(row[3]);
        c.kind = kind.empty() ? TmChange::Kind::kStore : static_cast<TmChange::Kind>(kind[0]);
        out.push_back(std::move(c));
      }
      return out;
    });
  }

  absl::StatusOr<int64_t> LastChange() override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<int64_t> {
      return Int(tx.Exec("SELECT COALESCE(MAX(seq), 0) FROM tm_changes")[0][0]);
    });
  }

  absl::Status PruneChanges(absl::Time before) override {
    return pool_->Write([&](Tx& tx) -> absl::Status {
      tx.Exec("DELETE FROM tm_changes WHERE at < $1", {absl::ToUnixSeconds(before)});
      return absl::OkStatus();
    });
  }

  // Every store's segments share one table: its statistics, sampled (default_statistics_target).
  absl::Status RefreshStatistics(std::string_view /*store_id*/) override {
    return pool_->Write([&](Tx& tx) -> absl::Status {
      tx.Run("ANALYZE tm_segments");
      return absl::OkStatus();
    });
  }

  absl::StatusOr<int64_t> CountSegments(std::string_view store_id) override {
    VERSO_ASSIGN_OR_RETURN(int64_t num, StoreNum(store_id));
    return pool_->Snapshot([&](Tx& tx) -> absl::StatusOr<int64_t> {
      VERSO_RETURN_IF_ERROR(NotMoved(tx, store_id, num));
      return Int(tx.Exec("SELECT COUNT(*) FROM tm_segments WHERE store_num=$1", {num})[0][0]);
    });
  }

  absl::Status ScanSegments(std::string_view store_id, int64_t after_id,
                            const std::function<bool(const SegmentRecord&)>& fn) override {
    return Scan(store_id, after_id, kSegmentColumns,
                [&](const pqxx::row& row) -> absl::StatusOr<bool> {
                  VERSO_ASSIGN_OR_RETURN(SegmentRecord rec, ReadSegment(row));
                  return fn(rec);
                });
  }

  absl::Status ScanSegmentTexts(std::string_view store_id, int64_t after_id,
                                const std::function<bool(SegmentRecord&)>& fn) override {
    SegmentRecord rec;
    return Scan(store_id, after_id, "id, source, target, ctx_key, ctx_prev, ctx_next, changed_at",
                [&](const pqxx::row& row) -> absl::StatusOr<bool> {
                  rec.id = Int(row[0]);
                  rec.source.assign(row[1].c_str(), row[1].size());
                  rec.target.assign(row[2].c_str(), row[2].size());
                  rec.context.key.assign(row[3].c_str(), row[3].size());
                  rec.context.prev_hash = Int(row[4]);
                  rec.context.next_hash = Int(row[5]);
                  rec.changed_at = FromMicros(Int(row[6]));
                  return fn(rec);
                });
  }

  // ---- The audit log ----
  absl::Status AppendAudit(std::vector<AuditRecord> records) override {
    if (records.empty()) return absl::OkStatus();
    return pool_->Write([&](Tx& tx) { return pg::AppendAudit(tx, records); });
  }

  absl::StatusOr<std::vector<AuditRecord>> ReadAudit(int64_t after_seq, int limit) override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<std::vector<AuditRecord>> {
      pqxx::result r = tx.Exec(
          "SELECT seq, at, tenant, actor, action, target, detail, request_id, prev_hash, hash "
          "FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
          {after_seq, limit});
      std::vector<AuditRecord> out;
      for (const auto& row : r) {
        AuditRecord a;
        a.seq = Int(row[0]);
        a.at = FromMicros(Int(row[1]));
        a.tenant = Str(row[2]);
        a.actor = Str(row[3]);
        a.action = Str(row[4]);
        a.target = Str(row[5]);
        a.detail = Str(row[6]);
        a.request_id = Str(row[7]);
        a.prev_hash = Str(row[8]);
        a.hash = Str(row[9]);
        out.push_back(std::move(a));
      }
      return out;
    });
  }

  absl::StatusOr<Anchor> AuditAnchor() override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<Anchor> {
      pqxx::result r = tx.Exec("SELECT seq, hash FROM audit_anchor WHERE id = 1");
      if (r.empty()) return absl::DataLossError("the audit log's anchor row is missing");
      return Anchor{Int(r[0][0]), Str(r[0][1])};
    });
  }

  absl::StatusOr<int64_t> PruneAudit(absl::Time before) override {
    return pool_->Write([&](Tx& tx) -> absl::StatusOr<int64_t> {
      tx.Exec("SELECT pg_advisory_xact_lock(7243005)");
      pqxx::result last =
          tx.Exec("SELECT seq, hash FROM audit_log WHERE at < $1 ORDER BY seq DESC LIMIT 1",
                  {Micros(before)});
      if (last.empty()) return int64_t{0};
      tx.Run("SET LOCAL verso.audit_prune = 'on'");
      pqxx::result gone = tx.Exec("DELETE FROM audit_log WHERE seq <= $1", {Int(last[0][0])});
      tx.Exec("UPDATE audit_anchor SET seq = $1, hash = $2 WHERE id = 1",
              {Int(last[0][0]), Str(last[0][1])});
      return static_cast<int64_t>(gone.affected_rows());
    });
  }

  // ---- TmShardOps: moving stores between databases ----

  absl::Status ReserveSegmentIds(int64_t floor) override {
    return pool_->Write([&](Tx& tx) -> absl::Status {
      tx.Exec(
          "SELECT setval('tm_segments_id_seq', $1) FROM tm_segments_id_seq WHERE last_value < $1",
          {floor});
      return absl::OkStatus();
    });
  }

  absl::Status BeginIncoming(const TmStoreRecord& store) override {
    return pool_->Write([&](Tx& tx) -> absl::Status {
      tx.Run("SET LOCAL verso.quiet_tm = 'on'");
      pqxx::result row = tx.Exec("SELECT num FROM tm_stores WHERE id=$1", {store.id});
      if (row.empty()) {
        tx.Exec(
            "INSERT INTO tm_stores(id, tenant, name, source_lang, target_lang, created_at, "
            "moved_to) VALUES($1,$2,$3,$4,$5,$6,'(incoming)')",
            {store.id, store.tenant, store.name, store.source_lang, store.target_lang,
             Micros(store.created_at)});
        return absl::OkStatus();
      }
      const int64_t num = Int(row[0][0]);
      tx.Exec("DELETE FROM tm_segments WHERE store_num=$1", {num});
      tx.Exec(
          "UPDATE tm_stores SET tenant=$2, name=$3, source_lang=$4, target_lang=$5, "
          "created_at=$6, moved_to='(incoming)' WHERE num=$1",
          {num, store.tenant, store.name, store.source_lang, store.target_lang,
           Micros(store.created_at)});
      return absl::OkStatus();
    });
  }

  absl::Status ReplaceSegments(std::string_view store_id, const std::vector<int64_t>& ids,
                               const std::vector<SegmentRecord>& rows) override {
    VERSO_ASSIGN_OR_RETURN(int64_t num, StoreNum(store_id));
    nlohmann::json array = nlohmann::json::array();
    for (const SegmentRecord& r : rows) {
      nlohmann::json row = {{"id", r.id},
                            {"source", r.source},
                            {"target", r.target},
                            {"pair_hash", PairHash(r)},
                            {"ctx_key", r.context.key},
                            {"ctx_prev", r.context.prev_hash},
                            {"ctx_next", r.context.next_hash},
                            {"creator", r.creator},
                            {"changer", r.changer},
                            {"created_at", Micros(r.created_at)},
                            {"changed_at", Micros(r.changed_at)},
                            {"usage_count", r.usage_count}};
      if (r.last_used_at != absl::InfinitePast()) row["last_used_at"] = Micros(r.last_used_at);
      if (std::string props = PropsJson(r.properties); !props.empty()) row["props"] = props;
      if (std::string notes = NotesJson(r.notes); !notes.empty()) row["notes"] = notes;
      array.push_back(std::move(row));
    }
    std::string id_array = "{";
    for (size_t i = 0; i < ids.size(); ++i) StrAppend(&id_array, i ? "," : "", ids[i]);
    id_array += "}";
    std::string json;
    try {
      json = array.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
    } catch (const nlohmann::json::exception& e) {
      return absl::DataLossError(StrCat("TM store ", store_id, ": a segment is not UTF-8"));
    }
    return pool_->Write([&](Tx& tx) -> absl::Status {
      tx.Run("SET LOCAL verso.quiet_tm = 'on'");
      tx.ExecPlanned("DELETE FROM tm_segments WHERE store_num=$1 AND id = ANY($2::BIGINT[])",
                     {num, id_array});
      tx.Exec(
          "INSERT INTO tm_segments(id, store_num, source, target, pair_hash, ctx_key, ctx_prev, "
          "ctx_next, creator, changer, created_at, changed_at, last_used_at, usage_count, props, "
          "notes) SELECT r.id, $1, r.source, r.target, r.pair_hash, r.ctx_key, r.ctx_prev, "
          "r.ctx_next, r.creator, r.changer, r.created_at, r.changed_at, r.last_used_at, "
          "r.usage_count, r.props, r.notes FROM json_to_recordset($2::JSON) AS r(id BIGINT, "
          "source TEXT, target TEXT, pair_hash BIGINT, ctx_key TEXT, ctx_prev BIGINT, ctx_next "
          "BIGINT, creator TEXT, changer TEXT, created_at BIGINT, changed_at BIGINT, "
          "last_used_at BIGINT, usage_count BIGINT, props TEXT, notes TEXT)",
          {num, json});
      return absl::OkStatus();
    });
  }

  absl::Status SetUsage(std::string_view store_id,
                        const std::vector<SegmentRecord>& rows) override {
    VERSO_ASSIGN_OR_RETURN(int64_t num, StoreNum(store_id));
    nlohmann::json array = nlohmann::json::array();
    for (const SegmentRecord& r : rows) {
      nlohmann::json row = {{"id", r.id}, {"usage_count", r.usage_count}};
      if (r.last_used_at != absl::InfinitePast()) row["last_used_at"] = Micros(r.last_used_at);
      array.push_back(std::move(row));
    }
    return pool_->Write([&](Tx& tx) -> absl::Status {
      tx.Exec(
          "UPDATE tm_segments t SET usage_count = r.usage_count, last_used_at = r.last_used_at "
          "FROM json_to_recordset($2::JSON) AS r(id BIGINT, usage_count BIGINT, "
          "last_used_at BIGINT) WHERE t.store_num = $1 AND t.id = r.id",
          {num, array.dump()});
      return absl::OkStatus();
    });
  }

  absl::StatusOr<std::vector<SegmentRecord>> UsedSince(std::string_view store_id,
                                                       absl::Time since) override {
    VERSO_ASSIGN_OR_RETURN(int64_t num, StoreNum(store_id));
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<std::vector<SegmentRecord>> {
      pqxx::result r = tx.Exec(
          "SELECT id, usage_count, last_used_at FROM tm_segments WHERE store_num=$1 AND "
          "last_used_at >= $2 ORDER BY id",
          {num, Micros(since)});
      std::vector<SegmentRecord> out(r.size());
      for (size_t i = 0; i < r.size(); ++i) {
        out[i].id = Int(r[i][0]);
        out[i].usage_count = Int(r[i][1]);
        out[i].last_used_at = TimeOrNever(r[i][2]);
      }
      return out;
    });
  }

  absl::Status GoLive(std::string_view store_id) override {
    return pool_->Write([&](Tx& tx) -> absl::Status {
      return Changed(tx.Exec("UPDATE tm_stores SET moved_to='' WHERE id=$1", {store_id}),
                     StoreNotFound(store_id));
    });
  }

  absl::Status DropMovedSegments(std::string_view store_id) override {
    VERSO_ASSIGN_OR_RETURN(int64_t num, StoreNum(store_id));
    return pool_->Write([&](Tx& tx) -> absl::Status {
      tx.Run("SET LOCAL verso.quiet_tm = 'on'");
      pqxx::result row = tx.Exec("SELECT moved_to FROM tm_stores WHERE num=$1", {num});
      if (row.empty()) return StoreNotFound(store_id);
      const std::string moved = Str(row[0][0]);
      if (moved.empty() || moved == "(incoming)") {
        return absl::FailedPreconditionError(
            StrCat("TM store ", store_id, " lives in this database: its segments stay"));
      }
      tx.Exec("DELETE FROM tm_segments WHERE store_num=$1", {num});
      return absl::OkStatus();
    });
  }

  class PgFence : public Fence {
   public:
    PgFence(std::unique_ptr<Pool::Held> held, int64_t num) : held_(std::move(held)), num_(num) {}
    absl::Status MarkMoved(std::string_view shard) override {
      VERSO_RETURN_IF_ERROR(held_->Do([&](Tx& tx) -> absl::Status {
        tx.Exec("UPDATE tm_stores SET moved_to=$1 WHERE num=$2", {shard, num_});
        return absl::OkStatus();
      }));
      return held_->Commit();
    }

   private:
    std::unique_ptr<Pool::Held> held_;
    int64_t num_;
  };

  absl::StatusOr<std::unique_ptr<Fence>> Freeze(std::string_view store_id) override {
    VERSO_ASSIGN_OR_RETURN(int64_t num, StoreNum(store_id));
    VERSO_ASSIGN_OR_RETURN(std::unique_ptr<Pool::Held> held, pool_->Begin());
    VERSO_RETURN_IF_ERROR(held->Do([&](Tx& tx) -> absl::Status {
      tx.Exec("SELECT pg_advisory_xact_lock(7243003, $1::INT)", {static_cast<int>(num)});
      return absl::OkStatus();
    }));
    return std::unique_ptr<Fence>(new PgFence(std::move(held), num));
  }

  absl::StatusOr<std::string> WhereMoved(std::string_view store_id) override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<std::string> {
      pqxx::result r = tx.Exec("SELECT moved_to FROM tm_stores WHERE id=$1", {store_id});
      if (r.empty()) return StoreNotFound(store_id);
      return Str(r[0][0]);
    });
  }

  absl::StatusOr<std::vector<Placement>> ListPlacements() override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<std::vector<Placement>> {
      pqxx::result r =
          tx.Exec("SELECT store_id, shard, version FROM tm_placements ORDER BY store_id");
      std::vector<Placement> out;
      for (const auto& row : r) out.push_back({Str(row[0]), Str(row[1]), Int(row[2])});
      return out;
    });
  }

  absl::StatusOr<std::optional<Placement>> GetPlacement(std::string_view store_id) override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<std::optional<Placement>> {
      pqxx::result r = tx.Exec(
          "SELECT store_id, shard, version FROM tm_placements WHERE store_id=$1", {store_id});
      if (r.empty()) return std::optional<Placement>();
      return std::optional<Placement>(Placement{Str(r[0][0]), Str(r[0][1]), Int(r[0][2])});
    });
  }

  absl::Status PutPlacement(const Placement& p) override {
    return pool_->Write([&](Tx& tx) -> absl::Status {
      tx.Exec(
          "INSERT INTO tm_placements(store_id, shard, version) VALUES($1,$2,$3) "
          "ON CONFLICT(store_id) DO UPDATE SET shard=excluded.shard, version=excluded.version",
          {p.store_id, p.shard, p.version});
      return absl::OkStatus();
    });
  }

  absl::Status DeletePlacement(std::string_view store_id) override {
    return pool_->Write([&](Tx& tx) -> absl::Status {
      tx.Exec("DELETE FROM tm_placements WHERE store_id=$1", {store_id});
      return absl::OkStatus();
    });
  }

  absl::StatusOr<int> ShardNumber(std::string_view shard) override {
    return pool_->Write([&](Tx& tx) -> absl::StatusOr<int> {
      tx.Exec("SELECT pg_advisory_xact_lock(7243004)");
      tx.Exec(
          "INSERT INTO tm_shards(name, num) SELECT $1, COALESCE(MAX(num), 0) + 1 FROM tm_shards "
          "ON CONFLICT(name) DO NOTHING",
          {shard});
      return static_cast<int>(
          Int(tx.Exec("SELECT num FROM tm_shards WHERE name=$1", {shard})[0][0]));
    });
  }

  absl::Status TouchStore(std::string_view store_id) override {
    return pool_->Write([&](Tx& tx) -> absl::Status {
      return Changed(tx.Exec("UPDATE tm_stores SET moved_to=moved_to WHERE id=$1", {store_id}),
                     StoreNotFound(store_id));
    });
  }

 private:
  PgDatabase() = default;

  static constexpr absl::Duration kPolicyTtl = absl::Seconds(1);
  struct CachedPolicy {
    absl::StatusOr<EnginePolicyRecord> value;
    absl::Time at;
  };
  void ForgetPolicy(std::string_view tenant, std::string_view name) {
    absl::MutexLock lock(&policy_mu_);
    policy_cache_.erase(std::make_pair(std::string(tenant), std::string(name)));
  }

  // Reads the store's segments after `after_id` in id order, in pages of kScanPage rows, all
  // from one snapshot; stops when `fn` returns false.
  static constexpr int kScanPage = 5000;
  absl::Status Scan(std::string_view store_id, int64_t after_id, std::string_view columns,
                    const std::function<absl::StatusOr<bool>(const pqxx::row&)>& fn) {
    VERSO_ASSIGN_OR_RETURN(int64_t num, StoreNum(store_id));
    const std::string sql = StrCat("SELECT ", columns,
                                   " FROM tm_segments WHERE store_num=$1 AND id>$2 ORDER BY id "
                                   "LIMIT $3");
    return pool_->Snapshot([&](Tx& tx) -> absl::Status {
      VERSO_RETURN_IF_ERROR(NotMoved(tx, store_id, num));
      int64_t last = after_id;
      while (true) {
        pqxx::result r = tx.Exec(sql, {num, last, kScanPage});
        for (const auto& row : r) {
          last = Int(row[0]);
          VERSO_ASSIGN_OR_RETURN(bool more, fn(row));
          if (!more) return absl::OkStatus();
        }
        if (r.size() < static_cast<size_t>(kScanPage)) return absl::OkStatus();
      }
    });
  }

  absl::StatusOr<int64_t> StoreNum(std::string_view store_id) {
    {
      absl::MutexLock lock(&nums_mu_);
      auto it = store_nums_.find(std::string(store_id));
      if (it != store_nums_.end()) return it->second;
    }
    VERSO_ASSIGN_OR_RETURN(int64_t num, pool_->Read([&](Tx& tx) -> absl::StatusOr<int64_t> {
      pqxx::result r = tx.Exec("SELECT num FROM tm_stores WHERE id=$1", {store_id});
      if (r.empty()) return StoreNotFound(store_id);
      return Int(r[0][0]);
    }));
    absl::MutexLock lock(&nums_mu_);
    store_nums_[std::string(store_id)] = num;
    return num;
  }

  // The WAL position (bytes) up to which a replica must have replayed to answer for the store's
  // records: where the primary was when this process last read a change to it (0: none).
  int64_t ViewPosition(std::string_view store_id) {
    absl::MutexLock lock(&view_mu_);
    auto it = view_positions_.find(std::string(store_id));
    return it == view_positions_.end() ? 0 : it->second;
  }

  // A read of a replica within `bound` when there is one, else of the primary.
  template <typename F>
  auto ReadRecent(absl::Duration bound, F&& fn) -> decltype(fn(std::declval<Tx&>())) {
    if (replicas_ != nullptr) return replicas_->Read(pool_.get(), bound, std::forward<F>(fn));
    return pool_->Read(std::forward<F>(fn));
  }

  std::unique_ptr<Pool> pool_;  // shared with replicas_ and jobs_, which go first
  std::unique_ptr<pg::ReplicaSet> replicas_;
  std::unique_ptr<pg::Listener> listener_;
  std::unique_ptr<JobRepository> jobs_;
  std::unique_ptr<UserRepository> users_;
  absl::Duration max_lag_tm_;
  absl::Duration max_lag_keys_;
  absl::Mutex policy_mu_;
  std::map<std::pair<std::string, std::string>, CachedPolicy> policy_cache_
      ABSL_GUARDED_BY(policy_mu_);
  absl::Mutex view_mu_;
  std::unordered_map<std::string, int64_t> view_positions_ ABSL_GUARDED_BY(view_mu_);
  absl::Mutex nums_mu_;
  std::unordered_map<std::string, int64_t> store_nums_ ABSL_GUARDED_BY(nums_mu_);
};

}  // namespace

absl::Status pg::AppendAudit(Tx& tx, std::vector<AuditRecord> records) {
  tx.Exec("SELECT pg_advisory_xact_lock(7243005)");
  pqxx::result last = tx.Exec("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
  if (last.empty()) last = tx.Exec("SELECT seq, hash FROM audit_anchor WHERE id = 1");
  if (last.empty()) return absl::DataLossError("the audit log's anchor row is missing");
  int64_t seq = Int(last[0][0]);
  std::string prev = Str(last[0][1]);
  for (AuditRecord& r : records) {
    r.seq = ++seq;
    r.prev_hash = prev;
    r.hash = AuditDigest(r, prev);
    tx.Exec(
        "INSERT INTO audit_log(seq, at, tenant, actor, action, target, detail, request_id, "
        "prev_hash, hash) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
        {r.seq, Micros(r.at), r.tenant, r.actor, r.action, r.target, r.detail, r.request_id,
         r.prev_hash, r.hash});
    prev = r.hash;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Database>> OpenPostgres(const std::string& url,
                                                       const PostgresOptions& options) {
  return PgDatabase::Open(url, options);
}

absl::StatusOr<std::vector<int64_t>> MigratePostgres(const std::string& url) {
  VERSO_ASSIGN_OR_RETURN(auto pool, pg::Pool::Open(url, 1));
  return pg::Migrate(pool.get());
}

}  // namespace verso::storage
