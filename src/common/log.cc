#include "common/log.h"

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>
#include <mutex>

#include "common/json_escape.h"
#include "common/strings.h"

namespace verso::log {
namespace {

struct State {
  std::mutex mu;
  std::shared_ptr<spdlog::logger> logger;
  std::atomic<Format> format{Format::kText};
  std::atomic<Level> level{Level::kInfo};
};

State& GetState() {
  static State* state = new State();
  return *state;
}

spdlog::level::level_enum ToSpd(Level level) {
  switch (level) {
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
    case Level::kOff:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

std::shared_ptr<spdlog::logger> Logger() {
  State& s = GetState();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.logger) {
    s.logger = std::make_shared<spdlog::logger>("verso",
                                                std::make_shared<spdlog::sinks::stderr_sink_mt>());
    s.logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
    s.logger->set_level(ToSpd(s.level.load()));
  }
  return s.logger;
}

bool NeedsQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      return true;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<Level> ParseLevel(std::string_view name) {
  std::string n = AsciiLower(name);
  if (n == "debug") return Level::kDebug;
  if (n == "info") return Level::kInfo;
  if (n == "warn" || n == "warning") return Level::kWarn;
  if (n == "error") return Level::kError;
  if (n == "off") return Level::kOff;
  return absl::InvalidArgumentError(
      StrCat("\"", name, "\" is not a log level (debug, info, warn, error, off)"));
}

absl::StatusOr<Format> ParseFormat(std::string_view name) {
  std::string n = AsciiLower(name);
  if (n == "text") return Format::kText;
  if (n == "json") return Format::kJson;
  return absl::InvalidArgumentError(StrCat("\"", name, "\" is not a log format (text, json)"));
}

void Init(Level level, Format format, std::ostream* sink) {
  State& s = GetState();
  std::shared_ptr<spdlog::sinks::sink> spd_sink;
  if (sink != nullptr) {
    spd_sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*sink, /*force_flush=*/true);
  } else {
    spd_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  auto logger = std::make_shared<spdlog::logger>("verso", spd_sink);
  if (format == Format::kJson) {
    logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%v})",
                        spdlog::pattern_time_type::utc);
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(ToSpd(level));
  logger->flush_on(spdlog::level::warn);
  std::lock_guard<std::mutex> lock(s.mu);
  s.logger = std::move(logger);
  s.format = format;
  s.level = level;
}

Field::Field(std::string_view key, int64_t value)
    : key_(key), value_(StrCat(value)), quoted_(false) {}
Field::Field(std::string_view key, uint64_t value)
    : key_(key), value_(StrCat(value)), quoted_(false) {}
Field::Field(std::string_view key, double value)
    : key_(key), value_(StrCat(value)), quoted_(false) {}
Field::Field(std::string_view key, bool value)
    : key_(key), value_(value ? "true" : "false"), quoted_(false) {}

bool Enabled(Level level) {
  State& s = GetState();
  return level >= s.level.load() && s.level.load() != Level::kOff;
}

void Write(Level level, std::string_view event, std::initializer_list<Field> fields) {
  if (!Enabled(level)) return;
  State& s = GetState();
  std::string line;
  if (s.format.load() == Format::kJson) {
    StrAppend(&line, "\"event\":", JsonQuote(event));
    for (const Field& f : fields) {
      StrAppend(&line, ",", JsonQuote(f.key()), ":",
                f.quoted() ? JsonQuote(f.value()) : std::string(f.value()));
    }
  } else {
    line.append(event);
    for (const Field& f : fields) {
      StrAppend(&line, " ", f.key(), "=");
      if (f.quoted() && NeedsQuotes(f.value())) {
        line.append(JsonQuote(f.value()));
      } else {
        line.append(f.value());
      }
    }
  }
  Logger()->log(ToSpd(level), "{}", line);
}

std::string Redact(std::string_view secret) {
  if (secret.size() <= 8) return "(redacted)";
  return StrCat(secret.substr(0, 3), "…(redacted)");
}

}  // namespace verso::log
