// QA checks: structured warnings about a translation, as translators know them from Weblate and
// Translate Toolkit. Every check has a stable name (below) and can be disabled.
//
//   numbers            numbers of the source missing in the translation, or added
//   placeholders       printf (%s, %1$d, %(name)s), {x}, {{x}}, ${x}, ICU MessageFormat arguments
//   tags               inline codes and written tags: count, order, pairing
//   leading_whitespace / trailing_whitespace   differ from the source's
//   end_punctuation    the sentence ends differently (language-aware: "。" is ".", "¿?" ...)
//   double_space       two spaces in a row the source does not have
//   urls / emails      missing or changed
//   glossary           a source term whose glossary translation is not used
//   forbidden_terms    a forbidden term in the translation
//   untranslated       the translation is empty or the source copied
//   length             longer than the allowed number of characters
//
// Severity "error" means the translation must not be approved without a human (wrong numbers,
// lost placeholders, forbidden terms...); "warning" is worth a look.
#ifndef VERSO_QA_QA_H_
#define VERSO_QA_QA_H_

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace verso::terms {
struct TermCheck;
}

namespace verso::qa {

struct Warning {
  std::string check;     // its name
  std::string severity;  // "error" or "warning"
  std::string message;   // readable, names what is wrong ("numbers missing: 42, 7")
  bool operator==(const Warning&) const = default;
};

struct Options {
  std::set<std::string, std::less<>> disabled;  // check names
  int64_t max_length = 0;                       // characters (code points) of the text; 0: none
};

struct Input {
  std::string_view source;  // markup
  std::string_view target;  // markup
  std::string_view source_lang;
  std::string_view target_lang;
  const terms::TermCheck* terms = nullptr;  // the glossary checks need it
};

// What the checks found, as counts, for quality estimation. They do not depend on Options: a
// disabled check is still counted.
struct Counts {
  int numbers_missing = 0, numbers_extra = 0;
  int placeholders_missing = 0, placeholders_extra = 0;
  int tags_missing = 0, tags_extra = 0, tags_unpaired = 0;
  bool tag_order = false;
  int urls_missing = 0, emails_missing = 0;
  bool end_punctuation = false, whitespace = false;
  bool untranslated = false;  // empty, or a copy of the source
  int glossary_missing = 0, forbidden = 0;
};

// Runs every enabled check.
std::vector<Warning> Check(const Input& input, const Options& options, Counts* counts = nullptr);

// The check names, in the order above.
const std::vector<std::string>& CheckNames();
// OK, or InvalidArgument naming the first unknown check ("`field`: unknown check \"x\"").
absl::Status ValidateCheckNames(const std::vector<std::string>& names, std::string_view field);

}  // namespace verso::qa

#endif  // VERSO_QA_QA_H_
