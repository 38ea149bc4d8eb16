#include "storage/sqlite/sqlite_db.h"

#include <sqlite3.h>

#include <algorithm>

#include "common/status.h"
#include "common/strings.h"

namespace verso::storage::sqlite {

absl::Status StatusFromSqlite(int rc, std::string_view message) {
  std::string msg(message);
  if (rc == SQLITE_CONSTRAINT_COMMITHOOK) {  // the change log could not take the commit
    return absl::UnavailableError(StrCat("the commit was refused: ", msg));
  }
  switch (rc & 0xFF) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
      return absl::OkStatus();
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(msg);
    case SQLITE_CONSTRAINT:
      return absl::AlreadyExistsError(msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(msg);
    case SQLITE_FULL:
      return DiskFull(StrCat("the server's disk is full (", msg, ")"));
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
      return absl::UnavailableError(msg);
    default:
      return absl::InternalError(msg);
  }
}

Stmt& Stmt::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  return *this;
}

Stmt& Stmt::Bind(int i, std::string_view text) {
  sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::Bind(int i, int64_t value) {
  sqlite3_bind_int64(stmt_, i, value);
  return *this;
}

Stmt& Stmt::BindNull(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

absl::StatusOr<bool> Stmt::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3* db = sqlite3_db_handle(stmt_);
  return StatusFromSqlite(rc, StrCat("sqlite: ", sqlite3_errmsg(db)));
}

absl::Status Stmt::Run() {
  while (true) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
}

absl::Status Stmt::RunChanging(const absl::Status& if_none) {
  if (absl::Status s = Run(); !s.ok()) return s;
  return sqlite3_changes(sqlite3_db_handle(stmt_)) == 0 ? if_none : absl::OkStatus();
}

std::string_view Stmt::Text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  if (p == nullptr) return {};
  return {reinterpret_cast<const char*>(p), static_cast<size_t>(n)};
}

int64_t Stmt::Int(int col) const { return sqlite3_column_int64(stmt_, col); }

Stmt& Stmt::BindDouble(int i, double value) {
  sqlite3_bind_double(stmt_, i, value);
  return *this;
}

double Stmt::Double(int col) const { return sqlite3_column_double(stmt_, col); }

bool Stmt::IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const std::string& path,
                                                             bool synchronous_full) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg =
        StrCat("sqlite: cannot open ", path, ": ", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    if (db) sqlite3_close(db);
    return StatusFromSqlite(rc, msg);
  }
  std::unique_ptr<Connection> conn(new Connection(db));
  sqlite3_busy_timeout(db, 10000);
  sqlite3_extended_result_codes(db, 1);
  absl::Status s = conn->Exec(
      StrCat("PRAGMA journal_mode=WAL; PRAGMA synchronous=", synchronous_full ? "FULL" : "NORMAL",
             "; PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536;"
             " PRAGMA temp_store=MEMORY;"));
  if (!s.ok()) return s;
  return conn;
}

Connection::~Connection() {
  cache_.clear();
  sqlite3_stmt* stmt = nullptr;
  while ((stmt = sqlite3_next_stmt(db_, nullptr)) != nullptr) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

absl::Status Connection::Error(int rc, std::string_view context) const {
  return StatusFromSqlite(rc, StrCat("sqlite: ", context, ": ", sqlite3_errmsg(db_)));
}

absl::Status Connection::Exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    absl::Status st = StatusFromSqlite(rc, StrCat("sqlite: ", err ? err : sqlite3_errstr(rc)));
    sqlite3_free(err);
    return st;
  }
  return absl::OkStatus();
}

absl::StatusOr<Stmt*> Connection::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return it->second.get();
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return Error(rc, StrCat("prepare ", sql));
  auto owned = std::make_unique<Stmt>(stmt);
  Stmt* raw = owned.get();
  cache_.emplace(sql, std::move(owned));
  return raw;
}

