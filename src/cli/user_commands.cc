// `verso users add|list|set`: workbench users of a tenant, from the operator's shell. Passwords
// are read from standard input (never from the command line, where `ps` and the shell's history
// would show them).
#include <CLI/CLI.hpp>

#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "api/json.h"
#include "auth/users.h"
#include "cli/cli.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/ids.h"
#include "common/json.h"
#include "common/status.h"
#include "common/strings.h"
#include "storage/storage.h"

namespace verso::cli {
namespace {

void Run(Environment* env, int* exit_code,
         const std::function<absl::Status(auth::UserService&)>& body) {
  absl::StatusOr<storage::Database*> db = env->Db();
  absl::Status s = db.status();
  if (db.ok()) {
    IdGenerator ids(Clock::Real());
    auth::UserService users(&(*db)->users(), &Clock::Real(), &ids);
    s = body(users);
  }
  if (!s.ok()) {
    env->err() << "verso: error: " << s.message() << "\n";
    *exit_code = 1;
  }
}

// The first line of standard input, without its line end.
absl::StatusOr<std::string> ReadPassword() {
  std::string line;
  if (!std::getline(std::cin, line)) {
    return absl::InvalidArgumentError("password: none on standard input (--password-stdin)");
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

void Print(Environment* env, const storage::UserRecord& u, bool as_json) {
  if (as_json) {
    env->out() << DumpJson(api::UserJson(u)) << "\n";
  } else {
    env->out() << u.id << "  " << u.email << "  " << u.role << (u.disabled() ? "  disabled" : "")
               << "\n";
  }
}

void AddAdd(CLI::App* users, Environment* env, int* exit_code) {
  auto* cmd = users->add_subcommand("add", "Add a user who signs in to the workbench");
  auto tenant = std::make_shared<std::string>();
  auto email = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  auto role = std::make_shared<std::string>("post-editor");
  auto stdin_password = std::make_shared<bool>(false);
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("--tenant", *tenant, "The user's tenant")->required();
  cmd->add_option("--email", *email, "Their sign-in name")->required();
  cmd->add_option("--name", *name, "The name others see (default: the email's local part)");
  cmd->add_option("--role", *role, "post-editor (default), reviewer or manager");
  cmd->add_flag("--password-stdin", *stdin_password,
                "Read the password from standard input (else one is made and printed once)");
  cmd->add_flag("--json", *as_json, "Print JSON");
  cmd->callback([=] {
    Run(env, exit_code, [&](auth::UserService& service) -> absl::Status {
      VERSO_ASSIGN_OR_RETURN(auth::Role r, auth::ParseRole(*role));
      std::string password;
      if (*stdin_password) {
        VERSO_ASSIGN_OR_RETURN(password, ReadPassword());
      } else {
        password = RandomToken(10);  // 16 base32 characters, 80 bits
      }
      VERSO_ASSIGN_OR_RETURN(storage::UserRecord u,
                             service.Create(*tenant, *email, *name, r, password));
      VERSO_RETURN_IF_ERROR(
          env->Audit(u.tenant, "users add", StrCat("id=", u.id, " role=", u.role)));
      Print(env, u, *as_json);
      if (!*stdin_password) {
        env->err() << "Password: " << password
                   << "\n(shown once; the user changes it with verso users set --password-stdin "
                      "or a manager does)\n";
      }
      return absl::OkStatus();
    });
  });
}

void AddList(CLI::App* users, Environment* env, int* exit_code) {
  auto* cmd = users->add_subcommand("list", "List users (never their passwords)");
  auto tenant = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("--tenant", *tenant, "Only this tenant's users");
  cmd->add_flag("--json", *as_json, "Print JSON lines");
  cmd->callback([=] {
    Run(env, exit_code, [&](auth::UserService& service) -> absl::Status {
      VERSO_ASSIGN_OR_RETURN(std::vector<storage::UserRecord> list, service.List(*tenant));
      if (!*as_json) {
        env->out() << std::left << std::setw(32) << "ID" << std::setw(14) << "TENANT"
                   << std::setw(32) << "EMAIL" << std::setw(13) << "ROLE"
                   << "STATE\n";
      }
      for (const auto& u : list) {
        if (*as_json) {
          env->out() << DumpJson(api::UserJson(u)) << "\n";
          continue;
        }
        env->out() << std::setw(32) << u.id << std::setw(14) << u.tenant << std::setw(32) << u.email
                   << std::setw(13) << u.role << (u.disabled() ? "disabled" : "active") << "\n";
      }
      return absl::OkStatus();
    });
  });
}

void AddSet(CLI::App* users, Environment* env, int* exit_code) {
  auto* cmd = users->add_subcommand(
      "set", "Change a user's name, role or password, or disable them (ends their sessions)");
  auto id = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  auto role = std::make_shared<std::string>();
  auto stdin_password = std::make_shared<bool>(false);
  auto disable = std::make_shared<bool>(false);
  auto enable = std::make_shared<bool>(false);
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("id", *id, "User id (usr_...)")->required();
  cmd->add_option("--name", *name, "A new name");
  cmd->add_option("--role", *role, "post-editor, reviewer or manager");
  cmd->add_flag("--password-stdin", *stdin_password, "Read a new password from standard input");
  cmd->add_flag("--disable", *disable, "Stop the user signing in; ends their sessions");
  cmd->add_flag("--enable", *enable, "Let a disabled user sign in again");
  cmd->add_flag("--json", *as_json, "Print JSON");
  cmd->callback([=] {
    Run(env, exit_code, [&](auth::UserService& service) -> absl::Status {
      if (*disable && *enable) {
        return absl::InvalidArgumentError("--disable and --enable: give one");
      }
      auth::UserChange change;
      if (!name->empty()) change.name = *name;
      if (!role->empty()) {
        VERSO_ASSIGN_OR_RETURN(change.role, auth::ParseRole(*role));
      }
      if (*stdin_password) {
        VERSO_ASSIGN_OR_RETURN(change.password, ReadPassword());
      }
      if (*disable || *enable) change.disabled = *disable;
      VERSO_ASSIGN_OR_RETURN(storage::UserRecord u, service.Update("", *id, change));
      VERSO_RETURN_IF_ERROR(
          env->Audit(u.tenant, "users set",
                     StrCat("id=", u.id, change.role ? StrCat(" role=", u.role) : "",
                            change.password ? " password" : "",
                            change.disabled ? (*change.disabled ? " disabled" : " enabled") : "")));
      Print(env, u, *as_json);
      return absl::OkStatus();
    });
  });
}

}  // namespace

void AddUserCommands(CLI::App* app, Environment* env, int* exit_code) {
  CLI::App* users = app->add_subcommand("users", "Workbench users of tenants (admin)");
  users->require_subcommand(1);
  AddAdd(users, env, exit_code);
  AddList(users, env, exit_code);
  AddSet(users, env, exit_code);
}

}  // namespace verso::cli
