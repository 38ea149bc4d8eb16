// The SQLite change log and restores to a time (storage.h: RestoreSqlite, SqliteOptions::
// change_log): every row of every table after a restore to T is what the database held at T.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "storage/sqlite/change_log.h"
#include "storage/storage.h"

namespace verso::storage {
namespace {

// Every row of every table but SQLite's own and the change log's bookkeeping, as text.
std::string Dump(const std::string& path) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  std::vector<std::string> tables;
  auto collect = [](void* out, int n, char** values, char**) {
    std::string row;
    for (int i = 0; i < n; ++i) row += std::string(values[i] ? values[i] : "NULL") + "|";
    static_cast<std::vector<std::string>*>(out)->push_back(row);
    return 0;
  };
  sqlite3_exec(db,
               "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
               "ORDER BY name",
               collect, &tables, nullptr);
  std::string out;
  for (std::string table : tables) {
    table.pop_back();  // the '|'
    std::vector<std::string> rows;
    const std::string sql =
        table == "cluster_settings"
            ? "SELECT * FROM cluster_settings WHERE name NOT IN ('change_log.id', "
              "'backup.change_seq')"
            : "SELECT * FROM \"" + table + "\"";
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), collect, &rows, &error), SQLITE_OK)
        << table << ": " << (error ? error : "");
    sqlite3_free(error);
    std::sort(rows.begin(), rows.end());
    out += "== " + table + "\n";
    for (const auto& r : rows) out += r + "\n";
  }
  sqlite3_close(db);
  return out;
}

class ChangeLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/change_log_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = dir_ + "/verso.db";
    log_ = DefaultChangeLog(path_);
  }
  void TearDown() override {
    db_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }
  std::unique_ptr<Database> Open(bool with_log = true, int64_t file_bytes = 16 << 20) {
    auto db = OpenSqlite(path_, {.synchronous_full = false,
                                 .read_connections = 2,
                                 .change_log = with_log ? log_ : "",
                                 .change_log_file_bytes = file_bytes});
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? std::move(*db) : nullptr;
  }
  static TmStoreRecord Store(const std::string& id) {
    TmStoreRecord r;
    r.id = id;
    r.tenant = "acme";
    r.name = id;
    r.source_lang = "en";
    r.target_lang = "es";
    r.created_at = absl::FromUnixSeconds(1'700'000'000);
    return r;
  }
  static std::vector<int64_t> Put(Database* db, const std::string& store,
                                  const std::vector<std::string>& sources) {
    auto w = db->tm().BeginWrite(store);
    EXPECT_TRUE(w.ok()) << w.status();
    std::vector<int64_t> ids;
    for (const auto& source : sources) {
      SegmentRecord s;
      s.source = source;
      s.target = "es: " + source;
      s.created_at = s.changed_at = absl::FromUnixSeconds(1'700'000'100);
      auto out = (*w)->Put(&s);
      EXPECT_TRUE(out.ok()) << out.status();
      ids.push_back(out.ok() ? out->id : 0);
    }
    EXPECT_TRUE((*w)->Commit().ok());
    return ids;
  }
  // The state now, and an instant after it and before anything later.
  void Mark() {
    absl::SleepFor(absl::Milliseconds(2));
    marks_.push_back({absl::Now(), Dump(path_)});
    absl::SleepFor(absl::Milliseconds(2));
  }
  absl::StatusOr<RestoreReport> RestoreTo(const std::string& backup, const std::string& dest,
                                          std::optional<absl::Time> to) {
    return RestoreSqlite(backup, dest, {.to = to, .change_log = log_});
  }

  // Marks the state now, closes the database, and restores `backup` brought forward to now: it
  // must equal the state marked first.
  void ExpectBroughtForwardToNow(const std::string& backup) {
    Mark();
    db_.reset();
    auto report = RestoreTo(backup, dir_ + "/restored.db", absl::Now());
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(Dump(dir_ + "/restored.db"), marks_[0].second);
  }

  std::string dir_, path_, log_;
  std::unique_ptr<Database> db_;
  std::vector<std::pair<absl::Time, std::string>> marks_;
};

TEST_F(ChangeLogTest, ARestoreToAnyTimeAfterTheBackupHoldsExactlyWhatWasThere) {
  db_ = Open();
  ASSERT_TRUE(db_->tm().CreateStore(Store("tm_a")).ok());
  Put(db_.get(), "tm_a", {"one", "two", "three"});
  const std::string backup = dir_ + "/backup.db";
  ASSERT_TRUE(db_->Backup(backup).ok());
  Mark();  // 0: the backup's state
  std::vector<int64_t> ids = Put(db_.get(), "tm_a", {"four", "five"});
  Mark();  // 1
  SegmentRecord changed;
  changed.id = ids[0];
  changed.source = "four, changed";
  changed.target = "cuatro";
  changed.changed_at = absl::FromUnixSeconds(1'700'000'300);
  ASSERT_TRUE(db_->tm().UpdateSegment("tm_a", changed).ok());
  ASSERT_TRUE(db_->tm().DeleteSegment("tm_a", ids[1]).ok());
  // A write that fails rolls back: nothing of it in the log.
  changed.source = "one";
  changed.target = "es: one";
  EXPECT_EQ(db_->tm().UpdateSegment("tm_a", changed).code(), absl::StatusCode::kAlreadyExists);
  Mark();  // 2
  ASSERT_TRUE(db_->policies().PutPolicy({"acme", "fast", {"apertium"}, absl::Now()}).ok());
  AuditRecord audit;
  audit.at = absl::Now();
  audit.tenant = "acme";
  audit.actor = "key:k1";
  audit.action = "tm.store.delete";
  audit.target = "tm_b";
  ASSERT_TRUE(db_->audit().AppendAudit({audit}).ok());
  ASSERT_TRUE(db_->tm().CreateStore(Store("tm_b")).ok());
  Put(db_.get(), "tm_b", {"six"});
  ASSERT_TRUE(db_->tm().DeleteStore("tm_b").ok());
  Mark();  // 3
  db_.reset();

  for (size_t i = 0; i < marks_.size(); ++i) {
    const std::string dest = dir_ + "/restored" + std::to_string(i) + ".db";
    auto report = RestoreTo(backup, dest, marks_[i].first);
    ASSERT_TRUE(report.ok()) << i << ": " << report.status();
    EXPECT_EQ(Dump(dest), marks_[i].second) << "restored to mark " << i;
    EXPECT_EQ(report->applied == 0, i == 0) << i;
  }
  // Without a time: the backup as it was taken.
  ASSERT_TRUE(RestoreTo(backup, dir_ + "/plain.db", std::nullopt).ok());
  EXPECT_EQ(Dump(dir_ + "/plain.db"), marks_[0].second);
}

TEST_F(ChangeLogTest, ConcurrentGroupCommitsAndASecondWriterAreAllInTheLog) {
  db_ = Open();
  ASSERT_TRUE(db_->tm().CreateStore(Store("tm_a")).ok());
  const std::string backup = dir_ + "/backup.db";
  ASSERT_TRUE(db_->Backup(backup).ok());
  // Another process's writer on the same file (a CLI import beside the server): its own
  // connection, session and lock file descriptor.
  std::unique_ptr<Database> other = Open();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Database* db = t % 2 == 0 ? db_.get() : other.get();
      for (int i = 0; i < 25; ++i) {
        const std::string source = "writer " + std::to_string(t) + " segment " + std::to_string(i);
        ASSERT_TRUE(
            db->tm().RecordUsage({{"tm_a", Put(db, "tm_a", {source})[0], 1, absl::Now()}}).ok());
        ASSERT_TRUE(db->keys()
                        .CreateKey({.id = "k" + std::to_string(t) + "_" + std::to_string(i),
                                    .tenant = "acme",
                                    .name = source,
                                    .scopes = {"tm:read"},
                                    .hash = "h" + source,
                                    .prefix = "p",
                                    .created_at = absl::Now()})
                        .ok());
        // Audit records go through the group commit: several writers' bodies, one transaction.
        AuditRecord audit;
        audit.at = absl::Now();
        audit.tenant = "acme";
        audit.actor = "test";
        audit.action = "tm.segment.add";
        audit.target = source;
        ASSERT_TRUE(db->audit().AppendAudit({audit}).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  other.reset();
  ExpectBroughtForwardToNow(backup);
}

// A write transaction that changes no row writes no WAL frame (no WAL hook follows its commit):
// it must not leave the log's lock held, or another process's next commit waits forever (a CLI
// import beside a server whose job lease matched no task hung that way).
TEST_F(ChangeLogTest, ATransactionThatChangesNothingLeavesTheLockFree) {
  db_ = Open();
  ASSERT_TRUE(db_->tm().CreateStore(Store("tm_a")).ok());
  const int64_t id = Put(db_.get(), "tm_a", {"one"})[0];
  ASSERT_TRUE(db_->tm().RecordUsage({{"tm_a", id + 1000, 1, absl::Now()}}).ok());  // no such row
  const int fd = ::open((log_ + "/LOCK").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0) << "the log's lock is still held";
  ::close(fd);
  // And a change after it is logged.
  const std::string backup = dir_ + "/backup.db";
  ASSERT_TRUE(db_->Backup(backup).ok());
  Put(db_.get(), "tm_a", {"two"});
  ExpectBroughtForwardToNow(backup);
}

TEST_F(ChangeLogTest, ACommitThatCannotTakeTheLogsLockIsRefusedNotHung) {
  db_ = Open();
  ASSERT_TRUE(db_->tm().CreateStore(Store("tm_a")).ok());
  const std::string backup = dir_ + "/backup.db";
  ASSERT_TRUE(db_->Backup(backup).ok());
  const absl::Duration saved = sqlite::ChangeLog::lock_wait;
  sqlite::ChangeLog::lock_wait = absl::Milliseconds(200);
  const int fd = ::open((log_ + "/LOCK").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);  // as a commit that never reached its WAL hook would
  SegmentRecord s;
  s.source = "held";
  s.target = "es: held";
  s.created_at = s.changed_at = absl::FromUnixSeconds(1'700'000'100);
  auto w = db_->tm().BeginWrite("tm_a");
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE((*w)->Put(&s).ok());
  absl::Status refused = (*w)->Commit();
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
  EXPECT_NE(refused.message().find("the commit was refused"), std::string_view::npos) << refused;
  w->reset();
  EXPECT_EQ(Dump(path_).find("es: held"), std::string::npos) << "rolled back, not committed";
  ::close(fd);
  sqlite::ChangeLog::lock_wait = saved;
  Put(db_.get(), "tm_a", {"after"});
  ExpectBroughtForwardToNow(backup);
}

TEST_F(ChangeLogTest, ALogSpreadOverManySmallFilesRestoresTheSame) {
  db_ = Open(/*with_log=*/true, /*file_bytes=*/2048);
  ASSERT_TRUE(db_->tm().CreateStore(Store("tm_a")).ok());
  const std::string backup = dir_ + "/backup.db";
  ASSERT_TRUE(db_->Backup(backup).ok());
  for (int i = 0; i < 40; ++i) Put(db_.get(), "tm_a", {"segment " + std::to_string(i)});
  Mark();
  db_.reset();
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(log_)) {
    files += e.path().extension() == ".log" ? 1 : 0;
  }
  EXPECT_GT(files, 5);
  auto report = RestoreTo(backup, dir_ + "/restored.db", absl::Now());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(Dump(dir_ + "/restored.db"), marks_[0].second);
  EXPECT_EQ(report->applied, 40);
}

TEST_F(ChangeLogTest, ACutShortLastRecordEndsTheLogAndDamageIsReported) {
  db_ = Open();
  ASSERT_TRUE(db_->tm().CreateStore(Store("tm_a")).ok());
  const std::string backup = dir_ + "/backup.db";
  ASSERT_TRUE(db_->Backup(backup).ok());
  Put(db_.get(), "tm_a", {"one"});
  Mark();
  Put(db_.get(), "tm_a", {"two"});
  db_.reset();
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(log_)) {
    if (e.path().extension() == ".log") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  ASSERT_EQ(files.size(), 2u);  // a new file starts at the backup
  const std::string last = files.back();
  const auto size = std::filesystem::file_size(last);
  // A crash in the middle of the last append, after the commit: the record is cut off and its
  // marker says a transaction may be missing there. A restore goes up to it, not past it.
  std::filesystem::resize_file(last, size - 5);
  auto past = RestoreTo(backup, dir_ + "/cut.db", absl::Now());
  EXPECT_EQ(past.status().code(), absl::StatusCode::kDataLoss) << past.status();
  EXPECT_NE(past.status().message().find("may lack a transaction committed at"),
            std::string_view::npos)
      << past.status();
  auto report = RestoreTo(backup, dir_ + "/cut.db", marks_[0].first);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(Dump(dir_ + "/cut.db"), marks_[0].second);
  // A damaged byte inside a whole record is not skipped over.
  {
    std::fstream f(last, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.put('\x7f');
  }
  auto damaged = RestoreTo(backup, dir_ + "/damaged.db", absl::Now());
  EXPECT_EQ(damaged.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(damaged.status().message().find("checksum"), std::string_view::npos)
      << damaged.status();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/damaged.db"));  // all or nothing
}

TEST_F(ChangeLogTest, AProcessKilledBetweenACommitAndItsRecordLeavesAGapThatARestoreStopsAt) {
  db_ = Open();
  ASSERT_TRUE(db_->tm().CreateStore(Store("tm_a")).ok());
  const std::string backup = dir_ + "/backup.db";
  ASSERT_TRUE(db_->Backup(backup).ok());
  Put(db_.get(), "tm_a", {"one"});
  Mark();  // 0: before the transaction the crash leaves out of the log
  db_.reset();
  // Another process commits "two" and dies before it can record it (exit 0 only from there).
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    sqlite::ChangeLog::before_record_for_test = [] { ::_exit(0); };
    auto db = OpenSqlite(path_, {.synchronous_full = false, .change_log = log_});
    if (db.ok()) Put(db->get(), "tm_a", {"two"});
    ::_exit(3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_NE(Dump(path_).find("es: two"), std::string::npos) << "the commit itself was made";

  // Nobody has written since: the log ends with the dead process's marker.
  auto at_end = RestoreTo(backup, dir_ + "/at-end.db", absl::Now());
  EXPECT_EQ(at_end.status().code(), absl::StatusCode::kDataLoss) << at_end.status();
  EXPECT_NE(at_end.status().message().find("may lack a transaction committed at"),
            std::string_view::npos)
      << at_end.status();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/at-end.db"));

  // The next writer finds the marker, records a gap after it and goes on.
  db_ = Open();
  Put(db_.get(), "tm_a", {"three"});
  db_.reset();
  auto past = RestoreTo(backup, dir_ + "/past.db", absl::Now());
  EXPECT_EQ(past.status().code(), absl::StatusCode::kDataLoss) << past.status();
  EXPECT_NE(past.status().message().find("record 3"), std::string_view::npos) << past.status();
  auto before = RestoreTo(backup, dir_ + "/before.db", marks_[0].first);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(Dump(dir_ + "/before.db"), marks_[0].second);
  EXPECT_EQ(before->applied, 1);  // "one"
}

TEST_F(ChangeLogTest, PruningRemovesWhatNoKeptBackupNeedsAndKeepsTheRest) {
  db_ = Open(/*with_log=*/true, /*file_bytes=*/2048);
  ASSERT_TRUE(db_->tm().CreateStore(Store("tm_a")).ok());
  const std::string first = dir_ + "/first.db", second = dir_ + "/second.db";
  ASSERT_TRUE(db_->Backup(first).ok());
  for (int i = 0; i < 10; ++i) Put(db_.get(), "tm_a", {"before " + std::to_string(i)});
  ASSERT_TRUE(db_->Backup(second).ok());
  for (int i = 0; i < 10; ++i) Put(db_.get(), "tm_a", {"after " + std::to_string(i)});
  auto log_files = [&] {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(log_)) {
      if (e.path().extension() == ".log") names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  };
  const std::vector<std::string> before = log_files();
  auto pruned = PruneChangeLogs(log_, {second});  // while the database is written
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  const std::vector<std::string> after = log_files();
  // What remains starts with the file the second backup started: the records after it.
  std::string position;
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2(second.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_exec(
        db, "SELECT value FROM cluster_settings WHERE name = 'backup.change_seq'",
        [](void* out, int, char** v, char**) { return *static_cast<std::string*>(out) = v[0], 0; },
        &position, nullptr);
    sqlite3_close(db);
  }
  ASSERT_FALSE(after.empty());
  EXPECT_EQ(std::stoll(after.front().substr(0, 20)), std::stoll(position) + 1);
  EXPECT_EQ(pruned->files, static_cast<int>(before.size() - after.size()));
  EXPECT_GT(pruned->files, 1);
  EXPECT_GT(pruned->bytes, 0);
  EXPECT_EQ(pruned->set_aside, 0);
  Put(db_.get(), "tm_a", {"last"});
  Mark();
  db_.reset();
  auto kept = RestoreTo(second, dir_ + "/from-second.db", absl::Now());
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(Dump(dir_ + "/from-second.db"), marks_[0].second);
  auto gone = RestoreTo(first, dir_ + "/from-first.db", absl::Now());
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kDataLoss) << gone.status();
  EXPECT_NE(gone.status().message().find("are missing"), std::string_view::npos) << gone.status();

  // A restore sets the log aside: kept while a kept backup is of its history, then removed.
  ASSERT_TRUE(RestoreTo(second, path_, std::nullopt).ok());
  db_ = Open();
  Put(db_.get(), "tm_a", {"new history"});
  const std::string third = dir_ + "/third.db";
  ASSERT_TRUE(db_->Backup(third).ok());
  db_.reset();
  auto both = PruneChangeLogs(log_, {third, second});
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(both->set_aside, 0);
  ASSERT_TRUE(RestoreTo(second, dir_ + "/again.db", absl::Now()).ok());
  auto only_third = PruneChangeLogs(log_, {third});
  ASSERT_TRUE(only_third.ok()) << only_third.status();
  EXPECT_EQ(only_third->set_aside, 1);
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    EXPECT_EQ(e.path().filename().string().find(".replaced-"), std::string::npos) << e.path();
  }
  EXPECT_TRUE(RestoreTo(third, dir_ + "/from-third.db", absl::Now()).ok());
}

TEST_F(ChangeLogTest, ALogOfAnotherHistoryOrNoneIsRefused) {
  db_ = Open(/*with_log=*/false);
  ASSERT_TRUE(db_->tm().CreateStore(Store("tm_a")).ok());
  const std::string plain = dir_ + "/plain.db";
  ASSERT_TRUE(db_->Backup(plain).ok());
  db_.reset();
  auto refused = RestoreTo(plain, dir_ + "/x.db", absl::Now());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("without a change log"), std::string_view::npos)
      << refused.status();

  db_ = Open();
  const std::string backup = dir_ + "/backup.db";
  ASSERT_TRUE(db_->Backup(backup).ok());
  Put(db_.get(), "tm_a", {"one"});
  Mark();
  db_.reset();
  // A restore starts a new history: the database's next log is a new one ("two" goes there) and
  // the old one is set aside, where a second try from the same backup still finds it.
  ASSERT_TRUE(RestoreTo(backup, path_, std::nullopt).ok());
  db_ = Open();
  Put(db_.get(), "tm_a", {"two"});
  db_.reset();
  auto again = RestoreTo(backup, dir_ + "/again.db", absl::Now());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(Dump(dir_ + "/again.db"), marks_[0].second);  // "one", not "two"

  // Another database's backup fits none of this database's logs.
  const std::string other_path = dir_ + "/other.db";
  auto other_db = OpenSqlite(other_path, {.change_log = other_path + "-changes"});
  ASSERT_TRUE(other_db.ok()) << other_db.status();
  ASSERT_TRUE((*other_db)->Backup(dir_ + "/other-backup.db").ok());
  other_db->reset();
  auto other = RestoreTo(dir_ + "/other-backup.db", dir_ + "/y.db", absl::Now());
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(other.status().message().find("is the change log of the database this backup"),
            std::string_view::npos)
      << other.status();
}

}  // namespace
}  // namespace verso::storage
