// `verso backup`, `verso restore`, `verso verify`: consistent copies of an SQLite database
// taken while it serves, restores that check the copy first, and checksums of every TM store,
// glossary and job to compare a database with a backup (storage.h: Backup, RestoreSqlite,
// Checksums).
#include <CLI/CLI.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "absl/time/clock.h"
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

std::string Line(const storage::DataChecksum& c) {
  return json{{"kind", c.kind}, {"id", c.id}, {"count", c.count}, {"sha256", c.sha256}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

absl::Status WriteManifest(const std::string& path,
                           const std::vector<storage::DataChecksum>& sums) {
  std::ofstream out(path, std::ios::trunc);
  for (const auto& c : sums) out << Line(c) << "\n";
  out.flush();
  if (!out) return absl::UnavailableError(StrCat(path, ": cannot be written"));
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::pair<std::string, std::string>, storage::DataChecksum>> ReadManifest(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(StrCat(path, ": cannot be read"));
  std::map<std::pair<std::string, std::string>, storage::DataChecksum> out;
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    json j = json::parse(line, nullptr, false);
    if (!j.is_object() || !j["kind"].is_string() || !j["id"].is_string() ||
        !j["count"].is_number_integer() || !j["sha256"].is_string()) {
      return absl::InvalidArgumentError(
          StrCat(path, ": line ", n, ": not a checksum line of `verso verify`"));
    }
    storage::DataChecksum c{j["kind"], j["id"], j["count"].get<int64_t>(), j["sha256"]};
    out[{c.kind, c.id}] = c;
  }
  return out;
}

// The differences between `now` and the manifest's checksums, a line each.
std::vector<std::string> Compare(
    const std::vector<storage::DataChecksum>& now,
    std::map<std::pair<std::string, std::string>, storage::DataChecksum> then) {
  std::vector<std::string> out;
  for (const auto& c : now) {
    auto it = then.find({c.kind, c.id});
    if (it == then.end()) {
      out.push_back(StrCat(c.kind, " ", c.id, ": not in the backup"));
      continue;
    }
    if (it->second.sha256 != c.sha256) {
      out.push_back(StrCat(c.kind, " ", c.id, ": differs (", c.count, " items now, ",
                           it->second.count, " in the backup)"));
    }
    then.erase(it);
  }
  for (const auto& [key, c] : then) {
    out.push_back(StrCat(c.kind, " ", c.id, ": in the backup only (", c.count, " items)"));
  }
  return out;
}

void AddBackupCommand(CLI::App* app, Environment* env, int* exit_code) {
  auto* cmd = app->add_subcommand(
      "backup", "Copy the SQLite database, consistently while verso serves, with its checksums");
  auto dest = std::make_shared<std::string>();
  cmd->add_option("dest", *dest, "A new file, or a directory to put verso-TIME.db in")->required();
  cmd->callback([=] {
    std::string file = *dest;
    std::error_code ec;
    if (std::filesystem::is_directory(file, ec)) {
      file = StrCat(file, "/verso-",
                    absl::FormatTime("%Y%m%dT%H%M%SZ", absl::Now(), absl::UTCTimeZone()), ".db");
    }
    if (std::filesystem::exists(file, ec)) {
      return Fail(env, exit_code,
                  absl::AlreadyExistsError(StrCat(file, " exists: a backup goes to a new file")));
    }
    auto db = env->Db();
    if (!db.ok()) return Fail(env, exit_code, db.status());
    const absl::Time start = absl::Now();
    if (absl::Status s = (*db)->Backup(file); !s.ok()) return Fail(env, exit_code, s);
    const absl::Duration copied = absl::Now() - start;
    // The checksums of the copy itself (not of the live database, which moved on).
    auto copy = storage::OpenSqlite(file, storage::SqliteOptions{});
    if (!copy.ok()) return Fail(env, exit_code, copy.status());
    auto sums = storage::Checksums(**copy);
    if (!sums.ok()) return Fail(env, exit_code, sums.status());
    if (absl::Status s = WriteManifest(file + ".manifest", *sums); !s.ok()) {
      return Fail(env, exit_code, s);
    }
    std::map<std::string, int> kinds;
    for (const auto& c : *sums) ++kinds[c.kind];
    env->out() << "Backed up to " << file << " in " << absl::FormatDuration(copied) << " ("
               << std::filesystem::file_size(file, ec) / 1024 << " KiB): " << kinds["tm"]
               << " TM stores, " << kinds["glossary"] << " glossaries, " << kinds["job"]
               << " jobs; checksums in " << file << ".manifest\n";
  });
}

void AddRestoreCommand(CLI::App* app, Environment* env, int* exit_code) {
  auto* cmd = app->add_subcommand(
      "restore", "Replace the SQLite database with a backup (verso must be stopped)");
  auto src = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  cmd->add_option("src", *src, "A file `verso backup` made")->required();
  cmd->add_flag("--force", *force, "Replace an existing database");
  cmd->callback([=] {
    auto path = env->SqlitePath();
    if (!path.ok()) return Fail(env, exit_code, path.status());
    std::error_code ec;
    if (std::filesystem::exists(*path, ec) && !*force) {
      return Fail(env, exit_code,
                  absl::AlreadyExistsError(StrCat(*path,
                                                  " exists: stop verso, then restore with "
                                                  "--force to replace it")));
    }
    const absl::Time start = absl::Now();
    if (absl::Status s = storage::RestoreSqlite(*src, *path); !s.ok()) {
      return Fail(env, exit_code, s);
    }
    env->out() << "Restored " << *src << " into " << *path << " in "
               << absl::FormatDuration(absl::Now() - start) << "\n";
    const std::string manifest = *src + ".manifest";
    if (!std::filesystem::exists(manifest, ec)) return;
    auto then = ReadManifest(manifest);
    auto db = env->Db();
    if (!then.ok() || !db.ok())
      return Fail(env, exit_code, then.ok() ? db.status() : then.status());
    auto now = storage::Checksums(**db);
    if (!now.ok()) return Fail(env, exit_code, now.status());
    std::vector<std::string> diff = Compare(*now, *then);
    for (const std::string& d : diff) env->err() << d << "\n";
    if (!diff.empty()) {
      return Fail(env, exit_code,
                  absl::DataLossError(StrCat("the restored database differs from the backup's "
                                             "checksums in ",
                                             diff.size(), " places")));
    }
    env->out() << "Verified: " << now->size() << " TM stores, glossaries and jobs match "
               << manifest << "\n";
  });
}

void AddVerifyCommand(CLI::App* app, Environment* env, int* exit_code) {
  auto* cmd = app->add_subcommand(
      "verify", "Checksums of every TM store, glossary and job; the audit log's chain");
  auto against = std::make_shared<std::string>();
  cmd->add_option("--against", *against,
                  "A backup's .manifest: print what differs (exit 1 if anything does)");
  cmd->callback([=] {
    auto db = env->Db();
    if (!db.ok()) return Fail(env, exit_code, db.status());
    auto sums = storage::Checksums(**db);
    if (!sums.ok()) return Fail(env, exit_code, sums.status());
    auto audit = storage::VerifyAudit((*db)->audit());
    if (!audit.ok()) return Fail(env, exit_code, audit.status());
    if (against->empty()) {
      for (const auto& c : *sums) env->out() << Line(c) << "\n";
    } else {
      auto then = ReadManifest(*against);
      if (!then.ok()) return Fail(env, exit_code, then.status());
      std::vector<std::string> diff = Compare(*sums, *then);
      for (const std::string& d : diff) env->out() << d << "\n";
      if (diff.empty()) {
        env->out() << "identical to " << *against << ": " << sums->size()
                   << " TM stores, glossaries and jobs\n";
      } else {
        Fail(env, exit_code,
             absl::DataLossError(StrCat(diff.size(), " differences from ", *against)));
      }
    }
    if (!audit->problem.ok()) return Fail(env, exit_code, audit->problem);
    env->err() << "audit log intact: " << audit->records << " records; head " << audit->head_seq
               << ":" << audit->head << "\n";
  });
}

}  // namespace

void AddBackupCommands(CLI::App* app, Environment* env, int* exit_code) {
  AddBackupCommand(app, env, exit_code);
  AddRestoreCommand(app, env, exit_code);
  AddVerifyCommand(app, env, exit_code);
}

}  // namespace verso::cli
