// `verso notice set|clear|show`: the operators' notice (a region failover's "Temporary latency
// increase expected") changed while verso runs. It is stored in the database (the cluster
// setting degradation.notice), which every `verso serve` reads every few seconds; once set it
// overrides the degradation.notice option. An operator's command, not an API route: a tenant's
// key must not change what every other tenant is told.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "cli/cli.h"
#include "common/status.h"
#include "common/strings.h"
#include "storage/storage.h"
#include "text/text.h"

namespace verso::cli {
namespace {

constexpr size_t kMaxNotice = 200;  // it goes into every translate response's notes

void Fail(Environment* env, int* exit_code, const absl::Status& s) {
  env->err() << "verso: error: " << s.message() << "\n";
  *exit_code = 1;
}

absl::Status CheckNotice(const std::string& notice) {
  size_t bad = 0;
  if (!text::IsValidUtf8(notice, &bad)) {
    return absl::InvalidArgumentError(StrCat("the notice is not valid UTF-8 (byte ", bad, ")"));
  }
  for (unsigned char c : notice) {
    if (c < 0x20 || c == 0x7F) {
      return absl::InvalidArgumentError("the notice holds a control character (a line break?)");
    }
  }
  if (text::CodePointCount(notice) > kMaxNotice) {
    return absl::InvalidArgumentError(
        StrCat("the notice is longer than ", kMaxNotice, " characters"));
  }
  return absl::OkStatus();
}

// Stores `notice` ("" clears it) and records who did.
void Put(Environment* env, int* exit_code, const std::string& notice) {
  auto db = env->Db();
  if (!db.ok()) return Fail(env, exit_code, db.status());
  if (absl::Status s = (*db)->cluster().PutSetting(kNoticeSetting, notice); !s.ok()) {
    return Fail(env, exit_code, s);
  }
  if (absl::Status s = env->Audit("", notice.empty() ? "notice clear" : "notice set", notice);
      !s.ok()) {
    return Fail(env, exit_code, s);
  }
  env->out() << (notice.empty() ? "Notice cleared" : StrCat("Notice set: ", notice))
             << "; every verso serve shows it within 5 s\n";
}

}  // namespace

void AddNoticeCommands(CLI::App* app, Environment* env, int* exit_code) {
  CLI::App* notice = app->add_subcommand(
      "notice", "The notice every client is shown (/v1/status, translate notes), while verso runs");
  notice->require_subcommand(1);
  auto* set = notice->add_subcommand("set", "Show MESSAGE to every client");
  auto message = std::make_shared<std::string>();
  set->add_option("message", *message, "e.g. \"Temporary latency increase expected\"")->required();
  set->callback([=] {
    if (message->empty()) {
      return Fail(
          env, exit_code,
          absl::InvalidArgumentError("the notice is empty: `verso notice clear` clears it"));
    }
    if (absl::Status s = CheckNotice(*message); !s.ok()) return Fail(env, exit_code, s);
    Put(env, exit_code, *message);
  });
  notice->add_subcommand("clear", "Show no notice")->callback([=] { Put(env, exit_code, ""); });
  notice->add_subcommand("show", "Print the stored notice")->callback([=] {
    auto db = env->Db();
    if (!db.ok()) return Fail(env, exit_code, db.status());
    auto stored = (*db)->cluster().GetSetting(kNoticeSetting);
    if (!stored.ok()) return Fail(env, exit_code, stored.status());
    if (!stored->has_value()) {
      env->out() << "No notice stored (the degradation.notice option applies)\n";
    } else if ((*stored)->empty()) {
      env->out() << "No notice (cleared)\n";
    } else {
      env->out() << **stored << "\n";
    }
  });
}

}  // namespace verso::cli
