#include <atomic>
#include <filesystem>
#include <thread>

#include <sqlite3.h>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"

#include "storage/storage.h"
#include "storage/tm_repository_suite.h"
#include "tests/process.h"
#include "tests/services.h"

namespace verso::storage {
namespace {

std::unique_ptr<Database> MakeSqlite() {
  static std::atomic<int> n{0};
  std::string dir =
      ::testing::TempDir() + "/sqlite_repo_" + std::to_string(getpid()) + "_" + std::to_string(n++);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto db = OpenSqlite(dir + "/verso.db", SqliteOptions{});
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? std::move(*db) : nullptr;
}

INSTANTIATE_TEST_SUITE_P(Sqlite, TmRepositorySuite, ::testing::Values(&MakeSqlite),
                         [](const auto&) { return std::string("Sqlite"); });

// Each test gets a new database on the test PostgreSQL server (scripts/test-services), migrated
// on open.
std::unique_ptr<Database> MakePostgres() {
  const std::string url = test::NewPostgresDatabase();
  if (url.empty()) return nullptr;
  PostgresOptions options;
  options.migrate = true;
  auto db = OpenPostgres(url, options);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? std::move(*db) : nullptr;
}

INSTANTIATE_TEST_SUITE_P(Postgres, TmRepositorySuite, ::testing::Values(&MakePostgres),
                         [](const auto&) { return std::string("Postgres"); });

// A new database on the test PostgreSQL server, migrated, without a LISTEN connection; its URL
// in *url. Null (with a test failure) when it cannot be made.
std::unique_ptr<Database> OpenFreshPostgres(std::string* url) {
  *url = test::NewPostgresDatabase();
  EXPECT_FALSE(url->empty());
  if (url->empty()) return nullptr;
  PostgresOptions options;
  options.migrate = true;
  options.listen = false;
  auto db = OpenPostgres(*url, options);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? std::move(*db) : nullptr;
}

// SQL on the test replica (pausing and resuming its WAL replay).
void OnReplica(const std::string& replica_url, const std::string& sql) {
  test::RunResult r = test::Run({"/usr/bin/psql", replica_url, "-qXAtc", sql});
  ASSERT_EQ(r.exit_code, 0) << sql << ": " << r.err;
}

// The replica's WAL replay paused for the scope, resumed whatever the test's outcome.
class PausedReplay {
 public:
  explicit PausedReplay(std::string replica_url) : url_(std::move(replica_url)) {
    OnReplica(url_, "SELECT pg_wal_replay_pause()");
  }
  ~PausedReplay() { test::Run({"/usr/bin/psql", url_, "-qXAtc", "SELECT pg_wal_replay_resume()"}); }

