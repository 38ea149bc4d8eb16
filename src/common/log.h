// Structured logging: one line per event, an event name plus typed fields, rendered as logfmt
// (`2026-11-26T20:01:02.345Z info tm.import store=tm_x tus=1200`) or as one JSON object per
// line. Backed by spdlog; thread-safe. Callers never log secrets: values that may hold one go
// through Redact() first.
#ifndef VERSO_COMMON_LOG_H_
#define VERSO_COMMON_LOG_H_

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace verso::log {

enum class Level { kDebug, kInfo, kWarn, kError, kOff };
enum class Format { kText, kJson };

absl::StatusOr<Level> ParseLevel(std::string_view name);
absl::StatusOr<Format> ParseFormat(std::string_view name);

// Sends log lines to stderr (or to `sink` when given, for tests). May be called again to
// reconfigure. `async`: lines are written to stderr in batches (every 50 ms, or at 256 KiB;
// warnings and errors at once), for the server's access log; call Flush() before exiting.
void Init(Level level, Format format, std::ostream* sink = nullptr, bool async = false);
// Writes out every queued line.
void Flush();

// A string value longer than kMaxFieldBytes is cut (Abbreviate), and invalid UTF-8 in it is
// replaced, so that no input can make a log line unbounded or unparseable.
inline constexpr size_t kMaxFieldBytes = 1024;

class Field {
 public:
  Field(std::string_view key, std::string_view value);
  Field(std::string_view key, const char* value) : Field(key, std::string_view(value)) {}
  Field(std::string_view key, const std::string& value) : Field(key, std::string_view(value)) {}
  Field(std::string_view key, absl::string_view value)
      : Field(key, std::string_view(value.data(), value.size())) {}
  Field(std::string_view key, int64_t value);
  Field(std::string_view key, int value) : Field(key, static_cast<int64_t>(value)) {}
  Field(std::string_view key, uint64_t value);
  Field(std::string_view key, double value);
  Field(std::string_view key, bool value);

  std::string_view key() const { return key_; }
  std::string_view value() const { return value_; }
  bool quoted() const { return quoted_; }

 private:
  std::string_view key_;
  std::string value_;
  bool quoted_;  // a string (JSON-quoted) rather than a number or bool
};

bool Enabled(Level level);
void Write(Level level, std::string_view event, std::initializer_list<Field> fields);

inline void Debug(std::string_view event, std::initializer_list<Field> fields = {}) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, event, fields);
}
inline void Info(std::string_view event, std::initializer_list<Field> fields = {}) {
  Write(Level::kInfo, event, fields);
}
inline void Warn(std::string_view event, std::initializer_list<Field> fields = {}) {
  Write(Level::kWarn, event, fields);
}
inline void Error(std::string_view event, std::initializer_list<Field> fields = {}) {
  Write(Level::kError, event, fields);
}

// "sk-abc...xyz" -> "sk-a…(redacted)". For values that may carry a credential.
std::string Redact(std::string_view secret);

}  // namespace verso::log

#endif  // VERSO_COMMON_LOG_H_
