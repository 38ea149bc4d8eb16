#include "auth/auth.h"

#include <algorithm>
#include <cmath>

#include "common/clock.h"
#include "common/crypto.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"
#include "common/tenant.h"

namespace verso::auth {
namespace {

constexpr std::string_view kKeyPrefix = "vsk_";
constexpr size_t kKeyLength = 4 + 52;
constexpr size_t kShownPrefix = 12;
constexpr size_t kMaxCached = 100000;

absl::Status Unauthenticated() {
  return absl::UnauthenticatedError("the API key is missing, unknown or revoked");
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseScopes(std::string_view list) {
  std::vector<std::string> scopes;
  for (std::string_view raw : Split(list, ',')) {
    std::string_view scope = StripAsciiWhitespace(raw);
    if (scope.empty()) continue;
    if (scope != kScopeAdmin && scope != kScopeTranslate && scope != kScopeTmRead &&
        scope != kScopeTmWrite) {
      return absl::InvalidArgumentError(
          StrCat("scopes: unknown scope \"", scope, "\" (admin, translate, tm:read, tm:write)"));
    }
    if (std::find(scopes.begin(), scopes.end(), scope) == scopes.end()) scopes.emplace_back(scope);
  }
  if (scopes.empty()) return absl::InvalidArgumentError("scopes: at least one scope is needed");
  return scopes;
}

bool Principal::Has(std::string_view scope) const {
  for (const std::string& s : scopes) {
    if (s == scope || s == kScopeAdmin) return true;
    if (s == kScopeTranslate && (scope == kScopeJobsEdit || scope == kScopeJobsReview)) {
      return true;
    }
  }
  return false;
}

std::string Principal::Actor() const {
  if (!user_id.empty()) return StrCat("user:", user_id);
  return key_id.empty() ? "anonymous" : StrCat("key:", key_id);
}

KeyService::KeyService(storage::KeyRepository* repo, const Clock* clock, IdGenerator* ids,
                       absl::Duration cache_ttl)
    : repo_(repo), clock_(clock), ids_(ids), ttl_(cache_ttl) {}

absl::StatusOr<CreatedKey> KeyService::Create(std::string_view tenant, std::string_view name,
                                              const std::vector<std::string>& scopes) {
  VERSO_RETURN_IF_ERROR(ValidateTenantName(tenant));
  if (name.size() > 200) return absl::InvalidArgumentError("name: longer than 200 characters");
  if (scopes.empty()) return absl::InvalidArgumentError("scopes: at least one scope is needed");
  CreatedKey created;
  created.key = StrCat(kKeyPrefix, RandomToken(32));
  storage::ApiKeyRecord& r = created.record;
  r.id = ids_->Next("key");
  r.tenant = std::string(tenant);
  r.name = std::string(name);
  r.scopes = scopes;
  r.hash = Sha256Hex(created.key);
  r.prefix = created.key.substr(0, kShownPrefix);
  r.created_at = clock_->Now();
  VERSO_RETURN_IF_ERROR(repo_->CreateKey(r));
  log::Info("auth.key.created", {{"key", r.id}, {"tenant", r.tenant}, {"prefix", r.prefix}});
  return created;
}

absl::StatusOr<std::vector<storage::ApiKeyRecord>> KeyService::List(std::string_view tenant) {
  return repo_->ListKeys(tenant);
}

absl::Status KeyService::Revoke(std::string_view id) {
  VERSO_RETURN_IF_ERROR(repo_->RevokeKey(id, clock_->Now()));
  absl::MutexLock lock(&mu_);
  cache_.clear();
  log::Info("auth.key.revoked", {{"key", id}});
  return absl::OkStatus();
}

std::optional<absl::StatusOr<Principal>> KeyService::AuthenticateCached(std::string_view token) {
  if (token.size() != kKeyLength || token.substr(0, kKeyPrefix.size()) != kKeyPrefix) {
    return absl::StatusOr<Principal>(Unauthenticated());
  }
  const std::string hash = Sha256Hex(token);
  absl::MutexLock lock(&mu_);
  auto it = cache_.find(hash);
  if (it == cache_.end() || it->second.expires <= clock_->Now()) return std::nullopt;
  if (!it->second.valid) return absl::StatusOr<Principal>(Unauthenticated());
  return absl::StatusOr<Principal>(it->second.principal);
}

absl::StatusOr<Principal> KeyService::Authenticate(std::string_view token) {
  if (auto cached = AuthenticateCached(token)) return *cached;
  const std::string hash = Sha256Hex(token);
  const absl::Time now = clock_->Now();
  Cached entry;
  entry.expires = now + ttl_;
  absl::StatusOr<storage::ApiKeyRecord> key = repo_->FindKeyByHash(hash);
  if (!key.ok() && !absl::IsNotFound(key.status())) return key.status();  // storage trouble
  // The lookup was by hash; compare again in constant time to be independent of the index.
  if (key.ok() && !key->revoked() && ConstantTimeEquals(key->hash, hash)) {
    entry.valid = true;
    entry.principal = Principal{.tenant = key->tenant, .key_id = key->id, .scopes = key->scopes};
  }
  {
    absl::MutexLock lock(&mu_);
    if (cache_.size() >= kMaxCached) cache_.clear();
    cache_[hash] = entry;
  }
  if (!entry.valid) return Unauthenticated();
  return entry.principal;
}

RateLimiter::RateLimiter(const Clock* clock, double rate, double burst, size_t max_keys)
    : clock_(clock), rate_(rate), burst_(std::max(1.0, burst)), max_keys_(max_keys) {}

RateLimiter::Bucket& RateLimiter::Refill(std::string_view key, absl::Time now) {
  if (buckets_.size() >= max_keys_) {
    // A full bucket says nothing a new one would not: drop those.
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      const double tokens =
          it->second.tokens + absl::ToDoubleSeconds(now - it->second.last) * rate_;
      it = tokens >= burst_ ? buckets_.erase(it) : std::next(it);
    }
  }
  auto [it, fresh] = buckets_.try_emplace(std::string(key), Bucket{burst_, now});
  size_ = buckets_.size();
  Bucket& b = it->second;
  if (!fresh) {
    double elapsed = absl::ToDoubleSeconds(now - b.last);
    b.tokens = std::min(burst_, b.tokens + elapsed * rate_);
    b.last = now;
  }
  return b;
}

bool RateLimiter::Allow(std::string_view key, absl::Duration* retry_after) {
  if (rate_ <= 0) return true;  // unlimited
  if (shared_) {
    if (std::optional<bool> allowed = shared_(key, rate_, burst_, retry_after)) return *allowed;
  }
  const absl::Time now = clock_->MonotonicNow();
  absl::MutexLock lock(&mu_);
  Bucket& b = Refill(key, now);
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return true;
  }
  *retry_after = absl::Seconds((1.0 - b.tokens) / rate_);
  return false;
}

bool RateLimiter::WouldAllow(std::string_view key, absl::Duration* retry_after) {
  if (rate_ <= 0 || size_.load(std::memory_order_relaxed) == 0) return true;  // nobody limited
  const absl::Time now = clock_->MonotonicNow();
  absl::MutexLock lock(&mu_);
  auto it = buckets_.find(std::string(key));
  if (it == buckets_.end()) return true;
  Bucket& b = Refill(key, now);
  if (b.tokens >= 1.0) return true;
  *retry_after = absl::Seconds((1.0 - b.tokens) / rate_);
  return false;
}

}  // namespace verso::auth
