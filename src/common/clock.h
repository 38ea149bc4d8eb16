// Time as seen by domain code. Nothing outside this header calls the system clock: code that
// needs time takes a Clock&, and tests pass a FakeClock they advance by hand.
#ifndef VERSO_COMMON_CLOCK_H_
#define VERSO_COMMON_CLOCK_H_

#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace verso {

// `t` as RFC 3339 in UTC with milliseconds and "Z" ("2026-12-03T10:15:05.123Z"), the one
// spelling of time in every answer, webhook and file verso writes.
std::string Rfc3339(absl::Time t);

// Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  // Monotonic time for measuring durations; never goes backwards.
  virtual absl::Time MonotonicNow() const = 0;
  // Waits until Now() >= t (a retry's backoff). A fake clock jumps there instead of waiting.
  virtual void SleepUntil(absl::Time t) const = 0;

  // The process-wide real clock.
  static Clock& Real();
};

// A clock that moves only when told to. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000)) : now_(start) {}
  absl::Time Now() const override;
  absl::Time MonotonicNow() const override { return Now(); }
  // Moves the clock to `t` (if later) at once, so that code that backs off runs without
  // waiting; Slept() tells how much time it would have waited.
  void SleepUntil(absl::Time t) const override;
  absl::Duration Slept() const;
  void Advance(absl::Duration d);
  void Set(absl::Time t);

 private:
  mutable absl::Mutex mu_;
  mutable absl::Time now_ ABSL_GUARDED_BY(mu_);
  mutable absl::Duration slept_ ABSL_GUARDED_BY(mu_);
};

}  // namespace verso

#endif  // VERSO_COMMON_CLOCK_H_
