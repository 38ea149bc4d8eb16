#include <cmath>

#include "text/text.h"

namespace verso::text {
namespace {

// GMX-V 2.0 word-count factors for languages without word separators.
double LogographicFactor(std::string_view language) {
  std::string lang = PrimaryLanguage(language);
  if (lang == "zh" || lang == "yue" || lang == "wuu" || lang == "cmn") return 2.8;
  if (lang == "ja") return 3.0;
  if (lang == "ko") return 3.3;
  if (lang == "th") return 6.0;
  return 0;
}

}  // namespace

WordCount CountWords(std::string_view markup, std::string_view language) {
  WordCount count;
  int64_t word_characters = 0;
  for (const Token& t : Tokenize(markup)) {
    switch (t.kind) {
      case TokenKind::kWord:
      case TokenKind::kNumber: {
        int64_t chars = static_cast<int64_t>(CodePointCount(t.surface));
        ++count.words;
        word_characters += chars;
        count.characters += chars;
        break;
      }
      case TokenKind::kPunct:
        count.characters += static_cast<int64_t>(CodePointCount(t.surface));
        break;
      case TokenKind::kPlaceholder:
      case TokenKind::kTag:
        ++count.codes;
        break;
    }
  }
  double factor = LogographicFactor(language);
  if (factor > 0) count.words = std::llround(static_cast<double>(word_characters) / factor);
  return count;
}

}  // namespace verso::text