int64_t Connection::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
int Connection::Changes() const { return sqlite3_changes(db_); }

absl::StatusOr<std::unique_ptr<ConnectionPool>> ConnectionPool::Open(const std::string& path,
                                                                     bool synchronous_full,
                                                                     int readers) {
  auto pool = std::make_unique<ConnectionPool>();
  VERSO_ASSIGN_OR_RETURN(pool->writer, Connection::Open(path, synchronous_full));
  for (int i = 0; i < std::max(1, readers); ++i) {
    VERSO_ASSIGN_OR_RETURN(auto conn, Connection::Open(path, synchronous_full));
    absl::MutexLock lock(&pool->pool_mu_);  // not shared yet; the lock keeps the rule simple
    pool->idle_.push_back(conn.get());
    pool->readers_.push_back(std::move(conn));
  }
  return pool;
}

absl::Status ConnectionPool::GroupWrite(absl::FunctionRef<absl::Status()> body) {
  GroupWriter self{body};
  std::vector<GroupWriter*> group;
  {
    absl::MutexLock lock(&group_mu_);
    group_.push_back(&self);
    while (!self.done && group_.front() != &self) group_cv_.Wait(&group_mu_);
    if (self.done) return self.status;  // a leader ran it
    for (GroupWriter* w : group_) {
      if (group.size() == kMaxGroup) break;
      group.push_back(w);
    }
  }
  RunGroup(group);  // writers arriving meanwhile queue behind the group
  {
    absl::MutexLock lock(&group_mu_);
    for (GroupWriter* w : group) {
      group_.pop_front();
      w->done = true;
    }
  }
  group_cv_.SignalAll();  // the group's writers return; the next front leads
  return self.status;
}

void ConnectionPool::RunGroup(const std::vector<GroupWriter*>& group) {
  absl::MutexLock lock(&write_mu);
  auto fail_all = [&](const absl::Status& s) {
    for (GroupWriter* w : group) {
      if (w->status.ok()) w->status = s;
    }
  };
  if (absl::Status begin = writer->Exec("BEGIN IMMEDIATE"); !begin.ok()) return fail_all(begin);
  const bool alone = group.size() == 1;  // no savepoint needed: ROLLBACK undoes it
  for (GroupWriter* w : group) {
    if (!alone) {
      if (absl::Status sp = writer->Exec("SAVEPOINT w"); !sp.ok()) {
        writer->Exec("ROLLBACK").IgnoreError();
        return fail_all(sp);
      }
    }
    w->status = w->body();
    if (alone) break;
    if (!w->status.ok()) {
      if (absl::Status undo = writer->Exec("ROLLBACK TO w"); !undo.ok()) {
        writer->Exec("ROLLBACK").IgnoreError();
        return fail_all(undo);
      }
    }
    if (absl::Status release = writer->Exec("RELEASE w"); !release.ok()) {
      writer->Exec("ROLLBACK").IgnoreError();
      return fail_all(release);
    }
  }
  if (alone && !group[0]->status.ok()) {
    writer->Exec("ROLLBACK").IgnoreError();
    return;
  }
  if (absl::Status commit = writer->Exec("COMMIT"); !commit.ok()) {
    writer->Exec("ROLLBACK").IgnoreError();
    fail_all(commit);
  }
}

ConnectionPool::Reader::Reader(ConnectionPool* pool) : pool_(pool) {
  absl::MutexLock lock(&pool_->pool_mu_);
  while (pool_->idle_.empty()) pool_->pool_cv_.Wait(&pool_->pool_mu_);
  conn_ = pool_->idle_.back();
  pool_->idle_.pop_back();
}

ConnectionPool::Reader::~Reader() {
  {
    absl::MutexLock lock(&pool_->pool_mu_);
    pool_->idle_.push_back(conn_);
  }
  pool_->pool_cv_.Signal();
}

}  // namespace verso::storage::sqlite
