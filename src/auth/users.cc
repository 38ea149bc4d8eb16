#include "auth/users.h"

#include <argon2.h>

#include <algorithm>
#include <cctype>

#include "common/clock.h"
#include "common/crypto.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"
#include "common/tenant.h"

namespace verso::auth {
namespace {

constexpr uint32_t kPasses = 2;
constexpr uint32_t kMemoryKiB = 19 * 1024;
constexpr uint32_t kLanes = 1;
constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;
constexpr int kMaxHashing = 2;
constexpr std::string_view kSessionPrefix = "vss_";
constexpr size_t kSessionLength = 4 + 52;

absl::Status WrongCredentials() {
  return absl::UnauthenticatedError("the email or the password is wrong");
}

absl::Status NoSession() {
  return absl::UnauthenticatedError("the session has ended or never began: sign in again");
}

absl::Status CheckName(std::string_view name) {
  if (name.size() > 200) return absl::InvalidArgumentError("name: longer than 200 bytes");
  if (!IsUtf8(name)) return absl::InvalidArgumentError("name: not UTF-8");
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("name: holds a control character");
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kPostEditor:
      return "post-editor";
    case Role::kReviewer:
      return "reviewer";
    case Role::kManager:
      return "manager";
  }
  return "post-editor";
}

absl::StatusOr<Role> ParseRole(std::string_view name) {
  for (Role r : {Role::kPostEditor, Role::kReviewer, Role::kManager}) {
    if (name == RoleName(r)) return r;
  }
  return absl::InvalidArgumentError(
      StrCat("role: unknown role \"", Abbreviate(name, 40), "\" (post-editor, reviewer, manager)"));
}

std::vector<std::string> RoleScopes(Role role) {
  std::vector<std::string> scopes = {std::string(kScopeJobsEdit), std::string(kScopeTmRead)};
  if (role != Role::kPostEditor) scopes.emplace_back(kScopeJobsReview);
  if (role == Role::kManager) {
    scopes.emplace_back(kScopeTranslate);
    scopes.emplace_back(kScopeUsers);
  }
  return scopes;
}

std::string HashPassword(std::string_view password) {
  // RandomToken gives base32 text; its bytes serve as the salt.
  const std::string salt = RandomToken(kSaltBytes).substr(0, kSaltBytes);
  const size_t size =
      argon2_encodedlen(kPasses, kMemoryKiB, kLanes, kSaltBytes, kHashBytes, Argon2_id);
  std::string encoded(size, '\0');
  const int rc =
      argon2id_hash_encoded(kPasses, kMemoryKiB, kLanes, password.data(), password.size(),
                            salt.data(), salt.size(), kHashBytes, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) {
    log::Error("auth.password.hash_failed", {{"error", argon2_error_message(rc)}});
    return "";
  }
  encoded.resize(encoded.find('\0'));
  return encoded;
}

bool VerifyPassword(std::string_view encoded, std::string_view password) {
  if (encoded.rfind("$argon2id$", 0) != 0) return false;
  const std::string copy(encoded);  // argon2 wants a NUL-terminated string
  return argon2id_verify(copy.c_str(), password.data(), password.size()) == ARGON2_OK;
}

absl::StatusOr<std::string> NormalizeEmail(std::string_view email) {
  if (email.empty()) return absl::InvalidArgumentError("email: empty");
  if (email.size() > 254) return absl::InvalidArgumentError("email: longer than 254 bytes");
  if (!IsUtf8(email)) return absl::InvalidArgumentError("email: not UTF-8");
  std::string out;
  out.reserve(email.size());
  for (char c : email) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) {
      return absl::InvalidArgumentError("email: holds a space or a control character");
    }
    out.push_back(static_cast<char>(std::tolower(u)));
  }
  const size_t at = out.find('@');
  if (at == std::string::npos || at == 0 || at + 1 == out.size() ||
      out.find('@', at + 1) != std::string::npos) {
    return absl::InvalidArgumentError(
        StrCat("email: \"", Abbreviate(out, 60), "\" is not an address (name@domain)"));
  }
  return out;
}

absl::Status CheckPassword(std::string_view password) {
  if (password.size() < 10) {
    return absl::InvalidArgumentError("password: shorter than 10 characters");
  }
  if (password.size() > 1024) return absl::InvalidArgumentError("password: longer than 1024 bytes");
  return absl::OkStatus();
}

UserService::UserService(storage::UserRepository* repo, const Clock* clock, IdGenerator* ids,
                         absl::Duration session_ttl)
    : repo_(repo), clock_(clock), ids_(ids), ttl_(session_ttl) {}

absl::Status UserService::AcquireHashSlot() {
  absl::MutexLock lock(&mu_);
  if (hashing_ >= kMaxHashing) {
    return Throttled("too many sign-ins and password changes at once; retry in a second");
  }
  ++hashing_;
  return absl::OkStatus();
}

void UserService::ReleaseHashSlot() {
  absl::MutexLock lock(&mu_);
  --hashing_;
}

absl::StatusOr<storage::UserRecord> UserService::Create(std::string_view tenant,
                                                        std::string_view email,
                                                        std::string_view name, Role role,
                                                        std::string_view password) {
  VERSO_RETURN_IF_ERROR(ValidateTenantName(tenant));
  VERSO_ASSIGN_OR_RETURN(std::string normalized, NormalizeEmail(email));
  VERSO_RETURN_IF_ERROR(CheckName(name));
  VERSO_RETURN_IF_ERROR(CheckPassword(password));
  storage::UserRecord u;
  u.id = ids_->Next("usr");
  u.tenant = std::string(tenant);
  u.email = std::move(normalized);
  u.name = name.empty() ? u.email.substr(0, u.email.find('@')) : std::string(name);
  u.role = std::string(RoleName(role));
  VERSO_RETURN_IF_ERROR(AcquireHashSlot());
  u.password_hash = HashPassword(password);
  ReleaseHashSlot();
  if (u.password_hash.empty()) return absl::InternalError("the password could not be hashed");
  u.created_at = clock_->Now();
  VERSO_RETURN_IF_ERROR(repo_->CreateUser(u));
  log::Info("auth.user.created", {{"user", u.id}, {"tenant", u.tenant}, {"role", u.role}});
  return u;
}