 private:
  std::string url_;
};

// A new, migrated database: its URL ("" if it could not be made), its replica in `options`.
std::string MigratedWithReplica(PostgresOptions* options) {
  const std::string url = test::NewPostgresDatabase();
  if (url.empty()) return url;
  PostgresOptions setup;
  setup.migrate = true;
  if (!OpenPostgres(url, setup).ok()) return "";
  options->replica_urls = {test::ReplicaUrl(url)};
  return url;
}

// Waits (at most 20 s) until the first replica's state satisfies `done`.
template <typename F>
ReplicaState WaitForReplica(Database& db, F done) {
  for (int i = 0; i < 200; ++i) {
    auto states = db.Replicas();
    if (!states.empty() && done(states[0])) return states[0];
    absl::SleepFor(absl::Milliseconds(100));
  }
  auto states = db.Replicas();
  return states.empty() ? ReplicaState{} : states[0];
}

// A real streaming replica (pg_basebackup, scripts/test-services): reads within the bound are
// served by it (a key revoked a moment ago still reads unrevoked there), reads it cannot answer
// go to the primary (a key created a moment ago is found), and a replica whose replay is paused
// falls behind, leaves the rotation past the ejection bound and comes back once it catches up.
TEST(PostgresReplicaTest, ReadsFollowTheReplicaWithinTheirBound) {
  test::ExclusiveReplica exclusive;
  PostgresOptions options;
  const std::string url = MigratedWithReplica(&options);
  ASSERT_FALSE(url.empty());
  const std::string replica = options.replica_urls[0];
  options.max_lag_keys = absl::Seconds(1);
  options.eject_lag = absl::Seconds(3);
  auto db = OpenPostgres(url, options);
  ASSERT_TRUE(db.ok()) << db.status();
  Database& d = **db;
  ApiKeyRecord key{"key_1", "acme", "k", {"admin"}, "hash-1", "vsk_1", absl::FromUnixSeconds(1)};
  ASSERT_TRUE(d.keys().CreateKey(key).ok());
  // Caught up: in rotation with (almost) no lag.
  ReplicaState caught_up = WaitForReplica(d, [](const ReplicaState& r) {
    return r.in_rotation && r.lag_seconds >= 0 && r.lag_seconds < 0.5;
  });
  ASSERT_TRUE(caught_up.in_rotation) << caught_up.lag_seconds;
  ASSERT_TRUE(d.keys().FindKeyByHash("hash-1").ok());

  PausedReplay paused(replica);
  ASSERT_TRUE(d.keys().RevokeKey("key_1", absl::FromUnixSeconds(2)).ok());
  ApiKeyRecord fresh{"key_2", "acme", "k2", {"admin"}, "hash-2", "vsk_2", absl::FromUnixSeconds(3)};
  ASSERT_TRUE(d.keys().CreateKey(fresh).ok());
  // Within the bound the replica answers: the revocation has not reached it yet...
  auto stale = d.keys().FindKeyByHash("hash-1");
  ASSERT_TRUE(stale.ok());
  EXPECT_FALSE(stale->revoked());
  // ... but a key it does not have yet is found on the primary (read-your-writes).
  EXPECT_TRUE(d.keys().FindKeyByHash("hash-2").ok());

  // Past the bound, reads go to the primary; past the ejection bound the replica is out.
  ReplicaState behind =
      WaitForReplica(d, [](const ReplicaState& r) { return r.lag_seconds > 1.2; });
  ASSERT_GT(behind.lag_seconds, 1.2);
  auto current = d.keys().FindKeyByHash("hash-1");
  ASSERT_TRUE(current.ok());
  EXPECT_TRUE(current->revoked());
  ReplicaState out = WaitForReplica(d, [](const ReplicaState& r) { return !r.in_rotation; });
  EXPECT_FALSE(out.in_rotation);
  EXPECT_GT(out.lag_seconds, 3);

  OnReplica(replica, "SELECT pg_wal_replay_resume()");
  ReplicaState back = WaitForReplica(d, [](const ReplicaState& r) {
    return r.in_rotation && r.lag_seconds >= 0 && r.lag_seconds < 0.5;
  });
  EXPECT_TRUE(back.in_rotation) << back.lag_seconds;
  auto replicated = d.keys().FindKeyByHash("hash-1");
  ASSERT_TRUE(replicated.ok());
  EXPECT_TRUE(replicated->revoked());
}

// After a bulk load the planner's statistics are refreshed (a plan made while tm_segments was
// small kept a TM node applying an import for 20 s): ANALYZE sets the table's row estimate,
// which PostgreSQL leaves at -1 (never analysed) until then.
TEST(PostgresTmTest, RefreshStatisticsAnalyzesTheSegmentsTable) {
  std::string url;
  std::unique_ptr<Database> db = OpenFreshPostgres(&url);
  ASSERT_NE(db, nullptr);
  TmRepository& tm = db->tm();
  ASSERT_TRUE(
      tm.CreateStore({"tm_bulk", "acme", "bulk", "en", "es", absl::FromUnixSeconds(1)}).ok());
  {
    auto w = tm.BeginWrite("tm_bulk");
    ASSERT_TRUE(w.ok()) << w.status();
    for (int i = 0; i < 25; ++i) {
      SegmentRecord seg;
      seg.source = "Sentence " + std::to_string(i);
      seg.target = "Frase " + std::to_string(i);
      ASSERT_TRUE((*w)->Put(&seg).ok());
    }
    ASSERT_TRUE((*w)->Commit().ok());
  }
  auto estimate = [&] {
    test::RunResult r = test::Run({"/usr/bin/psql", url, "-qXAtc",
                                   "SELECT reltuples::BIGINT FROM pg_class WHERE relname = "
                                   "'tm_segments' AND relkind = 'r'"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  };
  EXPECT_EQ(estimate(), "-1\n");
  ASSERT_TRUE(tm.RefreshStatistics("tm_bulk").ok());
  EXPECT_EQ(estimate(), "25\n");
}

// Jobs live in monthly partitions; archiving detaches the months before a date: their jobs leave
// the jobs table (the API no longer finds them) but stay in the detached table.
TEST(PostgresJobsTest, ArchivingDetachesOldMonthsAndKeepsTheirJobs) {
  std::string url;
  std::unique_ptr<Database> db = OpenFreshPostgres(&url);
  ASSERT_NE(db, nullptr);
  auto made = db->Maintain(absl::FromCivil(absl::CivilDay(2026, 2, 10), absl::UTCTimeZone()));
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ(*made, (std::vector<std::string>{"jobs_2026_01", "jobs_2026_02", "jobs_2026_03",
                                             "jobs_2026_04", "jobs_2026_05"}));
  auto job = [](const std::string& id, absl::CivilDay day) {
    JobRecord j;
    j.id = id;
    j.tenant = "acme";
    j.source_lang = "en";
    j.target_langs = {"es"};
    j.format = "segments";
    j.created_at = j.updated_at = absl::FromCivil(day, absl::UTCTimeZone());
    return j;
  };
  JobChange change;
  change.jobs = {job("job_jan", absl::CivilDay(2026, 1, 5)),
                 job("job_mar", absl::CivilDay(2026, 3, 1))};
  ASSERT_TRUE(db->jobs().Apply(change).ok());
  auto detached = db->ArchiveJobs(absl::FromCivil(absl::CivilDay(2026, 2, 1), absl::UTCTimeZone()));
  ASSERT_TRUE(detached.ok()) << detached.status();
  EXPECT_EQ(*detached, std::vector<std::string>{"jobs_2026_01"});
  EXPECT_TRUE(absl::IsNotFound(db->jobs().GetJob("job_jan").status()));
  EXPECT_TRUE(db->jobs().GetJob("job_mar").ok());
  test::RunResult kept = test::Run({"/usr/bin/psql", url, "-qXAtc", "SELECT id FROM jobs_2026_01"});
  EXPECT_EQ(kept.out, "job_jan\n") << kept.err;
  // Archiving again finds nothing more to detach.
  detached = db->ArchiveJobs(absl::FromCivil(absl::CivilDay(2026, 2, 1), absl::UTCTimeZone()));
  ASSERT_TRUE(detached.ok());
  EXPECT_TRUE(detached->empty());
}

// Two databases opened on one PostgreSQL database stand for two processes: Exclusively on the
// same job never overlaps between them (on different jobs it may).
TEST(PostgresJobsTest, ExclusivelyHoldsAJobAcrossProcesses) {
  const std::string url = test::NewPostgresDatabase();
  ASSERT_FALSE(url.empty());
  PostgresOptions options;
  options.migrate = true;
  options.listen = false;
  auto one = OpenPostgres(url, options);
  ASSERT_TRUE(one.ok()) << one.status();
  options.migrate = false;
  auto two = OpenPostgres(url, options);
  ASSERT_TRUE(two.ok()) << two.status();
  std::atomic<int> inside{0}, most{0}, runs{0};
  auto hold = [&](Database* db, const std::string& job) {
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(db->jobs()
                      .Exclusively(job,
                                   [&] {
                                     const int now = ++inside;
                                     int seen = most.load();
                                     while (now > seen && !most.compare_exchange_weak(seen, now)) {
                                     }
                                     absl::SleepFor(absl::Milliseconds(5));
                                     --inside;
                                     ++runs;
                                     return absl::OkStatus();
                                   })
                      .ok());
    }
  };
  std::thread a(hold, one->get(), "job_same"), b(hold, two->get(), "job_same");
  a.join();
  b.join();
  EXPECT_EQ(runs.load(), 20);
  EXPECT_EQ(most.load(), 1);
  most = 0;
  std::atomic<bool> other_ran{false};
  // A different job is not held back by one that is held.
  ASSERT_TRUE(
      (*one)
          ->jobs()
          .Exclusively(
              "job_a",
              [&] {
                std::thread t([&] {
                  other_ran =
                      (*two)->jobs().Exclusively("job_b", [] { return absl::OkStatus(); }).ok();
                });
                t.join();
                return absl::OkStatus();
              })
          .ok());
  EXPECT_TRUE(other_ran.load());
}

// A libpq multi-host URL listing the replica first finds the primary with
// target_session_attrs=read-write; a wrong password is refused naming the reason, never the
// password; a database without verso's schema is refused naming both versions.
TEST(PostgresOpenTest, MultiHostUrlsFindThePrimaryAndBadSettingsSayWhy) {
  const std::string url = test::NewPostgresDatabase();
  ASSERT_FALSE(url.empty());
  const std::string replica = test::ReplicaUrl(url);
  // postgresql://verso:verso@HOST:PORT/DB -> the host:port parts.
  auto host_port = [](const std::string& u) {
    const size_t at = u.find('@') + 1;
    return u.substr(at, u.find('/', at) - at);
  };
  const std::string db = url.substr(url.rfind('/') + 1);
  PostgresOptions options;
  options.listen = false;
  auto unmigrated = OpenPostgres(url, options);
  EXPECT_EQ(unmigrated.status().message(),
            "the database's schema is version 0 and this verso needs version 9: run `verso "
            "migrate` first");
  options.migrate = true;
  // The replica has the new database once it has replayed its creation (libpq moves on to the
  // next host when one refuses the connection, not when it lacks the database).
  for (int i = 0; i < 100; ++i) {
    if (test::Run({"/usr/bin/psql", replica, "-qXAtc", "SELECT 1"}).exit_code == 0) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  const std::string both = "postgresql://verso:verso@" + host_port(replica) + "," + host_port(url) +
                           "/" + db + "?target_session_attrs=read-write";
  auto db_both = OpenPostgres(both, options);
  ASSERT_TRUE(db_both.ok()) << db_both.status();
  TmStoreRecord s{"tm_multi", "t", "n", "en", "fr", absl::FromUnixSeconds(1)};
  EXPECT_TRUE((*db_both)->tm().CreateStore(s).ok());  // a write: it reached the primary

  std::string wrong = url;
  wrong.replace(wrong.find(":verso@"), 7, ":not-the-password-42@");
  auto refused = OpenPostgres(wrong, options);
  EXPECT_TRUE(absl::IsUnavailable(refused.status())) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()),
              ::testing::HasSubstr("password authentication failed"));
  EXPECT_THAT(std::string(refused.status().message()),
              ::testing::Not(::testing::HasSubstr("not-the-password-42")));
}

// A failover leaves every pooled connection broken: a write or a TM writer that meets one before
// its commit runs again on a fresh connection (the database-write retry policy) and succeeds;
// each such call counts one retry, because the first broken connection drops the idle ones.
TEST(PostgresFailoverTest, WritesLostBeforeTheirCommitRunAgainOnAFreshConnection) {
  std::string url;
  std::unique_ptr<Database> db = OpenFreshPostgres(&url);
  ASSERT_NE(db, nullptr);
  TmRepository& tm = db->tm();
  ASSERT_TRUE(tm.CreateStore({"tm_a", "t", "a", "en", "fr", absl::FromUnixSeconds(1)}).ok());
  // Connections to this database other than psql's own, ended by the server as a failover would.
  auto end_connections = [&] {
    test::RunResult r =
        test::Run({"/usr/bin/psql", url, "-qXAtc",
                   "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = "
                   "current_database() AND pid <> pg_backend_pid()"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return std::atoi(r.out.c_str());
  };
  // Every pooled connection is held at once, so that the pool keeps several.
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&] { EXPECT_TRUE(tm.ListStores("t").ok()); });
  }
  for (auto& t : readers) t.join();
  ASSERT_GE(end_connections(), 1);
  const DatabaseRetryCounts before = DatabaseRetries();
  EXPECT_TRUE(tm.CreateStore({"tm_b", "t", "b", "en", "fr", absl::FromUnixSeconds(2)}).ok());
  EXPECT_EQ(DatabaseRetries().retried - before.retried, 1);
  EXPECT_TRUE(tm.GetStore("tm_b").ok());

