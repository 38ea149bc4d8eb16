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

}  // namespace
}  // namespace verso
