#include "common/config.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cstdlib>
#include <fstream>

#include "absl/strings/numbers.h"

#include "common/status.h"
#include "common/strings.h"

extern char** environ;

namespace verso {
namespace {

absl::Status Validate(const ConfigOption& opt, const std::string& value) {
  switch (opt.type) {
    case ConfigType::kString:
      return absl::OkStatus();
    case ConfigType::kInt: {
      int64_t v;
      if (!ParseInt64(value, &v)) {
        return absl::InvalidArgumentError(StrCat("\"", value, "\" is not an integer"));
      }
      if (v < opt.min || v > opt.max) {
        return absl::InvalidArgumentError(
            StrCat(v, " is out of range [", opt.min, ", ", opt.max, "]"));
      }
      return absl::OkStatus();
    }
    case ConfigType::kDouble: {
      char* end = nullptr;
      double d = std::strtod(value.c_str(), &end);
      if (value.empty() || end != value.c_str() + value.size() || !(d >= 0)) {
        return absl::InvalidArgumentError(StrCat("\"", value, "\" is not a non-negative number"));
      }
      return absl::OkStatus();
    }
    case ConfigType::kBool: {
      bool b;
      if (!absl::SimpleAtob(value, &b)) {
        return absl::InvalidArgumentError(StrCat("\"", value, "\" is not a boolean (true/false)"));
      }
      return absl::OkStatus();
    }
    case ConfigType::kDuration: {
      absl::Duration d;
      if (!absl::ParseDuration(value, &d) || d < absl::ZeroDuration()) {
        return absl::InvalidArgumentError(
            StrCat("\"", value, "\" is not a duration (e.g. 250ms, 30s, 5m)"));
      }
      return absl::OkStatus();
    }
    case ConfigType::kChoice:
      for (const auto& c : opt.choices) {
        if (AsciiLower(value) == c) return absl::OkStatus();
      }
      return absl::InvalidArgumentError(
          StrCat("\"", value, "\" is not one of ", Join(opt.choices, ", ")));
  }
  return absl::OkStatus();
}

std::string MarkString(const std::string& path, const YAML::Mark& mark) {
  return StrCat(path, ":", mark.line + 1, ":", mark.column + 1);
}

// Flattens nested maps into dotted names; scalars only.
absl::Status Flatten(const YAML::Node& node, const std::string& prefix, const std::string& path,
                     std::vector<std::tuple<std::string, std::string, std::string>>* out) {
  if (node.IsMap()) {
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) {
        return absl::InvalidArgumentError(StrCat("configuration file ",
                                                 MarkString(path, kv.first.Mark()),
                                                 ": keys must be plain names"));
      }
      std::string key = kv.first.as<std::string>();
      std::string name = prefix.empty() ? key : StrCat(prefix, ".", key);
      if (kv.second.IsMap()) {
        absl::Status s = Flatten(kv.second, name, path, out);
        if (!s.ok()) return s;
      } else if (kv.second.IsScalar()) {
        out->emplace_back(name, kv.second.as<std::string>(), MarkString(path, kv.second.Mark()));
      } else if (kv.second.IsNull()) {
        out->emplace_back(name, "", MarkString(path, kv.first.Mark()));
      } else {
        return absl::InvalidArgumentError(StrCat("configuration file ",
                                                 MarkString(path, kv.second.Mark()), ": ", name,
                                                 ": expected a single value"));
      }
    }
    return absl::OkStatus();
  }
  if (node.IsNull()) return absl::OkStatus();  // empty file
  return absl::InvalidArgumentError(
      StrCat("configuration file ", MarkString(path, node.Mark()), ": expected a map of options"));
}

}  // namespace

std::string Config::EnvName(std::string_view option_name) {
  std::string n = AsciiUpper(option_name);
  for (char& c : n) {
    if (c == '.' || c == '-') c = '_';
  }
  return StrCat("VERSO_", n);
}

