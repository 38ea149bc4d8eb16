// verso: the only place where the parts are wired together.
#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "api/api.h"
#include "auth/auth.h"
#include "auth/users.h"
#include "cache/redis.h"
#include "cli/cli.h"
#include "cluster/cluster.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/crypto.h"
#include "common/file.h"
#include "common/ids.h"
#include "common/json.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "common/version.h"
#include "jobs/jobs.h"
#include "live/live.h"
#include "mt/mt.h"
#include "mt/translate.h"
#include "ops/ops.h"
#include "qe/qe.h"
#include "resilience/resilience.h"
#include "storage/sharded_tm.h"
#include "storage/storage.h"
#include "terms/terms.h"
#include "tm/placement.h"
#include "tm/tm.h"

namespace verso {
namespace {

// The external engines: their options (mt.NAME.enabled, base_url, model) and how each is made.
// The configuration schema and BuildMt both read this table.
struct Provider {
  const char* name;
  const char* key_name;  // the secret's variable
  bool key_enables;      // enabled=auto: on when the key is set (always when the base URL is)
  bool has_model;
  absl::StatusOr<std::unique_ptr<mt::Engine>> (*make)(mt::ProviderOptions);
};

template <std::unique_ptr<mt::Engine> (*New)(mt::ProviderOptions)>
absl::StatusOr<std::unique_ptr<mt::Engine>> Always(mt::ProviderOptions o) {
  return New(std::move(o));
}

constexpr Provider kProviders[] = {
    {"openai", "OPENAI_API_KEY", true, true, Always<mt::NewOpenAiEngine>},
    {"anthropic", "ANTHROPIC_API_KEY", true, true, Always<mt::NewAnthropicEngine>},
    {"gemini", "GEMINI_API_KEY", true, true, Always<mt::NewGeminiEngine>},
    {"deepl", "DEEPL_AUTH_KEY", true, false, mt::NewDeepLEngine},
    {"libretranslate", "LIBRETRANSLATE_API_KEY", false, false, mt::NewLibreTranslateEngine},
    {"apy", "APY_API_KEY", false, false, mt::NewApyEngine},
};

std::vector<ConfigOption> ProviderOptions() {
  std::vector<ConfigOption> out;
  for (const Provider& p : kProviders) {
    const std::string prefix = StrCat("mt.", p.name, ".");
    out.push_back({.name = prefix + "enabled",
                   .type = ConfigType::kChoice,
                   .default_value = "auto",
                   .help = p.key_enables ? StrCat("auto (on when ", p.key_name,
                                                  " or the base_url is set), on or off")
                                         : "auto (on when the base_url is set), on or off",
                   .choices = {"auto", "on", "off"}});
    out.push_back({.name = prefix + "base_url", .type = ConfigType::kString, .default_value = ""});
    if (p.has_model) {
      out.push_back({.name = prefix + "model", .type = ConfigType::kString, .default_value = ""});
    }
  }
  return out;
}

// Options every command reads.
std::vector<ConfigOption> GeneralOptions(bool serving) {
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
      {.name = "storage.url",
       .type = T::kString,
       .default_value = "",
       .help = "sqlite:PATH or postgresql://user:password@host:port/db (default: sqlite: in "
               "data_dir)"},
      {.name = "storage.postgres.connections",
       .type = T::kInt,
       .default_value = "16",
       .help = "PostgreSQL connections per process, at most",
       .min = 1,
       .max = 1000},
      {.name = "redis.url",
       .type = T::kString,
       .default_value = "",
       .help = "redis://[:password@]host[:port][/db]: the L2 cache and rate limits shared by every "
               "process (none: each process on its own)"},
      {.name = "tm.cache_bytes",
       .type = T::kInt,
       .default_value = "33554432",
       .help = "Memory for cached TM lookup results in each serve/worker process (L1; with "
               "redis.url also in Redis). 0: results are not cached",
       .min = 0},
      {.name = "glossaries.revalidate",
       .type = T::kDuration,
       .default_value = "1s",
       .help = "How long a process uses a glossary's term index before it reads the glossary's "
               "version again (another process's change; with redis.url changes arrive at once)"},
      {.name = "redis.timeout",
       .type = T::kDuration,
       .default_value = "100ms",
       .help = "A Redis call slower than this counts as a failure (the cache is then bypassed)"},
      {.name = "storage.postgres.replicas",
       .type = T::kString,
       .default_value = "",
       .help = "Streaming replicas' URLs, comma-separated: reads that tolerate lag go there"},
      {.name = "audit.retention",
       .type = T::kDuration,
       .default_value = "61368h",
       .help = "Audit records older than this are pruned (the spec's backup table: 7 years); the "
               "log's chain then starts at the oldest record kept"},
      {.name = "storage.tm_shards",
       .type = T::kString,
       .default_value = "",
       .help = "More PostgreSQL databases for TM data, as NAME=URL pairs separated by commas: "
               "new stores are placed over them and the home database (shard \"main\") by the "
               "TM nodes' hash; `verso tm move-store` moves one. Every process names the same"},
      {.name = "storage.replica_lag.tm",
       .type = T::kDuration,
       .default_value = "1s",
       .help = "TM records and stores are read from a replica at most this far behind"},
      {.name = "storage.replica_lag.jobs",
       .type = T::kDuration,
       .default_value = "5s",
       .help = "Job status is read from a replica at most this far behind"},
      {.name = "storage.replica_lag.keys",
       .type = T::kDuration,
       .default_value = "1s",
       .help = "API keys are looked up on a replica at most this far behind"},
      {.name = "storage.replica_lag.eject",
       .type = T::kDuration,
       .default_value = "30s",
       .help = "A replica further behind leaves the rotation until it catches up"},
      {.name = "storage.pgbackrest.stanza",
       .type = T::kString,
       .default_value = "",
       .help = "PostgreSQL: the pgBackRest stanza that archives this database's WAL; `verso "
               "backup` and `verso restore --to TIME` run pgBackRest with it"},
      {.name = "storage.pgbackrest.command",
       .type = T::kString,
       .default_value = "pgbackrest",
       .help = "How to run pgBackRest, words separated by spaces (e.g. \"runuser -u postgres -- "
               "pgbackrest --config=/etc/pgbackrest/verso.conf\")"},
      {.name = "storage.sqlite.change_log",
       .type = T::kBool,
       .default_value = "true",
       .help = "Record every committed transaction in PATH-changes/ beside the database, so that "
               "`verso restore BACKUP --to TIME` recovers to any time after the backup"},
      {.name = "storage.sqlite.synchronous",
       .type = T::kChoice,
       .default_value = "full",
       .help = "full: fsync every commit (survives power loss); normal: survives kill -9 only",
       .choices = {"full", "normal"}},
  };
}

// `verso serve`: the HTTP server and its limits.
std::vector<ConfigOption> ServerOptions() {
  using T = ConfigType;
  return {
      {.name = "server.host", .type = T::kString, .default_value = "127.0.0.1"},
      {.name = "server.port", .type = T::kInt, .default_value = "8080", .min = 0, .max = 65535},
      {.name = "server.threads",
       .type = T::kInt,
       .default_value = "0",
       .help = "0: one per core",
       .min = 0,
       .max = 256},
      {.name = "server.waiting_threads",
       .type = T::kInt,
       .default_value = "32",
       .help = "Translate requests in progress at once (they wait on engines); more queue",
       .min = 1,
       .max = 4096},
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
      {.name = "server.min_upload_rate",
       .type = T::kInt,
       .default_value = "16384",
       .help = "Bytes per second an upload must average after server.upload_grace, or it is cut",
       .min = 1,
       .max = 1LL << 40},
      {.name = "server.upload_grace", .type = T::kDuration, .default_value = "10s"},
      {.name = "server.storage_threads",
       .type = T::kInt,
       .default_value = "8",
       .help = "Threads for requests that read or write storage",
       .min = 1,
       .max = 1024},
      {.name = "server.long_threads",
       .type = T::kInt,
       .default_value = "4",
       .help = "Threads for uploads, exports and submissions",
       .min = 1,
       .max = 1024},
      {.name = "server.tenant_long_requests",
       .type = T::kInt,
       .default_value = "2",
       .help = "Uploads, exports and submissions one tenant may run at once (more: 429)",
       .min = 1,
       .max = 1024},
      {.name = "server.max_queued",
       .type = T::kInt,
       .default_value = "256",
       .help = "Requests that may wait for each worker pool (storage, long work, engines); a "
               "request beyond sheds the oldest waiter of the tenant with the most (503)",
       .min = 0,
       .max = 1 << 20},
      {.name = "server.max_queue_wait",
       .type = T::kDuration,
       .default_value = "2s",
       .help = "How long a request may wait for a worker pool before it is shed (503)"},
      {.name = "server.auth_failures.rps",
       .type = T::kDouble,
       .default_value = "1",
       .help = "Failed authentications per second a client address may make (0: unlimited)"},
      {.name = "server.auth_failures.burst",
       .type = T::kInt,
       .default_value = "20",
       .min = 1,
       .max = 1000000},
      {.name = "server.header_timeout", .type = T::kDuration, .default_value = "10s"},
      {.name = "server.idle_timeout", .type = T::kDuration, .default_value = "30s"},
      {.name = "server.request_timeout", .type = T::kDuration, .default_value = "60s"},
      {.name = "editor.dir",
       .type = T::kString,
       .default_value = "",
       .help = "The workbench's built files, served at /editor (\"\": web/ beside the binary)"},
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
  };
}

// Machine translation: the chain, cache, breakers and the built-in engine.
std::vector<ConfigOption> MtOptions() {
  using T = ConfigType;
  return {
      {.name = "mt.chain",
       .type = T::kString,
       .default_value = "",
       .help = "Engines tried in order when a request names none (comma-separated; empty: "
               "openai,anthropic,gemini,deepl,libretranslate,apy,apertium, configured ones only)"},
      {.name = "mt.timeout",
       .type = T::kDuration,
       .default_value = "60s",
       .help = "Deadline of a translate request, retries and fallbacks included"},
      {.name = "mt.cache_mb",
       .type = T::kInt,
       .default_value = "256",
       .help = "Memory for cached translations (0: no cache)",
       .min = 0,
       .max = 1 << 20},
      {.name = "mt.cache_ttl", .type = T::kDuration, .default_value = "168h"},
      {.name = "mt.policy_revalidate",
       .type = T::kDuration,
       .default_value = "1s",
       .help = "How long a process uses a tenant's engine policy before it reads it again "
               "(another process's change; this process's own change applies at once)"},
      {.name = "degradation.notice",
       .type = T::kString,
       .default_value = "",
       .help = "A notice every client is shown in /v1/status and in translate responses' notes, "
               "whatever the level; during a region failover: \"Temporary latency increase "
               "expected\". `verso notice set|clear` changes it while verso runs (and overrides "
               "this)"},
      {.name = "mt.fast_mode_latency",
       .type = T::kDuration,
       .default_value = "5s",
       .help = "An LLM call slower than this puts its engine in fast mode for the calling tenant: "
               "its requests with a later engine pass it over (\"Using fast translation mode\"); "
               "0s: never"},
      {.name = "mt.fast_mode_hold",
       .type = T::kDuration,
       .default_value = "30s",
       .help = "How long an LLM engine in fast mode is passed over before it is tried again"},
      {.name = "mt.breaker.llm_failures",
       .type = T::kInt,
       .default_value = "5",
       .help = "Consecutive failures that open an LLM engine's circuit breaker",
       .min = 1,
       .max = 1000},
      {.name = "mt.breaker.llm_reset",
       .type = T::kDuration,
       .default_value = "30s",
       .help = "How long an LLM breaker stays open before one trial request"},
      {.name = "mt.breaker.nmt_failures",
       .type = T::kInt,
       .default_value = "10",
       .help = "The same for NMT services and the built-in engine",
       .min = 1,
       .max = 1000},
      {.name = "mt.breaker.nmt_reset", .type = T::kDuration, .default_value = "60s"},
      {.name = "mt.secrets_file",
       .type = T::kString,
       .default_value = "",
       .help = "File of NAME=value provider keys (OPENAI_API_KEY, ANTHROPIC_API_KEY, "
               "GEMINI_API_KEY, DEEPL_AUTH_KEY, LIBRETRANSLATE_API_KEY, APY_API_KEY); the "
               "environment wins"},
      {.name = "mt.apertium.enabled", .type = T::kBool, .default_value = "true"},
      {.name = "mt.apertium.modes_dir",
       .type = T::kString,
       .default_value = "/usr/share/apertium/modes"},
      {.name = "mt.apertium.pipelines",
       .type = T::kInt,
       .default_value = "0",
       .help = "Warm pipelines per language pair (0: one per two cores)",
       .min = 0,
       .max = 64},
      {.name = "mt.apertium.segment_timeout", .type = T::kDuration, .default_value = "20s"},
      {.name = "mt.apertium.warm",
       .type = T::kString,
       .default_value = "",
       .help = "Modes started with the server (e.g. eng-spa,spa-cat); others on first use"},
  };
}

// Quality estimation.
std::vector<ConfigOption> QeOptions() {
  using T = ConfigType;
  return {
      {.name = "qe.scorer",
       .type = T::kString,
       .default_value = "builtin",
       .help = "builtin, comet (an HTTP QE service at qe.comet.url) or llm (a judge through the "
               "LLM engines); the builtin scorer is the fallback of the other two"},
      {.name = "qe.model",
       .type = T::kString,
       .default_value = "",
       .help = "The builtin scorer's model file (empty: models/qe-builtin.json as compiled in)"},
      {.name = "qe.threshold",
       .type = T::kDouble,
       .default_value = "85",
       .help = "Machine translations scoring at least this (0-100), with no QA error, are "
               "auto-approved (101: never); see docs/quality.md"},
      {.name = "qe.comet.url", .type = T::kString, .default_value = ""},
      {.name = "qe.llm.chain",
       .type = T::kString,
       .default_value = "",
       .help = "LLM engines the judge asks, in order (comma-separated; empty: every LLM engine)"},
      {.name = "qe.timeout", .type = T::kDuration, .default_value = "10s"},
      {.name = "qe.round_trip",
       .type = T::kBool,
       .default_value = "false",
       .help = "Translate machine translations back with the built-in engine for the QE "
               "round-trip signal (where the reverse pair is installed; costs a translation)"},
      {.name = "qe.review_cache_mb",
       .type = T::kInt,
       .default_value = "64",
       .help = "Memory for /v1/translate's reviews (QA, terms, QE) of translations it answered "
               "before, so that a cached translation is not reviewed again (0: none)",
       .min = 0,
       .max = 1 << 20},
  };
}

// Jobs, webhooks and imports.
std::vector<ConfigOption> JobOptions() {
  using T = ConfigType;
  return {
      {.name = "jobs.workers",
       .type = T::kInt,
       .default_value = "2",
       .help = "Job workers inside `verso serve` (0: none; run `verso worker` processes)",
       .min = 0,
       .max = 256},
      {.name = "jobs.lease",
       .type = T::kDuration,
       .default_value = "30s",
       .help = "How long a worker holds a task before another may take it over"},
      {.name = "jobs.chunk",
       .type = T::kInt,
       .default_value = "1000",
       .help = "Segments per committed chunk of a stage",
       .min = 1,
       .max = 100000},
      {.name = "jobs.max_attempts", .type = T::kInt, .default_value = "5", .min = 1, .max = 100},
      {.name = "jobs.max_crashes",
       .type = T::kInt,
       .default_value = "2",
       .help = "A task whose worker died under it this many times is dead-lettered",
       .min = 1,
       .max = 100},
      {.name = "jobs.tenant_concurrency",
       .type = T::kInt,
       .default_value = "0",
       .help = "Tasks one tenant may have running at once over all workers (0: half of "
               "jobs.workers, rounded up)",
       .min = 0,
       .max = 4096},
      {.name = "jobs.expedite_after",
       .type = T::kDuration,
       .default_value = "4h",
       .help = "Post-edit queue wait that lowers the auto-approve bar (the platform spec)"},
      {.name = "jobs.expedite_drop",
       .type = T::kDouble,
       .default_value = "10",
       .help = "QE points the bar is lowered by while expedited"},
      {.name = "jobs.webhook_timeout", .type = T::kDuration, .default_value = "10s"},
      {.name = "jobs.status_cache_ttl",
       .type = T::kDuration,
       .default_value = "30s",
       .help = "With redis.url: how long a job's status (GET /v1/jobs/{id}) is kept in Redis; "
               "every change to the job makes it stale at once in every process (0: not cached)"},
      {.name = "webhooks.allow",
       .type = T::kString,
       .default_value = "",
       .help = "Networks webhooks may reach besides public addresses (comma-separated, "
               "e.g. 10.1.0.0/16,127.0.0.1); empty: public addresses only"},
      {.name = "imports.sync_max_bytes",
       .type = T::kInt,
       .default_value = "1048576",
       .help = "Uploads up to this size import before the response; larger ones in the background",
       .min = 0,
       .max = 1LL << 40},
  };
}

// The TM service sharded by store over TM nodes (cluster/cluster.h). Every process of one
// cluster must use the same tm.replicas and tm.virtual_nodes.
std::vector<ConfigOption> ClusterOptions() {
  using T = ConfigType;
  return {
      {.name = "tm.index",
       .type = T::kChoice,
       .default_value = "local",
       .help = "local: this process holds every TM store's index; nodes: the TM nodes (`verso "
               "serve --roles tm`) holding each store's index answer its lookups",
       .choices = {"local", "nodes"}},
      {.name = "tm.replicas",
       .type = T::kInt,
       .default_value = "2",
       .help = "TM nodes holding each store's index",
       .min = 1,
       .max = 16},
      {.name = "tm.virtual_nodes",
       .type = T::kInt,
       .default_value = "256",
       .help = "Points per TM node on the placement ring",
       .min = 1,
       .max = 4096},
      {.name = "tm.snapshot_dir",
       .type = T::kString,
       .default_value = "",
       .help = "Where TM nodes write their indexes' snapshots and read them when a store moves to "
               "them (a directory every node reaches; default: data_dir/snapshots)"},
      {.name = "tm.snapshot_interval",
       .type = T::kDuration,
       .default_value = "10m",
       .help = "serve and TM nodes write a changed store's index snapshot at most this often"},
      {.name = "cluster.node_id",
       .type = T::kString,
       .default_value = "",
       .help = "A TM node's id, stable across restarts (default: host:port it listens on)"},
      {.name = "cluster.advertise_url",
       .type = T::kString,
       .default_value = "",
       .help =
           "Where other processes reach this TM node (default: http://host:port it listens on)"},
      {.name = "cluster.heartbeat", .type = T::kDuration, .default_value = "1s"},
      {.name = "cluster.lookup_timeout",
       .type = T::kDuration,
       .default_value = "2s",
       .help = "How long a TM node may take to answer a lookup before the next one is asked"},
      {.name = "cluster.node_expiry",
       .type = T::kDuration,
       .default_value = "5s",
       .help = "A TM node silent this long is gone: its stores move to the next nodes"},
  };
}

std::vector<ConfigOption> Schema(bool serving) {
  std::vector<ConfigOption> all = GeneralOptions(serving);
  for (auto area : {ServerOptions(), MtOptions(), ProviderOptions(), QeOptions(), JobOptions(),
                    ClusterOptions()}) {
    all.insert(all.end(), std::make_move_iterator(area.begin()),
               std::make_move_iterator(area.end()));
  }
  return all;
}

std::vector<std::string> CommaList(const std::string& s) {
  std::vector<std::string> out;
  for (std::string_view part : Split(s, ',')) {
    part = StripAsciiWhitespace(part);
    if (!part.empty()) out.emplace_back(part);
  }
  return out;
}

// The machine-translation side of `verso serve`: engines, router, translate service.
struct Mt {
  resilience::DegradationController degradation;
  std::unique_ptr<mt::Router> router;
  std::unique_ptr<mt::TranslateService> service;
  std::unique_ptr<qe::Scorer> builtin_qe;
  std::unique_ptr<qe::Scorer> external_qe;
  std::unique_ptr<qe::QeService> qe;
};

// The server's webhook signing secret: VERSO_WEBHOOK_SECRET, else one generated on first use
// and kept (mode 0600) in the data directory. Tenants' secrets are derived from it.
absl::StatusOr<std::string> WebhookSecret(const std::string& data_dir) {
  if (const char* v = std::getenv("VERSO_WEBHOOK_SECRET"); v != nullptr && *v != '\0') return v;
  const std::string path = data_dir + "/webhook.secret";
  if (auto existing = ReadFile(path); existing.ok() && !existing->empty()) return *existing;
  const std::string secret = RandomToken(32);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return absl::UnavailableError(StrCat(path, ": cannot be written"));
  const bool ok =
      ::write(fd, secret.data(), secret.size()) == static_cast<ssize_t>(secret.size()) &&
      ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return absl::UnavailableError(StrCat(path, ": cannot be written"));
  return secret;
}

// The job side of `verso serve` and `verso worker`.
struct Jobs {
  std::unique_ptr<terms::GlossaryService> glossaries;
  std::unique_ptr<qe::Reviewer> reviewer;
  std::unique_ptr<jobs::WebhookSender> webhooks;
  std::unique_ptr<cache::VersionedCache> status_cache;  // with redis.url
  std::unique_ptr<jobs::JobService> service;
};

// Term indexes follow other processes' changes to glossaries (terms::GlossaryCacheOptions): with
// Redis, concepts are shared there for an hour and every change is announced at once.
terms::GlossaryCacheOptions GlossaryCache(const Config& c, cache::RedisClient* redis) {
  terms::GlossaryCacheOptions o;
  o.revalidate = c.GetDuration("glossaries.revalidate");
  if (redis == nullptr) return o;
  o.l2_get = [redis](const std::string& key) { return redis->Get(key); };
  o.l2_put = [redis](const std::string& key, const std::string& value) {
    redis->Set(key, value, absl::Hours(1));
  };
  o.announce = [redis](std::string_view tenant, std::string_view name) {
    redis->ScanDelete(terms::GlossaryL2Pattern(tenant, name), 100, 10);
    redis->Publish(terms::kGlossaryInvalidationChannel, terms::GlossaryChangeMessage(tenant, name));
  };
  return o;
}

absl::StatusOr<std::unique_ptr<Jobs>> BuildJobs(const Config& c, storage::Database* db,
                                                tm::TmService* tm, Mt* mt, IdGenerator* ids,
                                                cache::RedisClient* redis) {
  auto out = std::make_unique<Jobs>();
  out->glossaries = std::make_unique<terms::GlossaryService>(&db->glossaries(), &Clock::Real(),
                                                             GlossaryCache(c, redis));
  if (redis != nullptr) {
    redis->Subscribe(terms::kGlossaryInvalidationChannel,
                     [glossaries = out->glossaries.get()](std::string_view message) {
                       std::string tenant, name;
                       if (terms::ParseGlossaryChangeMessage(message, &tenant, &name)) {
                         glossaries->DropIndexes(tenant, name);
                       }
                     });
  }
  out->reviewer = std::make_unique<qe::Reviewer>(mt->qe.get(), out->glossaries.get(), tm,
                                                 mt->router.get(), &mt->degradation);
  auto addresses = AddressPolicy::Parse(c.GetString("webhooks.allow"));
  if (!addresses.ok()) {
    return absl::InvalidArgumentError(
        StrCat("configuration: webhooks.allow: ", addresses.status().message()));
  }
  out->webhooks = jobs::NewHttpWebhookSender(*addresses);
  jobs::ServiceOptions o;
  o.webhook_addresses = *addresses;
  o.default_threshold = c.GetDouble("qe.threshold");
  o.lease = c.GetDuration("jobs.lease");
  o.chunk = static_cast<int>(c.GetInt("jobs.chunk"));
  o.max_attempts = static_cast<int>(c.GetInt("jobs.max_attempts"));
  o.max_crashes = static_cast<int>(c.GetInt("jobs.max_crashes"));
  o.max_tasks_per_tenant = static_cast<int>(c.GetInt("jobs.tenant_concurrency"));
  if (o.max_tasks_per_tenant == 0) {
    o.max_tasks_per_tenant =
        static_cast<int>(std::max<int64_t>(1, (c.GetInt("jobs.workers") + 1) / 2));
  }
  o.expedite_after = c.GetDuration("jobs.expedite_after");
  o.expedite_drop = c.GetDouble("jobs.expedite_drop");
  o.webhook_timeout = c.GetDuration("jobs.webhook_timeout");
  VERSO_ASSIGN_OR_RETURN(o.webhook_secret, WebhookSecret(c.GetString("data_dir")));
  o.seed = std::random_device{}();
  if (const absl::Duration ttl = c.GetDuration("jobs.status_cache_ttl");
      redis != nullptr && ttl > absl::ZeroDuration()) {
    out->status_cache = std::make_unique<cache::VersionedCache>(redis, "job_status", ttl);
    o.status_cache = out->status_cache.get();
  }
  out->service = std::make_unique<jobs::JobService>(db, tm, mt->service.get(), out->reviewer.get(),
                                                    &mt->degradation, out->webhooks.get(),
                                                    &Clock::Real(), ids, o);
  return out;
}

// Builds the engines the configuration asks for. Keys come from the environment, then from
// mt.secrets_file; they go to the adapters only (never to a log line). A provider that fails to
// start (LibreTranslate and APy list their languages at start-up) is left out with a warning:
// the others still serve.
absl::StatusOr<std::unique_ptr<Mt>> BuildMt(const Config& c, tm::TmService* tm,
                                            storage::Database* db, cache::RedisClient* redis) {
  std::map<std::string, std::string> secrets;
  if (const std::string& file = c.GetString("mt.secrets_file"); !file.empty()) {
    VERSO_ASSIGN_OR_RETURN(secrets, ReadSecretsFile(file));
  }
  auto secret = [&](const char* name) -> std::string {
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0') return v;
    auto it = secrets.find(name);
    return it == secrets.end() ? "" : it->second;
  };
  std::vector<std::unique_ptr<mt::Engine>> engines;
  for (const Provider& p : kProviders) {
    const std::string prefix = StrCat("mt.", p.name, ".");
    mt::ProviderOptions o;
    o.name = p.name;
    o.base_url = c.GetString(prefix + "base_url");
    o.api_key = secret(p.key_name);
    const std::string& enabled = c.GetString(prefix + "enabled");
    bool on = enabled == "on" ||
              (enabled == "auto" && (!o.base_url.empty() || (p.key_enables && !o.api_key.empty())));
    if (!on) continue;
    if (p.has_model) o.model = c.GetString(prefix + "model");
    absl::StatusOr<std::unique_ptr<mt::Engine>> e = p.make(std::move(o));
    if (!e.ok()) {
      log::Warn("mt.engine.unavailable", {{"engine", p.name}, {"error", e.status().message()}});
      continue;
    }
    log::Info("mt.engine", {{"engine", p.name}});
    engines.push_back(std::move(*e));
  }
  if (c.GetBool("mt.apertium.enabled")) {
    mt::ApertiumOptions o;
    o.modes_dir = c.GetString("mt.apertium.modes_dir");
    o.max_pipelines_per_pair = static_cast<int>(c.GetInt("mt.apertium.pipelines"));
    o.segment_timeout = c.GetDuration("mt.apertium.segment_timeout");
    o.warm_modes = CommaList(c.GetString("mt.apertium.warm"));
    auto e = mt::NewApertiumEngine(o);
    if (e.ok()) {
      log::Info("mt.engine", {{"engine", "apertium"}, {"pairs", (*e)->Pairs().size()}});
      engines.push_back(std::move(*e));
    } else {
      log::Warn("mt.engine.unavailable", {{"engine", "apertium"}, {"error", e.status().message()}});
    }
  }
  mt::RouterOptions ro;
  if (auto chain = CommaList(c.GetString("mt.chain")); !chain.empty()) {
    for (const auto& name : chain) {
      bool known = false;
      for (const auto& e : engines) known = known || e->name() == name;
      if (!known) {
        return absl::InvalidArgumentError(StrCat("configuration: mt.chain: engine \"", name,
                                                 "\" is not configured or did not start"));
      }
    }
    ro.default_chain = chain;
  }
  ro.llm_breaker = {static_cast<int>(c.GetInt("mt.breaker.llm_failures")),
                    c.GetDuration("mt.breaker.llm_reset")};
  ro.nmt_breaker = {static_cast<int>(c.GetInt("mt.breaker.nmt_failures")),
                    c.GetDuration("mt.breaker.nmt_reset")};
  ro.cache_bytes = static_cast<size_t>(c.GetInt("mt.cache_mb")) << 20;
  ro.cache_ttl = c.GetDuration("mt.cache_ttl");
  ro.fast_mode_latency = c.GetDuration("mt.fast_mode_latency");
  ro.fast_mode_hold = c.GetDuration("mt.fast_mode_hold");
  if (redis != nullptr) {
    ro.l2_get = [redis](const std::string& key) { return redis->Get(key); };
    ro.l2_put = [redis, ttl = ro.cache_ttl](const std::string& key, const std::string& value) {
      redis->Set(key, value, ttl);
    };
  }
  auto out = std::make_unique<Mt>();
  out->degradation.SetNotice(c.GetString("degradation.notice"));
  out->router =
      std::make_unique<mt::Router>(std::move(engines), ro, &Clock::Real(), &out->degradation);
  out->service = std::make_unique<mt::TranslateService>(tm, &db->policies(), out->router.get(),
                                                        &out->degradation, &Clock::Real(),
                                                        c.GetDuration("mt.policy_revalidate"));
  // Quality estimation: the builtin scorer always; an external one when configured.
  VERSO_ASSIGN_OR_RETURN(out->builtin_qe, qe::NewBuiltinScorer({c.GetString("qe.model")}));
  const std::string& scorer = c.GetString("qe.scorer");
  if (scorer == "comet") {
    if (c.GetString("qe.comet.url").empty()) {
      return absl::InvalidArgumentError("configuration: qe.comet.url: required by qe.scorer comet");
    }
    out->external_qe =
        qe::NewCometScorer({c.GetString("qe.comet.url"), secret("QE_COMET_API_KEY")});
  } else if (scorer == "llm") {
    std::vector<std::string> chain;
    for (std::string_view e : Split(c.GetString("qe.llm.chain"), ',')) {
      if (!StripAsciiWhitespace(e).empty()) chain.emplace_back(StripAsciiWhitespace(e));
    }
    out->external_qe = qe::NewLlmJudge(out->router.get(), std::move(chain));
  } else if (scorer != "builtin") {
    return absl::InvalidArgumentError(
        StrCat("configuration: qe.scorer: \"", scorer, "\" is not builtin, comet or llm"));
  }
  qe::ServiceOptions qo;
  qo.approve_threshold = c.GetDouble("qe.threshold");
  if (qo.approve_threshold < 0 || qo.approve_threshold > 101) {
    return absl::InvalidArgumentError(
        "configuration: qe.threshold: must be from 0 to 100, or 101 for never");
  }
  qo.timeout = c.GetDuration("qe.timeout");
  out->qe = std::make_unique<qe::QeService>(out->builtin_qe.get(), out->external_qe.get(), qo,
                                            &Clock::Real(), &out->degradation);
  return out;
}

// Runs `fn` now and then every `period` on its own thread, until Stop or destruction.
class Every {
 public:
  Every(std::chrono::milliseconds period, std::function<void()> fn)
      : period_(absl::FromChrono(period)), fn_(std::move(fn)), thread_([this] { Loop(); }) {}
  ~Every() { Stop(); }
  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    cv_.SignalAll();
    if (thread_.joinable()) thread_.join();
  }
  // Runs fn now (on its thread) instead of at the end of the period.
  void Poke() {
    absl::MutexLock lock(&mu_);
    poked_ = true;
    cv_.Signal();
  }

