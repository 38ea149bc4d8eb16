// A thin layer over libpqxx for the PostgreSQL repositories: query parameters, a connection pool
// that prepares each statement once per connection, transactions that map libpqxx's exceptions
// to statuses, and time/bytes conversions. Only storage/postgres/ includes it (libpqxx stays out
// of every other translation unit).
#ifndef VERSO_STORAGE_POSTGRES_PG_DB_H_
#define VERSO_STORAGE_POSTGRES_PG_DB_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace verso::storage::pg {

// One query parameter in libpq's text format, or NULL.
class Param {
 public:
  Param(std::string_view s) : v_(std::string(s)) {}  // NOLINT: implicit by design
  Param(const std::string& s) : v_(s) {}             // NOLINT
  Param(const char* s) : v_(std::string(s)) {}       // NOLINT
  Param(int64_t i) : v_(std::to_string(i)) {}        // NOLINT
  Param(int i) : v_(std::to_string(i)) {}            // NOLINT
  Param(double d);                                   // NOLINT
  Param(bool b) : v_(b ? "t" : "f") {}               // NOLINT
  static Param Null() { return Param(); }
  // A bytea value (any bytes).
  static Param Bytes(std::string_view bytes);
  // Microseconds since the epoch; NULL for InfinitePast (the records' "never").
  static Param Time(absl::Time t);
  const std::optional<std::string>& value() const { return v_; }

 private:
  Param() = default;
  std::optional<std::string> v_;
};

using Params = std::vector<Param>;

int64_t Micros(absl::Time t);
absl::Time FromMicros(int64_t us);
// A nullable time column: NULL is InfinitePast.
absl::Time TimeOrNever(const pqxx::field& f);
std::string Bytes(const pqxx::field& f);  // a bytea column's bytes
// Column readers: NULL reads as empty or zero.
inline std::string Str(const pqxx::field& f) { return f.is_null() ? std::string() : f.c_str(); }
inline int64_t Int(const pqxx::field& f) { return f.is_null() ? 0 : f.as<int64_t>(); }
inline double Double(const pqxx::field& f) { return f.is_null() ? 0 : f.as<double>(); }

struct Conn {
  std::unique_ptr<pqxx::connection> c;
  std::unordered_map<std::string, std::string> prepared;  // SQL -> statement name
};

// A transaction (or, for reads, a single-statement implicit one) on a pooled connection.
class Tx {
 public:
  Tx(pqxx::transaction_base* tx, std::unordered_map<std::string, std::string>* prepared)
      : tx_(tx), prepared_(prepared) {}
  // Runs `sql` as a statement prepared once per connection.
  pqxx::result Exec(const std::string& sql, const Params& params = {});
  // Runs `sql` planned for these parameters every time, not prepared: for a query whose best
  // plan depends on them (an id list of 1 or 8,192), or on a table that was tiny when a prepared
  // statement's generic plan was made. A connection keeps that plan until ANALYZE, and a seq
  // scan testing 8,192 ids per row made applying a 100,000-segment import take 20 s.
  pqxx::result ExecPlanned(const std::string& sql, const Params& params);
  // Runs `sql` (several statements allowed) without parameters or preparing.
  pqxx::result Run(const std::string& sql);
  pqxx::transaction_base& raw() { return *tx_; }

 private:
  pqxx::transaction_base* tx_;
  std::unordered_map<std::string, std::string>* prepared_;
};

// Connections to one database, opened as needed up to `size` and reused; a connection that broke
// is dropped and replaced by a fresh one on a later call. Thread-safe.
class Pool {
 public:
  // Connects once to check the URL (its password is never logged or returned).
  static absl::StatusOr<std::unique_ptr<Pool>> Open(const std::string& url, int size);
  // The same without connecting first (a replica that may be down now).
  static std::unique_ptr<Pool> Lazy(const std::string& url, int size);
  ~Pool();

  // Runs fn(Tx&) -> Status or StatusOr<T> in a read-write transaction, committed when fn
  // succeeds. Errors: AlreadyExists (a unique constraint), Unavailable (connection lost or
  // refused, server shutting down, read-only replica), Aborted (serialization failure,
  // deadlock), Internal (anything else, with the server's message).
  //
  // An attempt that failed before its commit because the server could not be reached or would
  // not write (a failover: the old primary gone or demoted) took no effect, and runs again on a
  // fresh connection per the platform spec's database-write row (3 retries, 50/100/200 ms
  // ± 25 ms). A commit whose outcome is unknown (the connection broke during it) is never run
  // again: its status says so (storage::IsCommitInDoubt). So fn runs more than once: it must
  // change nothing but what it returns. Reads retry the same way.
  template <typename F>
  auto Write(F&& fn) -> decltype(fn(std::declval<Tx&>())) {
    return Use<pqxx::work>(std::forward<F>(fn));
  }
  // The same for reads: one statement at a time, each its own snapshot (no BEGIN/COMMIT).
  template <typename F>
  auto Read(F&& fn) -> decltype(fn(std::declval<Tx&>())) {
    return Use<pqxx::nontransaction>(std::forward<F>(fn));
  }
  // One statement that writes, as its own transaction (no BEGIN/COMMIT round trips), never run
  // again: a connection lost while it ran leaves its outcome unknown.
  template <typename F>
  auto Autocommit(F&& fn) -> decltype(fn(std::declval<Tx&>())) {
    return UseOnce<pqxx::nontransaction>(fn);
  }
  // A read transaction with one snapshot for all its statements (REPEATABLE READ).
  template <typename F>
  auto Snapshot(F&& fn) -> decltype(fn(std::declval<Tx&>())) {
    return Use<pqxx::transaction<pqxx::repeatable_read, pqxx::read_only>>(std::forward<F>(fn));
  }