absl::StatusOr<Config> Config::Load(std::vector<ConfigOption> schema,
                                    const ConfigSources& sources) {
  Config config;
  for (auto& opt : schema) {
    Entry e{opt, opt.default_value, "default"};
    VERSO_CHECK(Validate(opt, opt.default_value).ok(), opt.name);
    std::string name = opt.name;
    config.entries_.emplace(std::move(name), std::move(e));
  }

  auto set = [&](const std::string& name, const std::string& value,
                 const std::string& origin) -> absl::Status {
    auto it = config.entries_.find(name);
    if (it == config.entries_.end()) {
      return absl::InvalidArgumentError(
          StrCat("configuration: unknown option \"", name, "\" (", origin, ")"));
    }
    absl::Status s = Validate(it->second.option, value);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          StrCat("configuration: ", name, ": ", s.message(), " (", origin, ")"));
    }
    it->second.value = it->second.option.type == ConfigType::kChoice ? AsciiLower(value) : value;
    it->second.origin = origin;
    return absl::OkStatus();
  };

  if (!sources.yaml_path.empty()) {
    std::ifstream in(sources.yaml_path);
    if (!in) {
      return absl::InvalidArgumentError(
          StrCat("configuration file ", sources.yaml_path, ": cannot be read"));
    }
    YAML::Node root;
    try {
      root = YAML::Load(in);
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(
          StrCat("configuration file ", MarkString(sources.yaml_path, e.mark), ": ", e.msg));
    }
    std::vector<std::tuple<std::string, std::string, std::string>> values;
    absl::Status s = Flatten(root, "", sources.yaml_path, &values);
    if (!s.ok()) return s;
    for (const auto& [name, value, where] : values) {
      s = set(name, value, StrCat("file ", where));
      if (!s.ok()) return s;
    }
  }

  std::map<std::string, std::string> env_to_option;
  for (const auto& [name, entry] : config.entries_) env_to_option[EnvName(name)] = name;
  for (const auto& [key, value] : sources.env) {
    if (key.rfind("VERSO_", 0) != 0 || key == kConfigFileEnv) continue;
    auto it = env_to_option.find(key);
    if (it == env_to_option.end()) {
      // Not ours (clients use VERSO_API_KEY, VERSO_URL ...), or a typo: said, not fatal.
      config.warnings_.push_back(
          StrCat("environment variable ", key, " names no verso option; ignored"));
      continue;
    }
    absl::Status s = set(it->second, value, StrCat("env ", key));
    if (!s.ok()) return s;
  }

  for (const auto& [name, value] : sources.flags) {
    absl::Status s = set(name, value, "flag");
    if (!s.ok()) return s;
  }
  return config;
}

const Config::Entry& Config::Find(std::string_view name) const {
  auto it = entries_.find(name);
  VERSO_CHECK(it != entries_.end(), name);
  return it->second;
}

const std::string& Config::GetString(std::string_view name) const { return Find(name).value; }

int64_t Config::GetInt(std::string_view name) const {
  int64_t v = 0;
  VERSO_CHECK(ParseInt64(Find(name).value, &v), name);
  return v;
}

double Config::GetDouble(std::string_view name) const {
  return std::strtod(Find(name).value.c_str(), nullptr);
}

bool Config::GetBool(std::string_view name) const {
  bool b = false;
  VERSO_CHECK(absl::SimpleAtob(Find(name).value, &b), name);
  return b;
}

absl::Duration Config::GetDuration(std::string_view name) const {
  absl::Duration d;
  VERSO_CHECK(absl::ParseDuration(Find(name).value, &d), name);
  return d;
}

const std::string& Config::Origin(std::string_view name) const { return Find(name).origin; }

std::vector<std::pair<std::string, std::string>> ProcessEnvironment() {
  std::vector<std::pair<std::string, std::string>> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace_back(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

absl::StatusOr<std::map<std::string, std::string>> ReadSecretsFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(StrCat("secrets file ", path, ": cannot be read"));
  std::map<std::string, std::string> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::string_view l = StripAsciiWhitespace(line);
    if (l.empty() || l[0] == '#') continue;
    if (l.substr(0, 7) == "export ") l = StripAsciiWhitespace(l.substr(7));
    size_t eq = l.find('=');
    std::string_view name =
        eq == std::string_view::npos ? l : StripAsciiWhitespace(l.substr(0, eq));
    bool valid_name = !name.empty();
    for (char c : name) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) valid_name = false;
    }
    if (eq == std::string_view::npos || !valid_name) {
      return absl::InvalidArgumentError(
          StrCat("secrets file ", path, ":", n, ": expected NAME=value"));
    }
    std::string_view value = StripAsciiWhitespace(l.substr(eq + 1));
    if (value.size() >= 2 && (value[0] == '"' || value[0] == '\'') && value.back() == value[0]) {
      value = value.substr(1, value.size() - 2);
    }
    out[std::string(name)] = std::string(value);
  }
  return out;
}

}  // namespace verso
