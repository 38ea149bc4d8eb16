// The PostgreSQL job repository (private to storage/): made by the PostgreSQL database after it
// has checked the schema, on the same connection pool.
#ifndef VERSO_STORAGE_POSTGRES_PG_JOBS_H_
#define VERSO_STORAGE_POSTGRES_PG_JOBS_H_

#include <memory>

#include "absl/time/time.h"
#include "storage/storage.h"

namespace verso::storage {

namespace pg {
class Listener;
class Pool;
class ReplicaSet;
class Tx;
// Appends audit records in `tx`, chained after the last one of any process (pg_database.cc).
absl::Status AppendAudit(Tx& tx, std::vector<AuditRecord> records);
}  // namespace pg

// Reads with Freshness::kRecent go to a replica within `max_lag` when `replicas` has one.
// OnTasksQueued is served by `listener` (none: not served).
std::unique_ptr<JobRepository> NewPgJobs(pg::Pool* pool, pg::ReplicaSet* replicas,
                                         absl::Duration max_lag, pg::Listener* listener);
// The user repository on the same pool (pg_users.cc); its reads go to the primary.
std::unique_ptr<UserRepository> NewPgUsers(pg::Pool* pool);

}  // namespace verso::storage

#endif  // VERSO_STORAGE_POSTGRES_PG_JOBS_H_
