// The SQLite job repository (private to storage/): opened by the SQLite database after it
// has migrated the schema.
#ifndef VERSO_STORAGE_SQLITE_SQLITE_JOBS_H_
#define VERSO_STORAGE_SQLITE_SQLITE_JOBS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "storage/storage.h"

namespace verso::storage {

absl::StatusOr<std::unique_ptr<JobRepository>> OpenSqliteJobs(const std::string& path,
                                                              bool synchronous_full);

}  // namespace verso::storage

#endif  // VERSO_STORAGE_SQLITE_SQLITE_JOBS_H_
