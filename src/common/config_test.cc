#include "common/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace verso {
namespace {

std::vector<ConfigOption> Schema() {
  return {
      {.name = "data_dir", .type = ConfigType::kString, .default_value = "./data"},
      {.name = "log.level",
       .type = ConfigType::kChoice,
       .default_value = "info",
       .choices = {"debug", "info", "warn", "error"}},
      {.name = "tm.max_results",
       .type = ConfigType::kInt,
       .default_value = "5",
       .min = 1,
       .max = 100},
      {.name = "sync", .type = ConfigType::kBool, .default_value = "true"},
      {.name = "timeout", .type = ConfigType::kDuration, .default_value = "30s"},
  };
}

std::string WriteFile(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(ConfigTest, DefaultsThenFileThenEnvThenFlags) {
  std::string path =
      WriteFile("c1.yaml", "data_dir: /srv/verso\nlog:\n  level: warn\ntm:\n  max_results: 7\n");
  ConfigSources src;
  src.yaml_path = path;
  src.env = {{"VERSO_LOG_LEVEL", "debug"}, {"HOME", "/root"}, {"VERSO_CONFIG", path}};
  src.flags = {{"tm.max_results", "9"}};
  auto config = Config::Load(Schema(), src);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->GetString("data_dir"), "/srv/verso");
  EXPECT_EQ(config->Origin("data_dir"), "file " + path + ":1:11");
  EXPECT_EQ(config->GetString("log.level"), "debug");
  EXPECT_EQ(config->Origin("log.level"), "env VERSO_LOG_LEVEL");
  EXPECT_EQ(config->GetInt("tm.max_results"), 9);
  EXPECT_EQ(config->Origin("tm.max_results"), "flag");
  EXPECT_TRUE(config->GetBool("sync"));
  EXPECT_EQ(config->GetDuration("timeout"), absl::Seconds(30));
  EXPECT_EQ(config->Origin("sync"), "default");
}

TEST(ConfigTest, BadValuesNameTheOptionAndTheSource) {
  ConfigSources src;
  src.env = {{"VERSO_TM_MAX_RESULTS", "500"}};
  EXPECT_EQ(
      Config::Load(Schema(), src).status().message(),
      "configuration: tm.max_results: 500 is out of range [1, 100] (env VERSO_TM_MAX_RESULTS)");
  src.env = {{"VERSO_LOG_LEVEL", "loud"}};
  EXPECT_EQ(Config::Load(Schema(), src).status().message(),
            "configuration: log.level: \"loud\" is not one of debug, info, warn, error (env "
            "VERSO_LOG_LEVEL)");
  // A VERSO_* variable that names no option is a warning, not an error: client scripts set
  // VERSO_API_KEY.
  src.env = {{"VERSO_LOG_LEVL", "info"}, {"VERSO_API_KEY", "vk_..."}};
  auto loaded = Config::Load(Schema(), src);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->warnings(),
            (std::vector<std::string>{
                "environment variable VERSO_LOG_LEVL names no verso option; ignored",
                "environment variable VERSO_API_KEY names no verso option; ignored"}));
  src.env = {};
  src.flags = {{"timeout", "soon"}};
  EXPECT_EQ(Config::Load(Schema(), src).status().message(),
            "configuration: timeout: \"soon\" is not a duration (e.g. 250ms, 30s, 5m) (flag)");
}

TEST(ConfigTest, FileErrorsCarryLineAndColumn) {
  ConfigSources src;
  src.yaml_path = WriteFile("c2.yaml", "log:\n  levle: info\n");
  EXPECT_EQ(Config::Load(Schema(), src).status().message(),
            "configuration: unknown option \"log.levle\" (file " + src.yaml_path + ":2:10)");
  src.yaml_path = WriteFile("c3.yaml", "data_dir: [a, b\n");
  auto bad = Config::Load(Schema(), src);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("c3.yaml:2:1"), std::string::npos) << bad.status();
  src.yaml_path = ::testing::TempDir() + "/does-not-exist.yaml";
  EXPECT_EQ(Config::Load(Schema(), src).status().message(),
            "configuration file " + src.yaml_path + ": cannot be read");
}

TEST(ConfigTest, SecretsFile) {
  std::string path = WriteFile("secrets.env",
                               "# provider keys\n\nOPENAI_API_KEY=sk-abc=def\n"
                               "export DEEPL_AUTH_KEY = \"k:fx\"\r\nEMPTY=\n");
  auto s = ReadSecretsFile(path);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*s, (std::map<std::string, std::string>{
                    {"OPENAI_API_KEY", "sk-abc=def"}, {"DEEPL_AUTH_KEY", "k:fx"}, {"EMPTY", ""}}));
  path = WriteFile("secrets2.env", "A=1\nsk-secret-value\n");
  EXPECT_EQ(ReadSecretsFile(path).status().message(),
            "secrets file " + path + ":2: expected NAME=value");
  EXPECT_EQ(ReadSecretsFile(path + ".missing").status().message(),
            "secrets file " + path + ".missing: cannot be read");
}

TEST(ConfigTest, EnvNames) {
  EXPECT_EQ(Config::EnvName("log.level"), "VERSO_LOG_LEVEL");
  EXPECT_EQ(Config::EnvName("storage.sqlite-sync"), "VERSO_STORAGE_SQLITE_SYNC");
}

}  // namespace
}  // namespace verso