  ASSERT_GE(end_connections(), 1);
  auto writer = tm.BeginWrite("tm_a");
  ASSERT_TRUE(writer.ok()) << writer.status();
  SegmentRecord seg;
  seg.source = "Hello";
  seg.target = "Bonjour";
  ASSERT_TRUE((*writer)->Put(&seg).ok());
  ASSERT_TRUE((*writer)->Commit().ok());
  EXPECT_EQ(DatabaseRetries().retried - before.retried, 2);
  auto stored = tm.GetSegment("tm_a", seg.id);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->target, "Bonjour");
  EXPECT_EQ(DatabaseRetries().gave_up, before.gave_up);
}

TEST(SqliteTmRepositoryTest, ReopenKeepsDataAndSchema) {
  std::string dir = ::testing::TempDir() + "/sqlite_reopen_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string path = dir + "/verso.db";
  {
    auto db = OpenSqlite(path, SqliteOptions{});
    ASSERT_TRUE(db.ok());
    TmStoreRecord s{"tm_x", "t", "n", "en", "fr", absl::FromUnixSeconds(1)};
    ASSERT_TRUE((*db)->tm().CreateStore(s).ok());
  }
  auto db = OpenSqlite(path, SqliteOptions{});
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ((*db)->tm().GetStore("tm_x")->target_lang, "fr");
}

