// Stable hashing. Values are persisted (segment hashes in storage), so the function must never
// change: it is XXH3-64 with seed 0, identical on every machine and every run.
#ifndef VERSO_COMMON_HASH_H_
#define VERSO_COMMON_HASH_H_

#include <cstdint>
#include <string_view>

namespace verso {

uint64_t StableHash64(std::string_view bytes);

// Stored in SQLite's signed 64-bit integers without loss.
inline int64_t StableHash64Signed(std::string_view bytes) {
  return static_cast<int64_t>(StableHash64(bytes));
}

}  // namespace verso

#endif  // VERSO_COMMON_HASH_H_
