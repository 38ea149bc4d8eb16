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
#include <optional>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/cli.h"
#include "common/status.h"
#include "common/strings.h"
#include "common/subprocess.h"
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

// A time a restore goes back to: RFC 3339 ("2026-12-05T06:33:21Z", "...+01:00", fractions of a
// second allowed; a space may stand for the T).
absl::StatusOr<absl::Time> ParseRestoreTime(const std::string& text) {
  absl::Time t;
  std::string err;
  for (const char* format : {"%Y-%m-%d%ET%H:%M:%E*S%Ez", "%Y-%m-%d %H:%M:%E*S%Ez"}) {
    if (absl::ParseTime(format, text, &t, &err)) return t;
  }
  return absl::InvalidArgumentError(
      StrCat("--to: \"", text,
             "\" is not a time such as 2026-12-05T06:33:21Z (RFC 3339, with "
             "its zone)"));
}

// Runs pgBackRest (`base` from the Environment, then `args`); its warnings and errors come back
// in the status.
absl::StatusOr<std::string> RunPgBackRest(std::vector<std::string> argv,
                                          std::vector<std::string> args, absl::Duration timeout) {
  argv.insert(argv.end(), {"--log-level-console=warn", "--log-level-stderr=off"});
  argv.insert(argv.end(), args.begin(), args.end());
  VERSO_ASSIGN_OR_RETURN(auto child, Subprocess::Start(argv));
  std::string out;
  absl::Status s = child->RunToEnd("", absl::Now() + timeout, &out);
  if (!s.ok()) {
    return absl::UnavailableError(StrCat("pgbackrest ", args.back(), ": ", s.message(),
                                         out.empty() ? "" : ": ", StripAsciiWhitespace(out)));
  }
  return out;
}

// The newest backup pgBackRest lists for the stanza: "LABEL (TYPE, SIZE in the repository)".
std::string NewestBackup(const std::vector<std::string>& pgbackrest) {
  auto info = RunPgBackRest(pgbackrest, {"--output=json", "info"}, absl::Minutes(1));
  if (!info.ok()) return "";
  json j = json::parse(*info, nullptr, false);
  if (!j.is_array() || j.empty() || !j[0].contains("backup") || !j[0]["backup"].is_array() ||
      j[0]["backup"].empty()) {
    return "";
  }
  const json& b = j[0]["backup"].back();
  const int64_t repo = b.value("/info/repository/delta"_json_pointer, int64_t{0});
  return StrCat(b.value("label", "?"), " (", b.value("type", "?"), ", ", repo / 1024,
                " KiB in the repository)");
}

void BackupPostgres(Environment* env, int* exit_code, const std::vector<std::string>& pgbackrest,
                    const std::string& type) {
  const absl::Time start = absl::Now();
  auto out = RunPgBackRest(pgbackrest, {StrCat("--type=", type), "backup"}, absl::Hours(24));
  if (!out.ok()) return Fail(env, exit_code, out.status());
  env->out() << "Backed up with pgBackRest in " << absl::FormatDuration(absl::Now() - start) << ": "
             << NewestBackup(pgbackrest) << "; the WAL archive covers every change since\n";
}

// `verso backup DIR --keep N` (storage.h: KeepNewestBackups).
void KeepNewest(Environment* env, int* exit_code, const std::string& dir, int keep) {
  auto path = env->SqlitePath();
  if (!path.ok()) return Fail(env, exit_code, path.status());
  auto r = storage::KeepNewestBackups(dir, storage::DefaultChangeLog(*path), keep);
  if (!r.ok()) return Fail(env, exit_code, r.status());
  env->out() << "Kept the newest " << r->kept << " backups in " << dir << " (removed " << r->removed
             << (r->foreign > 0 ? StrCat("; left ", r->foreign, " of other databases") : "")
             << "); removed " << r->log.files << " change log files ("
             << (r->log.bytes + 1023) / 1024 << " KiB) and " << r->log.set_aside
             << " logs set aside by restores that no kept backup needs\n";
}

void AddBackupCommand(CLI::App* app, Environment* env, int* exit_code) {
  auto* cmd = app->add_subcommand(
      "backup",
      "SQLite: copy the database, consistently while verso serves, with its checksums; "
      "PostgreSQL: a pgBackRest backup (storage.pgbackrest.stanza)");
  auto dest = std::make_shared<std::string>();
  auto type = std::make_shared<std::string>("full");
  auto keep = std::make_shared<int>(0);
  cmd->add_option("dest", *dest, "SQLite: a new file, or a directory to put verso-TIME.db in");
  cmd->add_option("--type", *type, "PostgreSQL: pgBackRest's backup type")
      ->check(CLI::IsMember({"full", "diff", "incr"}));
  cmd->add_option("--keep", *keep,
                  "SQLite, DEST a directory: keep its newest N backups, remove older ones and the "
                  "change log that no kept backup needs")
      ->check(CLI::Range(1, 100000));
  cmd->callback([=] {
    if (auto pg = env->PgBackRest(); pg.ok()) return BackupPostgres(env, exit_code, *pg, *type);
    if (auto path = env->SqlitePath(); !path.ok()) {
      return Fail(env, exit_code, env->PgBackRest().status());
    }
    if (dest->empty()) {
      return Fail(env, exit_code,
                  absl::InvalidArgumentError("DEST is required: a new file or a directory"));
    }
    std::string file = *dest;
    std::error_code ec;
    if (*keep > 0 && !std::filesystem::is_directory(file, ec)) {
      return Fail(env, exit_code,
                  absl::InvalidArgumentError(
                      StrCat("--keep: ", file, " is not a directory of backups (verso-TIME.db)")));
    }
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
    if (*keep > 0) KeepNewest(env, exit_code, *dest, *keep);
  });
}