// The first column of the first row of `query` on the SQLite file at `path` (-1: no row).
int64_t QueryInt(const std::string& path, const char* query) {
  sqlite3* raw = nullptr;
  int64_t value = -1;
  if (sqlite3_open(path.c_str(), &raw) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(raw, query, -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      value = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(raw);
  return value;
}

// Schema 9 gave tasks their job's tenant: tasks queued before it are filled in, and a lease's
// per-tenant limit counts them.
TEST(SqliteTmRepositoryTest, TasksQueuedBeforeSchema9GetTheirTenant) {
  std::string dir = ::testing::TempDir() + "/sqlite_schema9_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/verso.db";
  const absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  {
    auto db = OpenSqlite(path, SqliteOptions{});
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)->jobs().Apply(QueuedJob("job_old", "acme", 2, t0)).ok());
  }
  auto sql = [&](const char* text) {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(raw, text, nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "");
    sqlite3_free(error);
    sqlite3_close(raw);
  };
  // Back to schema 8: no tenant column (nor the later versions' tables).
  sql("DROP INDEX tasks_tenant_runnable; ALTER TABLE tasks DROP COLUMN tenant; "
      "DROP TABLE cluster_nodes; DROP TABLE cluster_settings; DROP TABLE audit_log; "
      "DROP TABLE audit_anchor; DROP TABLE job_assignments; DROP TABLE sessions; DROP TABLE users; "
      "ALTER TABLE job_segments DROP COLUMN version; ALTER TABLE job_segments DROP COLUMN edit_id; "
      "ALTER TABLE jobs DROP COLUMN revision; DROP INDEX job_segments_counts; "
      "DELETE FROM schema_migrations WHERE version >= 9;");
  auto db = OpenSqlite(path, SqliteOptions{});
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ(QueryInt(path, "SELECT count(*) FROM tasks WHERE tenant = 'acme'"), 2);
  JobRepository& jobs = (*db)->jobs();
  const absl::Time now = t0 + absl::Seconds(1);
  ASSERT_TRUE(jobs.LeaseTask("w1", now, now + absl::Minutes(1), 1).ok());
  // "acme" has one running: with a limit of one, its second task waits.
  EXPECT_TRUE(absl::IsNotFound(jobs.LeaseTask("w2", now, now + absl::Minutes(1), 1).status()));
  EXPECT_TRUE(jobs.LeaseTask("w2", now, now + absl::Minutes(1), 2).ok());
}

