// Workbench users over HTTP: signing in and out (a session cookie) and the tenant's users,
// managed by its admin keys and managers. Handlers parse, validate, call the user service, map
// the status, serialize.
#include <nlohmann/json.hpp>

#include "api/http.h"
#include "auth/users.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"

namespace verso::api {
namespace {

struct UserRoutes {
  auth::UserService* users;
  const Clock* clock;
  // Failed sign-ins, per client address and per account: guessing passwords is slow.
  std::unique_ptr<auth::RateLimiter> by_address;
  std::unique_ptr<auth::RateLimiter> by_account;
  storage::AuditRepository* audit;  // sign-ins and sign-outs (null without a database)
};

// Behind a proxy that ends TLS (it says so in X-Forwarded-Proto) the cookie is Secure: the
// browser never sends it over plain HTTP. A client claiming https only keeps its own session
// off plain HTTP.
bool OverTls(const Request& req) {
  return AsciiLower(StripAsciiWhitespace(req.Header("x-forwarded-proto"))) == "https";
}

std::string Cookie(std::string_view token, absl::Duration max_age, bool secure) {
  // HttpOnly: no script reads it; SameSite=Strict: no other site's page sends it.
  return StrCat(kSessionCookie, "=", token, "; Path=/; HttpOnly; SameSite=Strict; ",
                secure ? "Secure; " : "",
                "Max-Age=", absl::ToInt64Seconds(absl::Ceil(max_age, absl::Seconds(1))));
}

// A sign-in (made or refused) or sign-out in the audit log: who, from where.
void AuditSession(const UserRoutes& c, const Request& req, const std::string& tenant,
                  const std::string& actor, const std::string& target, const std::string& detail) {
  if (c.audit == nullptr) return;
  storage::AuditRecord r;
  r.at = c.clock->Now();
  r.tenant = tenant;
  r.actor = actor;
  r.action = StrCat(req.method, " /v1/session");
  r.target = target;
  r.detail = StrCat(detail, " from ", req.remote);
  r.request_id = req.request_id;
  if (absl::Status s = c.audit->AppendAudit({std::move(r)}); !s.ok()) {
    log::Error("audit.append", {{"route", "/v1/session"},
                                {"request_id", req.request_id},
                                {"error", std::string(s.message())}});
  }
}

absl::StatusOr<Response> SignIn(const UserRoutes& c, Request& req) {
  VERSO_ASSIGN_OR_RETURN(Json body, ParseObject(req.body));
  Fields f(body);
  std::string tenant = "default", email, password;
  f.String("tenant", &tenant);
  f.String("email", &email, true);
  f.String("password", &password, true);
  VERSO_RETURN_IF_ERROR(f.Finish());
  const std::string account = StrCat(tenant, "/", Abbreviate(email, 300));
  absl::Duration retry;
  if (!c.by_address->WouldAllow(req.remote, &retry) || !c.by_account->WouldAllow(account, &retry)) {
    return RetryLater("rate_limited", "too many failed sign-ins: wait before trying again", retry);
  }
  absl::StatusOr<auth::SignedIn> in = c.users->SignIn(tenant, email, password);
  if (absl::IsUnauthenticated(in.status())) {
    absl::Duration ignored;
    c.by_address->Allow(req.remote, &ignored);
    c.by_account->Allow(account, &ignored);
    // The address the refusal names is the one typed (bounded, and only into the log).
    AuditSession(c, req, tenant, "anonymous", StrCat("email=", Abbreviate(email, 120)), "refused");
  }
  if (!in.ok()) return in.status();
  AuditSession(c, req, tenant, StrCat("user:", in->user.id), StrCat("user=", in->user.id),
               "signed in");
  Response res = JsonResponse(
      200, Json{{"user", UserJson(in->user)}, {"expires_at", Rfc3339(in->expires_at)}});
  res.headers.emplace_back("Set-Cookie",
                           Cookie(in->token, in->expires_at - c.clock->Now(), OverTls(req)));
  res.headers.emplace_back("Cache-Control", "no-store");
  return res;
}

absl::StatusOr<Response> SignOut(const UserRoutes& c, Request& req) {
  const std::string token = SessionCookie(req);
  // Whose session it was (the route takes no credential: an ended one signs out too).
  absl::StatusOr<auth::Principal> who = c.users->Authenticate(token);
  VERSO_RETURN_IF_ERROR(c.users->SignOut(token));
  if (who.ok()) {
    AuditSession(c, req, who->tenant, who->Actor(), StrCat("user=", who->user_id), "signed out");
  }
  Response res;
  res.status = 204;
  res.content_type.clear();
  res.headers.emplace_back("Set-Cookie", Cookie("", absl::ZeroDuration(), OverTls(req)));
  return res;
}

absl::StatusOr<Response> WhoAmI(const UserRoutes& c, Request& req) {
  const auth::Principal& p = req.principal;
  Json out{{"tenant", p.tenant}, {"scopes", p.scopes}};
  if (!p.user_id.empty()) {
    VERSO_ASSIGN_OR_RETURN(storage::UserRecord u, c.users->Get(p.tenant, p.user_id));
    out["user"] = UserJson(u);
  } else {
    out["key_id"] = p.key_id;
  }
  return JsonResponse(200, out);
}

absl::StatusOr<Response> CreateUser(const UserRoutes& c, Request& req) {
  VERSO_ASSIGN_OR_RETURN(Json body, ParseObject(req.body));
  Fields f(body);
  std::string email, name, role = "post-editor", password;
  f.String("email", &email, true);
  f.String("name", &name);
  f.String("role", &role);
  f.String("password", &password, true);
  VERSO_RETURN_IF_ERROR(f.Finish());
  VERSO_ASSIGN_OR_RETURN(auth::Role r, auth::ParseRole(role));
  VERSO_ASSIGN_OR_RETURN(storage::UserRecord u,
                         c.users->Create(req.principal.tenant, email, name, r, password));
  return JsonResponse(201, UserJson(u));
}

absl::StatusOr<Response> ListUsers(const UserRoutes& c, Request& req) {
  VERSO_ASSIGN_OR_RETURN(Page page, ReadPage(req, 100));
  VERSO_ASSIGN_OR_RETURN(std::vector<storage::UserRecord> users,
                         c.users->List(req.principal.tenant));
  Json next;
  Json items = Json::array();
  for (const storage::UserRecord* u : PageOf(
           users, page, [](const storage::UserRecord& u) { return u.email; }, &next)) {
    items.push_back(UserJson(*u));
  }
  return JsonResponse(200, Json{{"users", items}, {"next_cursor", next}});
}

absl::StatusOr<Response> UpdateUser(const UserRoutes& c, Request& req) {
  VERSO_ASSIGN_OR_RETURN(Json body, ParseObject(req.body));
  Fields f(body);
  auth::UserChange change;
  std::string name, role, password;
  bool disabled = false;
  if (f.String("name", &name) && body.contains("name")) change.name = name;
  if (f.String("role", &role) && body.contains("role")) {
    VERSO_ASSIGN_OR_RETURN(change.role, auth::ParseRole(role));
  }
  if (f.String("password", &password) && body.contains("password")) change.password = password;
  if (f.Bool("disabled", &disabled) && body.contains("disabled")) change.disabled = disabled;
  VERSO_RETURN_IF_ERROR(f.Finish());
  VERSO_ASSIGN_OR_RETURN(storage::UserRecord u,
                         c.users->Update(req.principal.tenant, req.params.at("id"), change));
  return JsonResponse(200, UserJson(u));
}

}  // namespace

std::string SessionCookie(const Request& req) {
  std::string_view cookies = req.Header("cookie");
  for (std::string_view part : Split(cookies, ';')) {
    part = StripAsciiWhitespace(part);
    const size_t eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == kSessionCookie) {
      return std::string(part.substr(eq + 1));
    }
  }
  return "";
}

