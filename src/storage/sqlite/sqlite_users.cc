// The SQLite user repository: workbench users and their sessions, on the database file's
// connections (sqlite_jobs.h).
#include "absl/synchronization/mutex.h"
#include "common/status.h"
#include "common/strings.h"
#include "storage/sqlite/sqlite_db.h"
#include "storage/sqlite/sqlite_jobs.h"

namespace verso::storage {
namespace {

using sqlite::ConnectionPool;
using sqlite::Stmt;

int64_t Micros(absl::Time t) { return absl::ToUnixMicros(t); }
absl::Time FromMicros(int64_t us) { return absl::FromUnixMicros(us); }

constexpr const char* kUserColumns =
    "u.id, u.tenant, u.email, u.name, u.role, u.password_hash, u.created_at, u.disabled_at";

UserRecord ReadUser(const Stmt& st, int at = 0) {
  UserRecord u;
  u.id = std::string(st.Text(at + 0));
  u.tenant = std::string(st.Text(at + 1));
  u.email = std::string(st.Text(at + 2));
  u.name = std::string(st.Text(at + 3));
  u.role = std::string(st.Text(at + 4));
  u.password_hash = std::string(st.Text(at + 5));
  u.created_at = FromMicros(st.Int(at + 6));
  u.disabled_at = st.IsNull(at + 7) ? absl::InfinitePast() : FromMicros(st.Int(at + 7));
  return u;
}

void BindDisabled(Stmt* st, int i, absl::Time t) {
  if (t == absl::InfinitePast()) {
    st->BindNull(i);
  } else {
    st->Bind(i, Micros(t));
  }
}

absl::Status UserNotFound(std::string_view id) {
  return absl::NotFoundError(StrCat("user ", id, " not found"));
}

class SqliteUsers : public UserRepository {
 public:
  explicit SqliteUsers(ConnectionPool* pool) : pool_(pool) {}

  absl::Status CreateUser(const UserRecord& u) override {
    absl::MutexLock lock(&pool_->write_mu);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st, pool_->writer->Prepare("INSERT INTO users(id, tenant, email, name, role, "
                                          "password_hash, created_at, disabled_at) "
                                          "VALUES(?,?,?,?,?,?,?,?)"));
    st->Reset().Bind(1, u.id).Bind(2, u.tenant).Bind(3, u.email).Bind(4, u.name);
    st->Bind(5, u.role).Bind(6, u.password_hash).Bind(7, Micros(u.created_at));
    BindDisabled(st, 8, u.disabled_at);
    absl::Status s = st->Run();
    if (absl::IsAlreadyExists(s)) {
      return absl::AlreadyExistsError(
          StrCat("tenant ", u.tenant, " already has a user with the email ", u.email));
    }
    return s;
  }

  absl::StatusOr<std::vector<UserRecord>> ListUsers(std::string_view tenant) override {
    Read r(pool_);
    VERSO_ASSIGN_OR_RETURN(Stmt * st,
                           r->Prepare(StrCat("SELECT ", kUserColumns,
                                             " FROM users u WHERE ?1 = '' OR u.tenant = ?1 "
                                             "ORDER BY u.tenant, u.email")));
    st->Reset().Bind(1, tenant);
    std::vector<UserRecord> out;
    VERSO_RETURN_IF_ERROR(st->ForEachRow([&](Stmt&) { out.push_back(ReadUser(*st)); }));
    return out;
  }

  absl::StatusOr<UserRecord> FindUser(std::string_view id) override {
    return FindOne("u.id = ?1", id, "", UserNotFound(id));
  }

  absl::StatusOr<UserRecord> FindUserByEmail(std::string_view tenant,
                                             std::string_view email) override {
    return FindOne("u.tenant = ?1 AND u.email = ?2", tenant, email,
                   absl::NotFoundError(StrCat("tenant ", tenant, " has no user ", email)));
  }

  absl::Status UpdateUser(const UserRecord& u) override {
    absl::MutexLock lock(&pool_->write_mu);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st, pool_->writer->Prepare("UPDATE users SET name = ?, role = ?, password_hash = ?, "
                                          "disabled_at = ? WHERE id = ?"));
    st->Reset().Bind(1, u.name).Bind(2, u.role).Bind(3, u.password_hash);
    BindDisabled(st, 4, u.disabled_at);
    st->Bind(5, u.id);
    return st->RunChanging(UserNotFound(u.id));
  }

