#include "common/strings.h"

#include <gtest/gtest.h>

namespace verso {
namespace {

TEST(StringsTest, PercentEncodingRoundTrips) {
  EXPECT_EQ(PercentEncode("eng|spa"), "eng%7Cspa");
  EXPECT_EQ(PercentEncode("a b/c~d_e.f-g"), "a%20b%2Fc~d_e.f-g");
  EXPECT_EQ(PercentEncode("días"), "d%C3%ADas");
  const std::string text = "Qué tal? 100% & más=sí +1";
  EXPECT_EQ(PercentDecode(PercentEncode(text), true), text);
  EXPECT_EQ(PercentDecode("a+b%2Bc", true), "a b+c");
  EXPECT_EQ(PercentDecode("a+b", false), "a+b");
  EXPECT_EQ(PercentDecode("50%", true), std::nullopt);
  EXPECT_EQ(PercentDecode("%zz", true), std::nullopt);
}

TEST(StringsTest, ParseDecimalTakesOnlyFiniteJsonNumbers) {
  double v = -1;
  EXPECT_TRUE(ParseDecimal("85", &v));
  EXPECT_EQ(v, 85);
  EXPECT_TRUE(ParseDecimal("-0.5", &v));
  EXPECT_EQ(v, -0.5);
  EXPECT_TRUE(ParseDecimal("1e2", &v));
  EXPECT_EQ(v, 100);
  for (const char* bad : {"nan", "NaN", "inf", "-inf", "infinity", "0x1p3", "0x10", " 1", "1 ", "",
                          "-", "1.", ".5", "01", "1e", "1e999", "+1", "1,5"}) {
    v = 7;
    EXPECT_FALSE(ParseDecimal(bad, &v)) << bad;
    EXPECT_EQ(v, 7) << bad;
  }
}

TEST(StringsTest, AbbreviateBoundsLengthAndRepairsUtf8) {
  EXPECT_EQ(Abbreviate("short"), "short");
  EXPECT_EQ(Abbreviate("a\xff"
                       "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(Abbreviate(std::string(300, 'x'), 10), "xxxxxxxxxx…(300 bytes)");
  // Never cuts inside a character: "é" is two bytes.
  EXPECT_EQ(Abbreviate("ééé", 5), "éé…(6 bytes)");
  EXPECT_TRUE(IsUtf8("día"));
  EXPECT_FALSE(IsUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsUtf8("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(IsUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
}

}  // namespace
}  // namespace verso