 private:
  void Loop() {
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) return;
      }
      fn_();
      absl::MutexLock lock(&mu_);
      if (!stopping_ && !poked_) cv_.WaitWithTimeout(&mu_, period_);
      poked_ = false;
    }
  }

  const absl::Duration period_;
  const std::function<void()> fn_;
  absl::Mutex mu_;
  absl::CondVar cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool poked_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts after the members it uses
};

// Hooks `fn` to the database's TM-change notifications for a scope (fn refers to the scope's
// locals): unhooked by Release or, on an early return, when the scope ends.
class TmChangeHook {
 public:
  TmChangeHook(storage::Database* db, std::function<void()> fn) : db_(db) {
    db_->OnTmChanged(std::move(fn));
  }
  ~TmChangeHook() { Release(); }
  // Before the database closes.
  void Release() {
    if (db_ != nullptr) db_->OnTmChanged(nullptr);
    db_ = nullptr;
  }

 private:
  storage::Database* db_;
};

// Everything a command needs, opened on first use.
class Runtime : public cli::Environment {
 public:
  ConfigSources sources;
  bool serving = false;

  absl::Status Open() {
    if (db_) return absl::OkStatus();
    VERSO_ASSIGN_OR_RETURN(config_, Config::Load(Schema(serving), sources));
    for (const std::string& w : config_->warnings()) std::cerr << "verso: warning: " << w << "\n";
    VERSO_ASSIGN_OR_RETURN(log::Level level, log::ParseLevel(config_->GetString("log.level")));
    VERSO_ASSIGN_OR_RETURN(log::Format format, log::ParseFormat(config_->GetString("log.format")));
    log::Init(level, format, nullptr, /*async=*/serving);
    VERSO_RETURN_IF_ERROR(MakeDataDir());
    VERSO_ASSIGN_OR_RETURN(db_, OpenDatabase(/*migrate=*/false));
    ids_ = std::make_unique<IdGenerator>(Clock::Real());
    tm_ = std::make_unique<tm::TmService>(db_.get(), &Clock::Real(), ids_.get());
    keys_ = std::make_unique<auth::KeyService>(&db_->keys(), &Clock::Real(), ids_.get());
    users_ = std::make_unique<auth::UserService>(&db_->users(), &Clock::Real(), ids_.get());
    // The server builds every index after it starts listening; the CLI builds one on first use.
    // Both start from a store's index snapshot when it is young enough (serve writes them).
    tm_->EnableSnapshots(SnapshotDirectory());
    VERSO_RETURN_IF_ERROR(tm_->Load(/*build_indexes=*/false).status());
    return absl::OkStatus();
  }

