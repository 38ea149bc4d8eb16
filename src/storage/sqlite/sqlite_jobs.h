// The SQLite job repository (private to storage/): made by the SQLite database after it has
// migrated the schema, on the same connections.
#ifndef VERSO_STORAGE_SQLITE_SQLITE_JOBS_H_
#define VERSO_STORAGE_SQLITE_SQLITE_JOBS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "storage/storage.h"

namespace verso::storage {

namespace sqlite {
class ConnectionPool;
class Connection;
// Appends audit records through `writer` (in the caller's write transaction, write_mu held),
// chained after the last one (sqlite_database.cc).
absl::Status AppendAuditLocked(Connection* writer, std::vector<AuditRecord> records);
}  // namespace sqlite

// The job repository on the database file's connections (shared with the rest of the
// database: one writer for the whole process).
std::unique_ptr<JobRepository> NewSqliteJobs(sqlite::ConnectionPool* pool);
// The user repository, likewise (sqlite_users.cc).
std::unique_ptr<UserRepository> NewSqliteUsers(sqlite::ConnectionPool* pool);

}  // namespace verso::storage

#endif  // VERSO_STORAGE_SQLITE_SQLITE_JOBS_H_
