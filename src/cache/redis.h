// L2: Redis (hiredis, confined to redis.cc), shared by every verso process. A cache, never a
// store: every call may fail (Redis down, slow, restarted) and callers go on without it. Calls
// go through a circuit breaker, so a dead Redis costs one refused check instead of a timeout per
// request; while it is open the cache is bypassed and /metrics and /v1/status say so.
#ifndef VERSO_CACHE_REDIS_H_
#define VERSO_CACHE_REDIS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "resilience/resilience.h"

namespace verso::cache {

struct RedisOptions {
  absl::Duration connect_timeout = absl::Milliseconds(200);
  absl::Duration command_timeout = absl::Milliseconds(100);  // slower counts as a failure
  int connections = 8;
  resilience::BreakerOptions breaker{.failure_threshold = 3, .reset_timeout = absl::Seconds(5)};
};

struct RedisStats {
  int64_t hits = 0;
  int64_t misses = 0;
  int64_t errors = 0;    // failed or timed-out calls
  int64_t bypassed = 0;  // calls the open breaker refused
  resilience::BreakerState breaker = resilience::BreakerState::kClosed;
};

class RedisClient {
 public:
  // Checks `url` (redis://[:password@]host[:port][/db]); connects on first use, so a Redis that
  // is down at start-up is bypassed until it is back. InvalidArgument names what is wrong.
  static absl::StatusOr<std::unique_ptr<RedisClient>> Open(std::string_view url,
                                                           const RedisOptions& options,
                                                           const Clock* clock);
  ~RedisClient();

  // nullopt: a miss, or Redis unavailable.
  std::optional<std::string> Get(std::string_view key);
  // ttl zero: no expiry.
  void Set(std::string_view key, std::string_view value, absl::Duration ttl);
  void Del(const std::vector<std::string>& keys);
  // The values of `keys` in one round trip (nullopt for a missing key), or nullopt when Redis
  // cannot answer.
  std::optional<std::vector<std::optional<std::string>>> MGet(
      const std::vector<std::string_view>& keys);
  // Adds one to the counter at `key` (0 when missing) and keeps it `ttl` from now, in one atomic
  // step; false when Redis could not.
  bool Increment(std::string_view key, absl::Duration ttl);
  // Deletes the keys matching `pattern` with SCAN (COUNT `count`), at most `max_rounds` rounds:
  // bounded work however many keys there are. Returns how many it deleted.
  int64_t ScanDelete(std::string_view pattern, int count, int max_rounds);
  void Publish(std::string_view channel, std::string_view message);
  // A token bucket shared by every process: true/false, or nullopt when Redis cannot answer
  // (the caller then limits on its own). *retry_after: when a token is back.
  std::optional<bool> TakeToken(std::string_view key, double rate, double burst, bool take,
                                absl::Duration* retry_after);
  // Calls fn(message) for each message on `channel`, from a thread (and connection) of its own
  // that re-subscribes after any loss of Redis; messages published meanwhile are lost. Call it
  // before the client is shared between threads.
  void Subscribe(std::string_view channel, std::function<void(std::string_view)> fn);
  // Ends every subscription: no `fn` runs after this returns (the destructor does it too).
  void Unsubscribe();

  RedisStats Stats();
  const std::string& address() const { return address_; }  // host:port, no password

 private:
  struct Conn;
  struct Reply;
  RedisClient(std::string host, int port, std::string password, int db, const RedisOptions& options,
              const Clock* clock);
  // Runs one command; nullptr when it failed (recorded in the breaker) or was refused.
  std::unique_ptr<Reply> Command(const std::vector<std::string_view>& argv);
  absl::StatusOr<std::unique_ptr<Conn>> Connect(absl::Duration read_timeout);
  std::unique_ptr<Conn> Acquire();
  void Release(std::unique_ptr<Conn> conn);
  void SubscribeLoop(std::string channel, std::function<void(std::string_view)> fn);

  const std::string host_;
  const int port_;
  const std::string password_;
  const int db_;
  const std::string address_;
  const RedisOptions options_;
  resilience::CircuitBreaker breaker_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Conn>> idle_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> hits_{0}, misses_{0}, errors_{0}, bypassed_{0};
  std::atomic<bool> stop_{false};
  std::vector<std::thread> subscribers_;
};

// Entries that a change makes stale at once in every process (the platform spec's "invalidate on
// status change"), however readers and writers interleave. Each id has a change counter
// ("PREFIX:v:ID", kept `counter_ttl` after its last change) and an entry ("PREFIX:e:ID", kept
// `ttl`) that carries the counter its reader saw *before* it read the truth. An entry is served
// only while the counter still has that value: a reader that read before a change and stores
// after it stores an entry nobody serves. Writers call Changed after their change is durable.
// A change that cannot reach Redis (down, the breaker open) leaves older entries servable for
// the rest of their `ttl`: that is the bound on staleness.
class VersionedCache {
 public:
  struct Read {
    std::optional<std::string> value;  // a servable entry
    std::string version;               // what to Put with after reading the truth
  };
  struct Stats {
    int64_t hits = 0;
    int64_t misses = 0;  // no entry, or one a change made stale
    int64_t changes = 0;
  };
  // `counter_ttl` is raised to twice `ttl` when shorter: a counter must outlive every entry
  // stored with it, or a counter that expired and counted up again could match an old entry.
  VersionedCache(RedisClient* redis, std::string prefix, absl::Duration ttl,
                 absl::Duration counter_ttl = absl::Hours(1));

  // One round trip. nullopt: Redis cannot answer (read the truth and do not Put).
  std::optional<Read> Get(std::string_view id);
  void Put(std::string_view id, std::string_view version, std::string_view value);
  void Changed(std::string_view id);
  Stats stats() const { return {hits_.load(), misses_.load(), changes_.load()}; }

 private:
  std::string EntryKey(std::string_view id) const;
  std::string CounterKey(std::string_view id) const;

  RedisClient* const redis_;
  const std::string prefix_;
  const absl::Duration ttl_;
  const absl::Duration counter_ttl_;
  std::atomic<int64_t> hits_{0}, misses_{0}, changes_{0};
};

// The channel on which a process announces a TM store it changed (the message is the store id).
inline constexpr std::string_view kTmInvalidationChannel = "tm_invalidation";

// The platform spec's InvalidateTMCache, for a whole store (TM results are keyed by the store's
// change-log position, not one segment: tm.h): deletes the store's exact-match ("tm:STORE:*") and
// fuzzy ("tm_fuzzy:STORE:*") keys with SCANs of COUNT 100, at most 10 rounds each (what a bounded
// walk misses is unreachable under the store's new position and expires), and publishes the store
// on kTmInvalidationChannel so that every process drops its L1 entries.
void InvalidateTmStore(RedisClient& redis, std::string_view store_id);

}  // namespace verso::cache

#endif  // VERSO_CACHE_REDIS_H_
