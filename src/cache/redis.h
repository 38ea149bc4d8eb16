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
