// verso: the only place where the parts are wired together.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/cli.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"
#include "storage/storage.h"
#include "tm/tm.h"

namespace verso {
namespace {

constexpr const char* kVersion = "0.1.0";

std::vector<ConfigOption> Schema() {
  return {
      {.name = "data_dir",
       .type = ConfigType::kString,
       .default_value = "./data",
       .help = "Directory of the embedded database"},
      {.name = "log.level",
       .type = ConfigType::kChoice,
       .default_value = "warn",
       .help = "debug, info, warn, error or off",
       .choices = {"debug", "info", "warn", "error", "off"}},
      {.name = "log.format",
       .type = ConfigType::kChoice,
       .default_value = "text",
       .help = "text (logfmt) or json",
       .choices = {"text", "json"}},
      {.name = "storage.sqlite.synchronous",
       .type = ConfigType::kChoice,
       .default_value = "full",
       .help = "full: fsync every commit (survives power loss); normal: survives kill -9 only",
       .choices = {"full", "normal"}},
  };
}

// Everything a command needs, opened on first use.
class Runtime : public cli::Environment {
 public:
  ConfigSources sources;

  absl::StatusOr<tm::TmService*> Tm() override {
    if (tm_) return tm_.get();
    VERSO_ASSIGN_OR_RETURN(Config config, Config::Load(Schema(), sources));
    VERSO_ASSIGN_OR_RETURN(log::Level level, log::ParseLevel(config.GetString("log.level")));
    VERSO_ASSIGN_OR_RETURN(log::Format format, log::ParseFormat(config.GetString("log.format")));
    log::Init(level, format);
    const std::string& dir = config.GetString("data_dir");
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      return absl::UnavailableError(
          StrCat("data_dir ", dir, ": cannot be created: ", ec.message()));
    }
    storage::SqliteOptions options;
    options.synchronous_full = config.GetString("storage.sqlite.synchronous") == "full";
    VERSO_ASSIGN_OR_RETURN(db_, storage::OpenSqlite(dir + "/verso.db", options));
    ids_ = std::make_unique<IdGenerator>(Clock::Real());
    tm_ = std::make_unique<tm::TmService>(db_.get(), &Clock::Real(), ids_.get());
    VERSO_RETURN_IF_ERROR(tm_->Load(/*build_indexes=*/false).status());
    return tm_.get();
  }
  std::ostream& out() override { return std::cout; }
  std::ostream& err() override { return std::cerr; }
  bool stdout_is_tty() const override { return isatty(STDOUT_FILENO); }
  bool stderr_is_tty() const override { return isatty(STDERR_FILENO); }

 private:
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<IdGenerator> ids_;
  std::unique_ptr<tm::TmService> tm_;
};

int Main(int argc, char** argv) {
  CLI::App app{"verso: translation memory, machine translation and post-editing"};
  app.require_subcommand(1);
  Runtime runtime;
  std::string config_file, data_dir, log_level, log_format;
  std::vector<std::string> sets;
  app.add_option("--config", config_file, "YAML configuration file (also VERSO_CONFIG)");
  app.add_option("--data-dir", data_dir, "Directory of the embedded database (default ./data)");
  app.add_option("--log-level", log_level, "debug, info, warn, error or off");
  app.add_option("--log-format", log_format, "text or json");
  app.add_option("--set", sets, "Set any option: --set key=value (repeatable)");
  int exit_code = 0;
  cli::AddTmCommands(&app, &runtime, &exit_code);
  app.add_subcommand("version", "Print the version")->callback([] {
    std::cout << "verso " << kVersion << "\n";
  });
  app.parse_complete_callback([&] {
    runtime.sources.env = ProcessEnvironment();
    runtime.sources.yaml_path = config_file;
    if (config_file.empty()) {
      for (const auto& [k, v] : runtime.sources.env) {
        if (k == Config::kConfigFileEnv) runtime.sources.yaml_path = v;
      }
    }
    auto& flags = runtime.sources.flags;
    for (const std::string& kv : sets) {
      size_t eq = kv.find('=');
      if (eq == std::string::npos) throw CLI::ValidationError("--set", "expected key=value: " + kv);
      flags.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
    if (!data_dir.empty()) flags.emplace_back("data_dir", data_dir);
    if (!log_level.empty()) flags.emplace_back("log.level", log_level);
    if (!log_format.empty()) flags.emplace_back("log.format", log_format);
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}

}  // namespace
}  // namespace verso

int main(int argc, char** argv) { return verso::Main(argc, argv); }
