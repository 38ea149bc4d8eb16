// Restores of SQLite databases (storage.h: RestoreSqlite): a backup checked, copied, and brought
// forward to a time with the change log (change_log.h), all in a copy that replaces the database
// only when everything applied.
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "common/status.h"
#include "common/strings.h"
#include "storage/sqlite/change_log.h"
#include "storage/sqlite/sqlite_db.h"
#include "storage/storage.h"

namespace verso::storage {
namespace {

struct Db {
  sqlite3* db = nullptr;
  ~Db() { sqlite3_close(db); }
};

absl::Status Open(const std::string& path, int flags, Db* out) {
  if (sqlite3_open_v2(path.c_str(), &out->db, flags, nullptr) != SQLITE_OK) {
    return absl::UnavailableError(
        StrCat(path, ": cannot be opened: ", out->db ? sqlite3_errmsg(out->db) : "out of memory"));
  }
  sqlite3_busy_timeout(out->db, 10000);
  return absl::OkStatus();
}

absl::Status Exec(sqlite3* db, const std::string& sql) {
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  const std::string why = error != nullptr ? error : sqlite3_errstr(rc);
  sqlite3_free(error);
  if (rc != SQLITE_OK) return absl::UnavailableError(StrCat("sqlite: ", why));
  return absl::OkStatus();
}

// The rows of a one-column query, as text.
absl::StatusOr<std::vector<std::string>> Column(sqlite3* db, const std::string& sql,
                                                const std::string& bind = "") {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    return absl::DataLossError(StrCat("sqlite: ", sqlite3_errmsg(db)));
  }
  if (!bind.empty()) sqlite3_bind_text(st, 1, bind.data(), static_cast<int>(bind.size()), nullptr);
  std::vector<std::string> out;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(st, 0);
    out.emplace_back(text != nullptr ? reinterpret_cast<const char*>(text) : "");
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return absl::DataLossError(StrCat("sqlite: ", sqlite3_errmsg(db)));
  return out;
}

absl::StatusOr<std::string> Setting(sqlite3* db, const std::string& name) {
  VERSO_ASSIGN_OR_RETURN(auto rows,
                         Column(db, "SELECT value FROM cluster_settings WHERE name = ?", name));
  return rows.empty() ? "" : rows[0];
}

// A verso database, whole: its schema table, and SQLite's own check of every page.
absl::Status CheckBackup(sqlite3* db, const std::string& src) {
  auto version = Column(db, "SELECT count(*) FROM schema_migrations");
  if (!version.ok()) {
    return absl::DataLossError(
        StrCat(src, ": not a verso database (", version.status().message(), ")"));
  }
  VERSO_ASSIGN_OR_RETURN(auto check, Column(db, "PRAGMA integrity_check"));
  if (check.empty() || check[0] != "ok") {
    return absl::DataLossError(
        StrCat(src, ": damaged: ", check.empty() ? "" : check[0].substr(0, 200)));
  }
  return absl::OkStatus();
}

struct Conflict {
  std::string table;
  int kind = 0;
};

int OnConflict(void* ctx, int kind, sqlite3_changeset_iter* it) {
  auto* c = static_cast<Conflict*>(ctx);
  const char* table = nullptr;
  int columns = 0, op = 0, indirect = 0;
  sqlite3changeset_op(it, &table, &columns, &op, &indirect);
  c->table = table != nullptr ? table : "?";
  c->kind = kind;
  return SQLITE_CHANGESET_ABORT;
}

const char* ConflictName(int kind) {
  switch (kind) {
    case SQLITE_CHANGESET_DATA:
      return "the row holds other values than the change expects";
    case SQLITE_CHANGESET_NOTFOUND:
      return "the row is missing";
    case SQLITE_CHANGESET_CONFLICT:
      return "the row exists already";
    case SQLITE_CHANGESET_CONSTRAINT:
      return "a constraint fails";
    case SQLITE_CHANGESET_FOREIGN_KEY:
      return "a foreign key fails";
    default:
      return "it conflicts";
  }
}

std::string Time(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

// The change log named `id`: `dir`, or one a restore set aside beside it (the history a restore
// left, which an earlier backup may still be brought forward with: a second try at a better
// time), the newest first. "" when none is.
// The logs restores set aside beside `dir` (`dir`.replaced-TIME), the newest first.
std::vector<std::string> LogsSetAside(const std::string& dir) {
  const std::filesystem::path path(dir);
  const std::string prefix = path.filename().string() + ".replaced-";
  std::vector<std::string> aside;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(path.parent_path(), ec)) {
    if (e.path().filename().string().starts_with(prefix)) aside.push_back(e.path().string());
  }
  std::sort(aside.rbegin(), aside.rend());
  return aside;
}

std::string FindLog(const std::string& dir, const std::string& id) {
  if (sqlite::ChangeLog::IdOf(dir) == id) return dir;
  for (const std::string& candidate : LogsSetAside(dir)) {
    if (sqlite::ChangeLog::IdOf(candidate) == id) return candidate;
  }
  return "";
}

// Applies the change log's records after the backup's position, up to `to`, in one transaction
// (with the triggers set aside: the log holds what they wrote too).
absl::Status Replay(sqlite3* db, const std::string& dir, absl::Time to, RestoreReport* report) {
  VERSO_ASSIGN_OR_RETURN(std::string id, Setting(db, "change_log.id"));
  VERSO_ASSIGN_OR_RETURN(std::string position_text, Setting(db, "backup.change_seq"));
  int64_t position = 0;
  if (id.empty() || !ParseInt64(position_text, &position)) {
    return absl::FailedPreconditionError(
        "--to: this backup was taken without a change log; restore it without --to");
  }
  const std::string log = FindLog(dir, id);
  if (log.empty()) {
    return absl::FailedPreconditionError(
        StrCat("--to: neither ", dir, " nor a log set aside beside it (", dir,
               ".replaced-*) is the change log of the database this backup was taken from"));
  }
  VERSO_ASSIGN_OR_RETURN(auto version, Column(db, "SELECT MAX(version) FROM schema_migrations"));
  const std::string schema = version.empty() ? "0" : version[0];
  VERSO_ASSIGN_OR_RETURN(auto triggers,
                         Column(db, "SELECT sql FROM sqlite_master WHERE type = 'trigger'"));
  VERSO_ASSIGN_OR_RETURN(auto names,
                         Column(db, "SELECT name FROM sqlite_master WHERE type = 'trigger'"));
  VERSO_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE"));
  for (const std::string& name : names) {
    VERSO_RETURN_IF_ERROR(Exec(db, StrCat("DROP TRIGGER \"", name, "\"")));
  }
  int64_t expected = position + 1;
  absl::Status s = sqlite::ChangeLog::Read(log, position, [&](const sqlite::ChangeRecord& r) {
    if (r.at > to) {
      report->first_left = r.at;
      return absl::CancelledError("past the target");
    }
    if (r.seq != expected) {
      return absl::DataLossError(
          StrCat(log, ": records ", expected, " to ", r.seq - 1, " of the change log are missing"));
    }
    if (r.gap) {
      return absl::DataLossError(StrCat(
          "the change log may lack a transaction committed at ", Time(r.at), " (record ", r.seq,
          "): the process that committed it stopped before recording it; restore --to a time "
          "before it, or from a backup taken after it"));
    }
    if (StrCat(r.schema) != schema) {
      return absl::FailedPreconditionError(
          StrCat("record ", r.seq, " (", Time(r.at), ") was written at schema version ", r.schema,
                 " and the backup is at ", schema, ": restore a backup taken after the upgrade"));
    }
    Conflict conflict;
    const int rc = sqlite3changeset_apply_v2(
        db, static_cast<int>(r.changeset.size()), const_cast<char*>(r.changeset.data()), nullptr,
        &OnConflict, &conflict, nullptr, nullptr, SQLITE_CHANGESETAPPLY_NOSAVEPOINT);
    if (rc != SQLITE_OK) {
      return absl::DataLossError(StrCat(
          "record ", r.seq, " (", Time(r.at), ") of ", log, " does not apply to the backup: ",
          conflict.table.empty() ? sqlite3_errmsg(db)
                                 : StrCat(conflict.table, ": ", ConflictName(conflict.kind))));
    }
    ++report->applied;
    report->last_applied = r.at;
    ++expected;
    return absl::OkStatus();
  });
  if (absl::IsCancelled(s)) s = absl::OkStatus();
  for (size_t i = 0; s.ok() && i < triggers.size(); ++i) s = Exec(db, triggers[i]);
  if (!s.ok()) {
    Exec(db, "ROLLBACK").IgnoreError();
    return s;
  }
  return Exec(db, "COMMIT");
}

void RemoveDatabaseFiles(const std::string& path) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    std::filesystem::remove(path + suffix, ec);
  }
}

}  // namespace

