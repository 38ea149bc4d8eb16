#include "common/log.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/json_escape.h"
#include "common/strings.h"

namespace verso::log {
namespace {

struct State {
  absl::Mutex mu;
  std::shared_ptr<spdlog::logger> logger ABSL_GUARDED_BY(mu);
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
  absl::MutexLock lock(&s.mu);
  if (!s.logger) {
    s.logger = std::make_shared<spdlog::logger>("verso",
                                                std::make_shared<spdlog::sinks::stderr_sink_mt>());
    s.logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
    s.logger->set_level(ToSpd(s.level.load()));
  }
  return s.logger;
}

// A stderr sink that collects lines and writes them in batches: every 50 ms from a background
// thread, or at once when 256 KiB are waiting. A busy server logs a line per request; writing
// each with its own syscall (or waking a logging thread per line) costs more than the request.
class BufferedStderrSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  BufferedStderrSink() : flusher_([this] { Run(); }) {}
  ~BufferedStderrSink() override {
    {
      absl::MutexLock lock(&stop_mu_);
      stop_ = true;
    }
    stop_cv_.SignalAll();
    flusher_.join();
    flush();
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    buffer_.append(formatted.data(), formatted.size());
    if (buffer_.size() >= (256 << 10)) WriteOut();
  }
  void flush_() override { WriteOut(); }

 private:
  void WriteOut() {
    size_t done = 0;
    while (done < buffer_.size()) {
      ssize_t n = ::write(STDERR_FILENO, buffer_.data() + done, buffer_.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    buffer_.clear();
  }
  void Run() {
    absl::MutexLock lock(&stop_mu_);
    while (!stop_) {
      stop_cv_.WaitWithTimeout(&stop_mu_, absl::Milliseconds(50));
      flush();
    }
  }
  std::string buffer_;
  absl::Mutex stop_mu_;
  absl::CondVar stop_cv_;
  bool stop_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::thread flusher_;
};

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

void Init(Level level, Format format, std::ostream* sink, bool async) {
  State& s = GetState();
  std::shared_ptr<spdlog::sinks::sink> spd_sink;
  if (sink != nullptr) {
    spd_sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*sink, /*force_flush=*/true);
  } else {
    spd_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  if (async && sink == nullptr) spd_sink = std::make_shared<BufferedStderrSink>();
  auto logger = std::make_shared<spdlog::logger>("verso", spd_sink);
  if (format == Format::kJson) {
    logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%v})",
                        spdlog::pattern_time_type::utc);
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(ToSpd(level));
  logger->flush_on(spdlog::level::warn);  // warnings and errors are written at once
  absl::MutexLock lock(&s.mu);
  s.logger = std::move(logger);
  s.format = format;
  s.level = level;
}

void Flush() {
  State& s = GetState();
  std::shared_ptr<spdlog::logger> logger;
  {
    absl::MutexLock lock(&s.mu);
    logger = s.logger;
  }
  if (logger) logger->flush();
}

Field::Field(std::string_view key, std::string_view value) : key_(key), quoted_(true) {
  // The common case, short and valid, without a second scan in Abbreviate.
  if (value.size() <= kMaxFieldBytes && IsUtf8(value)) {
    value_ = std::string(value);
  } else {
    value_ = Abbreviate(value, kMaxFieldBytes);
  }
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
