#include "storage/postgres/pg_db.h"

#include <cmath>
#include <cstdio>

#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"
#include "storage/storage.h"

namespace verso::storage::pg {

Param::Param(double d) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  v_ = buf;
}

Param Param::Bytes(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 + bytes.size() * 2);
  out += "\\x";
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  Param p;
  p.v_ = std::move(out);
  return p;
}

Param Param::Time(absl::Time t) {
  if (t == absl::InfinitePast()) return Null();
  return Param(Micros(t));
}

int64_t Micros(absl::Time t) { return absl::ToUnixMicros(t); }
absl::Time FromMicros(int64_t us) { return absl::FromUnixMicros(us); }

absl::Time TimeOrNever(const pqxx::field& f) {
  return f.is_null() ? absl::InfinitePast() : FromMicros(f.as<int64_t>());
}

std::string Bytes(const pqxx::field& f) {
  if (f.is_null()) return {};
  pqxx::binarystring b(f);
  return b.str();
}

pqxx::result Tx::Exec(const std::string& sql, const Params& params) {
  auto [it, added] = prepared_->try_emplace(sql);
  if (added) {
    it->second = StrCat("v", prepared_->size());
    tx_->conn().prepare(it->second, sql);
  }
  return tx_->exec_prepared(it->second, pqxx::prepare::make_dynamic_params(params));
}

pqxx::result Tx::ExecPlanned(const std::string& sql, const Params& params) {
  return tx_->exec_params(sql, pqxx::prepare::make_dynamic_params(params));
}

pqxx::result Tx::Run(const std::string& sql) { return tx_->exec(sql); }

absl::StatusOr<std::unique_ptr<Pool>> Pool::Open(const std::string& url, int size) {
  auto pool = std::unique_ptr<Pool>(new Pool(url, size < 1 ? 1 : size));
  auto conn = pool->Acquire(/*detailed=*/true);
  if (!conn.ok()) return conn.status();
  pool->Release(std::move(*conn), false);
  return pool;
}

std::unique_ptr<Pool> Pool::Lazy(const std::string& url, int size) {
  return std::unique_ptr<Pool>(new Pool(url, size < 1 ? 1 : size));
}

Pool::~Pool() = default;

std::string ConnectError(const std::exception& e) {
  std::string msg = e.what();
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  return msg;
}

absl::StatusOr<std::unique_ptr<pqxx::connection>> Pool::Connect() const {
  try {
    // A host that does not answer must not hold a request (or the replica monitor) for libpq's
    // default of forever.
    std::string url = url_;
    if (url.find("connect_timeout") == std::string::npos) {
      const bool is_uri = url.rfind("postgres", 0) == 0 && url.find("://") != std::string::npos;
      url += is_uri ? (url.find('?') == std::string::npos ? "?connect_timeout=5"
                                                          : "&connect_timeout=5")
                    : " connect_timeout=5";
    }
    return std::make_unique<pqxx::connection>(url);
  } catch (const std::exception& e) {
    return absl::UnavailableError(StrCat("cannot connect to PostgreSQL: ", ConnectError(e)));
  }
}

absl::StatusOr<std::unique_ptr<Conn>> Pool::Acquire(bool detailed) {
  {
    absl::MutexLock lock(&mu_);
    while (idle_.empty() && open_ >= size_) freed_.Wait(&mu_);
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
    ++open_;  // a slot for the connection opened below
  }
  auto c = Connect();
  if (!c.ok()) {
    {
      absl::MutexLock lock(&mu_);
      --open_;
      freed_.Signal();
    }
    if (detailed) return c.status();
    // While serving, the reason (hosts, ports) goes to the log, not to whoever asked.
    log::Warn("storage.connect", {{"error", c.status().message()}});
    return absl::UnavailableError("the database is unavailable; retry later");
  }
  auto conn = std::make_unique<Conn>();
  conn->c = std::move(*c);
  return conn;
}

void Pool::Release(std::unique_ptr<Conn> conn, bool broken) {
  std::vector<std::unique_ptr<Conn>> stale;
  {
    absl::MutexLock lock(&mu_);
    if (broken || !conn->c->is_open()) {
      --open_;
      // The idle connections went to the same server: after a failover every one of them is
      // broken, and each would fail one more attempt. They are closed (outside the lock).
      open_ -= static_cast<int>(idle_.size());
      stale.swap(idle_);
      freed_.SignalAll();
    } else {
      idle_.push_back(std::move(conn));
      freed_.Signal();
    }
  }
  stale.clear();
  conn.reset();
}

bool Pool::RetryAfter(int attempt, const absl::Status& status) {
  return RetryUnapplied(attempt, status);
}