TEST(SqliteTmRepositoryTest, NotADatabaseIsDataLoss) {
  std::string path = ::testing::TempDir() + "/not_a_db_" + std::to_string(getpid());
  FILE* f = fopen(path.c_str(), "w");
  fputs("this is not an sqlite database, just some text that is long enough to matter.......", f);
  fclose(f);
  auto db = OpenSqlite(path, SqliteOptions{});
  EXPECT_EQ(db.status().code(), absl::StatusCode::kDataLoss) << db.status();
}

TEST(SqliteTmRepositoryTest, UnwritableDirectoryIsUnavailable) {
  auto db = OpenSqlite("/proc/verso-cannot-be-here/verso.db", SqliteOptions{});
  EXPECT_EQ(db.status().code(), absl::StatusCode::kUnavailable) << db.status();
}

// Each state's name parses back to it; the names are what the database already holds (a rename
// here would strand every stored job).
template <typename E>
std::vector<std::string> RoundTrip() {
  std::vector<std::string> names;
  for (size_t i = 0; i < std::size(EnumNames<E>::kNames); ++i) {
    const E e = static_cast<E>(i);
    EXPECT_EQ(ParseEnum<E>(EnumName(e)), e) << EnumName(e);
    names.emplace_back(EnumName(e));
  }
  EXPECT_EQ(ParseEnum<E>("no such state"), std::nullopt);
  return names;
}