  // The database storage.url names: sqlite:PATH (default: verso.db in data_dir; migrated on
  // open, as one machine's embedded store always was) or a PostgreSQL URL (whose schema `verso
  // migrate` applies; opening refuses a schema this verso does not know).
  absl::StatusOr<std::unique_ptr<storage::Database>> OpenDatabase(bool migrate) {
    const Config& c = *config_;
    std::string url = c.GetString("storage.url");
    if (url.empty()) url = "sqlite:" + c.GetString("data_dir") + "/verso.db";
    if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
      storage::PostgresOptions options;
      options.connections = static_cast<int>(c.GetInt("storage.postgres.connections"));
      options.migrate = migrate;
      options.listen = serving;
      for (std::string_view r : Split(c.GetString("storage.postgres.replicas"), ',')) {
        r = StripAsciiWhitespace(r);
        if (r.empty()) continue;
        if (r.rfind("postgresql://", 0) != 0 && r.rfind("postgres://", 0) != 0) {
          return absl::InvalidArgumentError(
              "storage.postgres.replicas: expected postgresql:// URLs separated by commas");
        }
        options.replica_urls.emplace_back(r);
      }
      options.max_lag_tm = c.GetDuration("storage.replica_lag.tm");
      options.max_lag_jobs = c.GetDuration("storage.replica_lag.jobs");
      options.max_lag_keys = c.GetDuration("storage.replica_lag.keys");
      options.eject_lag = c.GetDuration("storage.replica_lag.eject");
      auto db = storage::OpenPostgres(url, options);
      if (!db.ok()) return Annotate(db.status(), "storage.url");
      if (c.GetString("storage.tm_shards").empty()) return db;
      return OpenTmShards(std::move(*db), options);
    }
    if (url.rfind("sqlite:", 0) != 0) {
      return absl::InvalidArgumentError(
          "storage.url: expected sqlite:PATH or postgresql://user:password@host:port/database");
    }
    const std::string path = url.substr(7);
    storage::SqliteOptions options;
    options.synchronous_full = c.GetString("storage.sqlite.synchronous") == "full";
    if (c.GetBool("storage.sqlite.change_log"))
      options.change_log = storage::DefaultChangeLog(path);
    VERSO_ASSIGN_OR_RETURN(auto db, storage::OpenSqlite(path, options));
    // Files of an older installation, made before the umask: every tenant's data is in them.
    for (const char* suffix : {"", "-wal", "-shm"}) {
      const std::string file = path + suffix;
      struct stat st;
      if (::stat(file.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
        ::chmod(file.c_str(), st.st_mode & 0700);
      }
    }
    return db;
  }