absl::StatusOr<LogPruneReport> PruneChangeLogs(const std::string& dir,
                                               const std::vector<std::string>& kept) {
  // Each kept backup's history (the log's id) and position; per history the oldest position.
  std::map<std::string, int64_t> oldest;
  for (const std::string& backup : kept) {
    Db db;
    VERSO_RETURN_IF_ERROR(Open(backup, SQLITE_OPEN_READONLY, &db));
    VERSO_ASSIGN_OR_RETURN(std::string id, Setting(db.db, "change_log.id"));
    VERSO_ASSIGN_OR_RETURN(std::string position_text, Setting(db.db, "backup.change_seq"));
    int64_t position = 0;
    if (id.empty() || !ParseInt64(position_text, &position)) continue;  // taken without a log
    auto [it, added] = oldest.emplace(id, position);
    if (!added) it->second = std::min(it->second, position);
  }
  LogPruneReport report;
  const std::string current = sqlite::ChangeLog::IdOf(dir);
  if (auto it = oldest.find(current); it != oldest.end() && !current.empty()) {
    sqlite::ChangeLog::RemoveThrough(dir, it->second, &report.files, &report.bytes);
  }
  for (const std::string& aside : LogsSetAside(dir)) {
    auto it = oldest.find(sqlite::ChangeLog::IdOf(aside));
    if (it != oldest.end()) {
      sqlite::ChangeLog::RemoveThrough(aside, it->second, &report.files, &report.bytes);
      continue;
    }
    std::error_code ec;
    std::filesystem::remove_all(aside, ec);
    if (ec) return absl::UnavailableError(StrCat(aside, ": cannot be removed: ", ec.message()));
    ++report.set_aside;
  }
  return report;
}

