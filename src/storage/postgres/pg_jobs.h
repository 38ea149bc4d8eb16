// The PostgreSQL job repository (private to storage/): made by the PostgreSQL database after it
// has checked the schema, on the same connection pool.
#ifndef VERSO_STORAGE_POSTGRES_PG_JOBS_H_
#define VERSO_STORAGE_POSTGRES_PG_JOBS_H_

#include <memory>

#include "storage/storage.h"

namespace verso::storage {

namespace pg {
class Pool;
}

// With `listen`, a thread of its own LISTENs for queued tasks (OnTasksQueued).
std::unique_ptr<JobRepository> NewPgJobs(pg::Pool* pool, bool listen);

}  // namespace verso::storage

#endif  // VERSO_STORAGE_POSTGRES_PG_JOBS_H_