absl::Status Pool::FromException(const std::exception& e, bool* broken) {
  std::string msg = ConnectError(e);
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    *broken = true;
    log::Warn("storage.connection_lost", {{"error", msg}});
    return absl::UnavailableError("the database connection was lost; retry later");
  }
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    *broken = true;
    log::Warn("storage.commit_in_doubt", {{"error", msg}});
    return CommitInDoubt();
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e); sql != nullptr) {
    const std::string state = sql->sqlstate();
    if (state == "23505") return absl::AlreadyExistsError(msg);
    if (state == "40001" || state == "40P01") return absl::AbortedError(msg);
    if (state == "53100") {  // disk_full
      log::Warn("storage.disk_full", {{"error", msg}});
      return verso::DiskFull("the database server's disk is full");
    }
    if (state == "22021" || state == "22P05") {
      // The server's message quotes the statement's data and context: logged, not answered.
      log::Warn("storage.unstorable_text", {{"error", msg}});
      return absl::InvalidArgumentError(
          "the text holds a character the database cannot store (U+0000 or invalid UTF-8)");
    }
    // Read-only (a replica, or a primary demoted), shutting down, too many connections, the
    // connection classes: another try later, perhaps on another server, may succeed.
    if (state == "25006" || state.rfind("57P", 0) == 0 || state.rfind("08", 0) == 0 ||
        state == "53300") {
      *broken = true;
      log::Warn("storage.unavailable", {{"error", msg}});
      return absl::UnavailableError("the database is unavailable; retry later");
    }
    return absl::InternalError(StrCat("PostgreSQL: ", msg));
  }
  if (dynamic_cast<const pqxx::failure*>(&e) != nullptr) *broken = true;
  return absl::InternalError(StrCat("PostgreSQL: ", msg));
}

Pool::Held::Held(Pool* pool, std::unique_ptr<Conn> conn)
    : pool_(pool), conn_(std::move(conn)), tx_(nullptr, &conn_->prepared) {}

Pool::Held::~Held() {
  if (!done_ && work_ != nullptr) {
    try {
      work_->abort();
    } catch (const std::exception&) {
      broken_ = true;
    }
  }
  work_.reset();
  pool_->Release(std::move(conn_), broken_);
}

absl::Status Pool::Held::Commit() {
  if (done_) return absl::FailedPreconditionError("the transaction already ended");
  if (failed_) return absl::FailedPreconditionError("the transaction failed earlier");
  done_ = true;
  try {
    work_->commit();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return FromException(e, &broken_);
  }
}

absl::StatusOr<std::unique_ptr<Pool::Held>> Pool::Begin() {
  for (int attempt = 0;; ++attempt) {
    auto held = BeginOnce();
    if (!RetryAfter(attempt, held.status())) return held;
  }
}

absl::StatusOr<std::unique_ptr<Pool::Held>> Pool::BeginOnce() {
  auto conn = Acquire(/*detailed=*/false);
  if (!conn.ok()) return conn.status();
  auto held = std::unique_ptr<Held>(new Held(this, std::move(*conn)));
  try {
    held->work_ = std::make_unique<pqxx::work>(*held->conn_->c);
    held->tx_ = Tx(held->work_.get(), &held->conn_->prepared);
  } catch (const std::exception& e) {
    held->done_ = true;
    return FromException(e, &held->broken_);
  }
  return held;
}

Listener::Listener(Pool* pool, std::vector<std::string> channels)
    : pool_(pool), channels_(std::move(channels)) {
  thread_ = std::thread([this] { Run(); });
}

Listener::~Listener() {
  stop_ = true;
  thread_.join();
}

void Listener::Set(const std::string& channel, std::function<void()> fn) {
  absl::MutexLock lock(&mu_);
  fns_[channel] = std::move(fn);
}

void Listener::Notify(const std::string& channel) {
  absl::MutexLock lock(&mu_);
  auto it = fns_.find(channel);
  if (it != fns_.end() && it->second) it->second();
}

namespace {
class Receiver : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection& c, const std::string& channel, std::function<void()> fn)
      : pqxx::notification_receiver(c, channel), fn_(std::move(fn)) {}
  void operator()(const std::string&, int) override { fn_(); }

 private:
  std::function<void()> fn_;
};
}  // namespace

void Listener::Run() {
  while (!stop_) {
    auto conn = pool_->Connect();
    if (!conn.ok()) {
      absl::SleepFor(absl::Seconds(1));
      continue;
    }
    try {
      std::vector<std::unique_ptr<Receiver>> receivers;
      for (const std::string& channel : channels_) {
        receivers.push_back(
            std::make_unique<Receiver>(**conn, channel, [this, channel] { Notify(channel); }));
        Notify(channel);
      }
      while (!stop_) (*conn)->await_notification(0, 200000);
    } catch (const std::exception&) {
      absl::SleepFor(absl::Milliseconds(200));  // the connection broke: listen again
    }
  }
}

}  // namespace verso::storage::pg