  // The home database `home` with the TM shards storage.tm_shards names (storage/sharded_tm.h),
  // each opened like the home database but without its replicas.
  absl::StatusOr<std::unique_ptr<storage::Database>> OpenTmShards(
      std::unique_ptr<storage::Database> home, storage::PostgresOptions options) {
    const Config& c = *config_;
    options.replica_urls.clear();
    std::vector<storage::TmShardSpec> shards;
    std::vector<std::string> names = {std::string(storage::kHomeShard)};
    for (std::string_view pair : Split(c.GetString("storage.tm_shards"), ',')) {
      pair = StripAsciiWhitespace(pair);
      if (pair.empty()) continue;
      const size_t eq = pair.find('=');
      const std::string_view name = eq == std::string_view::npos ? "" : pair.substr(0, eq);
      const std::string_view url = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
      const bool plain_name =
          !name.empty() && name.size() <= 32 && std::all_of(name.begin(), name.end(), [](char ch) {
            return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
          });
      if (!plain_name || name == storage::kHomeShard ||
          (url.rfind("postgresql://", 0) != 0 && url.rfind("postgres://", 0) != 0)) {
        return absl::InvalidArgumentError(StrCat(
            "storage.tm_shards: expected NAME=postgresql://... pairs separated by commas (NAME: "
            "a-z, 0-9, _ or -, not \"main\"), got \"",
            name.empty() ? pair.substr(0, 40) : name, "\""));
      }
      auto db = storage::OpenPostgres(std::string(url), options);
      if (!db.ok()) return Annotate(db.status(), StrCat("storage.tm_shards: ", name));
      shards.push_back({std::string(name), std::move(*db)});
      names.emplace_back(name);
    }
    // The TM nodes' ring with one owner per store: the same store lands on the same shard in
    // every process.
    auto ring = std::make_shared<tm::Placement>(
        names, tm::PlacementOptions{.virtual_nodes = static_cast<int>(c.GetInt("tm.virtual_nodes")),
                                    .replicas = 1});
    auto sharded = storage::OpenShardedTm(
        std::move(home), std::move(shards),
        [ring](std::string_view store_id) { return ring->Owners(store_id).front(); });
    if (!sharded.ok()) return sharded.status();
    return std::unique_ptr<storage::Database>(std::move(*sharded));
  }