absl::StatusOr<BackupRetention> KeepNewestBackups(const std::string& dir,
                                                  const std::string& log_dir, int keep) {
  std::set<std::string> histories;  // the change logs' ids this database has had
  if (std::string id = sqlite::ChangeLog::IdOf(log_dir); !id.empty()) histories.insert(id);
  for (const std::string& aside : LogsSetAside(log_dir)) {
    histories.insert(sqlite::ChangeLog::IdOf(aside));
  }
  histories.erase("");
  BackupRetention out;
  std::vector<std::string> ours;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with("verso-") || !name.ends_with(".db")) continue;
    Db db;
    std::string id = "?";  // unreadable: not known to be ours
    if (Open(e.path().string(), SQLITE_OPEN_READONLY, &db).ok()) {
      id = Setting(db.db, "change_log.id").value_or("?");
    }
    const bool mine = id.empty() ? histories.empty() : histories.contains(id);
    if (mine) {
      ours.push_back(e.path().string());
    } else {
      ++out.foreign;
    }
  }
  if (ec) return absl::UnavailableError(StrCat(dir, ": ", ec.message()));
  std::sort(ours.rbegin(), ours.rend());
  const size_t n = std::min<size_t>(ours.size(), static_cast<size_t>(std::max(keep, 0)));
  std::vector<std::string> kept(ours.begin(), ours.begin() + static_cast<std::ptrdiff_t>(n));
  out.kept = static_cast<int>(kept.size());
  for (size_t i = n; i < ours.size(); ++i) {
    std::filesystem::remove(ours[i] + ".manifest", ec);
    if (std::filesystem::remove(ours[i], ec)) ++out.removed;
  }
  VERSO_ASSIGN_OR_RETURN(out.log, PruneChangeLogs(log_dir, kept));
  return out;
}

absl::Status RecordBackupPosition(const std::string& dest, int64_t position) {
  Db db;
  VERSO_RETURN_IF_ERROR(Open(dest, SQLITE_OPEN_READWRITE, &db));
  return Exec(db.db, StrCat("INSERT INTO cluster_settings(name, value) VALUES('backup.change_seq', "
                            "'",
                            position, "') ON CONFLICT(name) DO UPDATE SET value = excluded.value"));
}

absl::StatusOr<RestoreReport> RestoreSqlite(const std::string& src, const std::string& dest,
                                            const RestoreOptions& options) {
  RestoreReport report;
  const std::string work = dest + ".restoring";
  RemoveDatabaseFiles(work);
  {
    Db from;
    if (absl::Status s = Open(src, SQLITE_OPEN_READONLY, &from); !s.ok()) {
      return absl::NotFoundError(s.message());
    }
    VERSO_RETURN_IF_ERROR(CheckBackup(from.db, src));
    VERSO_RETURN_IF_ERROR(CopyDatabase(from.db, work));
  }
  absl::Status s;
  {
    Db db;
    s = Open(work, SQLITE_OPEN_READWRITE, &db);
    if (s.ok() && options.to.has_value())
      s = Replay(db.db, options.change_log, *options.to, &report);
    // A new history starts here: the old change log's later records are not part of it.
    if (s.ok()) {
      s = Exec(db.db, StrCat("DELETE FROM cluster_settings WHERE name = 'backup.change_seq'; "
                             "INSERT INTO cluster_settings(name, value) VALUES('change_log.id', '",
                             RandomToken(12),
                             "') ON CONFLICT(name) DO UPDATE SET value = excluded.value"));
    }
  }
  if (s.ok()) {
    Db db;
    s = Open(work, SQLITE_OPEN_READONLY, &db);
    if (s.ok()) s = CopyDatabase(db.db, dest);
  }
  RemoveDatabaseFiles(work);
  VERSO_RETURN_IF_ERROR(s);
  return report;
}

}  // namespace verso::storage