TEST(StatesTest, NamesAreStableAndParseBack) {
  EXPECT_EQ(RoundTrip<JobStatus>(), (std::vector<std::string>{"queued", "running", "post_editing",
                                                              "completed", "failed", "cancelled"}));
  EXPECT_EQ(RoundTrip<SegmentState>(),
            (std::vector<std::string>{"new", "analysed", "mt_pending", "translated", "approved",
                                      "awaiting", "confirmed", "reviewed"}));
  EXPECT_EQ(RoundTrip<SegmentOrigin>(), (std::vector<std::string>{"", "tm", "mt", "human"}));
  EXPECT_EQ(RoundTrip<TaskKind>(),
            (std::vector<std::string>{"analyse", "pretranslate", "mt", "review", "webhook"}));
  EXPECT_EQ(RoundTrip<TaskState>(), (std::vector<std::string>{"queued", "leased", "done", "dead"}));
  EXPECT_EQ(EnumNameList<SegmentOrigin>(), "tm, mt, human");
}

// A TM segment changed on the primary reads old on a replica that has not replayed the change,
// which a process may do within the TM's staleness bound; but once the process has read the
// change from the log, its reads of the store's records wait for a replica that has (else the
// primary answers): a record cache filled after the change never keeps the old text.
TEST(PostgresReplicaTest, ARecordIsNeverReadOlderThanTheChangesReadFromTheLog) {
  test::ExclusiveReplica exclusive;
  PostgresOptions options;
  const std::string url = MigratedWithReplica(&options);
  ASSERT_FALSE(url.empty());
  const std::string replica = options.replica_urls[0];
  options.max_lag_tm = absl::Hours(1);  // the replica answers however far behind
  options.eject_lag = absl::Hours(1);
  auto db = OpenPostgres(url, options);
  ASSERT_TRUE(db.ok()) << db.status();
  TmRepository& tm = (*db)->tm();
  TmStoreRecord store{"tm_view", "acme", "view", "en", "es", absl::FromUnixSeconds(1)};
  ASSERT_TRUE(tm.CreateStore(store).ok());
  SegmentRecord seg;
  seg.source = "The printer is out of paper.";
  seg.target = "La impresora no tiene papel.";
  {
    auto w = tm.BeginWrite("tm_view");
    ASSERT_TRUE(w.ok()) << w.status();
    auto put = (*w)->Put(&seg);
    ASSERT_TRUE(put.ok()) << put.status();
    seg.id = put->id;
    ASSERT_TRUE((*w)->Commit().ok());
  }
  auto first = tm.ChangesAfter(0, 100);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_FALSE(first->empty());
  // The replica has the segment (at most 20 s).
  const std::string on_replica =
      "SELECT target FROM tm_segments WHERE id = " + std::to_string(seg.id);
  for (int i = 0;
       i < 200 && test::Run({"/usr/bin/psql", replica, "-qXAtc", on_replica}).out.empty(); ++i) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(test::Run({"/usr/bin/psql", replica, "-qXAtc", on_replica}).out,
            "La impresora no tiene papel.\n");
  ReplicaState caught_up =
      WaitForReplica(**db, [](const ReplicaState& r) { return r.in_rotation; });
  ASSERT_TRUE(caught_up.in_rotation);

  PausedReplay paused(replica);
  seg.target = "A la impresora le falta papel.";
  ASSERT_TRUE(tm.UpdateSegment("tm_view", seg).ok());
  // The change not read yet: the replica answers, with the old text.
  auto read = tm.GetSegments("tm_view", {seg.id});
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ((*read)[0].target, "La impresora no tiene papel.");
  // Read from the log: from now on the store's records are the changed ones.
  auto changes = tm.ChangesAfter(first->back().seq, 100);
  ASSERT_TRUE(changes.ok()) << changes.status();
  ASSERT_EQ(changes->size(), 1u);
  read = tm.GetSegments("tm_view", {seg.id});
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ((*read)[0].target, "A la impresora le falta papel.");

  OnReplica(replica, "SELECT pg_wal_replay_resume()");
  WaitForReplica(**db,
                 [](const ReplicaState& r) { return r.lag_seconds >= 0 && r.lag_seconds < 0.5; });
  read = tm.GetSegments("tm_view", {seg.id});
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ((*read)[0].target, "A la impresora le falta papel.");
}

}  // namespace
}  // namespace verso::storage