absl::StatusOr<std::vector<storage::UserRecord>> UserService::List(std::string_view tenant) {
  return repo_->ListUsers(tenant);
}

absl::StatusOr<storage::UserRecord> UserService::Get(std::string_view tenant, std::string_view id) {
  absl::StatusOr<storage::UserRecord> found = repo_->FindUser(id);
  if (!found.ok() || (!tenant.empty() && found->tenant != tenant)) {
    if (found.ok() || absl::IsNotFound(found.status())) {
      return absl::NotFoundError(StrCat("user ", Abbreviate(id, 64), " not found"));
    }
    return found.status();
  }
  return found;
}

absl::StatusOr<storage::UserRecord> UserService::Update(std::string_view tenant,
                                                        std::string_view id,
                                                        const UserChange& change) {
  VERSO_ASSIGN_OR_RETURN(storage::UserRecord u, Get(tenant, id));
  bool end_sessions = false;
  if (change.name) {
    VERSO_RETURN_IF_ERROR(CheckName(*change.name));
    if (!change.name->empty()) u.name = *change.name;
  }
  if (change.role && RoleName(*change.role) != u.role) {
    u.role = std::string(RoleName(*change.role));
    end_sessions = true;
  }
  if (change.password) {
    VERSO_RETURN_IF_ERROR(CheckPassword(*change.password));
    VERSO_RETURN_IF_ERROR(AcquireHashSlot());
    u.password_hash = HashPassword(*change.password);
    ReleaseHashSlot();
    if (u.password_hash.empty()) return absl::InternalError("the password could not be hashed");
    end_sessions = true;
  }
  if (change.disabled && *change.disabled != u.disabled()) {
    u.disabled_at = *change.disabled ? clock_->Now() : absl::InfinitePast();
    end_sessions = end_sessions || *change.disabled;
  }
  VERSO_RETURN_IF_ERROR(repo_->UpdateUser(u));
  if (end_sessions) {
    VERSO_ASSIGN_OR_RETURN(int64_t ended, repo_->DeleteUserSessions(u.id));
    log::Info("auth.user.sessions_ended", {{"user", u.id}, {"sessions", ended}});
  }
  return u;
}

absl::StatusOr<SignedIn> UserService::SignIn(std::string_view tenant, std::string_view email,
                                             std::string_view password) {
  if (!ValidateTenantName(tenant).ok()) return WrongCredentials();
  absl::StatusOr<std::string> normalized = NormalizeEmail(email);
  if (!normalized.ok() || password.size() > 1024) return WrongCredentials();
  absl::StatusOr<storage::UserRecord> user = repo_->FindUserByEmail(tenant, *normalized);
  if (!user.ok() && !absl::IsNotFound(user.status())) return user.status();
  {
    // An unknown email costs the same hash as a known one.
    absl::MutexLock lock(&mu_);
    if (dummy_hash_.empty()) dummy_hash_ = HashPassword(RandomToken(16));
  }
  VERSO_RETURN_IF_ERROR(AcquireHashSlot());
  const bool match = VerifyPassword(user.ok() ? user->password_hash : dummy_hash_, password);
  ReleaseHashSlot();
  if (!user.ok() || !match || user->disabled()) return WrongCredentials();
  SignedIn in;
  in.token = StrCat(kSessionPrefix, RandomToken(32));
  storage::SessionRecord s;
  s.hash = Sha256Hex(in.token);
  s.user_id = user->id;
  s.created_at = clock_->Now();
  s.expires_at = s.created_at + ttl_;
  VERSO_RETURN_IF_ERROR(repo_->CreateSession(s));
  in.user = std::move(*user);
  in.expires_at = s.expires_at;
  log::Info("auth.session.started", {{"user", in.user.id}, {"tenant", in.user.tenant}});
  return in;
}

bool UserService::LooksLikeSession(std::string_view token) {
  return token.size() == kSessionLength && token.substr(0, kSessionPrefix.size()) == kSessionPrefix;
}

absl::StatusOr<Principal> UserService::Authenticate(std::string_view token) {
  if (!LooksLikeSession(token)) return NoSession();
  absl::StatusOr<std::pair<storage::SessionRecord, storage::UserRecord>> found =
      repo_->FindSession(Sha256Hex(token));
  if (!found.ok()) return absl::IsNotFound(found.status()) ? NoSession() : found.status();
  const auto& [session, user] = *found;
  if (session.expires_at <= clock_->Now() || user.disabled()) return NoSession();
  absl::StatusOr<Role> role = ParseRole(user.role);
  if (!role.ok()) return NoSession();
  Principal p;
  p.tenant = user.tenant;
  p.user_id = user.id;
  p.role = user.role;
  p.scopes = RoleScopes(*role);
  return p;
}

absl::Status UserService::SignOut(std::string_view token) {
  if (!LooksLikeSession(token)) return absl::OkStatus();
  return repo_->DeleteSession(Sha256Hex(token));
}

absl::StatusOr<int64_t> UserService::Sweep() { return repo_->DeleteExpiredSessions(clock_->Now()); }

}  // namespace verso::auth
