// The statuses storage marks for its callers, and its retry counters.
#include <atomic>
#include <random>

#include "absl/strings/cord.h"
#include "absl/time/clock.h"
#include "common/status.h"
#include "common/strings.h"
#include "resilience/resilience.h"
#include "storage/storage.h"

namespace verso::storage {

namespace {
constexpr const char* kMovedPayload = "verso.storage/store_moved";
constexpr const char* kInDoubtPayload = "verso.storage/commit_in_doubt";
std::atomic<int64_t> retried{0};
std::atomic<int64_t> gave_up{0};
}  // namespace

absl::Status StoreMovedError(std::string_view store_id, std::string_view shard) {
  absl::Status s = absl::UnavailableError(
      shard == "(incoming)"
          ? StrCat("TM store ", store_id, " is arriving in this database; retry")
          : StrCat("TM store ", store_id, " has moved to TM shard ", shard, "; retry"));
  s.SetPayload(kMovedPayload, absl::Cord(std::string(shard)));
  return s;
}

std::optional<std::string> MovedTo(const absl::Status& status) {
  auto shard = status.GetPayload(kMovedPayload);
  if (!shard.has_value()) return std::nullopt;
  return std::string(*shard);
}

absl::Status CommitInDoubt() {
  absl::Status s = absl::UnavailableError(
      "the database connection was lost during a commit: the change may or may not have been "
      "made; check, or send it again if sending it twice does no harm");
  s.SetPayload(kInDoubtPayload, absl::Cord("1"));
  return s;
}

bool IsCommitInDoubt(const absl::Status& status) {
  return status.GetPayload(kInDoubtPayload).has_value();
}

DatabaseRetryCounts DatabaseRetries() { return {retried.load(), gave_up.load()}; }

bool RetryUnapplied(int attempt, const absl::Status& status) {
  if (status.ok() || !absl::IsUnavailable(status) || IsCommitInDoubt(status) ||
      MovedTo(status).has_value() || IsWouldBlock(status)) {
    return false;
  }
  static const resilience::RetryPolicy policy = resilience::DbWriteRetryPolicy();
  if (attempt >= policy.max_retries) {
    ++gave_up;
    return false;
  }
  ++retried;
  thread_local std::mt19937_64 rng(std::random_device{}());
  const double unit = std::uniform_real_distribution<double>(-1, 1)(rng);
  absl::SleepFor(policy.Delay(attempt, unit));
  return true;
}

}  // namespace verso::storage