namespace verso::storage {
namespace {

AuditRecord Audited(std::string action, std::string target, absl::Time at = absl::Now()) {
  AuditRecord r;
  r.at = at;
  r.tenant = "acme";
  r.actor = "key:key_1";
  r.action = std::move(action);
  r.target = std::move(target);
  r.detail = "201";
  r.request_id = "req_" + r.target;
  return r;
}

// The audit log on one backend: appends (alone and with a job change) chain; an edit is refused
// by the database, and one made behind its back (the trigger dropped) or a removed record is
// found by VerifyAudit; pruning moves the anchor and the rest still verifies. `sql` runs a
// statement as someone with the database's own access would, and says whether it succeeded.
void AuditScenario(Database* db, const std::function<bool(const std::string&)>& sql,
                   const std::string& drop_update_guard, const std::string& drop_delete_guard) {
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->audit()
                  .AppendAudit({Audited("POST /v1/tm", "tm_1"),
                                Audited("POST /v1/tm/{store}/segments", "tm_1")})
                  .ok());
  ASSERT_TRUE(db->audit().AppendAudit({Audited("DELETE /v1/tm/{store}", "tm_2")}).ok());
  JobChange change;
  change.audit = {Audited("job.status", "job_1"), Audited("job.status", "job_1")};
  ASSERT_TRUE(db->jobs().Apply(change).ok());
  auto check = VerifyAudit(db->audit());
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_TRUE(check->problem.ok()) << check->problem;
  EXPECT_EQ(check->records, 5);
  EXPECT_EQ(check->first_seq, 1);
  EXPECT_EQ(check->head_seq, 5);
  auto all = db->audit().ReadAudit(0, 100);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ(check->head, all->back().hash);
  EXPECT_EQ((*all)[0].prev_hash, kAuditGenesis);
  EXPECT_EQ((*all)[3].action, "job.status");