  absl::Status MakeDataDir() {
    const std::string& dir = config_->GetString("data_dir");
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);  // 0700 under the umask Main sets
    if (ec) {
      return absl::UnavailableError(
          StrCat("data_dir ", dir, ": cannot be created: ", ec.message()));
    }
    return absl::OkStatus();
  }

  // `verso migrate`: brings the database's schema to this verso's.
  int Migrate() {
    auto config = Config::Load(Schema(false), sources);
    if (!config.ok()) return Fail(config.status());
    config_ = std::move(*config);
    if (absl::Status made = MakeDataDir(); !made.ok()) return Fail(made);
    auto db = OpenDatabase(/*migrate=*/true);
    if (!db.ok()) return Fail(db.status());
    std::cout << "schema is up to date" << std::endl;
    return 0;
  }

  // `verso jobs archive --before YYYY-MM`.
  int ArchiveJobs(const std::string& before) {
    absl::CivilMonth month;
    if (!absl::ParseCivilTime(before, &month)) {
      return Fail(absl::InvalidArgumentError(
          StrCat("--before: expected a month as YYYY-MM, got \"", before, "\"")));
    }
    if (absl::Status s = Open(); !s.ok()) return Fail(s);
    auto detached = db_->ArchiveJobs(absl::FromCivil(month, absl::UTCTimeZone()));
    if (!detached.ok()) return Fail(detached.status());
    for (const std::string& table : *detached) std::cout << "detached " << table << "\n";
    if (detached->empty()) std::cout << "no partition ends before " << before << "\n";
    return 0;
  }

  absl::StatusOr<tm::TmService*> Tm() override {
    VERSO_RETURN_IF_ERROR(Open());
    return tm_.get();
  }
  absl::StatusOr<auth::KeyService*> Keys() override {
    VERSO_RETURN_IF_ERROR(Open());
    return keys_.get();
  }
  absl::Status Audit(std::string_view tenant, std::string_view action,
                     std::string_view target) override {
    VERSO_RETURN_IF_ERROR(Open());
    storage::AuditRecord r;
    r.at = absl::Now();
    r.tenant = std::string(tenant);
    r.actor = StrCat("cli:", cli::DefaultUser());
    r.action = StrCat("verso ", action);
    r.target = std::string(target);
    r.detail = "ok";
    return db_->audit().AppendAudit({std::move(r)});
  }
  absl::StatusOr<storage::Database*> Db() override {
    VERSO_RETURN_IF_ERROR(Open());
    return db_.get();
  }
  // The SQLite file storage.url names (without opening it).
  absl::StatusOr<std::string> SqlitePath() override {
    if (!config_) {
      VERSO_ASSIGN_OR_RETURN(config_, Config::Load(Schema(serving), sources));
      VERSO_RETURN_IF_ERROR(MakeDataDir());
    }
    std::string url = config_->GetString("storage.url");
    if (url.empty()) return config_->GetString("data_dir") + "/verso.db";
    if (url.rfind("sqlite:", 0) == 0) return url.substr(7);
    return absl::FailedPreconditionError(
        "storage.url is PostgreSQL: restore it with pgBackRest, not verso restore");
  }
  absl::StatusOr<std::vector<std::string>> PgBackRest() override {
    if (SqlitePath().ok()) {
      return absl::FailedPreconditionError(
          "storage.url is SQLite: pgBackRest backs up PostgreSQL only");
    }
    const std::string stanza = config_->GetString("storage.pgbackrest.stanza");
    if (stanza.empty()) {
      return absl::FailedPreconditionError(
          "storage.pgbackrest.stanza is not set: name the pgBackRest stanza that archives this "
          "PostgreSQL database's WAL");
    }
    std::vector<std::string> argv =
        absl::StrSplit(config_->GetString("storage.pgbackrest.command"), ' ', absl::SkipEmpty());
    if (argv.empty()) return absl::InvalidArgumentError("storage.pgbackrest.command is empty");
    argv.push_back(StrCat("--stanza=", stanza));
    return argv;
  }
  absl::StatusOr<std::string> TmSnapshotDir() override {
    // Loads the configuration; FailedPrecondition only says it is PostgreSQL.
    if (absl::Status s = SqlitePath().status(); !s.ok() && !absl::IsFailedPrecondition(s)) {
      return s;
    }
    return SnapshotDirectory();
  }
  // Where TM index snapshots are (tm.snapshot_dir, default data_dir/snapshots).
  std::string SnapshotDirectory() const {
    const std::string dir = config_->GetString("tm.snapshot_dir");
    return dir.empty() ? config_->GetString("data_dir") + "/snapshots" : dir;
  }
  absl::StatusOr<storage::AuditRepository*> AuditLog() override {
    VERSO_RETURN_IF_ERROR(Open());
    return &db_->audit();
  }
  absl::StatusOr<storage::ShardedTm*> TmShards() override {
    VERSO_RETURN_IF_ERROR(Open());
    auto* sharded = dynamic_cast<storage::ShardedTm*>(db_.get());
    if (sharded == nullptr) {
      return absl::FailedPreconditionError(
          "TM data is in one database: storage.tm_shards names no shard");
    }
    return sharded;
  }
  std::ostream& out() override { return std::cout; }
  std::ostream& err() override { return std::cerr; }
  bool stdout_is_tty() const override { return isatty(STDOUT_FILENO); }
  bool stderr_is_tty() const override { return isatty(STDERR_FILENO); }

  // `verso serve`: listens at once (readyz says "loading" until every index is built), resumes
  // interrupted imports, and runs until SIGINT or SIGTERM, then drains and exits 0. Without the
  // worker role (`--roles api`) it runs no job workers: `verso worker` processes do.
  int Serve(bool with_workers) {
    const sigset_t signals = BlockStopSignals();
    auto started = StartServices();
    if (!started.ok()) return Fail(started.status());
    Services& b = **started;
    const Config& c = *config_;
    auth::RateLimiter limiter(&Clock::Real(), c.GetDouble("rate_limit.rps"),
                              static_cast<double>(c.GetInt("rate_limit.burst")));
    // With Redis, a key's limit holds across every API process (one bucket in Redis); a lost
    // Redis leaves each process its own bucket.
    if (b.redis != nullptr) {
      limiter.SetShared([r = b.redis.get()](std::string_view key, double rate, double burst,
                                            absl::Duration* retry_after) {
        return r->TakeToken(StrCat("rl:", key), rate, burst, /*take=*/true, retry_after);
      });
    }
    ops::Registry metrics;
    std::atomic<bool> loaded{false};
    api::Services services = ApiServices(b, &limiter, &metrics);
    services.indexes_loaded = [&loaded] { return loaded.load(); };
    if (b.cluster != nullptr) {
      AddClusterMetrics(&metrics, b.cluster.get());
      services.tm_nodes_status = [c = b.cluster.get()] {
        cluster::Stats st = c->GetStats();
        return api::Services::TmNodesStatus{static_cast<int64_t>(st.nodes.size()), st.asks,
                                            st.retries, st.failures};
      };
    }
    ops::AddProcessMetrics(&metrics);
    AddDatabaseMetrics(&metrics);
    AddLiveMetrics(&metrics, b.live.get());
    b.mt->qe->ObserveLatency(
        [h = metrics.GetHistogram("verso_qe_duration_seconds",
                                  "QE scoring latency per call (a request's segments together).",
                                  {}, {})](absl::Duration d) {
          h->Observe(absl::ToDoubleSeconds(d));
        });
    // The database's health feeds the degradation level (unreachable: emergency).
    Every health(std::chrono::seconds(5), [&] {
      absl::Status ping = db_->Ping();
      b.mt->degradation.SetDatabaseHealthy(ping.ok());
      if (!ping.ok()) log::Error("storage.unhealthy", {{"error", ping.message()}});
      // The operators' notice `verso notice` stored overrides the option once set.
      if (auto stored = db_->cluster().GetSetting(cli::kNoticeSetting);
          stored.ok() && stored->has_value()) {
        b.mt->degradation.SetNotice(**stored);
      }
    });
    // What other processes (the CLI, workers) change reaches this one's indexes.
    Every sync(std::chrono::seconds(1), [&] {
      if (loaded) SyncTm();
    });
    // On PostgreSQL, a change any process commits wakes the sync at once (NOTIFY tm_changes).
    TmChangeHook hook(db_.get(), [&sync] { sync.Poke(); });
    Every maintain(std::chrono::hours(1), [&] { Maintain(); });
    // Snapshots of the indexes built here: the next start and the CLI's `verso tm` commands
    // start from them instead of reading every segment.
    const absl::Duration snapshot_interval = c.GetDuration("tm.snapshot_interval");
    Every snapshot(SnapshotPeriod(snapshot_interval), [&] {
      if (loaded) WriteTmSnapshots(snapshot_interval);
    });
    const api::ServerOptions options = ServerOptionsFrom(c);
    auto server = api::Server::Start(options, services);
    if (!server.ok()) return Fail(server.status());
    // A fresh installation has no way in: give it one admin key, shown once, and only once the
    // server is up (a first start that fails must not print, and so lose, it).
    PrintBootstrapKey();
    std::cout << "verso " << kVersion << " listening on http://" << options.host << ":"
              << (*server)->port() << " (data in " << c.GetString("data_dir") << ")" << std::endl;
    std::thread loader([&] {
      if (LoadIndexes()) {
        loaded = true;
        // Jobs need the TM indexes: workers start once they are built (in the worker role).
        if (with_workers) b.jobs->service->Start(static_cast<int>(c.GetInt("jobs.workers")));
      }
    });
    WaitForStopSignal(signals);
    (*server)->Shutdown(c.GetDuration("server.drain_timeout"));
    loader.join();
    b.jobs->service->Stop();  // a task cut short is taken over when its lease expires
    health.Stop();
    // Before Close: its first pass runs at start and uses the database Close destroys (a stop
    // right after the start, while it ran, crashed the server with SIGSEGV on PostgreSQL).
    maintain.Stop();
    snapshot.Stop();
    hook.Release();
    sync.Stop();
    FlushTmUsage();
    tm_->StopImports();  // unfinished imports roll back and resume at the next start
    server->reset();
    return Close(std::move(*started));
  }

  // `verso serve --roles tm`: a TM node. Holds the indexes of the stores placed on it and answers
  // other processes' lookups for them (cluster/cluster.h); no public API, no engines, no jobs.
  // Ready once the indexes placed on it at start are built.
  int ServeTmNode() {
    const sigset_t signals = BlockStopSignals();
    if (absl::Status s = Open(); !s.ok()) return Fail(s);
    IgnoreSigpipe();
    const Config& c = *config_;
    auth::RateLimiter limiter(&Clock::Real(), 0, 1);
    ops::Registry metrics;
    std::atomic<bool> loaded{false};
    std::atomic<cluster::TmCluster*> joined{nullptr};
    api::Services s;
    s.tm = tm_.get();
    s.keys = keys_.get();
    s.limiter = &limiter;
    s.metrics = &metrics;
    s.db = db_.get();
    s.ids = ids_.get();
    s.clock = &Clock::Real();
    s.upload_dir = c.GetString("data_dir") + "/uploads";
    s.tm_node = true;
    s.indexes_loaded = [&loaded] { return loaded.load(); };
    s.peer_authorized = [&joined](std::string_view authorization) {
      cluster::TmCluster* c = joined.load();
      return c != nullptr && c->Authorized(authorization);
    };
    const api::ServerOptions options = ServerOptionsFrom(c);
    auto server = api::Server::Start(options, s);
    if (!server.ok()) return Fail(server.status());
    const std::string listening = StrCat(options.host, ":", (*server)->port());
    std::string id = c.GetString("cluster.node_id");
    std::string url = c.GetString("cluster.advertise_url");
    auto node = JoinCluster(id.empty() ? listening : id, url.empty() ? "http://" + listening : url);
    if (!node.ok()) return Fail(node.status());
    joined = node->get();
    AddClusterMetrics(&metrics, node->get());
    ops::AddProcessMetrics(&metrics);
    AddDatabaseMetrics(&metrics);
    const absl::Duration snapshot_interval = c.GetDuration("tm.snapshot_interval");
    Every snapshot(SnapshotPeriod(snapshot_interval), [&] {
      if (loaded) WriteTmSnapshots(snapshot_interval);
    });
    Every sync(std::chrono::seconds(1), [&] {
      if (loaded) SyncTm();
    });
    TmChangeHook hook(db_.get(), [&sync] { sync.Poke(); });
    std::cout << "verso " << kVersion << " TM node " << (id.empty() ? listening : id)
              << " listening on http://" << listening << std::endl;
    std::thread loader([&] {
      loaded = LoadIndexes();
      joined.load()->BeginMoves();
    });
    WaitForStopSignal(signals);
    (*server)->Shutdown(c.GetDuration("server.drain_timeout"));
    loader.join();
    snapshot.Stop();
    hook.Release();
    sync.Stop();
    FlushTmUsage();
    tm_->StopImports();
    joined = nullptr;
    node->reset();  // leaves: the stores' next owners take over at once
    server->reset();
    tm_.reset();
    db_.reset();
    log::Info("stopped");
    log::Flush();
    return 0;
  }

  // `verso worker`: job workers without the HTTP server, until SIGINT or SIGTERM. Any number
  // of these share the database's queue with `verso serve`.
  int Work(int threads) {
    const sigset_t signals = BlockStopSignals();
    auto started = StartServices();
    if (!started.ok()) return Fail(started.status());
    const Config& c = *config_;
    if (auto built = tm_->Load(/*build_indexes=*/true); !built.ok()) return Fail(built.status());
    if (threads <= 0) threads = static_cast<int>(std::max<int64_t>(1, c.GetInt("jobs.workers")));
    Every sync(std::chrono::seconds(1), [&] { SyncTm(); });
    TmChangeHook hook(db_.get(), [&sync] { sync.Poke(); });
    Every maintain(std::chrono::hours(1), [&] { Maintain(); });
    (*started)->jobs->service->Start(threads);
    std::cout << "verso " << kVersion << " worker: " << threads << " threads (data in "
              << c.GetString("data_dir") << ")" << std::endl;
    WaitForStopSignal(signals);
    (*started)->jobs->service->Stop();
    maintain.Stop();  // before Close, which destroys what it uses
    hook.Release();
    sync.Stop();
    FlushTmUsage();
    return Close(std::move(*started));
  }

 private:
  // What `serve` and `worker` run on top of the database.
  struct Services {
    std::unique_ptr<cache::RedisClient> redis;    // L2, when redis.url is set; outlives the rest
    std::unique_ptr<cluster::TmCluster> cluster;  // with tm.index=nodes: the TM nodes
    std::unique_ptr<Mt> mt;
    std::unique_ptr<Jobs> jobs;
    // The workbench's presence, locks and live updates; with Redis, shared by the processes.
    std::unique_ptr<live::Backplane> backplane;
    std::unique_ptr<live::Hub> live;
  };

  static int Fail(const absl::Status& status) {
    std::cerr << "verso: error: " << status.message() << "\n";
    return 1;
  }

  // Blocks SIGINT and SIGTERM before any thread starts, so that only WaitForStopSignal gets them.
  static sigset_t BlockStopSignals() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    return signals;
  }

  static void WaitForStopSignal(const sigset_t& signals) {
    int sig = 0;
    sigwait(&signals, &sig);
    log::Info("shutdown", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
  }

  // Opens the database and builds the engines and the job service.
  absl::StatusOr<std::unique_ptr<Services>> StartServices() {
    VERSO_RETURN_IF_ERROR(Open());
    IgnoreSigpipe();  // a dead engine stage must not take the process with it
    auto out = std::make_unique<Services>();
    if (const std::string& url = config_->GetString("redis.url"); !url.empty()) {
      cache::RedisOptions options;
      options.command_timeout = config_->GetDuration("redis.timeout");
      auto redis = cache::RedisClient::Open(url, options, &Clock::Real());
      if (!redis.ok()) return Annotate(redis.status(), "redis.url");
      out->redis = std::move(*redis);
    }
    StartLive(out.get());
    EnableTmResultCache(out->redis.get());
    if (config_->GetString("tm.index") == "nodes") {
      VERSO_ASSIGN_OR_RETURN(out->cluster, JoinCluster("", ""));
    }
    VERSO_ASSIGN_OR_RETURN(out->mt, BuildMt(*config_, tm_.get(), db_.get(), out->redis.get()));
    VERSO_ASSIGN_OR_RETURN(out->jobs, BuildJobs(*config_, db_.get(), tm_.get(), out->mt.get(),
                                                ids_.get(), out->redis.get()));
    return out;
  }

  // The workbench's hub; with Redis, linked to the other processes' hubs.
  void StartLive(Services* out) {
    if (out->redis != nullptr) out->backplane = live::NewRedisBackplane(out->redis.get());
    out->live = std::make_unique<live::Hub>(&Clock::Real(), live::HubOptions{},
                                            out->backplane.get(), ids_->Next("proc"));
    if (out->redis != nullptr) {
      out->redis->Subscribe(live::kLiveChannel,
                            [hub = out->live.get()](std::string_view m) { hub->FromOthers(m); });
    }
  }

  // TM lookup results cached in this process and, with Redis, in Redis: invalidated there after
  // each write (the spec's algorithm), and announced so that every process drops its own.
  void EnableTmResultCache(cache::RedisClient* redis) {
    const int64_t bytes = config_->GetInt("tm.cache_bytes");
    if (bytes == 0) return;
    tm::ResultCacheOptions o;
    o.l1_bytes = static_cast<size_t>(bytes);
    if (redis != nullptr) {
      o.l2_get = [redis](const std::string& key) { return redis->Get(key); };
      o.l2_put = [redis](const std::string& key, const std::string& value, absl::Duration ttl) {
        redis->Set(key, value, ttl);
      };
      o.l2_invalidate = [redis](const std::string& id) { cache::InvalidateTmStore(*redis, id); };
      redis->Subscribe(cache::kTmInvalidationChannel,
                       [tm = tm_.get()](std::string_view id) { tm->DropCachedResults(id); });
    }
    tm_->EnableResultCache(std::move(o));
  }

  // Stops the engines (their pipelines) and closes the database: every acknowledged write is
  // already in its log on disk.
  int Close(std::unique_ptr<Services> services) {
    if (services->redis != nullptr) services->redis->Unsubscribe();  // they call into the rest
    services->live.reset();
    services->backplane.reset();  // publishes through Redis
    services->jobs.reset();
    services->mt.reset();
    services->cluster.reset();
    services->redis.reset();
    tm_.reset();
    db_.reset();
    log::Info("stopped");
    log::Flush();
    return 0;
  }

  // The TM nodes' membership, as one of them (`node_id` set) or to ask them; makes `tm_` ask
  // them for the indexes it does not hold. Before the indexes are built.
  absl::StatusOr<std::unique_ptr<cluster::TmCluster>> JoinCluster(std::string node_id,
                                                                  std::string url) {
    const Config& c = *config_;
    cluster::Options o;
    o.node_id = std::move(node_id);
    o.url = std::move(url);
    o.heartbeat = c.GetDuration("cluster.heartbeat");
    o.expiry = c.GetDuration("cluster.node_expiry");
    o.lookup_timeout = c.GetDuration("cluster.lookup_timeout");
    o.replicas = static_cast<int>(c.GetInt("tm.replicas"));
    o.virtual_nodes = static_cast<int>(c.GetInt("tm.virtual_nodes"));
    if (o.expiry <= o.heartbeat) {
      return absl::InvalidArgumentError(
          "cluster.node_expiry: must be longer than cluster.heartbeat (a few heartbeats)");
    }
    auto joined = cluster::TmCluster::Start(&db_->cluster(), tm_.get(), o, &Clock::Real());
    if (!joined.ok()) return Annotate(joined.status(), "cluster");
    tm_->SetIndexPeers(joined->get());
    return joined;
  }

  // Database calls run again after a failure that took no effect (a failover), and those given
  // up after the last retry.
  static void AddDatabaseMetrics(ops::Registry* metrics) {
    metrics->AddGauge("verso_database_retries",
                      "Database calls run again after a failure that took no effect (the server "
                      "gone or read-only: a failover), and failures returned after the last retry.",
                      {"outcome"}, [] {
                        storage::DatabaseRetryCounts r = storage::DatabaseRetries();
                        return ops::Registry::GaugeSeries{
                            {{"retried"}, static_cast<double>(r.retried)},
                            {{"gave_up"}, static_cast<double>(r.gave_up)}};
                      });
  }

  // The workbench's live layer in /metrics: jobs with editors, connected editors, locks held,
  // messages sent to editors.
  static void AddLiveMetrics(ops::Registry* metrics, live::Hub* hub) {
    metrics->AddGauge("verso_live",
                      "The workbench's live layer in this process: jobs with editors connected, "
                      "editors connected, segment locks held (here and through other processes), "
                      "messages sent to editors.",
                      {"what"}, [hub] {
                        live::Hub::Stats st = hub->GetStats();
                        auto d = [](int64_t v) { return static_cast<double>(v); };
                        return ops::Registry::GaugeSeries{{{"jobs"}, d(st.jobs)},
                                                          {{"editors"}, d(st.peers)},
                                                          {{"locks"}, d(st.locks)},
                                                          {{"messages"}, d(st.messages)}};
                      });
  }

  // The cluster's figures in /metrics: nodes, this node's stores, asks and retries.
  static void AddClusterMetrics(ops::Registry* metrics, cluster::TmCluster* cluster) {
    metrics->AddGauge(
        "verso_tm_cluster",
        "The TM nodes: live nodes; this node's stores (owned, held, warming); "
        "requests to nodes, retries on another node, requests no node could answer; indexes "
        "moved in and out.",
        {"what"}, [cluster] {
          cluster::Stats st = cluster->GetStats();
          auto d = [](int64_t v) { return static_cast<double>(v); };
          return ops::Registry::GaugeSeries{{{"nodes"}, d(static_cast<int64_t>(st.nodes.size()))},
                                            {{"stores_owned"}, d(st.stores_owned)},
                                            {{"stores_held"}, d(st.stores_held)},
                                            {{"stores_warming"}, d(st.stores_warming)},
                                            {{"asks"}, d(st.asks)},
                                            {{"retries"}, d(st.retries)},
                                            {{"failures"}, d(st.failures)},
                                            {{"moves_in"}, d(st.moves_in)},
                                            {{"moves_out"}, d(st.moves_out)}};
        });
  }

  api::Services ApiServices(const Services& b, auth::RateLimiter* limiter, ops::Registry* metrics) {
    const Config& c = *config_;
    api::Services s;
    s.tm = tm_.get();
    s.keys = keys_.get();
    s.users = users_.get();
    s.limiter = limiter;
    s.metrics = metrics;
    s.db = db_.get();
    s.redis = b.redis.get();
    s.ids = ids_.get();
    s.clock = &Clock::Real();
    s.upload_dir = c.GetString("data_dir") + "/uploads";
    s.sync_import_max_bytes = c.GetInt("imports.sync_max_bytes");
    s.translate = b.mt->service.get();
    s.mt_router = b.mt->router.get();
    s.degradation = &b.mt->degradation;
    s.translate_timeout = c.GetDuration("mt.timeout");
    s.qe = b.mt->qe.get();
    s.qe_round_trip = c.GetBool("qe.round_trip");
    s.review_cache_bytes = static_cast<size_t>(c.GetInt("qe.review_cache_mb")) << 20;
    s.glossaries = b.jobs->glossaries.get();
    s.jobs = b.jobs->service.get();
    s.live = b.live.get();
    s.editor_dir = c.GetString("editor.dir");
    if (s.editor_dir.empty()) {
      std::error_code ec;
      auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
      if (!ec) s.editor_dir = (exe.parent_path() / "web").string();
    }
    return s;
  }

  static api::ServerOptions ServerOptionsFrom(const Config& c) {
    api::ServerOptions o;
    o.host = c.GetString("server.host");
    o.port = static_cast<int>(c.GetInt("server.port"));
    o.threads = static_cast<int>(c.GetInt("server.threads"));
    o.waiting_threads = static_cast<int>(c.GetInt("server.waiting_threads"));
    o.max_connections = static_cast<int>(c.GetInt("server.max_connections"));
    o.max_body_bytes = static_cast<size_t>(c.GetInt("server.max_body_bytes"));
    o.max_upload_bytes = c.GetInt("server.max_upload_bytes");
    o.header_timeout = c.GetDuration("server.header_timeout");
    o.idle_timeout = c.GetDuration("server.idle_timeout");
    o.request_timeout = c.GetDuration("server.request_timeout");
    o.min_upload_rate = c.GetInt("server.min_upload_rate");
    o.upload_grace = c.GetDuration("server.upload_grace");
    o.storage_threads = static_cast<int>(c.GetInt("server.storage_threads"));
    o.long_threads = static_cast<int>(c.GetInt("server.long_threads"));
    o.tenant_long_requests = static_cast<int>(c.GetInt("server.tenant_long_requests"));
    o.max_queued = static_cast<int>(c.GetInt("server.max_queued"));
    o.max_queue_wait = c.GetDuration("server.max_queue_wait");
    o.auth_failure_rate = c.GetDouble("server.auth_failures.rps");
    o.auth_failure_burst = static_cast<double>(c.GetInt("server.auth_failures.burst"));
    o.access_log = c.GetBool("log.access");
    return o;
  }

  void PrintBootstrapKey() {
    if (auto keys = keys_->List(""); keys.ok() && keys->empty()) {
      auto created = keys_->Create("default", "bootstrap", {"admin"});
      if (created.ok()) {
        std::cout
            << "No API keys yet: created an admin key for tenant \"default\" (shown once):\n  "
            << created->key << "\n";
      }
    }
  }

  // How often the snapshot writer looks for stores to write (at most once per `interval` each).
  static std::chrono::seconds SnapshotPeriod(absl::Duration interval) {
    return std::chrono::seconds(std::clamp<int64_t>(absl::ToInt64Seconds(interval), 1, 60));
  }
  // Writes the snapshots of the TM indexes built here that changed (TmService::WriteSnapshots).
  void WriteTmSnapshots(absl::Duration interval) {
    auto written = tm_->WriteSnapshots(interval);
    if (!written.ok()) {
      log::Warn("tm.snapshot", {{"error", written.status().message()}});
    } else if (*written > 0) {
      log::Info("tm.snapshots_written", {{"stores", *written}});
    }
  }

  // Builds every TM index and resumes interrupted imports; false when the indexes failed.
  bool LoadIndexes() {
    auto stats = tm_->Load(/*build_indexes=*/true);
    if (!stats.ok()) {
      log::Error("tm.load", {{"error", stats.status().message()}});
      return false;
    }
    log::Info("tm.loaded", {{"stores", stats->stores},
                            {"segments", stats->segments},
                            {"ms", absl::ToInt64Milliseconds(stats->elapsed)}});
    absl::Status resumed = tm_->ResumeImports();
    if (!resumed.ok()) log::Error("tm.import.resume", {{"error", resumed.message()}});
    return true;
  }

  // The database's upkeep (PostgreSQL: next months' job partitions), hourly in serve and worker.
  // Also prunes audit records older than audit.retention.
  void Maintain() {
    if (auto swept = users_->Sweep(); !swept.ok()) {
      log::Warn("auth.sessions.sweep", {{"error", swept.status().message()}});
    } else if (*swept > 0) {
      log::Info("auth.sessions.swept", {{"sessions", *swept}});
    }
    auto pruned = db_->audit().PruneAudit(absl::Now() - config_->GetDuration("audit.retention"));
    if (!pruned.ok()) {
      log::Warn("audit.prune", {{"error", pruned.status().message()}});
    } else if (*pruned > 0) {
      log::Info("audit.pruned", {{"records", *pruned}});
    }
    auto made = db_->Maintain(absl::Now());
    if (!made.ok()) {
      log::Warn("storage.maintenance", {{"error", made.status().message()}});
      return;
    }
    for (const std::string& name : *made) log::Info("storage.partition_created", {{"table", name}});
  }

  // Applies what other processes changed in the TM (Every second, in serve and worker).
  // Also writes the TM uses counted since the last call.
  void SyncTm() {
    auto read = tm_->Sync();
    if (!read.ok()) log::Warn("tm.sync", {{"error", read.status().message()}});
    FlushTmUsage();
  }
  void FlushTmUsage() {
    auto flushed = tm_->FlushUsage();
    if (!flushed.ok()) log::Warn("tm.usage", {{"error", flushed.status().message()}});
  }

  std::optional<Config> config_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<IdGenerator> ids_;
  std::unique_ptr<tm::TmService> tm_;
  std::unique_ptr<auth::KeyService> keys_;
  std::unique_ptr<auth::UserService> users_;
};

