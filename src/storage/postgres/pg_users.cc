// The PostgreSQL user repository: workbench users and their sessions. Every read goes to the
// primary: a replica could still hold a session signed out a moment ago.
#include "common/status.h"
#include "common/strings.h"
#include "storage/postgres/pg_db.h"
#include "storage/postgres/pg_jobs.h"

namespace verso::storage {
namespace {

using pg::FromMicros;
using pg::Int;
using pg::Micros;
using pg::Param;
using pg::Pool;
using pg::Str;
using pg::TimeOrNever;
using pg::Tx;

constexpr const char* kUserColumns =
    "u.id, u.tenant, u.email, u.name, u.role, u.password_hash, u.created_at, u.disabled_at";

UserRecord ReadUser(const pqxx::row& r, int at = 0) {
  UserRecord u;
  u.id = Str(r[at + 0]);
  u.tenant = Str(r[at + 1]);
  u.email = Str(r[at + 2]);
  u.name = Str(r[at + 3]);
  u.role = Str(r[at + 4]);
  u.password_hash = Str(r[at + 5]);
  u.created_at = FromMicros(Int(r[at + 6]));
  u.disabled_at = TimeOrNever(r[at + 7]);
  return u;
}

absl::Status UserNotFound(std::string_view id) {
  return absl::NotFoundError(StrCat("user ", id, " not found"));
}

class PgUsers : public UserRepository {
 public:
  explicit PgUsers(Pool* pool) : pool_(pool) {}

  absl::Status CreateUser(const UserRecord& u) override {
    absl::Status s = pool_->Write([&](Tx& tx) -> absl::Status {
      tx.Exec(
          "INSERT INTO users(id, tenant, email, name, role, password_hash, created_at, "
          "disabled_at) VALUES($1,$2,$3,$4,$5,$6,$7,$8)",
          {u.id, u.tenant, u.email, u.name, u.role, u.password_hash, Micros(u.created_at),
           Param::Time(u.disabled_at)});
      return absl::OkStatus();
    });
    if (absl::IsAlreadyExists(s)) {
      return absl::AlreadyExistsError(
          StrCat("tenant ", u.tenant, " already has a user with the email ", u.email));
    }
    return s;
  }

  absl::StatusOr<std::vector<UserRecord>> ListUsers(std::string_view tenant) override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<std::vector<UserRecord>> {
      pqxx::result r = tx.Exec(StrCat("SELECT ", kUserColumns,
                                      " FROM users u WHERE $1 = '' OR u.tenant = $1 "
                                      "ORDER BY u.tenant, u.email"),
                               {tenant});
      std::vector<UserRecord> out;
      for (const auto& row : r) out.push_back(ReadUser(row));
      return out;
    });
  }