  // A transaction held open across calls (a TM segment writer's, a job's lock): Commit ends it;
  // destroying it uncommitted rolls back. Not thread-safe.
  class Held {
   public:
    ~Held();
    // Runs fn(Tx&) -> Status or StatusOr<T> in the held transaction.
    template <typename F>
    auto Do(F&& fn) -> decltype(fn(std::declval<Tx&>())) {
      if (failed_) return absl::FailedPreconditionError("the transaction failed earlier");
      try {
        return fn(tx_);
      } catch (const std::exception& e) {
        failed_ = true;
        return FromException(e, &broken_);
      }
    }
    absl::Status Commit();

   private:
    friend class Pool;
    Held(Pool* pool, std::unique_ptr<Conn> conn);
    Pool* pool_;
    std::unique_ptr<Conn> conn_;
    std::unique_ptr<pqxx::work> work_;
    Tx tx_;
    bool failed_ = false;
    bool broken_ = false;
    bool done_ = false;
  };
  // Retries like Write when the connection fails before the transaction began.
  absl::StatusOr<std::unique_ptr<Held>> Begin();

  const std::string& url() const { return url_; }
  // A new connection outside the pool (LISTEN, administration).
  absl::StatusOr<std::unique_ptr<pqxx::connection>> Connect() const;

 private:
  Pool(std::string url, int size) : url_(std::move(url)), size_(size) {}
  // `detailed`: a failed connection's status carries libpq's reason (start-up); otherwise the
  // reason is logged and the status says only that the database is unavailable.
  absl::StatusOr<std::unique_ptr<Conn>> Acquire(bool detailed);
  void Release(std::unique_ptr<Conn> conn, bool broken);

  absl::StatusOr<std::unique_ptr<Held>> BeginOnce();
  template <typename T, typename F>
  auto Use(F&& fn) -> decltype(fn(std::declval<Tx&>())) {
    for (int attempt = 0;; ++attempt) {
      auto result = UseOnce<T>(fn);
      if (!RetryAfter(attempt, StatusOf(result))) return result;
    }
  }
  template <typename T, typename F>
  auto UseOnce(F& fn) -> decltype(fn(std::declval<Tx&>())) {
    auto conn = Acquire(/*detailed=*/false);
    if (!conn.ok()) return conn.status();
    bool broken = false;
    auto result = [&]() -> decltype(fn(std::declval<Tx&>())) {
      try {
        T tx(*(*conn)->c);
        Tx wrapped(&tx, &(*conn)->prepared);
        auto r = fn(wrapped);
        if (r.ok()) tx.commit();
        return r;
      } catch (const std::exception& e) {
        return FromException(e, &broken);
      }
    }();
    Release(std::move(*conn), broken);
    return result;
  }
  static const absl::Status& StatusOf(const absl::Status& s) { return s; }
  template <typename V>
  static absl::Status StatusOf(const absl::StatusOr<V>& s) {
    return s.status();
  }
  // After failed attempt `attempt` (0-based) with `status`: whether to run it again, having
  // waited the policy's delay (counted in storage::DatabaseRetries).
  static bool RetryAfter(int attempt, const absl::Status& status);
  static absl::Status FromException(const std::exception& e, bool* broken);

  const std::string url_;
  const int size_;
  absl::Mutex mu_;
  absl::CondVar freed_;
  std::vector<std::unique_ptr<Conn>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
};

// LISTENs on a connection of its own and calls each channel's function on its thread when a
// NOTIFY on it arrives (and once after every (re)connection: what was sent while it was not
// listening is not lost). Thread-safe.
class Listener {
 public:
  Listener(Pool* pool, std::vector<std::string> channels);
  ~Listener();
  // Replaces the channel's function (nullptr: none); no call of the old one starts after this.
  void Set(const std::string& channel, std::function<void()> fn);

 private:
  void Run();
  void Notify(const std::string& channel);

  Pool* pool_;
  const std::vector<std::string> channels_;
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  std::unordered_map<std::string, std::function<void()>> fns_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // last: starts after the members it uses
};

// The message of a failed connection attempt without the URL's password.
std::string ConnectError(const std::exception& e);

}  // namespace verso::storage::pg

namespace pqxx {
template <>
struct string_traits<verso::storage::pg::Param> {
  static constexpr const char* name() noexcept { return "verso::storage::pg::Param"; }
  static constexpr bool has_null() noexcept { return true; }
  static bool is_null(const verso::storage::pg::Param& p) { return !p.value().has_value(); }
  static verso::storage::pg::Param null() { return verso::storage::pg::Param::Null(); }
  static std::string to_string(const verso::storage::pg::Param& p) { return *p.value(); }
};
}  // namespace pqxx

#endif  // VERSO_STORAGE_POSTGRES_PG_DB_H_
