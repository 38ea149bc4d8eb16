// The command-line interface: `verso tm ...`. main.cc builds the CLI::App, provides an
// Environment (configuration, storage, services, opened only when a command runs) and calls
// AddTmCommands.
#ifndef VERSO_CLI_CLI_H_
#define VERSO_CLI_CLI_H_

#include <iosfwd>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace CLI {
class App;
}  // namespace CLI

namespace verso::tm {
class TmService;
}  // namespace verso::tm

namespace verso::auth {
class KeyService;
}  // namespace verso::auth

namespace verso::storage {
class AuditRepository;
class Database;
class ShardedTm;
}  // namespace verso::storage

namespace verso::cli {

class Environment {
 public:
  virtual ~Environment() = default;
  // Open storage and the services on first call.
  virtual absl::StatusOr<tm::TmService*> Tm() = 0;
  virtual absl::StatusOr<auth::KeyService*> Keys() = 0;
  // The TM shards (FailedPrecondition when TM data is in one database).
  virtual absl::StatusOr<storage::ShardedTm*> TmShards() = 0;
  // The database (opened on first call), and the SQLite file storage.url names (not opened;
  // FailedPrecondition for PostgreSQL).
  virtual absl::StatusOr<storage::Database*> Db() = 0;
  virtual absl::StatusOr<std::string> SqlitePath() = 0;
  // The pgBackRest command for the PostgreSQL database (storage.pgbackrest.command and
  // --stanza=storage.pgbackrest.stanza); FailedPrecondition on SQLite or without a stanza.
  virtual absl::StatusOr<std::vector<std::string>> PgBackRest() = 0;
  // Where TM nodes keep their index snapshots (tm.snapshot_dir; default data_dir/snapshots).
  virtual absl::StatusOr<std::string> TmSnapshotDir() = 0;
  // The audit log (the database opened on first call).
  virtual absl::StatusOr<storage::AuditRepository*> AuditLog() = 0;
  // Records a change the command made in the audit log (actor: "cli:" and the login name).
  virtual absl::Status Audit(std::string_view tenant, std::string_view action,
                             std::string_view target) = 0;
  virtual std::ostream& out() = 0;
  virtual std::ostream& err() = 0;
  // True when stdout/stderr are terminals (colour, progress bars).
  virtual bool stdout_is_tty() const = 0;
  virtual bool stderr_is_tty() const = 0;
};

// Who runs the command: the login name when it is a plain name ($USER, $LOGNAME), else "cli"
// (tm_commands.cc). What desktop CAT tools record as a segment's creator, and the audit log's
// actor ("cli:NAME").
std::string DefaultUser();

// Registers `tm create|list|delete|add|import|export|lookup|concordance|stats|shards|move-store`. A
// command that fails prints "verso: error: <message>" and sets *exit_code to 1.
void AddTmCommands(CLI::App* app, Environment* env, int* exit_code);
// Registers `shards` and `move-store` under `tm` (tm_shard_commands.cc).
void AddTmShardCommands(CLI::App* tm, Environment* env, int* exit_code);
// Registers `keys create|list|revoke`.
void AddKeyCommands(CLI::App* app, Environment* env, int* exit_code);
// Registers `users add|list|set` (user_commands.cc): workbench users; passwords from stdin.
void AddUserCommands(CLI::App* app, Environment* env, int* exit_code);
// Registers `qe eval|features` (quality estimation against human scores; no storage).
void AddQeCommands(CLI::App* app, Environment* env, int* exit_code);
// `verso backup DEST`, `verso restore SRC`, `verso verify [--against FILE]`
// (backup_commands.cc).
void AddBackupCommands(CLI::App* app, Environment* env, int* exit_code);
// `verso notice set|clear|show` (notice_commands.cc): the stored operators' notice.
inline constexpr char kNoticeSetting[] = "degradation.notice";
void AddNoticeCommands(CLI::App* app, Environment* env, int* exit_code);
// `verso audit verify|list` (audit_commands.cc).
void AddAuditCommands(CLI::App* app, Environment* env, int* exit_code);
// `verso autoscale plan` (ops/autoscale.h).
void AddAutoscaleCommands(CLI::App* app, Environment* env, int* exit_code);

}  // namespace verso::cli

#endif  // VERSO_CLI_CLI_H_
