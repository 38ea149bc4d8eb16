#include "auth/users.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "common/clock.h"
#include "common/crypto.h"
#include "common/ids.h"

namespace verso::auth {
namespace {

TEST(PasswordTest, HashesAreSaltedArgon2idAndVerifyOnlyTheirPassword) {
  const std::string a = HashPassword("correct horse battery");
  const std::string b = HashPassword("correct horse battery");
  EXPECT_EQ(a.rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << a;
  EXPECT_NE(a, b);  // a salt each
  EXPECT_TRUE(VerifyPassword(a, "correct horse battery"));
  EXPECT_TRUE(VerifyPassword(b, "correct horse battery"));
  EXPECT_FALSE(VerifyPassword(a, "correct horse batterY"));
  EXPECT_FALSE(VerifyPassword(a, ""));
  EXPECT_FALSE(VerifyPassword("", "correct horse battery"));
  EXPECT_FALSE(VerifyPassword("$argon2i$v=19$m=19456,t=2,p=1$x$y", "correct horse battery"));
}

TEST(PasswordTest, EmailsRolesAndPasswordsAreChecked) {
  EXPECT_EQ(*NormalizeEmail("Ana.Lopez@Example.COM"), "ana.lopez@example.com");
  for (std::string_view bad :
       {"", "ana", "@example.com", "ana@", "a@b@c", "ana @example.com", "ana\x01@example.com"}) {
    EXPECT_FALSE(NormalizeEmail(bad).ok()) << bad;
  }
  EXPECT_EQ(NormalizeEmail("ana").status().message(),
            "email: \"ana\" is not an address (name@domain)");
  EXPECT_EQ(*ParseRole("reviewer"), Role::kReviewer);
  EXPECT_EQ(ParseRole("admin").status().message(),
            "role: unknown role \"admin\" (post-editor, reviewer, manager)");
  EXPECT_EQ(CheckPassword("short").message(), "password: shorter than 10 characters");
  EXPECT_FALSE(CheckPassword(std::string(1025, 'x')).ok());
  EXPECT_TRUE(CheckPassword("ten chars!").ok());
}

TEST(PasswordTest, RolesGiveScopesAndTranslateKeysMayEdit) {
  Principal editor{.scopes = RoleScopes(Role::kPostEditor)};
  EXPECT_TRUE(editor.Has(kScopeJobsEdit));
  EXPECT_TRUE(editor.Has(kScopeTmRead));
  EXPECT_FALSE(editor.Has(kScopeTranslate));
  EXPECT_FALSE(editor.Has(kScopeUsers));
  EXPECT_FALSE(editor.Has(kScopeTmWrite));
  EXPECT_FALSE(editor.Has(kScopeJobsReview));
  Principal reviewer{.scopes = RoleScopes(Role::kReviewer)};
  EXPECT_TRUE(reviewer.Has(kScopeJobsReview));
  EXPECT_TRUE(reviewer.Has(kScopeJobsEdit));
  EXPECT_FALSE(reviewer.Has(kScopeTranslate));
  Principal manager{.scopes = RoleScopes(Role::kManager)};
  EXPECT_TRUE(manager.Has(kScopeJobsReview));
  EXPECT_TRUE(manager.Has(kScopeTranslate));
  EXPECT_TRUE(manager.Has(kScopeUsers));
  EXPECT_FALSE(manager.Has(kScopeAdmin));
  Principal key{.key_id = "key_1", .scopes = {"translate"}};
  EXPECT_TRUE(key.Has(kScopeJobsEdit));
  EXPECT_TRUE(key.Has(kScopeJobsReview));
  EXPECT_EQ(key.Actor(), "key:key_1");
  Principal user{.key_id = "", .user_id = "usr_1"};
  EXPECT_EQ(user.Actor(), "user:usr_1");
  EXPECT_EQ(user.id(), "usr_1");
}

class UserServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/users_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto db = storage::OpenSqlite(dir_ + "/verso.db", {});
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    users_ = std::make_unique<UserService>(&db_->users(), &clock_, &ids_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  storage::UserRecord Add(std::string_view email, Role role = Role::kPostEditor) {
    auto u = users_->Create("acme", email, "", role, "correct horse battery");
    EXPECT_TRUE(u.ok()) << u.status();
    return u.ok() ? *u : storage::UserRecord{};
  }
  std::string SignIn(std::string_view email, std::string_view password = "correct horse battery") {
    auto in = users_->SignIn("acme", email, password);
    EXPECT_TRUE(in.ok()) << in.status();
    return in.ok() ? in->token : "";
  }

  std::string dir_;
  FakeClock clock_;
  IdGenerator ids_{clock_, 1};
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<UserService> users_;
};

TEST_F(UserServiceTest, ASignedInUserIsAPrincipalOfTheirRoleUntilSignOut) {
  storage::UserRecord ana = Add("Ana@Example.com");
  EXPECT_EQ(ana.email, "ana@example.com");
  EXPECT_EQ(ana.name, "ana");
  EXPECT_EQ(ana.role, "post-editor");
  EXPECT_EQ(ana.id.rfind("usr_", 0), 0u);
  const std::string token = SignIn("ANA@example.com");
  EXPECT_EQ(token.rfind("vss_", 0), 0u);
  EXPECT_EQ(token.size(), 56u);
  auto who = users_->Authenticate(token);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->tenant, "acme");
  EXPECT_EQ(who->user_id, ana.id);
  EXPECT_EQ(who->role, "post-editor");
  EXPECT_EQ(who->scopes, (std::vector<std::string>{"jobs:edit", "tm:read"}));
  // Only the token's hash is stored.
  auto session = db_->users().FindSession(Sha256Hex(token));
  ASSERT_TRUE(session.ok());
  EXPECT_EQ(session->first.user_id, ana.id);
  EXPECT_EQ(session->first.expires_at, clock_.Now() + absl::Hours(24));
  ASSERT_TRUE(users_->SignOut(token).ok());
  EXPECT_EQ(users_->Authenticate(token).status().message(),
            "the session has ended or never began: sign in again");
}

TEST_F(UserServiceTest, WrongPasswordUnknownEmailAndDisabledUserGetOneAnswer) {
  storage::UserRecord ana = Add("ana@example.com");
  Add("ben@example.com");
  auto wrong = users_->SignIn("acme", "ana@example.com", "not the password");
  auto unknown = users_->SignIn("acme", "nobody@example.com", "correct horse battery");
  auto other_tenant = users_->SignIn("globex", "ana@example.com", "correct horse battery");
  ASSERT_TRUE(users_->Update("acme", ana.id, {.disabled = true}).ok());
  auto disabled = users_->SignIn("acme", "ana@example.com", "correct horse battery");
  for (const auto& r : {wrong, unknown, other_tenant, disabled}) {
    EXPECT_TRUE(absl::IsUnauthenticated(r.status())) << r.status();
    EXPECT_EQ(r.status().message(), "the email or the password is wrong");
  }
  EXPECT_TRUE(users_->SignIn("acme", "ben@example.com", "correct horse battery").ok());
}

TEST_F(UserServiceTest, ANewPasswordRoleOrDisablingEndsEverySessionOfTheUser) {
  storage::UserRecord ana = Add("ana@example.com");
  storage::UserRecord ben = Add("ben@example.com");
  const std::string a1 = SignIn("ana@example.com"), a2 = SignIn("ana@example.com");
  const std::string b1 = SignIn("ben@example.com");
  // A new name keeps the sessions.
  ASSERT_TRUE(users_->Update("acme", ana.id, {.name = "Ana López"}).ok());
  EXPECT_TRUE(users_->Authenticate(a1).ok());
  // A new role ends them; the new role holds from the next sign-in.
  auto promoted = users_->Update("acme", ana.id, {.role = Role::kManager});
  ASSERT_TRUE(promoted.ok());
  EXPECT_EQ(promoted->name, "Ana López");
  EXPECT_FALSE(users_->Authenticate(a1).ok());
  EXPECT_FALSE(users_->Authenticate(a2).ok());
  EXPECT_TRUE(users_->Authenticate(b1).ok());  // another user's are kept
  auto who = users_->Authenticate(SignIn("ana@example.com"));
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->role, "manager");
  // A new password: the old one no longer signs in.
  ASSERT_TRUE(users_->Update("acme", ben.id, {.password = "a new long password"}).ok());
  EXPECT_FALSE(users_->Authenticate(b1).ok());
  EXPECT_FALSE(users_->SignIn("acme", "ben@example.com", "correct horse battery").ok());
  EXPECT_TRUE(users_->SignIn("acme", "ben@example.com", "a new long password").ok());
  // Another tenant's user is not found.
  EXPECT_TRUE(absl::IsNotFound(users_->Update("globex", ben.id, {.disabled = true}).status()));
}

TEST_F(UserServiceTest, SessionsExpireAfter24HoursAndAreSwept) {
  Add("ana@example.com");
  const std::string token = SignIn("ana@example.com");
  clock_.Advance(absl::Hours(23));
  const std::string later = SignIn("ana@example.com");
  EXPECT_TRUE(users_->Authenticate(token).ok());
  clock_.Advance(absl::Hours(1));
  EXPECT_FALSE(users_->Authenticate(token).ok());
  EXPECT_TRUE(users_->Authenticate(later).ok());
  EXPECT_EQ(*users_->Sweep(), 0);  // expired at this instant, not before it
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(*users_->Sweep(), 1);
  EXPECT_TRUE(users_->Authenticate(later).ok());
}

TEST_F(UserServiceTest, BadInputIsRefusedByField) {
  Add("ana@example.com");
  EXPECT_TRUE(absl::IsAlreadyExists(
      users_->Create("acme", "ANA@example.com", "", Role::kReviewer, "correct horse battery")
          .status()));
  EXPECT_EQ(
      users_->Create("acme", "ben@example.com", "", Role::kReviewer, "short").status().message(),
      "password: shorter than 10 characters");
  EXPECT_EQ(
      users_->Create("acme", "ben@example.com", "a\nb", Role::kReviewer, "correct horse battery")
          .status()
          .message(),
      "name: holds a control character");
  EXPECT_FALSE(
      users_->Create("bad tenant!", "ben@example.com", "", Role::kReviewer, "correct horse battery")
          .ok());
  // A malformed token is not looked up; an API key is not a session.
  EXPECT_FALSE(users_->Authenticate("vss_short").ok());
  EXPECT_FALSE(
      users_->Authenticate("vsk_0123456789012345678901234567890123456789012345678901").ok());
  EXPECT_FALSE(UserService::LooksLikeSession(""));
}

}  // namespace
}  // namespace verso::auth
