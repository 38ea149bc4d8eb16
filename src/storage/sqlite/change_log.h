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
// The changeset can only be read after the commit (SQLite's commit hook may not run a
// statement), so a process killed between its commit and its record would leave a transaction
// out of the log unseen. The commit hook therefore first writes a marker (`pending`, with the
// record's seq); the record follows it, or the marker is removed when the commit fails. A
// marker that a process finds at the log's end with no record after it (its writer died) is
// followed by a `gap` with its seq: a restore stops there with the time, instead of going on
// without a transaction that may have been committed. (Not fsynced on its own: a power cut in
// that instant can still lose the marker; a kill -9 cannot.)
//
// Entry: magic ("VCL1" a record, "VCP1" a marker, "VCG1" a gap), crc32 of the rest, seq (u64),
// time (µs since 1970, i64; a gap's is its marker's), schema version (i32), changeset size
// (u32, 0 for markers and gaps), the changeset. Little-endian. A torn entry at the end of the
// last file (a crash mid-append) ends the log there.
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
  // A transaction committed at `at` may be missing here (its process died before recording it).
  bool gap = false;
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
  // Removes the files of the log in `dir` that hold only records up to `seq` (never the newest
  // file); adds their count and size to `files` and `bytes`.
  static void RemoveThrough(const std::string& dir, int64_t seq, int* files, int64_t* bytes);
  // Calls `fn` for each record and gap of the log in `dir` whose seq is after `after`, in order.
  static absl::Status Read(const std::string& dir, int64_t after,
                           absl::FunctionRef<absl::Status(const ChangeRecord&)> fn);

 private:
  ChangeLog() = default;
  static int OnCommit(void* self);
  static void OnRollback(void* self);
  static int OnWal(void* self, sqlite3* db, const char* name, int frames);
  absl::Status StartSession();
  // With the lock held: reads what other processes appended since, and switches to their newest
  // file; a marker left at the end by a process that died is followed by a gap.
  absl::Status CatchUp();
  // With the lock held, in the commit hook: catches up and writes the marker of the record to be.
  absl::Status Reserve();
  absl::Status Append(const std::string& changeset);
  // Removes this process's marker (its transaction was rolled back or left no record).
  void DropMarker();
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
  int64_t last_seq_ = 0;    // of the last record or gap
  int64_t marker_at_ = -1;  // the offset of this process's marker in the newest file, or -1
  bool failed_ = false;     // an append failed: logged once

 public:
  // The log's lock is held from a commit to its record, or while a backup pins its snapshot:
  // never long. A wait past this is a bug (a commit that never reached its WAL hook): the commit
  // is refused (Unavailable) instead of hanging every writer of the database. Set before use.
  static inline absl::Duration lock_wait = absl::Seconds(10);
  // Tests only: called in the WAL hook after a commit, before its record is appended.
  static inline void (*before_record_for_test)() = nullptr;
};

}  // namespace verso::storage::sqlite

#endif  // VERSO_STORAGE_SQLITE_CHANGE_LOG_H_
