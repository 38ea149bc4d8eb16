// Admission control for one class of requests (a worker pool): at most `slots` run at once, at
// most `queue` wait for a slot, and none waits longer than `max_wait`. Under overload verso
// refuses work early (503 with Retry-After) instead of letting every request's latency grow
// without bound; when the load falls it serves normally again without a restart.
//
// Waiting requests get slots oldest first. A request that arrives when the queue is full sheds
// the oldest waiting request of the tenant with the most waiting requests (counting the new
// one): the oldest has waited longest and is the likeliest to be given up on by its client, and a
// tenant that floods the queue sheds its own work before anyone else's. A waiter whose
// `max_wait` passes is shed too.
//
// No I/O: a waiter is woken through the callback it gave (the server posts to its coroutine's
// executor). Thread-safe.
#ifndef VERSO_API_ADMISSION_H_
#define VERSO_API_ADMISSION_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace verso::api {

class Admission {
 public:
  struct Options {
    int slots = 8;
    int queue = 256;
    absl::Duration max_wait = absl::Seconds(2);
  };
  enum class Outcome {
    kQueued,    // waiting for a slot
    kRun,       // holds a slot: run, then Leave()
    kShedFull,  // shed: the queue was full
    kShedWait,  // shed: waited max_wait
  };
  struct Ticket {
    std::string tenant;
    absl::Time enqueued;
    std::function<void()> wake;  // called once when the outcome leaves kQueued (may be empty)
    Outcome outcome = Outcome::kQueued;  // guarded by Admission::mu_
  };
  struct Stats {
    int running = 0;
    int queued = 0;
    int64_t admitted = 0;   // ran (at once or after waiting)
    int64_t shed_full = 0;  // shed because the queue was full
    int64_t shed_wait = 0;  // shed after max_wait
  };

  explicit Admission(Options options) : options_(options) {}
  const Options& options() const { return options_; }

  // A slot now (kRun), or a place in the queue (kQueued: `wake` is called when that changes),
  // possibly shedding an older waiter; kShedFull when there is no queue at all.
  struct Entry {
    std::shared_ptr<Ticket> ticket;
    Outcome outcome;  // at entry; a queued ticket's changes later (Settle reads it)
  };
  Entry Enter(std::string tenant, absl::Time now, std::function<void()> wake);
  // The outcome of a queued ticket once its wait is over (woken, or max_wait passed): a ticket
  // still queued is removed and shed (kShedWait).
  Outcome Settle(const std::shared_ptr<Ticket>& ticket);
  // A running request ended: its slot goes to the oldest waiter.
  void Leave();
  Stats GetStats() const;
  // The server stopped: no waiter will run. Forgets them without waking them (their executors
  // may be gone), so a slot left later is just released.
  void Close();

 private:
  const Options options_;
  mutable absl::Mutex mu_;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<std::shared_ptr<Ticket>> queue_ ABSL_GUARDED_BY(mu_);  // oldest first
  int64_t admitted_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t shed_full_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t shed_wait_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace verso::api

#endif  // VERSO_API_ADMISSION_H_
