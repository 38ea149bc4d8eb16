// Tenants' API keys and per-key rate limits.
//
// A key is "vsk_" followed by 52 base32 characters (256 random bits). It is shown once, when it
// is created; storage keeps only its SHA-256 and its first 12 characters. Scopes: admin (every
// operation of the tenant), translate, tm:read, tm:write.
#ifndef VERSO_AUTH_AUTH_H_
#define VERSO_AUTH_AUTH_H_

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/storage.h"

namespace verso {
class Clock;
class IdGenerator;
}  // namespace verso

namespace verso::auth {

inline constexpr std::string_view kScopeAdmin = "admin";
inline constexpr std::string_view kScopeTranslate = "translate";
inline constexpr std::string_view kScopeTmRead = "tm:read";
inline constexpr std::string_view kScopeTmWrite = "tm:write";

// "tm:read,tm:write" -> {"tm:read", "tm:write"}; InvalidArgument naming an unknown scope.
absl::StatusOr<std::vector<std::string>> ParseScopes(std::string_view list);

// What a signed-in workbench user may do (auth/users.h gives them by role; API keys do not take
// them: translate implies jobs:edit).
inline constexpr std::string_view kScopeJobsEdit = "jobs:edit";      // read jobs, edit segments
inline constexpr std::string_view kScopeJobsReview = "jobs:review";  // approve, reject segments
inline constexpr std::string_view kScopeUsers = "users";             // manage the tenant's users

// Who is calling: an API key, or a user signed in to the workbench.
struct Principal {
  std::string tenant;
  std::string key_id;   // an API key's
  std::string user_id;  // a signed-in user's ("usr_..."), with their role
  std::string role;
  std::vector<std::string> scopes;
  // admin holds every scope; translate holds jobs:edit and jobs:review.
  bool Has(std::string_view scope) const;
  // The key's or the user's id: what TM segments and audit records name as their author.
  const std::string& id() const { return user_id.empty() ? key_id : user_id; }
  // "key:key_..." or "user:usr_...".
  std::string Actor() const;
};

struct CreatedKey {
  storage::ApiKeyRecord record;
  std::string key;  // the secret; not stored anywhere
};

// Thread-safe.
class KeyService {
 public:
  // Positive and negative verification results are cached for `cache_ttl`, so a key revoked by
  // another process stops working within that time (at once when revoked through this object).
  KeyService(storage::KeyRepository* repo, const Clock* clock, IdGenerator* ids,
             absl::Duration cache_ttl = absl::Seconds(10));

  absl::StatusOr<CreatedKey> Create(std::string_view tenant, std::string_view name,
                                    const std::vector<std::string>& scopes);
  absl::StatusOr<std::vector<storage::ApiKeyRecord>> List(std::string_view tenant);
  absl::Status Revoke(std::string_view id);

  // The principal of a bearer token; Unauthenticated for an unknown, malformed or revoked key.
  // May read storage (on a cache miss).
  absl::StatusOr<Principal> Authenticate(std::string_view token);
  // The same answer without touching storage: nullopt when it would have to (a cache miss).
  std::optional<absl::StatusOr<Principal>> AuthenticateCached(std::string_view token);

 private:
  struct Cached {
    absl::Time expires;
    bool valid = false;
    Principal principal;
  };
  storage::KeyRepository* repo_;
  const Clock* clock_;
  IdGenerator* ids_;
  absl::Duration ttl_;
  absl::Mutex mu_;
  std::unordered_map<std::string, Cached> cache_ ABSL_GUARDED_BY(mu_);  // by key hash
};

// Token buckets per key: `rate` requests per second on average, bursts up to `burst`.
// Memory is bounded: past `max_keys` buckets, those that have refilled (indistinguishable from
// new ones) are dropped. Thread-safe.
class RateLimiter {
 public:
  RateLimiter(const Clock* clock, double rate, double burst, size_t max_keys = 100000);
  // True when the request may go on (a token is taken); otherwise *retry_after says when a
  // token is back.
  bool Allow(std::string_view key, absl::Duration* retry_after);
  // Whether Allow would be true now, without taking a token.
  bool WouldAllow(std::string_view key, absl::Duration* retry_after);

  // Buckets shared by every process (Redis): Allow asks `take` first and limits on its own only
  // when that cannot answer (nullopt), so a lost Redis leaves each process its own limit. Set
  // before use; `take` may block on the network (call Allow off I/O threads then).
  using SharedTake = std::function<std::optional<bool>(std::string_view key, double rate,
                                                       double burst, absl::Duration* retry_after)>;
  void SetShared(SharedTake take) { shared_ = std::move(take); }
  // Whether Allow may go to the network: shared buckets and a limit at all.
  bool shared() const { return shared_ != nullptr && rate_ > 0; }

 private:
  struct Bucket {
    double tokens;
    absl::Time last;
  };
  // The bucket of `key` refilled up to now. Needs mu_.
  Bucket& Refill(std::string_view key, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const Clock* clock_;
  double rate_;
  double burst_;
  size_t max_keys_;
  SharedTake shared_;
  absl::Mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
  std::atomic<size_t> size_{0};  // buckets_.size(), read without mu_
};

}  // namespace verso::auth

#endif  // VERSO_AUTH_AUTH_H_
