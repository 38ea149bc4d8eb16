// verso: the only place where the parts are wired together.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "api/api.h"
#include "auth/auth.h"
#include "cli/cli.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"
#include "ops/ops.h"
#include "storage/storage.h"
#include "tm/tm.h"

namespace verso {
namespace {

constexpr const char* kVersion = "0.2.0";

std::vector<ConfigOption> Schema(bool serving) {
  using T = ConfigType;
  return {
      {.name = "data_dir",
       .type = T::kString,
       .default_value = "./data",
       .help = "Directory of the embedded database"},
      {.name = "log.level",
       .type = T::kChoice,
       .default_value = serving ? "info" : "warn",
       .help = "debug, info, warn, error or off",
       .choices = {"debug", "info", "warn", "error", "off"}},
      {.name = "log.format",
       .type = T::kChoice,
       .default_value = "text",
       .help = "text (logfmt) or json",
       .choices = {"text", "json"}},
      {.name = "log.access",
       .type = T::kBool,
       .default_value = "true",
       .help = "One log line per HTTP request"},
      {.name = "storage.sqlite.synchronous",
       .type = T::kChoice,
       .default_value = "full",
       .help = "full: fsync every commit (survives power loss); normal: survives kill -9 only",
       .choices = {"full", "normal"}},
      {.name = "server.host", .type = T::kString, .default_value = "127.0.0.1"},
      {.name = "server.port", .type = T::kInt, .default_value = "8080", .min = 0, .max = 65535},
      {.name = "server.threads",
       .type = T::kInt,
       .default_value = "0",
       .help = "0: one per core",
       .min = 0,
       .max = 256},
      {.name = "server.max_connections",
       .type = T::kInt,
       .default_value = "10000",
       .min = 1,
       .max = 1000000},
      {.name = "server.max_body_bytes",
       .type = T::kInt,
       .default_value = "10485760",
       .min = 1024,
       .max = 1LL << 32},
      {.name = "server.max_upload_bytes",
       .type = T::kInt,
       .default_value = "4294967296",
       .min = 1024,
       .max = 1LL << 40},
      {.name = "server.header_timeout", .type = T::kDuration, .default_value = "10s"},
      {.name = "server.idle_timeout", .type = T::kDuration, .default_value = "30s"},
      {.name = "server.request_timeout", .type = T::kDuration, .default_value = "60s"},
      {.name = "server.drain_timeout",
       .type = T::kDuration,
       .default_value = "20s",
       .help = "How long shutdown waits for requests in flight"},
      {.name = "rate_limit.rps",
       .type = T::kDouble,
       .default_value = "1000",
       .help = "Requests per second per API key (0: unlimited)"},
      {.name = "rate_limit.burst",
       .type = T::kInt,
       .default_value = "2000",
       .min = 1,
       .max = 100000000},
      {.name = "imports.sync_max_bytes",
       .type = T::kInt,
       .default_value = "1048576",
       .help = "Uploads up to this size import before the response; larger ones in the background",
       .min = 0,
       .max = 1LL << 40},
  };
}

// Everything a command needs, opened on first use.
class Runtime : public cli::Environment {
 public:
  ConfigSources sources;
  bool serving = false;

  absl::Status Open() {
    if (db_) return absl::OkStatus();
    VERSO_ASSIGN_OR_RETURN(config_, Config::Load(Schema(serving), sources));
    VERSO_ASSIGN_OR_RETURN(log::Level level, log::ParseLevel(config_->GetString("log.level")));
    VERSO_ASSIGN_OR_RETURN(log::Format format, log::ParseFormat(config_->GetString("log.format")));
    log::Init(level, format, nullptr, /*async=*/serving);
    const std::string& dir = config_->GetString("data_dir");
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      return absl::UnavailableError(
          StrCat("data_dir ", dir, ": cannot be created: ", ec.message()));
    }
    storage::SqliteOptions options;
    options.synchronous_full = config_->GetString("storage.sqlite.synchronous") == "full";
    VERSO_ASSIGN_OR_RETURN(db_, storage::OpenSqlite(dir + "/verso.db", options));
    ids_ = std::make_unique<IdGenerator>(Clock::Real());
    tm_ = std::make_unique<tm::TmService>(db_.get(), &Clock::Real(), ids_.get());
    keys_ = std::make_unique<auth::KeyService>(&db_->keys(), &Clock::Real(), ids_.get());
    // The server builds every index after it starts listening; the CLI builds one on first use.
    VERSO_RETURN_IF_ERROR(tm_->Load(/*build_indexes=*/false).status());
    return absl::OkStatus();
  }

  absl::StatusOr<tm::TmService*> Tm() override {
    VERSO_RETURN_IF_ERROR(Open());
    return tm_.get();
  }
  absl::StatusOr<auth::KeyService*> Keys() override {
    VERSO_RETURN_IF_ERROR(Open());
    return keys_.get();
  }
  std::ostream& out() override { return std::cout; }
  std::ostream& err() override { return std::cerr; }
  bool stdout_is_tty() const override { return isatty(STDOUT_FILENO); }
  bool stderr_is_tty() const override { return isatty(STDERR_FILENO); }

