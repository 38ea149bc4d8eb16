// Workbench users of a tenant: passwords (argon2id), roles and sessions.
//
// A user signs in with their tenant, email and password and gets a session token ("vss_" and 52
// base32 characters) that the browser keeps in an HttpOnly cookie; storage keeps only the token's
// SHA-256. Sessions last 24 hours (the platform spec's cache table) and end at once on sign-out,
// and every session of a user ends when their password or role changes or they are disabled.
// Sessions are rows of the database (SQLite or the PostgreSQL primary), not Redis: a lost Redis
// must not sign everyone out, and a sign-out must hold on every process at once.
#ifndef VERSO_AUTH_USERS_H_
#define VERSO_AUTH_USERS_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "auth/auth.h"
#include "storage/storage.h"

namespace verso {
class Clock;
class IdGenerator;
}  // namespace verso

namespace verso::auth {

// post-editor and reviewer: read the tenant's jobs, edit and confirm segments, read its TMs
// (concordance). manager: also submit and cancel jobs and manage the tenant's users.
enum class Role { kPostEditor, kReviewer, kManager };
std::string_view RoleName(Role role);
// InvalidArgument naming the roles.
absl::StatusOr<Role> ParseRole(std::string_view name);
std::vector<std::string> RoleScopes(Role role);

// argon2id in the PHC string format ("$argon2id$v=19$m=19456,t=2,p=1$salt$hash": OWASP's
// parameters, 19 MiB and 2 passes).
std::string HashPassword(std::string_view password);
bool VerifyPassword(std::string_view encoded, std::string_view password);

// Emails are sign-in names: lower-cased, checked for shape (no spaces or controls, one @).
absl::StatusOr<std::string> NormalizeEmail(std::string_view email);
// 10 to 1024 bytes.
absl::Status CheckPassword(std::string_view password);

struct UserChange {
  std::optional<std::string> name;
  std::optional<Role> role;
  std::optional<std::string> password;
  std::optional<bool> disabled;
};

struct SignedIn {
  storage::UserRecord user;
  std::string token;  // the secret: shown once, to the browser
  absl::Time expires_at;
};

// Thread-safe. Every call may read or write storage and hash a password (tens of ms): not on an
// I/O thread.
class UserService {
 public:
  static constexpr absl::Duration kSessionTtl = absl::Hours(24);

  UserService(storage::UserRepository* repo, const Clock* clock, IdGenerator* ids,
              absl::Duration session_ttl = kSessionTtl);

  absl::StatusOr<storage::UserRecord> Create(std::string_view tenant, std::string_view email,
                                             std::string_view name, Role role,
                                             std::string_view password);
  absl::StatusOr<std::vector<storage::UserRecord>> List(std::string_view tenant);
  // The user `id` of `tenant` (NotFound for another tenant's).
  absl::StatusOr<storage::UserRecord> Get(std::string_view tenant, std::string_view id);
  // The user `id` of `tenant` (NotFound for another tenant's). A new password or role, or
  // disabling, ends every session of the user.
  absl::StatusOr<storage::UserRecord> Update(std::string_view tenant, std::string_view id,
                                             const UserChange& change);

  // Unauthenticated with one message for an unknown email, a wrong password and a disabled user
  // (nothing tells which emails exist); the same time is spent on each.
  absl::StatusOr<SignedIn> SignIn(std::string_view tenant, std::string_view email,
                                  std::string_view password);
  // The principal of a session token; Unauthenticated for an unknown, expired or ended session.
  absl::StatusOr<Principal> Authenticate(std::string_view token);
  absl::Status SignOut(std::string_view token);
  // Deletes the sessions that expired; returns how many.
  absl::StatusOr<int64_t> Sweep();

  // Whether `token` has a session token's shape (so that an API key is never looked up here).
  static bool LooksLikeSession(std::string_view token);

 private:
  // Bounds the hashes running at once: each holds 19 MiB, and a flood of sign-ins must neither
  // take the memory nor hold the threads that serve storage (ResourceExhausted, throttled: a 429).
  absl::Status AcquireHashSlot();
  void ReleaseHashSlot();

  storage::UserRepository* repo_;
  const Clock* clock_;
  IdGenerator* ids_;
  absl::Duration ttl_;
  std::string dummy_hash_;  // verified against when the email is unknown (same time)
  absl::Mutex mu_;
  int hashing_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace verso::auth

#endif  // VERSO_AUTH_USERS_H_
