// Configuration: a schema of typed options, filled from (lowest to highest priority) defaults,
// an optional YAML file, VERSO_* environment variables and command-line flags. Every value is
// validated at load; a bad value, an unknown key or an unreadable file is an InvalidArgument
// error that names the option and where the bad value came from, so start-up can stop with a
// clear message.
//
// Names are dotted ("log.level"); in YAML they nest (log: {level: debug}); in the environment
// they are upper-cased with dots and dashes as underscores (VERSO_LOG_LEVEL).
#ifndef VERSO_COMMON_CONFIG_H_
#define VERSO_COMMON_CONFIG_H_

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace verso {

enum class ConfigType { kString, kInt, kDouble, kBool, kDuration, kChoice };

struct ConfigOption {
  std::string name;
  ConfigType type = ConfigType::kString;
  std::string default_value;
  std::string help;
  std::vector<std::string> choices;                   // kChoice only
  int64_t min = std::numeric_limits<int64_t>::min();  // kInt only
  int64_t max = std::numeric_limits<int64_t>::max();  // kInt only
};

struct ConfigSources {
  std::string yaml_path;                                   // empty: no file
  std::vector<std::pair<std::string, std::string>> env;    // the process environment
  std::vector<std::pair<std::string, std::string>> flags;  // option name -> value
};

// Immutable after Load; safe to read from any thread.
class Config {
 public:
  static absl::StatusOr<Config> Load(std::vector<ConfigOption> schema,
                                     const ConfigSources& sources);

  // The getters abort on a name missing from the schema (a programming error).
  const std::string& GetString(std::string_view name) const;
  int64_t GetInt(std::string_view name) const;
  double GetDouble(std::string_view name) const;
  bool GetBool(std::string_view name) const;
  absl::Duration GetDuration(std::string_view name) const;
  // "default", "file verso.yaml:3:10", "env VERSO_LOG_LEVEL" or "flag".
  const std::string& Origin(std::string_view name) const;

  static std::string EnvName(std::string_view option_name);
  // What Load let pass but the user should hear of: a VERSO_* environment variable that names
  // no option (VERSO_API_KEY in a client's script), with the nearest option when there is one.
  const std::vector<std::string>& warnings() const { return warnings_; }

  // Environment variables that are not options (read elsewhere) and are therefore allowed.
  static constexpr std::string_view kConfigFileEnv = "VERSO_CONFIG";

 private:
  struct Entry {
    ConfigOption option;
    std::string value;
    std::string origin;
  };
  const Entry& Find(std::string_view name) const;
  std::map<std::string, Entry, std::less<>> entries_;
  std::vector<std::string> warnings_;
};

// Reads the process environment into ConfigSources::env form.
std::vector<std::pair<std::string, std::string>> ProcessEnvironment();

// Reads a secrets file: one `NAME=value` per line, blank lines and `#` comments ignored,
// optional quotes around the value. Errors name the file and line, never a value.
absl::StatusOr<std::map<std::string, std::string>> ReadSecretsFile(const std::string& path);

}  // namespace verso

#endif  // VERSO_COMMON_CONFIG_H_