void AddUserRoutes(Router* router, const Services& s) {
  if (s.users == nullptr) return;
  auto c = std::make_shared<const UserRoutes>(
      UserRoutes{s.users, s.clock, std::make_unique<auth::RateLimiter>(s.clock, 0.5, 10),
                 std::make_unique<auth::RateLimiter>(s.clock, 1.0 / 12, 5),
                 s.db == nullptr ? nullptr : &s.db->audit()});
  const std::vector<std::string> json = {"application/json"};
  const std::string users = std::string(auth::kScopeUsers);
  using B = Route::Body;
  // clang-format off
  const std::vector<Route> routes = {
    {.method = "POST",   .pattern = "/v1/session", .body = B::kJson, .content_types = json, .handler = Bind(c, SignIn), .audited = false},
    {.method = "DELETE", .pattern = "/v1/session", .handler = Bind(c, SignOut), .audited = false},
    {.method = "GET",    .pattern = "/v1/session", .scope = std::string(auth::kScopeJobsEdit), .handler = Bind(c, WhoAmI)},
    {.method = "POST",   .pattern = "/v1/users", .scope = users, .body = B::kJson, .content_types = json, .handler = Bind(c, CreateUser)},
    {.method = "GET",    .pattern = "/v1/users", .scope = users, .handler = Bind(c, ListUsers), .query = {"limit", "cursor"}},
    {.method = "PATCH",  .pattern = "/v1/users/{id}", .scope = users, .body = B::kJson, .content_types = json, .handler = Bind(c, UpdateUser)},
  };
  // clang-format on
  for (const Route& r : routes) router->Add(r);
}

}  // namespace verso::api
