// Data parallelism for batch work (index builds, imports).
#ifndef VERSO_COMMON_PARALLEL_H_
#define VERSO_COMMON_PARALLEL_H_

#include <cstddef>
#include <functional>

namespace verso {

// Calls fn(begin, end) on disjoint ranges covering [0, n), on up to `threads` threads (the
// calling thread included), and returns when all are done. threads <= 0 means one per core.
void ParallelFor(size_t n, int threads, const std::function<void(size_t, size_t)>& fn);

}  // namespace verso

#endif  // VERSO_COMMON_PARALLEL_H_
