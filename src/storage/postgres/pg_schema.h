// The PostgreSQL schema: versioned migrations, the check that a database's schema is the one this
// verso knows, and the monthly partitions of the jobs table.
#ifndef VERSO_STORAGE_POSTGRES_PG_SCHEMA_H_
#define VERSO_STORAGE_POSTGRES_PG_SCHEMA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/postgres/pg_db.h"

namespace verso::storage::pg {

// The newest schema version this verso knows.
int64_t LatestSchemaVersion();
// The database's schema version (0: none yet).
absl::StatusOr<int64_t> SchemaVersion(Pool* pool);
// Applies the migrations after the database's version, each in its own transaction, under an
// advisory lock (two processes migrating at once take turns). Returns the versions applied.
absl::StatusOr<std::vector<int64_t>> Migrate(Pool* pool);
// FailedPrecondition naming both versions unless the database's schema is this verso's.
absl::Status CheckSchema(Pool* pool);

// Creates the monthly partitions of `jobs` from the month before `now` to `months_ahead` months
// after it (those that exist are kept). Returns the names created.
absl::StatusOr<std::vector<std::string>> EnsureJobPartitions(Pool* pool, absl::Time now,
                                                             int months_ahead);
// Detaches every monthly partition that ends on or before `before` (the first of a month):
// its jobs leave the jobs table but stay in the detached table (jobs_YYYY_MM) until it is
// dropped. Returns the tables detached.
absl::StatusOr<std::vector<std::string>> DetachJobPartitions(Pool* pool, absl::Time before);

}  // namespace verso::storage::pg

#endif  // VERSO_STORAGE_POSTGRES_PG_SCHEMA_H_