// `verso migrate`, `verso jobs archive`, `verso version`: each sets *exit_code.
void AddAdminCommands(CLI::App* app, Runtime* runtime, int* exit_code) {
  app->add_subcommand("migrate", "Bring the database's schema to this verso's version")
      ->callback([=] { *exit_code = runtime->Migrate(); });
  auto* jobs_cmd = app->add_subcommand("jobs", "Job administration");
  jobs_cmd->require_subcommand(1);
  auto* archive_cmd = jobs_cmd->add_subcommand(
      "archive", "Detach the monthly partitions of jobs submitted before a month (PostgreSQL)");
  auto before = std::make_shared<std::string>();
  archive_cmd->add_option("--before", *before, "YYYY-MM: the first month kept")->required();
  archive_cmd->callback([=] { *exit_code = runtime->ArchiveJobs(*before); });
  auto env = std::make_shared<bool>(false);
  auto* options_cmd = app->add_subcommand(
      "options", "List every option: name, default, environment variable and what it does");
  options_cmd->add_flag("--env", *env, "Print only the environment variables' names");
  options_cmd->callback([=] {
    for (const ConfigOption& o : Schema(/*serving=*/true)) {
      if (*env) {
        std::cout << Config::EnvName(o.name) << "\n";
      } else {
        std::cout << o.name << "\t" << o.default_value << "\t" << Config::EnvName(o.name) << "\t"
                  << o.help << "\n";
      }
    }
  });
  auto json = std::make_shared<bool>(false);
  auto* version_cmd = app->add_subcommand("version", "Print the version");
  version_cmd->add_flag("--json", *json, "Print JSON");
  version_cmd->callback([=] {
    if (*json) {
      std::cout << DumpJson(nlohmann::json{{"version", kVersion}}) << "\n";
    } else {
      std::cout << "verso " << kVersion << "\n";
    }
  });
}

