// Identifier generation. Ids are time-ordered (48-bit milliseconds from the injected Clock, then
// 80 random bits from a seeded generator), lowercase Crockford base32, with a type prefix:
// "tm_01hx3k2...". Sorting ids sorts by creation time, and tests get reproducible ids from a
// FakeClock and a fixed seed.
#ifndef VERSO_COMMON_IDS_H_
#define VERSO_COMMON_IDS_H_

#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace verso {

class Clock;

// Thread-safe.
class IdGenerator {
 public:
  // `clock` must outlive the generator.
  IdGenerator(const Clock& clock, uint64_t seed);
  // Seeded from std::random_device.
  explicit IdGenerator(const Clock& clock);

  // Returns "<prefix>_<26 base32 chars>".
  std::string Next(std::string_view prefix);

 private:
  const Clock& clock_;
  absl::Mutex mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
};

}  // namespace verso

#endif  // VERSO_COMMON_IDS_H_
