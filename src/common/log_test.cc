#include "common/log.h"

#include <gtest/gtest.h>

#include <sstream>

#include "common/json_escape.h"

namespace verso::log {
namespace {

using ::verso::JsonQuote;

class LogTest : public ::testing::Test {
 protected:
  void TearDown() override { Init(Level::kInfo, Format::kText); }
};

TEST_F(LogTest, TextIsLogfmtWithQuotingWhereNeeded) {
  std::ostringstream out;
  Init(Level::kInfo, Format::kText, &out);
  Info("tm.import", {{"store", "tm_1"}, {"tus", int64_t{12}}, {"file", "a b.tmx"}, {"ok", true}});
  std::string line = out.str();
  EXPECT_NE(line.find(" info tm.import store=tm_1 tus=12 file=\"a b.tmx\" ok=true\n"),
            std::string::npos)
      << line;
}

TEST_F(LogTest, JsonIsOneObjectPerLine) {
  std::ostringstream out;
  Init(Level::kInfo, Format::kJson, &out);
  Warn("x", {{"msg", "say \"hi\"\n"}, {"n", 3}});
  std::string line = out.str();
  EXPECT_EQ(line.rfind("{\"ts\":\"", 0), 0u) << line;
  EXPECT_NE(
      line.find("\"level\":\"warning\",\"event\":\"x\",\"msg\":\"say \\\"hi\\\"\\n\",\"n\":3}"),
      std::string::npos)
      << line;
}

TEST_F(LogTest, LevelFiltersLines) {
  std::ostringstream out;
  Init(Level::kWarn, Format::kText, &out);
  Info("hidden");
  Debug("hidden");
  Error("shown");
  EXPECT_EQ(out.str().find("hidden"), std::string::npos);
  EXPECT_NE(out.str().find("shown"), std::string::npos);
}

TEST(LogParseTest, LevelsAndFormats) {
  EXPECT_EQ(*ParseLevel("DEBUG"), Level::kDebug);
  EXPECT_EQ(*ParseFormat("json"), Format::kJson);
  EXPECT_EQ(ParseLevel("loud").status().message(),
            "\"loud\" is not a log level (debug, info, warn, error, off)");
}

TEST(JsonQuoteTest, EscapesWhatJsonNeedsAndCopiesTheRest) {
  EXPECT_EQ(JsonQuote("plain café ✓"), "\"plain café ✓\"");
  EXPECT_EQ(JsonQuote("a\"b\\c\nd\te\x01"), "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
  EXPECT_EQ(JsonQuote(""), "\"\"");
  EXPECT_EQ(JsonQuote("\""), "\"\\\"\"");
}

TEST(LogRedactTest, NeverShowsTheSecret) {
  std::string r = Redact("sk-1234567890abcdef");
  EXPECT_EQ(r.find("1234567890"), std::string::npos);
  EXPECT_EQ(Redact("short"), "(redacted)");
}

}  // namespace
}  // namespace verso::log
