// A thin RAII layer over the SQLite C API, private to storage/sqlite. Errors become
// absl::Status with codes per common/status.h.
#ifndef VERSO_STORAGE_SQLITE_SQLITE_DB_H_
#define VERSO_STORAGE_SQLITE_SQLITE_DB_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

struct sqlite3;
struct sqlite3_stmt;

namespace verso::storage::sqlite {

// A prepared statement owned by its Connection. Bind indexes are 1-based, columns 0-based.
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* stmt) : stmt_(stmt) {}
  Stmt& Reset();  // also clears bindings
  Stmt& Bind(int i, std::string_view text);
  Stmt& Bind(int i, int64_t value);
  Stmt& BindDouble(int i, double value);
  Stmt& BindNull(int i);
  // SQLITE_ROW -> true, SQLITE_DONE -> false, errors -> status.
  absl::StatusOr<bool> Step();
  // Runs to completion, ignoring rows.
  absl::Status Run();
  // Runs to completion; `if_none` when the statement changed no row (an UPDATE or DELETE that
  // matched nothing).
  absl::Status RunChanging(const absl::Status& if_none);
  // Calls `fn(*this)` for each row, then resets the statement.
  template <typename F>
  absl::Status ForEachRow(F&& fn) {
    while (true) {
      absl::StatusOr<bool> row = Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      fn(*this);
    }
    Reset();
    return absl::OkStatus();
  }
  std::string_view Text(int col) const;
  int64_t Int(int col) const;
  double Double(int col) const;
  bool IsNull(int col) const;

 private:
  friend class Connection;
  sqlite3_stmt* stmt_;
};

class Connection {
 public:
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const std::string& path,
                                                          bool synchronous_full);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  absl::Status Exec(std::string_view sql);
  // Cached per connection; the reference stays valid for the connection's life.
  absl::StatusOr<Stmt*> Prepare(const std::string& sql);
  int64_t LastInsertRowId() const;
  // Runs `body` in one write transaction: BEGIN IMMEDIATE, then COMMIT when it succeeds, ROLLBACK
  // when it fails (its status is returned). `body` returns absl::Status or absl::StatusOr<T>.
  template <typename F>
  auto Transaction(F&& body) -> decltype(body()) {
    if (absl::Status begin = Exec("BEGIN IMMEDIATE"); !begin.ok()) return begin;
    auto result = body();
    if (!result.ok()) {
      Exec("ROLLBACK").IgnoreError();
      return result;
    }
    if (absl::Status commit = Exec("COMMIT"); !commit.ok()) {
      // A COMMIT that failed may leave the transaction open (SQLITE_BUSY): the writer would
      // refuse every later BEGIN. (As GroupWrite does.)
      Exec("ROLLBACK").IgnoreError();
      return commit;
    }
    return result;
  }
  int Changes() const;
  sqlite3* raw() { return db_; }
  absl::Status Error(int rc, std::string_view context) const;

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::map<std::string, std::unique_ptr<Stmt>, std::less<>> cache_;
};

// One database file's connections, shared by every repository on the file: one writer (use it
// with write_mu held; writes of the whole process are ordered by it) and a pool of readers.
class ConnectionPool {
 public:
  static absl::StatusOr<std::unique_ptr<ConnectionPool>> Open(const std::string& path,
                                                              bool synchronous_full, int readers);

  absl::Mutex write_mu;
  // Used with write_mu held only (not annotated: Transaction's lambdas run under it, which the
  // analysis cannot see).
  std::unique_ptr<Connection> writer;

  // Runs `body` (which writes through `writer`) in a write transaction shared by every caller
  // waiting at that moment: group commit, as LevelDB's writer queue does. The first waiter
  // leads: it takes up to kMaxGroup bodies, runs each in its own savepoint (a body that fails
  // rolls back its own writes only) and commits them all at once, so concurrent writers share
  // one fsync instead of paying one each. Returns the body's status, or the commit's failure.
  // Takes write_mu itself: do not call it with write_mu held.
  absl::Status GroupWrite(absl::FunctionRef<absl::Status()> body);
  static constexpr size_t kMaxGroup = 128;

  // Borrows a read connection for its lifetime (waits while every one is borrowed).
  class Reader {
   public:
    explicit Reader(ConnectionPool* pool);
    ~Reader();
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;
    Connection* operator->() { return conn_; }

   private:
    ConnectionPool* pool_;
    Connection* conn_;
  };

 private:
  struct GroupWriter {
    absl::FunctionRef<absl::Status()> body;
    absl::Status status;
    bool done = false;
  };
  // The leader's step: one transaction for `group`, each body's status set.
  void RunGroup(const std::vector<GroupWriter*>& group);

  absl::Mutex group_mu_;
  absl::CondVar group_cv_;
  std::deque<GroupWriter*> group_ ABSL_GUARDED_BY(group_mu_);  // front: the leader's group
  absl::Mutex pool_mu_;
  absl::CondVar pool_cv_;
  std::vector<std::unique_ptr<Connection>> readers_;  // set at Open, then read-only
  std::vector<Connection*> idle_ ABSL_GUARDED_BY(pool_mu_);
};

// Maps an SQLite result code to a status carrying `message`.
absl::Status StatusFromSqlite(int rc, std::string_view message);

}  // namespace verso::storage::sqlite

namespace verso::storage {
// Copies the whole database `from` into the file `dest` with SQLite's online backup, in one step
// (one read snapshot: consistent while others write; within `from`'s read transaction if one is
// open).
absl::Status CopyDatabase(sqlite3* from, const std::string& dest);
// Writes into the backup `dest` the change log's last record it contains (restore.cc).
absl::Status RecordBackupPosition(const std::string& dest, int64_t position);
}  // namespace verso::storage

#endif  // VERSO_STORAGE_SQLITE_SQLITE_DB_H_