int Main(int argc, char** argv) {
  // Everything verso creates (the database, uploads, secrets, the data directory) is its
  // owner's alone.
  ::umask(077);
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
  std::vector<std::string> roles = {"api", "worker"};
  auto* serve_cmd = app.add_subcommand("serve", "Run the HTTP API server (verso's main job)");
  serve_cmd->add_option("--listen", listen, "host:port (default 127.0.0.1:8080; port 0: any)");
  serve_cmd
      ->add_option("--roles", roles,
                   "api, worker or both (default): the HTTP API, the job workers; several "
                   "processes may share one PostgreSQL database in any roles. tm (alone): a TM "
                   "node holding the indexes of the stores placed on it")
      ->delimiter(',')
      ->check(CLI::IsMember({"api", "worker", "tm"}));
  serve_cmd->callback([&] { serve = true; });
  bool work = false;
  int worker_threads = 0;
  auto* worker_cmd =
      app.add_subcommand("worker", "Run job workers only, sharing the database's queue");
  worker_cmd->add_option("--threads", worker_threads, "Worker threads (default jobs.workers)");
  worker_cmd->callback([&] { work = true; });
  cli::AddTmCommands(&app, &runtime, &exit_code);
  cli::AddKeyCommands(&app, &runtime, &exit_code);
  cli::AddUserCommands(&app, &runtime, &exit_code);
  cli::AddQeCommands(&app, &runtime, &exit_code);
  cli::AddAutoscaleCommands(&app, &runtime, &exit_code);
  cli::AddAuditCommands(&app, &runtime, &exit_code);
  cli::AddBackupCommands(&app, &runtime, &exit_code);
  cli::AddNoticeCommands(&app, &runtime, &exit_code);
  AddAdminCommands(&app, &runtime, &exit_code);
  app.parse_complete_callback([&] {
    runtime.serving = serve_cmd->parsed() || worker_cmd->parsed();
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
  if (serve) {
    if (std::find(roles.begin(), roles.end(), "tm") != roles.end()) {
      if (roles.size() != 1) {
        std::cerr << "verso: error: --roles: tm runs alone (a TM node serves no public API)\n";
        return 2;
      }
      return runtime.ServeTmNode();
    }
    const bool api = std::find(roles.begin(), roles.end(), "api") != roles.end();
    const bool worker = std::find(roles.begin(), roles.end(), "worker") != roles.end();
    if (!api) return runtime.Work(worker_threads);
    return runtime.Serve(worker);
  }
  if (work) return runtime.Work(worker_threads);
  return exit_code;
}

}  // namespace
}  // namespace verso

namespace {

// A crash (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) writes its stack to stderr (the server's
// log) before the default action, so a crash seen once, in CI or in production, can be found
// (`addr2line -e verso OFFSET` for the "verso(+0x...)" frames). Async-signal-safe calls only.
void OnFatalSignal(int sig) {
  constexpr char kHeader[] = "verso: fatal signal; stack:\n";
  (void)!write(STDERR_FILENO, kHeader, sizeof(kHeader) - 1);
  void* frames[64];
  backtrace_symbols_fd(frames, backtrace(frames, 64), STDERR_FILENO);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void InstallCrashStacks() {
  void* warm[1];
  backtrace(warm, 1);  // loads libgcc now: the first call may allocate, not in a handler
  struct sigaction action = {};
  action.sa_handler = OnFatalSignal;
  action.sa_flags = SA_RESETHAND;
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) sigaction(sig, &action, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  InstallCrashStacks();
  return verso::Main(argc, argv);
}