  absl::StatusOr<UserRecord> FindUser(std::string_view id) override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<UserRecord> {
      pqxx::result r =
          tx.Exec(StrCat("SELECT ", kUserColumns, " FROM users u WHERE u.id = $1"), {id});
      if (r.empty()) return UserNotFound(id);
      return ReadUser(r[0]);
    });
  }

  absl::StatusOr<UserRecord> FindUserByEmail(std::string_view tenant,
                                             std::string_view email) override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<UserRecord> {
      pqxx::result r = tx.Exec(
          StrCat("SELECT ", kUserColumns, " FROM users u WHERE u.tenant = $1 AND u.email = $2"),
          {tenant, email});
      if (r.empty()) return absl::NotFoundError(StrCat("tenant ", tenant, " has no user ", email));
      return ReadUser(r[0]);
    });
  }

  absl::Status UpdateUser(const UserRecord& u) override {
    return pool_->Write([&](Tx& tx) -> absl::Status {
      pqxx::result r = tx.Exec(
          "UPDATE users SET name = $1, role = $2, password_hash = $3, disabled_at = $4 "
          "WHERE id = $5",
          {u.name, u.role, u.password_hash, Param::Time(u.disabled_at), u.id});
      return r.affected_rows() > 0 ? absl::OkStatus() : UserNotFound(u.id);
    });
  }

  absl::Status CreateSession(const SessionRecord& s) override {
    return pool_->Write([&](Tx& tx) -> absl::Status {
      tx.Exec("INSERT INTO sessions(hash, user_id, created_at, expires_at) VALUES($1,$2,$3,$4)",
              {s.hash, s.user_id, Micros(s.created_at), Micros(s.expires_at)});
      return absl::OkStatus();
    });
  }

  absl::StatusOr<std::pair<SessionRecord, UserRecord>> FindSession(std::string_view hash) override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<std::pair<SessionRecord, UserRecord>> {
      pqxx::result r =
          tx.Exec(StrCat("SELECT s.hash, s.user_id, s.created_at, s.expires_at, ", kUserColumns,
                         " FROM sessions s JOIN users u ON u.id = s.user_id "
                         "WHERE s.hash = $1"),
                  {hash});
      if (r.empty()) return absl::NotFoundError("no such session");
      SessionRecord s;
      s.hash = Str(r[0][0]);
      s.user_id = Str(r[0][1]);
      s.created_at = FromMicros(Int(r[0][2]));
      s.expires_at = FromMicros(Int(r[0][3]));
      return std::make_pair(std::move(s), ReadUser(r[0], 4));
    });
  }

  absl::Status DeleteSession(std::string_view hash) override {
    return Delete("DELETE FROM sessions WHERE hash = $1", hash).status();
  }

  absl::StatusOr<int64_t> DeleteUserSessions(std::string_view user_id) override {
    return Delete("DELETE FROM sessions WHERE user_id = $1", user_id);
  }

  absl::StatusOr<int64_t> DeleteExpiredSessions(absl::Time now) override {
    return pool_->Write([&](Tx& tx) -> absl::StatusOr<int64_t> {
      return static_cast<int64_t>(
          tx.Exec("DELETE FROM sessions WHERE expires_at < $1", {Micros(now)}).affected_rows());
    });
  }

  absl::Status SetAssignments(std::string_view job_id,
                              const std::vector<AssignmentRecord>& assignments) override {
    return pool_->Write([&](Tx& tx) -> absl::Status {
      tx.Exec("DELETE FROM job_assignments WHERE job_id = $1", {job_id});
      for (const AssignmentRecord& a : assignments) {
        tx.Exec(
            "INSERT INTO job_assignments(job_id, user_id, target_lang, first_index, last_index) "
            "VALUES($1,$2,$3,$4,$5)",
            {job_id, a.user_id, a.target_lang, a.first, a.last});
      }
      return absl::OkStatus();
    });
  }

  absl::StatusOr<std::vector<AssignmentRecord>> ListAssignments(std::string_view job_id) override {
    return pool_->Read([&](Tx& tx) -> absl::StatusOr<std::vector<AssignmentRecord>> {
      pqxx::result r = tx.Exec(
          "SELECT job_id, user_id, target_lang, first_index, last_index FROM job_assignments "
          "WHERE job_id = $1 ORDER BY target_lang, first_index, user_id",
          {job_id});
      std::vector<AssignmentRecord> out;
      for (const auto& row : r) {
        out.push_back({Str(row[0]), Str(row[1]), Str(row[2]), Int(row[3]), Int(row[4])});
      }
      return out;
    });
  }

 private:
  absl::StatusOr<int64_t> Delete(const std::string& sql, std::string_view arg) {
    return pool_->Write([&](Tx& tx) -> absl::StatusOr<int64_t> {
      return static_cast<int64_t>(tx.Exec(sql, {arg}).affected_rows());
    });
  }

  Pool* pool_;
};

}  // namespace

std::unique_ptr<UserRepository> NewPgUsers(pg::Pool* pool) {
  return std::make_unique<PgUsers>(pool);
}

}  // namespace verso::storage