void PrintReplay(Environment* env, const storage::RestoreReport& r, absl::Time to) {
  auto time = [](absl::Time t) {
    return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
  };
  env->out() << "Applied " << r.applied << " transactions of the change log"
             << (r.applied > 0 ? StrCat(", the last committed at ", time(r.last_applied)) : "")
             << "; "
             << (r.first_left == absl::InfiniteFuture()
                     ? StrCat("the log holds nothing later than ", time(to))
                     : StrCat("left out those from ", time(r.first_left), " on"))
             << ". Take a new backup: the restored database starts a new change log\n";
}

// TM index snapshots describe the database as it was before a restore: no TM node may load one.
void ForgetSnapshots(Environment* env) {
  auto dir = env->TmSnapshotDir();
  if (!dir.ok()) return;
  std::error_code ec;
  int removed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(*dir, ec)) {
    if (entry.path().extension() == ".snap" && std::filesystem::remove(entry.path(), ec)) {
      ++removed;
    }
  }
  if (removed > 0) {
    env->out() << "Removed " << removed << " TM index snapshots from " << *dir
               << " (they describe the database before the restore)\n";
  }
}

// pgBackRest restores into the (stopped) PostgreSQL's data directory; PostgreSQL replays the WAL
// archive up to `to` when it starts, then promotes and accepts writes.
void RestorePostgres(Environment* env, int* exit_code, const std::vector<std::string>& pgbackrest,
                     const std::string& set, const std::optional<absl::Time>& to) {
  std::vector<std::string> args = {"--delta"};
  if (!set.empty()) args.push_back(StrCat("--set=", set));
  if (to.has_value()) {
    args.insert(
        args.end(),
        {"--type=time",
         StrCat("--target=", absl::FormatTime("%Y-%m-%d %H:%M:%E6S+00", *to, absl::UTCTimeZone())),
         "--target-action=promote"});
  }
  args.push_back("restore");
  const absl::Time start = absl::Now();
  auto out = RunPgBackRest(pgbackrest, args, absl::Hours(24));
  if (!out.ok() && absl::StrContains(out.status().message(), "unable to find backup set")) {
    return Fail(env, exit_code,
                absl::FailedPreconditionError(StrCat(
                    out.status().message(),
                    " (no backup ended before that time; pgBackRest keeps a backup's end in "
                    "whole seconds: give a time after it, or name an older backup as SRC)")));
  }
  if (!out.ok()) return Fail(env, exit_code, out.status());
  ForgetSnapshots(env);
  env->out() << "Restored with pgBackRest in " << absl::FormatDuration(absl::Now() - start)
             << (set.empty() ? "" : StrCat(" from ", set)) << "; start PostgreSQL: it replays "
             << (to.has_value() ? StrCat("the WAL archive up to ", absl::FormatTime(*to))
                                : std::string("the whole WAL archive"))
             << ", then accepts writes\n";
}

void AddRestoreCommand(CLI::App* app, Environment* env, int* exit_code) {
  auto* cmd = app->add_subcommand(
      "restore",
      "SQLite: replace the database with a backup (verso must be stopped); PostgreSQL: "
      "pgBackRest restores the data directory (PostgreSQL must be stopped)");
  auto src = std::make_shared<std::string>();
  auto to = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  cmd->add_option("src", *src,
                  "SQLite: a file `verso backup` made; PostgreSQL: a pgBackRest backup label "
                  "(default: the newest that reaches --to)");
  cmd->add_option("--to", *to,
                  "Recover to this time (RFC 3339, e.g. 2026-12-05T06:33:21Z): changes after it "
                  "are left out");
  cmd->add_flag("--force", *force, "SQLite: replace an existing database");
  cmd->callback([=] {
    std::optional<absl::Time> until;
    if (!to->empty()) {
      auto t = ParseRestoreTime(*to);
      if (!t.ok()) return Fail(env, exit_code, t.status());
      until = *t;
    }
    if (auto pg = env->PgBackRest(); pg.ok()) {
      return RestorePostgres(env, exit_code, *pg, *src, until);
    }
    auto path = env->SqlitePath();
    if (!path.ok()) return Fail(env, exit_code, env->PgBackRest().status());
    if (src->empty()) {
      return Fail(env, exit_code,
                  absl::InvalidArgumentError("SRC is required: a file `verso backup` made"));
    }
    std::error_code ec;
    if (std::filesystem::exists(*path, ec) && !*force) {
      return Fail(env, exit_code,
                  absl::AlreadyExistsError(StrCat(*path,
                                                  " exists: stop verso, then restore with "
                                                  "--force to replace it")));
    }
    const absl::Time start = absl::Now();
    auto report = storage::RestoreSqlite(
        *src, *path, {.to = until, .change_log = storage::DefaultChangeLog(*path)});
    if (!report.ok()) return Fail(env, exit_code, report.status());
    env->out() << "Restored " << *src << " into " << *path << " in "
               << absl::FormatDuration(absl::Now() - start) << "\n";
    if (until.has_value()) PrintReplay(env, *report, *until);
    ForgetSnapshots(env);
    // Checksums describe the backup itself: they match only when nothing was applied after it.
    const std::string manifest = *src + ".manifest";
    if (report->applied > 0 || !std::filesystem::exists(manifest, ec)) return;
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
