// Workbench users through the real server: signing in with a password, the session cookie and
// what it allows by role, signing out, cross-site requests, sign-in throttling and the CLI.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "tests/http_client.h"
#include "tests/process.h"
#include "tests/verso_server.h"

namespace verso {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr const char* kPassword = "correct horse battery";

class UsersApiTest : public test::ServerTest {
 protected:
  UsersApiTest() : ServerTest("users_api") {}

  void StartWithAdmin() {
    Start();
    ASSERT_NE(server_->port(), 0);
    admin_ = test::CreateKey(dir_, "default", "admin");
  }
  // A request with the session cookie `cookie` (none when empty) and `headers`.
  test::HttpResponse WithCookie(const std::string& method, const std::string& path,
                                const std::string& cookie, const std::string& body = "",
                                Headers headers = {}) const {
    if (!cookie.empty()) headers.emplace_back("Cookie", "theme=dark; verso_session=" + cookie);
    return Send(method, path, "", body, "application/json", headers);
  }
  json AddUser(const std::string& email, const std::string& role) {
    test::HttpResponse r =
        Send("POST", "/v1/users", admin_,
             json{{"email", email}, {"role", role}, {"password", kPassword}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return json::parse(r.body, nullptr, false);
  }
  // Signs in; the session token from Set-Cookie ("" when refused).
  std::string SignIn(const std::string& email, const std::string& password = kPassword,
                     test::HttpResponse* out = nullptr) {
    test::HttpResponse r =
        Send("POST", "/v1/session", "", json{{"email", email}, {"password", password}}.dump());
    if (out != nullptr) *out = r;
    const std::string cookie = r.Header("set-cookie");
    const std::string name = "verso_session=";
    if (r.status != 200 || cookie.rfind(name, 0) != 0) return "";
    return cookie.substr(name.size(), cookie.find(';') - name.size());
  }
  std::string SubmitJob(bool revision = false) {
    test::HttpResponse r = Send("POST", "/v1/jobs", admin_,
                                json{{"source_lang", "en"},
                                     {"target_langs", {"es"}},
                                     {"qe_threshold", 101},
                                     {"revision", revision},
                                     {"segments", {"Close the door.", "The printer is ready."}}}
                                    .dump());
    EXPECT_EQ(r.status, 202) << r.body;
    const std::string id = json::parse(r.body).value("id", "");
    for (int i = 0; i < 600; ++i) {
      json job = json::parse(Send("GET", "/v1/jobs/" + id, admin_).body);
      if (job["status"] == "post_editing") return id;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "job " << id << " never waited for post-editing";
    return id;
  }
  // `command` in bash, with verso's storage (on the PostgreSQL backend, its database).
  test::RunResult Shell(const std::string& command) const {
    std::ifstream in(dir_ + "/.storage_url");
    std::string url;
    std::getline(in, url);
    return test::Run({"/bin/bash", "-c", command},
                     url.empty() ? std::vector<std::string>{}
                                 : std::vector<std::string>{"VERSO_STORAGE_URL=" + url});
  }
  // This site, as a browser's page names it (the test client's Host is 127.0.0.1).
  std::string Origin() const { return "http://127.0.0.1"; }

  std::string admin_;
};

TEST_F(UsersApiTest, AUserSignsInEditsWithTheCookieAndSignsOut) {
  StartWithAdmin();
  json ana = AddUser("Ana@Example.com", "post-editor");
  EXPECT_EQ(ana["email"], "ana@example.com");
  EXPECT_EQ(ana["role"], "post-editor");
  EXPECT_FALSE(ana.contains("password"));
  EXPECT_FALSE(ana.contains("password_hash"));

  test::HttpResponse wrong;
  EXPECT_EQ(SignIn("ana@example.com", "not the password", &wrong), "");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(json::parse(wrong.body)["error"]["message"], "the email or the password is wrong");

  test::HttpResponse in;
  const std::string token = SignIn("ana@example.com", kPassword, &in);
  ASSERT_EQ(in.status, 200) << in.body;
  EXPECT_THAT(token, StartsWith("vss_"));
  EXPECT_EQ(in.Header("set-cookie"),
            "verso_session=" + token + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=86400");
  EXPECT_EQ(json::parse(in.body)["user"]["id"], ana["id"]);
  EXPECT_THAT(in.body, ::testing::Not(HasSubstr(token)));  // only in the HttpOnly cookie

  json me = json::parse(WithCookie("GET", "/v1/session", token).body);
  EXPECT_EQ(me["user"]["email"], "ana@example.com");
  EXPECT_EQ(me["scopes"], json::array({"jobs:edit", "tm:read"}));

  // What a post-editor does: read the job, confirm a segment (from this site's page).
  const std::string job = SubmitJob();
  test::HttpResponse segments = WithCookie("GET", "/v1/jobs/" + job + "/segments", token);
  ASSERT_EQ(segments.status, 200) << segments.body;
  EXPECT_EQ(json::parse(segments.body)["segments"].size(), 2u);
  test::HttpResponse confirmed =
      WithCookie("POST", "/v1/jobs/" + job + "/segments/es/0/confirm", token,
                 R"({"target":"Cierra la puerta."})", {{"Origin", Origin()}});
  ASSERT_EQ(confirmed.status, 200) << confirmed.body;
  EXPECT_EQ(json::parse(confirmed.body)["state"], "confirmed");
  // The audit log names the user.
  test::RunResult audit = test::Run({VERSO_BINARY, "--data-dir", dir_, "audit", "list"});
  EXPECT_THAT(audit.out, HasSubstr("\"actor\":\"user:" + ana["id"].get<std::string>() + "\""));
  EXPECT_THAT(audit.out, HasSubstr("/confirm"));

  // What a post-editor may not do.
  test::HttpResponse submit = WithCookie("POST", "/v1/jobs", token, R"({"source_lang":"en"})");
  EXPECT_EQ(submit.status, 403);
  EXPECT_EQ(json::parse(submit.body)["error"]["message"],
            "the role post-editor may not do this (translate)");
  EXPECT_EQ(WithCookie("GET", "/v1/users", token).status, 403);
  EXPECT_EQ(WithCookie("POST", "/v1/tm", token, R"({"name":"x"})").status, 403);

  // Another site's page riding on the cookie.
  test::HttpResponse forged = WithCookie("POST", "/v1/jobs/" + job + "/segments/es/1/confirm",
                                         token, "{}", {{"Origin", "http://evil.example"}});
  EXPECT_EQ(forged.status, 403);
  EXPECT_EQ(json::parse(forged.body)["error"]["message"],
            "Origin http://evil.example is not this site: the session cookie is refused");
  EXPECT_EQ(WithCookie("POST", "/v1/jobs/" + job + "/segments/es/1/confirm", token, "{}",
                       {{"Sec-Fetch-Site", "cross-site"}})
                .status,
            403);

  // Signing out ends the session on the server, not only in the browser.
  test::HttpResponse out = WithCookie("DELETE", "/v1/session", token);
  EXPECT_EQ(out.status, 204);
  EXPECT_EQ(out.Header("set-cookie"),
            "verso_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
  test::HttpResponse after = WithCookie("GET", "/v1/session", token);
  EXPECT_EQ(after.status, 401);
  EXPECT_EQ(json::parse(after.body)["error"]["message"],
            "the session has ended or never began: sign in again");
  EXPECT_EQ(WithCookie("GET", "/v1/jobs/" + job + "/segments", token).status, 401);

  // Behind a proxy that ends TLS the cookie is Secure.
  test::HttpResponse tls = Send("POST", "/v1/session", "",
                                json{{"email", "ana@example.com"}, {"password", kPassword}}.dump(),
                                "application/json", {{"X-Forwarded-Proto", "https"}});
  ASSERT_EQ(tls.status, 200) << tls.body;
  EXPECT_THAT(tls.Header("set-cookie"), HasSubstr("; HttpOnly; SameSite=Strict; Secure; Max-Age="));
  // Sign-ins, refused ones and sign-outs are in the audit log, with the address they came from.
  test::RunResult log = test::Run({VERSO_BINARY, "--data-dir", dir_, "audit", "list"});
  const std::string who = "\"actor\":\"user:" + ana["id"].get<std::string>() + "\"";
  EXPECT_THAT(log.out, HasSubstr("\"actor\":\"anonymous\",\"action\":\"POST /v1/session\""));
  EXPECT_THAT(
      log.out,
      HasSubstr("\"target\":\"email=ana@example.com\",\"detail\":\"refused from 127.0.0.1"));
  EXPECT_THAT(log.out, HasSubstr(who + ",\"action\":\"POST /v1/session\""));
  EXPECT_THAT(log.out, HasSubstr("\"detail\":\"signed in from 127.0.0.1"));
  EXPECT_THAT(log.out, HasSubstr(who + ",\"action\":\"DELETE /v1/session\""));
  EXPECT_THAT(log.out, HasSubstr("\"detail\":\"signed out from 127.0.0.1"));
}

TEST_F(UsersApiTest, ManagersManageUsersAndDisablingEndsSessions) {
  StartWithAdmin();
  AddUser("maria@example.com", "manager");
  const std::string manager = SignIn("maria@example.com");
  ASSERT_FALSE(manager.empty());
  const Headers site = {{"Origin", Origin()}};
  test::HttpResponse created = WithCookie(
      "POST", "/v1/users", manager,
      json{{"email", "ben@example.com"}, {"name", "Ben"}, {"password", kPassword}}.dump(), site);
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string ben_id = json::parse(created.body)["id"];
  EXPECT_EQ(json::parse(created.body)["role"], "post-editor");
  // A manager submits jobs too.
  EXPECT_EQ(
      WithCookie(
          "POST", "/v1/jobs", manager,
          json{{"source_lang", "en"}, {"target_langs", {"es"}}, {"segments", {"Hi."}}}.dump(), site)
          .status,
      202);
  const std::string ben = SignIn("ben@example.com");
  ASSERT_EQ(WithCookie("GET", "/v1/session", ben).status, 200);
  test::HttpResponse duplicate =
      WithCookie("POST", "/v1/users", manager,
                 json{{"email", "BEN@example.com"}, {"password", kPassword}}.dump(), site);
  EXPECT_EQ(duplicate.status, 409);
  test::HttpResponse bad = WithCookie(
      "POST", "/v1/users", manager,
      json{{"email", "carla@example.com"}, {"role", "owner"}, {"password", kPassword}}.dump(),
      site);
  EXPECT_EQ(bad.status, 422);
  EXPECT_EQ(json::parse(bad.body)["error"]["message"],
            "role: unknown role \"owner\" (post-editor, reviewer, manager)");

  test::HttpResponse disabled =
      WithCookie("PATCH", "/v1/users/" + ben_id, manager, R"({"disabled":true})", site);
  ASSERT_EQ(disabled.status, 200) << disabled.body;
  EXPECT_EQ(json::parse(disabled.body)["disabled"], true);
  EXPECT_EQ(WithCookie("GET", "/v1/session", ben).status, 401);
  EXPECT_EQ(SignIn("ben@example.com"), "");
  json listed = json::parse(WithCookie("GET", "/v1/users", manager).body);
  ASSERT_EQ(listed["users"].size(), 2u);
  EXPECT_EQ(listed["users"][0]["email"], "ben@example.com");
  EXPECT_EQ(listed["users"][1]["email"], "maria@example.com");
  // Another tenant's admin sees none of them and changes none.
  const std::string other = test::CreateKey(dir_, "globex", "admin");
  EXPECT_EQ(json::parse(Send("GET", "/v1/users", other).body)["users"].size(), 0u);
  EXPECT_EQ(Send("PATCH", "/v1/users/" + ben_id, other, R"({"disabled":false})").status, 404);
}

TEST_F(UsersApiTest, AssignedRangesAreWhatPostEditorsSeeAndEdit) {
  StartWithAdmin();
  const std::string ana_id = AddUser("ana@example.com", "post-editor")["id"];
  AddUser("ben@example.com", "post-editor");
  const std::string ana = SignIn("ana@example.com"), ben = SignIn("ben@example.com");
  const std::string job = SubmitJob();
  const std::string open_job = SubmitJob();  // never assigned: open to every user
  auto jobs_of = [&](const std::string& cookie) {
    std::vector<std::string> ids;
    const json list = json::parse(WithCookie("GET", "/v1/jobs", cookie).body);
    for (const json& j : list["jobs"]) ids.push_back(j["id"]);
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  std::vector<std::string> both = {job, open_job};
  std::sort(both.begin(), both.end());
  EXPECT_EQ(jobs_of(ben), both);

  test::HttpResponse assigned =
      Send("PUT", "/v1/jobs/" + job + "/assignments", admin_,
           json{{"assignments", {{{"user_id", ana_id}, {"target_lang", "es"}, {"to", 0}}}}}.dump());
  ASSERT_EQ(assigned.status, 200) << assigned.body;
  EXPECT_EQ(json::parse(assigned.body),
            (json{{"assignments",
                   {{{"user_id", ana_id}, {"target_lang", "es"}, {"from", 0}, {"to", 0}}}}}));

  // Ana sees the job and her range only, and edits only that.
  EXPECT_EQ(jobs_of(ana), both);
  json segments = json::parse(WithCookie("GET", "/v1/jobs/" + job + "/segments", ana).body);
  ASSERT_EQ(segments["segments"].size(), 1u);
  EXPECT_EQ(segments["segments"][0]["index"], 0);
  json queue = json::parse(WithCookie("GET", "/v1/post-edits", ana).body);
  int of_job = 0;
  for (const json& x : queue["segments"]) of_job += x["job_id"] == job ? 1 : 0;
  EXPECT_EQ(of_job, 1);
  test::HttpResponse other = WithCookie("POST", "/v1/jobs/" + job + "/segments/es/1/confirm", ana,
                                        R"({"target":"La impresora está lista."})");
  EXPECT_EQ(other.status, 403);
  EXPECT_EQ(json::parse(other.body)["error"]["message"],
            "segment es/1 of job " + job + " is not assigned to you");
  EXPECT_EQ(WithCookie("POST", "/v1/jobs/" + job + "/segments/es/0/confirm", ana,
                       R"({"target":"Cierra la puerta."})")
                .status,
            200);
  // Ben no longer sees the assigned job at all; the open one stays his to edit.
  EXPECT_EQ(jobs_of(ben), std::vector<std::string>{open_job});
  EXPECT_EQ(WithCookie("GET", "/v1/jobs/" + job, ben).status, 404);
  EXPECT_EQ(WithCookie("GET", "/v1/jobs/" + job + "/segments/es/1", ben).status, 404);
  const json bens = json::parse(WithCookie("GET", "/v1/post-edits", ben).body);
  EXPECT_EQ(bens["segments"].size(), 2u);
  for (const json& x : bens["segments"]) EXPECT_EQ(x["job_id"], open_job);
  EXPECT_EQ(WithCookie("POST", "/v1/jobs/" + open_job + "/segments/es/1/confirm", ben,
                       R"({"target":"La impresora está lista."})")
                .status,
            200);
  // The key still reaches every segment.
  EXPECT_EQ(Send("GET", "/v1/jobs/" + job + "/segments/es/1", admin_).status, 200);

  // Bad assignments, each named; a post-editor assigns nothing.
  auto put = [&](const json& entry) {
    test::HttpResponse r = Send("PUT", "/v1/jobs/" + job + "/assignments", admin_,
                                json{{"assignments", {entry}}}.dump());
    EXPECT_EQ(r.status, 422) << r.body;
    return json::parse(r.body)["error"]["message"].get<std::string>();
  };
  EXPECT_EQ(put({{"user_id", ana_id}, {"target_lang", "fr"}}),
            "assignments[0].target_lang: the job has no target fr (es)");
  EXPECT_EQ(put({{"user_id", ana_id}, {"target_lang", "es"}, {"from", 1}, {"to", 5}}),
            "assignments[0]: from 1 to 5 is not a range of the target's segments (0 to 1)");
  EXPECT_EQ(put({{"user_id", "usr_nobody"}, {"target_lang", "es"}}),
            "assignments[0].user_id: no active user usr_nobody in this tenant");
  EXPECT_EQ(
      WithCookie("PUT", "/v1/jobs/" + job + "/assignments", ana, R"({"assignments":[]})").status,
      403);
  // Taking every assignment away opens the job again.
  ASSERT_EQ(Send("PUT", "/v1/jobs/" + job + "/assignments", admin_, R"({"assignments":[]})").status,
            200);
  EXPECT_EQ(jobs_of(ben), both);
}

// A job with a revision step: what post-editors confirm waits for a reviewer, who approves it
// (with a correction, which becomes the translation) or sends it back saying why; the job
// completes when every segment is approved or reviewed.
TEST_F(UsersApiTest, ARevisionStepWaitsForAReviewerWhoApprovesOrSendsBack) {
  StartWithAdmin();
  AddUser("ana@example.com", "post-editor");
  json rita = AddUser("rita@example.com", "reviewer");
  const std::string ana_token = SignIn("ana@example.com");
  const std::string rita_token = SignIn("rita@example.com");
  ASSERT_FALSE(ana_token.empty());
  ASSERT_FALSE(rita_token.empty());
  json me = json::parse(WithCookie("GET", "/v1/session", rita_token).body);
  EXPECT_EQ(me["scopes"], json::array({"jobs:edit", "tm:read", "jobs:review"}));
  const std::string job = SubmitJob(/*revision=*/true);
  const std::string segs = "/v1/jobs/" + job + "/segments/es/";
  auto as = [&](const std::string& token, const std::string& what, int index,
                const std::string& body) {
    return WithCookie("POST", segs + std::to_string(index) + "/" + what, token, body,
                      {{"Origin", Origin()}});
  };
  auto get_job = [&] { return json::parse(Send("GET", "/v1/jobs/" + job, admin_).body); };
  EXPECT_EQ(get_job()["revision"], true);

  ASSERT_EQ(as(ana_token, "confirm", 0, R"({"target":"Cierra la puerta."})").status, 200);
  ASSERT_EQ(as(ana_token, "confirm", 1, R"({"target":"La impresora esta lista."})").status, 200);
  json waiting = get_job();
  EXPECT_EQ(waiting["status"], "post_editing");  // both confirmed, neither reviewed
  EXPECT_EQ(waiting["counts"]["confirmed"], 2);
  EXPECT_EQ(waiting["counts"]["reviewed"], 0);
  EXPECT_EQ(waiting["stages"].back(), (json{{"name", "revision"},
                                            {"state", "running"},
                                            {"done", 0},
                                            {"total", 2},
                                            {"seconds", 0.0}}));
  // A post-editor does not review.
  EXPECT_EQ(as(ana_token, "approve", 0, "{}").status, 403);

  // Sent back: awaiting again, with the reviewer's words for the post-editor.
  test::HttpResponse empty = as(rita_token, "reject", 1, R"({"comment":"  "})");
  EXPECT_EQ(empty.status, 422) << empty.body;
  EXPECT_THAT(empty.body, HasSubstr("comment: say what the post-editor should change"));
  test::HttpResponse rejected =
      as(rita_token, "reject", 1, R"({"comment":"Falta la tilde: está."})");
  ASSERT_EQ(rejected.status, 200) << rejected.body;
  json back = json::parse(rejected.body);
  EXPECT_EQ(back["state"], "awaiting");
  EXPECT_EQ(back["revision"]["verdict"], "rejected");
  EXPECT_EQ(back["revision"]["comment"], "Falta la tilde: está.");
  EXPECT_EQ(back["revision"]["by"], rita["id"]);
  // Only a translation someone settled on is reviewed.
  test::HttpResponse too_soon = as(rita_token, "approve", 1, "{}");
  EXPECT_EQ(too_soon.status, 409) << too_soon.body;
  EXPECT_THAT(too_soon.body, HasSubstr("segment 1 (es) is awaiting"));

  json approved = json::parse(as(rita_token, "approve", 0, "{}").body);
  EXPECT_EQ(approved["state"], "reviewed");
  EXPECT_EQ(approved["revision"]["verdict"], "approved");
  EXPECT_EQ(get_job()["status"], "post_editing");  // segment 1 is still the post-editor's

  ASSERT_EQ(as(ana_token, "confirm", 1, R"({"target":"La impresora está lista"})").status, 200);
  // The reviewer's correction is the translation, and the TM's.
  test::HttpResponse corrected =
      as(rita_token, "approve", 1, R"({"target":"La impresora está lista."})");
  ASSERT_EQ(corrected.status, 200) << corrected.body;
  EXPECT_EQ(json::parse(corrected.body)["target"], "La impresora está lista.");
  json done = get_job();
  EXPECT_EQ(done["status"], "completed");
  EXPECT_EQ(done["counts"]["reviewed"], 2);
  EXPECT_EQ(done["counts"]["confirmed"], 0);
  test::HttpResponse download = Send("GET", "/v1/jobs/" + job + "/download?target=es", admin_);
  EXPECT_EQ(json::parse(download.body)["segments"],
            json::array({"Cierra la puerta.", "La impresora está lista."}));
  // A finished job is not reopened.
  test::HttpResponse late = as(rita_token, "reject", 0, R"({"comment":"again"})");
  EXPECT_EQ(late.status, 409) << late.body;
  EXPECT_THAT(late.body, HasSubstr("has ended (completed)"));
}

TEST_F(UsersApiTest, GuessingPasswordsIsThrottled) {
  StartWithAdmin();
  AddUser("ana@example.com", "reviewer");
  test::HttpResponse r;
  int refused = 0;
  for (int i = 0; i < 5; ++i) {
    SignIn("ana@example.com", "guess number " + std::to_string(i), &r);
    if (r.status == 401) ++refused;
  }
  EXPECT_EQ(refused, 5);
  // The sixth guess at that account waits, whatever the password.
  SignIn("ana@example.com", kPassword, &r);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(json::parse(r.body)["error"]["message"],
            "too many failed sign-ins: wait before trying again");
  EXPECT_FALSE(r.Header("retry-after").empty());
}

TEST_F(UsersApiTest, TheCliAddsUsersWithAPasswordFromStandardInput) {
  StartWithAdmin();
  const std::string verso = std::string(VERSO_BINARY) + " --data-dir '" + dir_ + "' ";
  test::RunResult added =
      Shell("echo '" + std::string(kPassword) + "' | " + verso +
            "users add --tenant default --email lee@example.com --role reviewer --password-stdin "
            "--json");
  ASSERT_EQ(added.exit_code, 0) << added.err;
  json lee = json::parse(added.out);
  EXPECT_EQ(lee["role"], "reviewer");
  EXPECT_FALSE(SignIn("lee@example.com").empty());
  test::RunResult listed = Shell(verso + "users list --tenant default");
  EXPECT_THAT(listed.out, HasSubstr("lee@example.com"));
  EXPECT_THAT(listed.out, HasSubstr("reviewer"));
  test::RunResult short_password = Shell("echo short | " + verso +
                                         "users add --tenant default --email kim@example.com "
                                         "--password-stdin");
  EXPECT_EQ(short_password.exit_code, 1);
  EXPECT_THAT(short_password.err,
              ::testing::EndsWith("verso: error: password: shorter than 10 characters\n"));
  // A made-up password is printed once, on stderr.
  test::RunResult made = Shell(verso + "users add --tenant default --email kim@example.com");
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const size_t at = made.err.find("Password: ");
  ASSERT_NE(at, std::string::npos) << made.err;
  const std::string password = made.err.substr(at + 10, 16);
  EXPECT_FALSE(SignIn("kim@example.com", password).empty());
  // A new password from the CLI ends the sessions.
  const std::string session = SignIn("lee@example.com");
  test::RunResult set = Shell("echo 'another long password' | " + verso + "users set " +
                              lee["id"].get<std::string>() + " --password-stdin");
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_EQ(WithCookie("GET", "/v1/session", session).status, 401);
  EXPECT_FALSE(SignIn("lee@example.com", "another long password").empty());
}

}  // namespace
}  // namespace verso
