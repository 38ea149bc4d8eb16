#include "common/json.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/strings.h"

namespace verso {
namespace {

TEST(ParseJsonTest, ReadsWhatNlohmannReads) {
  auto j =
      ParseJson(R"({"a": [1, -2, 3.5, "x", true, null, {"b": {}}], "c": 18446744073709551615})");
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(*j,
            nlohmann::json::parse(
                R"({"a": [1, -2, 3.5, "x", true, null, {"b": {}}], "c": 18446744073709551615})"));
}

TEST(ParseJsonTest, DepthIsBoundedBeforeAnythingIsAllocated) {
  JsonError why;
  // 10 MiB of '[' (the attack) is refused at level 65 with the path of the level.
  std::string deep(10 << 20, '[');
  auto j = ParseJson(deep, {}, &why);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(why, JsonError::kDepth);
  std::string path;
  for (int i = 0; i < 64; ++i) path += "[0]";
  EXPECT_EQ(j.status().message(), "malformed JSON: " + path + ": nested deeper than 64 levels");
  // Exactly at the limit is fine.
  std::string ok = std::string(64, '[') + std::string(64, ']');
  EXPECT_TRUE(ParseJson(ok).ok());
  EXPECT_FALSE(ParseJson("[" + ok + "]").ok());
  EXPECT_FALSE(ParseJson(R"({"a":{"b":[{"c":1}]}})", JsonLimits{3}).ok());
  EXPECT_TRUE(ParseJson(R"({"a":{"b":[1]}})", JsonLimits{3}).ok());
}

TEST(ParseJsonTest, NumbersOutOfRangeNameTheirField) {
  JsonError why;
  auto j = ParseJson("{\"segments\": [{\"x\": 1}, {\"qe\": 1e999999}]}", {}, &why);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(why, JsonError::kRange);
  EXPECT_EQ(j.status().message(), "segments[1].qe: number out of range (line 1, column 32)");
  // Whole numbers past 64 bits are doubles, not errors.
  auto big = ParseJson("{\"n\": 123456789012345678901234567890}");
  ASSERT_TRUE(big.ok());
  EXPECT_TRUE((*big)["n"].is_number_float());
  // The number itself never reaches the message, however long it is.
  std::string huge = "{\"n\": 1" + std::string(100000, '0') + "e999999}";
  auto h = ParseJson(huge, {}, &why);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().message(), "n: number out of range (line 1, column 7)");
}

TEST(ParseJsonTest, SyntaxErrorsSayWhere) {
  JsonError why;
  auto j = ParseJson("{\n  \"a\": [1, 2,, 3]\n}", {}, &why);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(why, JsonError::kSyntax);
  EXPECT_TRUE(ToStd(j.status().message()).starts_with("malformed JSON at line 2, column 14: "))
      << j.status().message();
  auto bad = ParseJson("{\"a\": \"\xff\"}", {}, &why);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(why, JsonError::kSyntax);
  EXPECT_TRUE(IsUtf8(ToStd(bad.status().message()))) << bad.status().message();
  EXPECT_FALSE(ParseJson("").ok());
  EXPECT_FALSE(ParseJson("{} x").ok());
  EXPECT_TRUE(ParseAnswerJson("[[[").is_discarded());
}

TEST(DumpJsonTest, InvalidUtf8NeverThrows) {
  nlohmann::json j = {{"url", "http://x/\xff"}};
  EXPECT_THROW((void)j.dump(), nlohmann::json::type_error);
  EXPECT_EQ(DumpJson(j), "{\"url\":\"http://x/\xEF\xBF\xBD\"}");
}

}  // namespace
}  // namespace verso
