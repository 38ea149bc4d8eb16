// The SQLite database's change log, for recovery between backups (`verso restore SRC --to TIME`).
//
// Every write transaction a writer connection commits is recorded as an SQLite changeset (the
// session extension of Debian's libsqlite3: the rows the transaction inserted, the old and new
// values of those it changed, the rows it deleted) and appended to numbered files in a directory
// beside the database. A backup names the log (its id) and the last record it contains; a restore
// copies the backup and applies the records after it, in order, up to a time.
//
// Several processes may write one database (a CLI import beside the server): each records its
// own transactions, and the order of the log is the order of the commits because a process takes
// the log's lock in SQLite's commit hook (while it holds SQLite's write lock) and appends, then
// releases it, in the WAL hook that follows the commit.
//
// Record: "VCL1", crc32 of the rest, seq (u64), commit time (µs since 1970, i64), schema version
// (i32), changeset size (u32), the changeset. Little-endian. A torn record at the end of the last
// file (a crash between the commit and the append) ends the log there.
#ifndef VERSO_STORAGE_SQLITE_CHANGE_LOG_H_
#define VERSO_STORAGE_SQLITE_CHANGE_LOG_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

struct sqlite3;
struct sqlite3_session;

namespace verso::storage::sqlite {

struct ChangeRecord {
  int64_t seq = 0;
  absl::Time at;
  int schema = 0;
  std::string changeset;
};

class ChangeLog {
 public:
  // Records the transactions of `db` (a writer connection, with the database's schema at version
  // `schema`) into `dir`, whose id must be `id` (the database's change_log.id setting); a
  // directory that is missing or names another id is started afresh under `id`. `sync`:
  // fdatasync every record (the database's synchronous=FULL). A new file starts once one holds
  // `max_file_bytes`. Takes over `db`'s WAL hook (and does its automatic checkpoints).
  static absl::StatusOr<std::unique_ptr<ChangeLog>> Attach(sqlite3* db, const std::string& dir,
                                                           const std::string& id, int schema,
                                                           bool sync, int64_t max_file_bytes);
  ~ChangeLog();
  ChangeLog(const ChangeLog&) = delete;
  ChangeLog& operator=(const ChangeLog&) = delete;

  // Holds back every process's appends while a backup pins its snapshot: the seq of the last
  // record, which the snapshot then contains exactly. Starts a new file after it, so that the
  // files before a backup can be deleted with the backups before it.
  absl::StatusOr<int64_t> LockForBackup();
  void Unlock();

  // The id of the log in `dir` ("" when there is none).
  static std::string IdOf(const std::string& dir);
  // Calls `fn` for each record of the log in `dir` whose seq is after `after`, in order.
  static absl::Status Read(const std::string& dir, int64_t after,
                           absl::FunctionRef<absl::Status(const ChangeRecord&)> fn);

 private:
  ChangeLog() = default;
  static int OnCommit(void* self);
  static void OnRollback(void* self);
  static int OnWal(void* self, sqlite3* db, const char* name, int frames);
  absl::Status StartSession();
  // With the lock held: reads what other processes appended since, and switches to their newest
  // file.
  absl::Status CatchUp();
  absl::Status Append(const std::string& changeset);
  absl::Status OpenFile(int64_t first_seq, bool create);
  void ReleaseLock();

  // Used on the writer connection's thread only (with its ConnectionPool's write_mu held, or
  // in SQLite's hooks under it); nothing here is shared between threads.
  sqlite3* db_ = nullptr;
  sqlite3_session* session_ = nullptr;
  std::string dir_;
  int schema_ = 0;
  bool sync_ = false;
  int64_t max_file_bytes_ = 0;
  int lock_fd_ = -1;
  bool locked_ = false;
  int fd_ = -1;             // the newest file, open for appending
  int64_t file_first_ = 0;  // its first seq (its name)
  int64_t file_end_ = 0;    // the bytes of it read or written
  int64_t last_seq_ = 0;
  bool failed_ = false;  // an append failed: logged once
};

}  // namespace verso::storage::sqlite

#endif  // VERSO_STORAGE_SQLITE_CHANGE_LOG_H_
