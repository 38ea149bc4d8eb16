// `verso audit verify` and `verso audit list`: the hash-chained audit log (storage.h).
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "absl/time/time.h"
#include "cli/cli.h"
#include "common/status.h"
#include "common/strings.h"
#include "storage/storage.h"

namespace verso::cli {
namespace {

using json = nlohmann::ordered_json;

void Fail(Environment* env, int* exit_code, const absl::Status& s) {
  env->err() << "verso: error: " << s.message() << "\n";
  *exit_code = 1;
}

// `verso audit verify [--head SEQ:HASH]`: checks every record's hash and link; with the head an
// earlier check printed, also that the log still reaches it (records removed from the end).
void AddVerifyCommand(CLI::App* audit, Environment* env, int* exit_code) {
  auto* cmd = audit->add_subcommand("verify", "Check that no audit record was changed or removed");
  auto head = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("--head", *head,
                  "SEQ:HASH an earlier `verso audit verify` printed: the log must still reach it");
  cmd->add_flag("--json", *as_json, "Print JSON");
  cmd->callback([=] {
    int64_t expect_seq = 0;
    std::string expect_hash;
    if (!head->empty()) {
      const size_t colon = head->find(':');
      if (colon == std::string::npos || !ParseInt64(head->substr(0, colon), &expect_seq) ||
          head->size() - colon - 1 != 64) {
        return Fail(env, exit_code,
                    absl::InvalidArgumentError(StrCat("--head: expected SEQ:HASH (a number, a "
                                                      "colon and 64 hex digits), got \"",
                                                      head->substr(0, 80), "\"")));
      }
      expect_hash = head->substr(colon + 1);
    }
    auto log = env->AuditLog();
    if (!log.ok()) return Fail(env, exit_code, log.status());
    auto check = storage::VerifyAudit(**log);
    if (!check.ok()) return Fail(env, exit_code, check.status());
    absl::Status problem = check->problem;
    if (problem.ok() && expect_seq > 0) {
      if (check->head_seq < expect_seq) {
        problem = absl::DataLossError(StrCat("the audit log ends at record ", check->head_seq,
                                             " but reached record ", expect_seq,
                                             " before: records were removed from its end"));
      } else {
        // The record at expect_seq must still carry the hash printed then.
        auto at = (*log)->ReadAudit(expect_seq - 1, 1);
        if (at.ok() && !at->empty() && (*at)[0].seq == expect_seq && (*at)[0].hash != expect_hash) {
          problem = absl::DataLossError(
              StrCat("audit record ", expect_seq, " is not the one the earlier head named"));
        }
      }
    }
    if (*as_json) {
      env->out() << json{{"ok", problem.ok()},
                         {"records", check->records},
                         {"first", check->first_seq},
                         {"head", StrCat(check->head_seq, ":", check->head)},
                         {"problem", problem.ok() ? "" : std::string(problem.message())}}
                        .dump(2)
                 << "\n";
    } else if (problem.ok()) {
      env->out() << "audit log intact: " << check->records << " records from " << check->first_seq
                 << "; head " << check->head_seq << ":" << check->head << "\n";
    }
    if (!problem.ok()) Fail(env, exit_code, problem);
  });
}

// `verso audit list [--after SEQ] [--limit N]`: the records, oldest first, one JSON per line.
void AddListCommand(CLI::App* audit, Environment* env, int* exit_code) {
  auto* cmd = audit->add_subcommand("list", "Print audit records as JSON lines, oldest first");
  auto after = std::make_shared<int64_t>(0);
  auto limit = std::make_shared<int>(100);
  cmd->add_option("--after", *after, "Records after this seq (default: from the start)");
  cmd->add_option("--limit", *limit, "At most this many (1..10000, default 100)")
      ->check(CLI::Range(1, 10000));
  cmd->callback([=] {
    auto log = env->AuditLog();
    if (!log.ok()) return Fail(env, exit_code, log.status());
    auto records = (*log)->ReadAudit(*after, *limit);
    if (!records.ok()) return Fail(env, exit_code, records.status());
    for (const storage::AuditRecord& r : *records) {
      env->out() << json{{"seq", r.seq},
                         {"at", absl::FormatTime(absl::RFC3339_full, r.at, absl::UTCTimeZone())},
                         {"tenant", r.tenant},
                         {"actor", r.actor},
                         {"action", r.action},
                         {"target", r.target},
                         {"detail", r.detail},
                         {"request_id", r.request_id},
                         {"hash", r.hash}}
                        // A path parameter a client sent may be any bytes: never a throw.
                        .dump(-1, ' ', false, json::error_handler_t::replace)
                 << "\n";
    }
  });
}

}  // namespace

void AddAuditCommands(CLI::App* app, Environment* env, int* exit_code) {
  CLI::App* audit = app->add_subcommand("audit", "The audit log: who changed what, hash-chained");
  audit->require_subcommand(1);
  AddVerifyCommand(audit, env, exit_code);
  AddListCommand(audit, env, exit_code);
}

}  // namespace verso::cli
