// `verso tm shards` and `verso tm move-store`: TM data in several PostgreSQL databases
// (storage/sharded_tm.h).
#include <CLI/CLI.hpp>

#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "absl/time/time.h"
#include "cli/cli.h"
#include "common/json.h"
#include "common/status.h"
#include "common/strings.h"
#include "storage/sharded_tm.h"

namespace verso::cli {
namespace {

using json = nlohmann::ordered_json;

void Fail(Environment* env, int* exit_code, const absl::Status& s) {
  env->err() << "verso: error: " << s.message() << "\n";
  *exit_code = 1;
}

// `verso tm shards`: each shard and how many stores it holds.
void AddShardsCommand(CLI::App* tm, Environment* env, int* exit_code) {
  auto* cmd = tm->add_subcommand("shards", "List the TM shards and the stores each holds");
  auto as_json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *as_json, "Print JSON instead of text");
  cmd->callback([=] {
    auto shards = env->TmShards();
    if (!shards.ok()) return Fail(env, exit_code, shards.status());
    auto stores = (*shards)->tm().ListStores("");
    if (!stores.ok()) return Fail(env, exit_code, stores.status());
    std::map<std::string, int64_t> counts;
    for (const std::string& name : (*shards)->ShardNames()) counts[name] = 0;
    for (const auto& s : *stores) ++counts[s.shard];
    if (*as_json) {
      json arr = json::array();
      for (const std::string& name : (*shards)->ShardNames()) {
        arr.push_back({{"shard", name}, {"stores", counts[name]}});
      }
      env->out() << arr.dump(2) << "\n";
      return;
    }
    env->out() << std::left << std::setw(20) << "SHARD"
               << "STORES\n";
    for (const std::string& name : (*shards)->ShardNames()) {
      env->out() << std::setw(20) << name << counts[name] << "\n";
    }
  });
}

// `verso tm move-store STORE --to SHARD`: moves a store online (writes wait only while the last
// changes are copied).
void AddMoveStoreCommand(CLI::App* tm, Environment* env, int* exit_code) {
  auto* cmd = tm->add_subcommand(
      "move-store", "Move a TM store to another TM shard while it is used (no write is lost)");
  struct Args {
    std::string store, to, grace = "5s";
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("store", args->store, "Store id")->required();
  cmd->add_option("--to", args->to, "The shard to move it to (see `verso tm shards`)")->required();
  cmd->add_option("--grace", args->grace,
                  "How long the source keeps the moved segments for processes that have not "
                  "read the move yet (default 5s)");
  cmd->add_flag("--json", args->json, "Print JSON instead of text");
  cmd->callback([=] {
    storage::MoveOptions options;
    if (!absl::ParseDuration(args->grace, &options.grace) || options.grace < absl::ZeroDuration()) {
      return Fail(env, exit_code,
                  absl::InvalidArgumentError(StrCat(
                      "--grace: expected a duration such as 5s, got \"", args->grace, "\"")));
    }
    auto shards = env->TmShards();
    if (!shards.ok()) return Fail(env, exit_code, shards.status());
    if (!args->json) {
      options.progress = [env](std::string_view line) { env->err() << line << std::endl; };
    }
    auto report = (*shards)->MoveStore(args->store, args->to, options);
    if (!report.ok()) return Fail(env, exit_code, report.status());
    if (absl::Status a =
            env->Audit("", "tm move-store",
                       StrCat("store=", args->store, " from=", report->from, " to=", report->to));
        !a.ok()) {
      return Fail(env, exit_code, a);
    }
    if (args->json) {
      env->out() << json{{"store", args->store},
                         {"from", report->from},
                         {"to", report->to},
                         {"copied", report->copied},
                         {"copied_again", report->replayed},
                         {"catch_up_rounds", report->rounds},
                         {"usage_rows", report->usage},
                         {"writes_waited_ms", absl::ToDoubleMilliseconds(report->frozen)},
                         {"seconds", absl::ToDoubleSeconds(report->total)}}
                        .dump(2)
                 << "\n";
      return;
    }
    env->out() << "Moved TM store " << args->store << " from " << report->from << " to "
               << report->to << ": " << report->copied << " segments copied, " << report->replayed
               << " copied again; writes waited " << absl::FormatDuration(report->frozen) << "\n";
  });
}

}  // namespace

void AddTmShardCommands(CLI::App* tm, Environment* env, int* exit_code) {
  AddShardsCommand(tm, env, exit_code);
  AddMoveStoreCommand(tm, env, exit_code);
}

}  // namespace verso::cli
