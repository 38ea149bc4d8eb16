#include <CLI/CLI.hpp>

#include <iomanip>
#include <iostream>
#include <memory>

#include "api/json.h"
#include "auth/auth.h"
#include "cli/cli.h"
#include "common/json.h"
#include "common/status.h"
#include "common/strings.h"

namespace verso::cli {
namespace {

void Run(Environment* env, int* exit_code,
         const std::function<absl::Status(auth::KeyService&)>& body) {
  auto keys = env->Keys();
  absl::Status s = keys.ok() ? body(**keys) : keys.status();
  if (!s.ok()) {
    env->err() << "verso: error: " << s.message() << "\n";
    *exit_code = 1;
  }
}

}  // namespace

void AddKeyCommands(CLI::App* app, Environment* env, int* exit_code) {
  CLI::App* keys = app->add_subcommand("keys", "API keys of tenants (admin)");
  keys->require_subcommand(1);

  {
    auto* cmd = keys->add_subcommand("create", "Create an API key; it is shown once");
    auto tenant = std::make_shared<std::string>();
    auto scopes = std::make_shared<std::string>();
    auto name = std::make_shared<std::string>();
    auto as_json = std::make_shared<bool>(false);
    cmd->add_option("--tenant", *tenant, "Tenant the key acts for")->required();
    cmd->add_option("--scopes", *scopes, "Comma-separated: admin, translate, tm:read, tm:write")
        ->required();
    cmd->add_option("--name", *name, "What the key is for");
    cmd->add_flag("--json", *as_json, "Print JSON");
    cmd->callback([=] {
      Run(env, exit_code, [&](auth::KeyService& k) -> absl::Status {
        auto parsed = auth::ParseScopes(*scopes);
        if (!parsed.ok()) return parsed.status();
        auto created = k.Create(*tenant, *name, *parsed);
        if (!created.ok()) return created.status();
        VERSO_RETURN_IF_ERROR(env->Audit(
            created->record.tenant, "keys create",
            StrCat("id=", created->record.id, " scopes=", Join(created->record.scopes, ","))));
        if (*as_json) {
          api::Json j = api::KeyJson(created->record);
          j["key"] = created->key;
          env->out() << DumpJson(j, 2) << "\n";
        } else {
          env->out() << created->key << "\n";
          env->err() << "Created key " << created->record.id << " for tenant "
                     << created->record.tenant << " (" << Join(created->record.scopes, ", ")
                     << "). Store it now: it is not shown again.\n";
        }
        return absl::OkStatus();
      });
    });
  }

  {
    auto* cmd = keys->add_subcommand("list", "List API keys (never the keys themselves)");
    auto tenant = std::make_shared<std::string>();
    auto as_json = std::make_shared<bool>(false);
    cmd->add_option("--tenant", *tenant, "Only this tenant's keys");
    cmd->add_flag("--json", *as_json, "Print JSON");
    cmd->callback([=] {
      Run(env, exit_code, [&](auth::KeyService& k) -> absl::Status {
        auto list = k.List(*tenant);
        if (!list.ok()) return list.status();
        if (*as_json) {
          api::Json arr = api::Json::array();
          for (const auto& key : *list) arr.push_back(api::KeyJson(key));
          env->out() << DumpJson(arr, 2) << "\n";
          return absl::OkStatus();
        }
        env->out() << std::left << std::setw(32) << "ID" << std::setw(14) << "TENANT"
                   << std::setw(15) << "PREFIX" << std::setw(26) << "SCOPES"
                   << "STATE\n";
        for (const auto& key : *list) {
          env->out() << std::setw(32) << key.id << std::setw(14) << key.tenant << std::setw(15)
                     << key.prefix << std::setw(26) << Join(key.scopes, ",")
                     << (key.revoked() ? "revoked" : "active") << "\n";
        }
        return absl::OkStatus();
      });
    });
  }

  {
    auto* cmd = keys->add_subcommand("revoke", "Revoke an API key");
    auto id = std::make_shared<std::string>();
    auto as_json = std::make_shared<bool>(false);
    cmd->add_option("id", *id, "Key id (key_...)")->required();
    cmd->add_flag("--json", *as_json, "Print JSON");
    cmd->callback([=] {
      Run(env, exit_code, [&](auth::KeyService& k) -> absl::Status {
        absl::Status s = k.Revoke(*id);
        if (!s.ok()) return s;
        VERSO_RETURN_IF_ERROR(env->Audit("", "keys revoke", StrCat("id=", *id)));
        if (*as_json) {
          env->out() << DumpJson(nlohmann::json{{"id", *id}, {"revoked", true}}) << "\n";
        } else {
          env->out() << "Revoked " << *id << "\n";
        }
        return s;
      });
    });
  }
}

}  // namespace verso::cli