  absl::Status CreateSession(const SessionRecord& s) override {
    absl::MutexLock lock(&pool_->write_mu);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st,
        pool_->writer->Prepare(
            "INSERT INTO sessions(hash, user_id, created_at, expires_at) VALUES(?,?,?,?)"));
    st->Reset().Bind(1, s.hash).Bind(2, s.user_id).Bind(3, Micros(s.created_at));
    st->Bind(4, Micros(s.expires_at));
    return st->Run();
  }

  absl::StatusOr<std::pair<SessionRecord, UserRecord>> FindSession(std::string_view hash) override {
    Read r(pool_);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st,
        r->Prepare(StrCat("SELECT s.hash, s.user_id, s.created_at, s.expires_at, ", kUserColumns,
                          " FROM sessions s JOIN users u ON u.id = s.user_id "
                          "WHERE s.hash = ?")));
    st->Reset().Bind(1, hash);
    VERSO_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) return absl::NotFoundError("no such session");
    SessionRecord s;
    s.hash = std::string(st->Text(0));
    s.user_id = std::string(st->Text(1));
    s.created_at = FromMicros(st->Int(2));
    s.expires_at = FromMicros(st->Int(3));
    UserRecord u = ReadUser(*st, 4);
    st->Reset();
    return std::make_pair(std::move(s), std::move(u));
  }

  absl::Status DeleteSession(std::string_view hash) override {
    return Delete("DELETE FROM sessions WHERE hash = ?", hash).status();
  }

  absl::StatusOr<int64_t> DeleteUserSessions(std::string_view user_id) override {
    return Delete("DELETE FROM sessions WHERE user_id = ?", user_id);
  }

  absl::StatusOr<int64_t> DeleteExpiredSessions(absl::Time now) override {
    absl::MutexLock lock(&pool_->write_mu);
    VERSO_ASSIGN_OR_RETURN(Stmt * st,
                           pool_->writer->Prepare("DELETE FROM sessions WHERE expires_at < ?"));
    st->Reset().Bind(1, Micros(now));
    VERSO_RETURN_IF_ERROR(st->Run());
    return static_cast<int64_t>(pool_->writer->Changes());
  }

  absl::Status SetAssignments(std::string_view job_id,
                              const std::vector<AssignmentRecord>& assignments) override {
    absl::MutexLock lock(&pool_->write_mu);
    return pool_->writer->Transaction([&]() -> absl::Status {
      VERSO_ASSIGN_OR_RETURN(
          Stmt * del, pool_->writer->Prepare("DELETE FROM job_assignments WHERE job_id = ?"));
      VERSO_RETURN_IF_ERROR(del->Reset().Bind(1, job_id).Run());
      VERSO_ASSIGN_OR_RETURN(Stmt * ins,
                             pool_->writer->Prepare("INSERT INTO job_assignments(job_id, user_id, "
                                                    "target_lang, first_index, last_index) "
                                                    "VALUES(?,?,?,?,?)"));
      for (const AssignmentRecord& a : assignments) {
        ins->Reset().Bind(1, job_id).Bind(2, a.user_id).Bind(3, a.target_lang);
        ins->Bind(4, a.first).Bind(5, a.last);
        VERSO_RETURN_IF_ERROR(ins->Run());
      }
      return absl::OkStatus();
    });
  }

  absl::StatusOr<std::vector<AssignmentRecord>> ListAssignments(std::string_view job_id) override {
    Read r(pool_);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st, r->Prepare("SELECT job_id, user_id, target_lang, first_index, last_index "
                              "FROM job_assignments WHERE job_id = ? "
                              "ORDER BY target_lang, first_index, user_id"));
    st->Reset().Bind(1, job_id);
    std::vector<AssignmentRecord> out;
    VERSO_RETURN_IF_ERROR(st->ForEachRow([&](Stmt&) {
      out.push_back({std::string(st->Text(0)), std::string(st->Text(1)), std::string(st->Text(2)),
                     st->Int(3), st->Int(4)});
    }));
    return out;
  }

 private:
  using Read = ConnectionPool::Reader;

  absl::StatusOr<UserRecord> FindOne(std::string_view where, std::string_view a, std::string_view b,
                                     const absl::Status& none) {
    Read r(pool_);
    VERSO_ASSIGN_OR_RETURN(
        Stmt * st, r->Prepare(StrCat("SELECT ", kUserColumns, " FROM users u WHERE ", where)));
    st->Reset().Bind(1, a);
    if (!b.empty()) st->Bind(2, b);
    VERSO_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) return none;
    UserRecord u = ReadUser(*st);
    st->Reset();
    return u;
  }

  absl::StatusOr<int64_t> Delete(const std::string& sql, std::string_view arg) {
    absl::MutexLock lock(&pool_->write_mu);
    VERSO_ASSIGN_OR_RETURN(Stmt * st, pool_->writer->Prepare(sql));
    st->Reset().Bind(1, arg);
    VERSO_RETURN_IF_ERROR(st->Run());
    return static_cast<int64_t>(pool_->writer->Changes());
  }

  ConnectionPool* pool_;
};

}  // namespace

std::unique_ptr<UserRepository> NewSqliteUsers(sqlite::ConnectionPool* pool) {
  return std::make_unique<SqliteUsers>(pool);
}

}  // namespace verso::storage