  EXPECT_FALSE(sql("UPDATE audit_log SET detail = '200' WHERE seq = 2"));  // append-only
  EXPECT_FALSE(sql("DELETE FROM audit_log WHERE seq = 3"));
  ASSERT_TRUE(sql(drop_update_guard));
  ASSERT_TRUE(sql("UPDATE audit_log SET detail = '200' WHERE seq = 2"));
  check = VerifyAudit(db->audit());
  ASSERT_TRUE(check.ok());
  EXPECT_EQ(check->problem.message(),
            "audit record 2 was changed: its hash does not match its content");
  EXPECT_EQ(check->records, 1);
  ASSERT_TRUE(sql("UPDATE audit_log SET detail = '201' WHERE seq = 2"));
  ASSERT_TRUE(sql(drop_delete_guard));
  ASSERT_TRUE(sql("DELETE FROM audit_log WHERE seq = 3"));
  check = VerifyAudit(db->audit());
  ASSERT_TRUE(check.ok());
  EXPECT_EQ(check->problem.message(), "audit records 3 to 3 are missing (2 is followed by 4)");
  // Removing the last records is seen against a head kept from an earlier check.
  ASSERT_TRUE(sql("DELETE FROM audit_log WHERE seq >= 3"));
  check = VerifyAudit(db->audit());
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->problem.ok());
  EXPECT_EQ(check->head_seq, 2);  // < 5, the head an earlier check printed
}

void PruneScenario(Database* db) {
  ASSERT_NE(db, nullptr);
  const absl::Time now = absl::Now();
  ASSERT_TRUE(db->audit()
                  .AppendAudit({Audited("POST /v1/tm", "tm_old", now - absl::Hours(24 * 365 * 8)),
                                Audited("POST /v1/tm", "tm_old2", now - absl::Hours(24 * 365 * 8)),
                                Audited("POST /v1/tm", "tm_new", now)})
                  .ok());
  auto pruned = db->audit().PruneAudit(now - absl::Hours(24 * 365 * 7));
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 2);
  auto check = VerifyAudit(db->audit());
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->problem.ok()) << check->problem;
  EXPECT_EQ(check->first_seq, 3);
  EXPECT_EQ(check->records, 1);
  ASSERT_TRUE(db->audit().AppendAudit({Audited("POST /v1/tm", "tm_after")}).ok());
  check = VerifyAudit(db->audit());
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->problem.ok()) << check->problem;
  EXPECT_EQ(check->head_seq, 4);
}

TEST(SqliteAuditTest, ChainsAndFindsEditsAndRemovals) {
  const std::string dir = ::testing::TempDir() + "/sqlite_audit_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto db = OpenSqlite(dir + "/verso.db", SqliteOptions{});
  ASSERT_TRUE(db.ok()) << db.status();
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open((dir + "/verso.db").c_str(), &raw), SQLITE_OK);
  sqlite3_busy_timeout(raw, 5000);
  auto sql = [&](const std::string& statement) {
    return sqlite3_exec(raw, statement.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK;
  };
  AuditScenario(db->get(), sql, "DROP TRIGGER audit_log_no_update",
                "DROP TRIGGER audit_log_no_delete");
  sqlite3_close(raw);
  auto fresh = OpenSqlite(dir + "/pruned.db", SqliteOptions{});
  ASSERT_TRUE(fresh.ok());
  PruneScenario(fresh->get());
}

TEST(PostgresAuditTest, ChainsAndFindsEditsAndRemovals) {
  const std::string url = test::NewPostgresDatabase();
  ASSERT_FALSE(url.empty());
  PostgresOptions options;
  options.migrate = true;
  auto db = OpenPostgres(url, options);
  ASSERT_TRUE(db.ok()) << db.status();
  auto sql = [&](const std::string& statement) {
    return test::Run({"/usr/bin/psql", url, "-qXAtv", "ON_ERROR_STOP=1", "-c", statement})
               .exit_code == 0;
  };
  const std::string drop = "DROP TRIGGER audit_log_append_only ON audit_log";
  AuditScenario(db->get(), sql, drop, "SELECT 1");
  auto fresh = OpenPostgres(test::NewPostgresDatabase(), options);
  ASSERT_TRUE(fresh.ok());
  PruneScenario(fresh->get());
}

}  // namespace
}  // namespace verso::storage