  // `verso serve`: listens at once (readyz says "loading" until every index is built), resumes
  // interrupted imports, and runs until SIGINT or SIGTERM, then drains and exits 0.
  int Serve() {
    // Block the signals before any thread starts, so that only sigwait below receives them.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    if (absl::Status s = Open(); !s.ok()) {
      std::cerr << "verso: error: " << s.message() << "\n";
      return 1;
    }
    const Config& c = *config_;
    auth::RateLimiter limiter(&Clock::Real(), c.GetDouble("rate_limit.rps"),
                              static_cast<double>(c.GetInt("rate_limit.burst")));
    ops::Registry metrics;
    std::atomic<bool> loaded{false};
    api::ServerOptions options;
    options.host = c.GetString("server.host");
    options.port = static_cast<int>(c.GetInt("server.port"));
    options.threads = static_cast<int>(c.GetInt("server.threads"));
    options.max_connections = static_cast<int>(c.GetInt("server.max_connections"));
    options.max_body_bytes = static_cast<size_t>(c.GetInt("server.max_body_bytes"));
    options.max_upload_bytes = c.GetInt("server.max_upload_bytes");
    options.header_timeout = c.GetDuration("server.header_timeout");
    options.idle_timeout = c.GetDuration("server.idle_timeout");
    options.request_timeout = c.GetDuration("server.request_timeout");
    options.access_log = c.GetBool("log.access");
    api::Services services;
    services.tm = tm_.get();
    services.keys = keys_.get();
    services.limiter = &limiter;
    services.metrics = &metrics;
    services.db = db_.get();
    services.ids = ids_.get();
    services.clock = &Clock::Real();
    services.upload_dir = c.GetString("data_dir") + "/uploads";
    services.sync_import_max_bytes = c.GetInt("imports.sync_max_bytes");
    services.indexes_loaded = [&loaded] { return loaded.load(); };
    // A fresh installation has no way in: give it one admin key, shown once.
    if (auto keys = keys_->List(""); keys.ok() && keys->empty()) {
      auto created = keys_->Create("default", "bootstrap", {"admin"});
      if (created.ok()) {
        std::cout
            << "No API keys yet: created an admin key for tenant \"default\" (shown once):\n  "
            << created->key << "\n";
      }
    }
    auto server = api::Server::Start(options, services);
    if (!server.ok()) {
      std::cerr << "verso: error: " << server.status().message() << "\n";
      return 1;
    }
    std::cout << "verso " << kVersion << " listening on http://" << options.host << ":"
              << (*server)->port() << " (data in " << c.GetString("data_dir") << ")" << std::endl;
    std::thread loader([&] {
      auto stats = tm_->Load(/*build_indexes=*/true);
      if (!stats.ok()) {
        log::Error("tm.load", {{"error", stats.status().message()}});
        return;
      }
      loaded = true;
      log::Info("tm.loaded", {{"stores", stats->stores},
                              {"segments", stats->segments},
                              {"ms", absl::ToInt64Milliseconds(stats->elapsed)}});
      absl::Status resumed = tm_->ResumeImports();
      if (!resumed.ok()) log::Error("tm.import.resume", {{"error", resumed.message()}});
    });
    int sig = 0;
    sigwait(&signals, &sig);
    log::Info("shutdown", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
    (*server)->Shutdown(c.GetDuration("server.drain_timeout"));
    loader.join();
    tm_->StopImports();  // unfinished imports roll back and resume at the next start
    server->reset();
    tm_.reset();
    db_.reset();  // closes SQLite: every acknowledged write is already in the log on disk
    log::Info("stopped");
    log::Flush();
    return 0;
  }

 private:
  std::optional<Config> config_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<IdGenerator> ids_;
  std::unique_ptr<tm::TmService> tm_;
  std::unique_ptr<auth::KeyService> keys_;
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
  bool serve = false;
  std::string listen;
  auto* serve_cmd = app.add_subcommand("serve", "Run the HTTP API server (verso's main job)");
  serve_cmd->add_option("--listen", listen, "host:port (default 127.0.0.1:8080; port 0: any)");
  serve_cmd->callback([&] { serve = true; });
  cli::AddTmCommands(&app, &runtime, &exit_code);
  cli::AddKeyCommands(&app, &runtime, &exit_code);
  app.add_subcommand("version", "Print the version")->callback([] {
    std::cout << "verso " << kVersion << "\n";
  });
  app.parse_complete_callback([&] {
    runtime.serving = serve_cmd->parsed();
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
    if (!listen.empty()) {
      size_t colon = listen.rfind(':');
      if (colon == std::string::npos) {
        throw CLI::ValidationError("--listen", "expected host:port, got " + listen);
      }
      flags.emplace_back("server.host", listen.substr(0, colon));
      flags.emplace_back("server.port", listen.substr(colon + 1));
    }
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (serve) return runtime.Serve();
  return exit_code;
}

}  // namespace
}  // namespace verso

int main(int argc, char** argv) { return verso::Main(argc, argv); }
