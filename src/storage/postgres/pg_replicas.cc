#include "storage/postgres/pg_replicas.h"

#include "common/log.h"
#include "common/strings.h"

namespace verso::storage::pg {
namespace {

constexpr absl::Duration kPeriod = absl::Milliseconds(200);
constexpr absl::Duration kHistory = absl::Seconds(60);

// host:port of a URL, for logs and metrics (never its user or password).
std::string HostOf(const std::string& url) {
  size_t start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  if (size_t at = url.find('@', start); at != std::string::npos) start = at + 1;
  size_t end = url.find_first_of("/?", start);
  return url.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

}  // namespace

ReplicaSet::ReplicaSet(Pool* primary, const std::vector<std::string>& urls, int connections,
                       absl::Duration eject_lag)
    : primary_(primary), eject_lag_(eject_lag) {
  {
    absl::MutexLock lock(&mu_);
    for (const std::string& url : urls) {
      Replica r;
      r.name = HostOf(url);
      r.pool = Pool::Lazy(url, connections);
      replicas_.push_back(std::move(r));
    }
  }
  Measure();  // the first figures before any read
  thread_ = std::thread([this] { Monitor(); });
}

ReplicaSet::~ReplicaSet() {
  stop_ = true;
  thread_.join();
}

void ReplicaSet::Monitor() {
  while (!stop_) {
    absl::SleepFor(kPeriod);
    Measure();
  }
}

void ReplicaSet::Measure() {
  const absl::Time now = absl::Now();
  auto lsn = primary_->Read([](Tx& tx) -> absl::StatusOr<int64_t> {
    return tx.Exec("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::BIGINT")[0][0].as<int64_t>();
  });
  if (lsn.ok()) {
    primary_lsn_.emplace_back(now, *lsn);
    while (primary_lsn_.size() > 1 && primary_lsn_.front().first < now - kHistory) {
      primary_lsn_.pop_front();
    }
  }
  std::vector<Pool*> pools;
  {
    absl::MutexLock lock(&mu_);
    for (Replica& r : replicas_) pools.push_back(r.pool.get());
  }
  for (size_t i = 0; i < pools.size(); ++i) {
    auto replayed = pools[i]->Read([](Tx& tx) -> absl::StatusOr<int64_t> {
      pqxx::result r = tx.Exec(
          "SELECT COALESCE((pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::BIGINT, -1), "
          "pg_is_in_recovery()");
      if (!r[0][1].as<bool>()) return absl::FailedPreconditionError("not a replica (promoted?)");
      return r[0][0].as<int64_t>();
    });
    // Lag: how long ago the primary had written what the replica has not replayed yet.
    absl::Duration lag = absl::InfiniteDuration();
    if (replayed.ok() && !primary_lsn_.empty()) {
      if (*replayed >= primary_lsn_.back().second) {
        lag = absl::ZeroDuration();
      } else {
        lag = now - primary_lsn_.front().first;  // behind all the history: at least this
        for (const auto& [when, at] : primary_lsn_) {
          if (at > *replayed) {
            lag = now - when;
            break;
          }
        }
      }
    }
    absl::MutexLock lock(&mu_);
    Replica& r = replicas_[i];
    const bool was_in = r.in_rotation;
    r.reachable = replayed.ok();
    r.lag = lag;
    r.in_rotation = r.reachable && lag <= eject_lag_;
    if (was_in && !r.in_rotation) {
      log::Warn(
          "storage.replica_out",
          {{"replica", r.name},
           {"lag_seconds", lag == absl::InfiniteDuration() ? -1.0 : absl::ToDoubleSeconds(lag)},
           {"error", replayed.ok() ? "" : std::string(replayed.status().message())}});
    } else if (!was_in && r.in_rotation) {
      log::Info("storage.replica_in", {{"replica", r.name}});
    }
  }
}

Pool* ReplicaSet::Pick(absl::Duration bound) {
  absl::MutexLock lock(&mu_);
  Replica* best = nullptr;
  for (Replica& r : replicas_) {
    if (r.in_rotation && r.lag <= bound && (best == nullptr || r.lag < best->lag)) best = &r;
  }
  return best == nullptr ? nullptr : best->pool.get();
}

std::vector<ReplicaState> ReplicaSet::States() {
  absl::MutexLock lock(&mu_);
  std::vector<ReplicaState> out;
  for (const Replica& r : replicas_) {
    out.push_back({r.name, r.lag == absl::InfiniteDuration() ? -1.0 : absl::ToDoubleSeconds(r.lag),
                   r.reachable, r.in_rotation});
  }
  return out;
}

}  // namespace verso::storage::pg
