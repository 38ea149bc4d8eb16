// Sentence segmentation: ICU sentence breaks with the language's abbreviation suppressions
// (CLDR "ss=standard": "Mr.", "z.B.", "etc." do not end a sentence).
#include <unicode/brkiter.h>
#include <unicode/utext.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "text/text.h"

namespace verso::text {
namespace {

struct SentenceBreakers {
  std::map<std::string, std::unique_ptr<icu::BreakIterator>> by_lang;
  UText* utext = nullptr;
  ~SentenceBreakers() {
    if (utext != nullptr) utext_close(utext);
  }
  icu::BreakIterator* For(const std::string& lang) {
    auto it = by_lang.find(lang);
    if (it != by_lang.end()) return it->second.get();
    UErrorCode status = U_ZERO_ERROR;
    icu::Locale locale((lang.empty() ? std::string("root") : lang + "@ss=standard").c_str());
    std::unique_ptr<icu::BreakIterator> iter(
        icu::BreakIterator::createSentenceInstance(locale, status));
    if (U_FAILURE(status)) iter.reset();
    return by_lang.emplace(lang, std::move(iter)).first->second.get();
  }
};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

// verso's own abbreviations, beyond CLDR's suppressions (which miss e.g. English "Dr."): a
// sentence break right after one of these (written with its final period) is not a break.
// Case-insensitive; per language.
const std::map<std::string, std::vector<std::string>>& Abbreviations() {
  static const auto* kAbbr = new std::map<std::string, std::vector<std::string>>{
      {"en",
       {"dr",  "mr",  "mrs", "ms", "prof", "st",  "jr",   "sr",  "vs",  "e.g", "i.e", "approx",
        "inc", "ltd", "co",  "no", "fig",  "vol", "dept", "est", "gen", "gov", "sen", "rep"}},
      {"de", {"z.b", "z. b", "dr",  "prof", "bzw", "ca",   "usw", "vgl", "nr",  "hr",
              "fr",  "d.h",  "u.a", "evtl", "ggf", "inkl", "bsp", "s",   "str", "tel"}},
      {"es",
       {"sr", "sra", "srta", "dr", "dra", "ud", "uds", "pág", "núm", "p.ej", "av", "etc", "aprox",
        "ej", "tel"}},
      {"fr", {"m", "mme", "mlle", "dr", "pr", "p.ex", "cf", "env", "av", "bd", "tél", "vol"}},
      {"ca", {"sr", "sra", "dr", "dra", "pàg", "núm", "p.ex", "etc", "av"}},
      {"pt", {"sr", "sra", "dr", "dra", "pág", "núm", "p.ex", "av", "etc"}},
      {"it", {"sig", "sig.ra", "dott", "prof", "pag", "ecc", "es", "ca"}},
  };
  return *kAbbr;
}

// True when `sentence` ends with "<abbreviation>." for the language.
bool EndsWithAbbreviation(std::string_view sentence, const std::vector<std::string>& abbrs) {
  while (!sentence.empty() && IsSpace(sentence.back())) sentence.remove_suffix(1);
  if (sentence.empty() || sentence.back() != '.') return false;
  sentence.remove_suffix(1);
  for (const std::string& a : abbrs) {
    if (sentence.size() < a.size()) continue;
    std::string_view tail = sentence.substr(sentence.size() - a.size());
    bool same = true;
    for (size_t i = 0; i < a.size() && same; ++i) {
      char c = tail[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      same = c == a[i];
    }
    if (!same) continue;
    // A whole word: what precedes is the start, white space or an opening bracket.
    const size_t before = sentence.size() - a.size();
    if (before == 0 || IsSpace(sentence[before - 1]) || sentence[before - 1] == '(') return true;
  }
  return false;
}

}  // namespace

std::vector<std::pair<uint32_t, uint32_t>> SplitSentences(std::string_view plain,
                                                          std::string_view lang) {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  auto add = [&](size_t b, size_t e) {
    while (b < e && IsSpace(plain[b])) ++b;
    while (e > b && IsSpace(plain[e - 1])) --e;
    if (b < e) out.emplace_back(static_cast<uint32_t>(b), static_cast<uint32_t>(e));
  };
  thread_local SentenceBreakers breakers;
  icu::BreakIterator* iter = breakers.For(PrimaryLanguage(lang));
  if (iter == nullptr || !IsValidUtf8(plain)) {
    add(0, plain.size());
    return out;
  }
  UErrorCode status = U_ZERO_ERROR;
  breakers.utext =
      utext_openUTF8(breakers.utext, plain.data(), static_cast<int64_t>(plain.size()), &status);
  iter->setText(breakers.utext, status);
  if (U_FAILURE(status)) {
    add(0, plain.size());
    return out;
  }
  auto abbr = Abbreviations().find(PrimaryLanguage(lang));
  int32_t start = iter->first();
  for (int32_t end = iter->next(); end != icu::BreakIterator::DONE; end = iter->next()) {
    if (abbr != Abbreviations().end() && static_cast<size_t>(end) < plain.size() &&
        EndsWithAbbreviation(plain.substr(start, end - start), abbr->second)) {
      continue;  // the sentence goes on past the abbreviation
    }
    add(static_cast<size_t>(start), static_cast<size_t>(end));
    start = end;
  }
  if (static_cast<size_t>(start) < plain.size()) add(static_cast<size_t>(start), plain.size());
  return out;
}

}  // namespace verso::text
