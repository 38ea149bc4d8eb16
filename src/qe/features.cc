// The builtin scorer's raw features (see qe.h), chrF, and spelling with hunspell.
#include <iconv.h>
#include <hunspell/hunspell.hxx>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/strings.h"
#include "qa/qa.h"
#include "qe/qe_internal.h"
#include "terms/terms.h"
#include "text/text.h"

namespace verso::qe {
namespace {

// The code points of `s` without white space (chrF ignores spaces), packed into `text`, with the
// offset of each in `starts` (and one past the last).
void Chars(std::string_view s, std::string* text, std::vector<size_t>* starts) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (i + n > s.size()) n = s.size() - i;
    if (!(n == 1 && (c == ' ' || c == '\t' || c == '\n' || c == '\r'))) {
      starts->push_back(text->size());
      text->append(s.substr(i, n));
    }
    i += n;
  }
  starts->push_back(text->size());
}

// How often each character n-gram of `text` occurs (views into `text`).
void CountGrams(const std::string& text, const std::vector<size_t>& starts, size_t n,
                absl::flat_hash_map<std::string_view, int>* counts) {
  counts->clear();
  for (size_t i = 0; i + n < starts.size(); ++i) {
    ++(*counts)[std::string_view(text).substr(starts[i], starts[i + n] - starts[i])];
  }
}

}  // namespace

double ChrF(std::string_view hypothesis, std::string_view reference) {
  std::string h, r;
  std::vector<size_t> hs, rs;  // code point offsets; size() - 1 code points
  Chars(hypothesis, &h, &hs);
  Chars(reference, &r, &rs);
  const size_t h_chars = hs.size() - 1, r_chars = rs.size() - 1;
  constexpr size_t kMaxN = 6;
  constexpr double kBeta2 = 4.0;  // beta = 2
  double sum_p = 0, sum_r = 0;
  int orders = 0;
  absl::flat_hash_map<std::string_view, int> hc, rc;
  for (size_t n = 1; n <= kMaxN; ++n) {
    if (h_chars < n || r_chars < n) break;
    CountGrams(h, hs, n, &hc);
    CountGrams(r, rs, n, &rc);
    int match = 0;
    for (const auto& [g, c] : hc) {
      auto it = rc.find(g);
      if (it != rc.end()) match += std::min(c, it->second);
    }
    sum_p += static_cast<double>(match) / (h_chars - n + 1);
    sum_r += static_cast<double>(match) / (r_chars - n + 1);
    ++orders;
  }
  if (orders == 0) return hypothesis == reference ? 1.0 : 0.0;
  const double p = sum_p / orders, rec = sum_r / orders;
  if (p + rec == 0) return 0;
  return (1 + kBeta2) * p * rec / (kBeta2 * p + rec);
}

// ---- Spelling ---------------------------------------------------------------------------------

namespace {

class Dictionary {
 public:
  Dictionary(const std::string& aff, const std::string& dic) : hunspell_(aff.c_str(), dic.c_str()) {
    const std::string enc = hunspell_.get_dict_encoding();
    if (enc != "UTF-8" && enc != "utf-8") {
      to_dict_ = iconv_open(enc.c_str(), "UTF-8");
    }
  }
  ~Dictionary() {
    if (to_dict_ != reinterpret_cast<iconv_t>(-1)) iconv_close(to_dict_);
  }

  // True when the word is spelled right.
  bool Correct(const std::string& word) {
    absl::MutexLock lock(&mu_);
    auto it = memo_.find(word);
    if (it != memo_.end()) return it->second;
    bool ok = false;
    std::string w;
    if (Convert(word, &w)) ok = hunspell_.spell(w);
    if (memo_.size() > 200000) memo_.clear();
    memo_.emplace(word, ok);
    return ok;
  }

 private:
  bool Convert(const std::string& in, std::string* out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (to_dict_ == reinterpret_cast<iconv_t>(-1)) {
      *out = in;
      return true;
    }
    out->assign(in.size() * 4 + 8, '\0');
    char* src = const_cast<char*>(in.data());
    size_t src_left = in.size();
    char* dst = out->data();
    size_t dst_left = out->size();
    iconv(to_dict_, nullptr, nullptr, nullptr, nullptr);
    if (iconv(to_dict_, &src, &src_left, &dst, &dst_left) == static_cast<size_t>(-1)) {
      return false;  // not representable in the dictionary's encoding: not a word of it
    }
    out->resize(out->size() - dst_left);
    return true;
  }

  absl::Mutex mu_;  // Hunspell and iconv are not thread-safe
  Hunspell hunspell_ ABSL_GUARDED_BY(mu_);
  iconv_t to_dict_ ABSL_GUARDED_BY(mu_) = reinterpret_cast<iconv_t>(-1);
  absl::flat_hash_map<std::string, bool> memo_ ABSL_GUARDED_BY(mu_);
};

class Dictionaries {
 public:
  Dictionary* For(const std::string& dir, std::string_view lang) {
    std::string tag(lang);
    std::replace(tag.begin(), tag.end(), '-', '_');
    const std::string primary = text::PrimaryLanguage(lang);
    absl::MutexLock lock(&mu_);
    const std::string key = dir + "|" + tag;
    auto it = dicts_.find(key);
    if (it != dicts_.end()) return it->second.get();
    // The regional dictionary, else the language's main one (de_DE for de, es_ES for es), else
    // any of the language.
    std::vector<std::string> candidates = {tag, StrCat(primary, "_", AsciiUpper(primary)), primary};
    std::string found;
    for (const auto& c : candidates) {
      if (std::filesystem::exists(StrCat(dir, "/", c, ".dic"))) {
        found = c;
        break;
      }
    }
    if (found.empty() && std::filesystem::is_directory(dir)) {
      std::vector<std::string> names;
      for (const auto& e : std::filesystem::directory_iterator(dir)) {
        const std::string n = e.path().stem();
        if (e.path().extension() == ".dic" && n.starts_with(primary + "_")) names.push_back(n);
      }
      std::sort(names.begin(), names.end());
      if (!names.empty()) found = names[0];
    }
    std::unique_ptr<Dictionary> d;
    if (!found.empty() && std::filesystem::exists(StrCat(dir, "/", found, ".aff"))) {
      d = std::make_unique<Dictionary>(StrCat(dir, "/", found, ".aff"),
                                       StrCat(dir, "/", found, ".dic"));
    }
    Dictionary* raw = d.get();
    dicts_.emplace(key, std::move(d));
    return raw;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Dictionary>> dicts_ ABSL_GUARDED_BY(mu_);
};

Dictionaries& AllDictionaries() {
  static Dictionaries* d = new Dictionaries();
  return *d;
}

bool HasDigit(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool StartsLower(std::string_view s) {
  // ASCII and Latin-1/Latin Extended lower-case starts; other scripts count as lower (no case).
  unsigned char c = static_cast<unsigned char>(s.empty() ? 0 : s[0]);
  return !(c >= 'A' && c <= 'Z');
}

}  // namespace

bool HasDictionary(const std::string& dir, std::string_view lang) {
  return AllDictionaries().For(dir, lang) != nullptr;
}

// ---- Features --------------------------------------------------------------------------------

std::vector<Feature> ComputeFeatures(const Input& in, const std::string& hunspell_dir,
                                     Details* details) {
  Details local;
  Details& d = details != nullptr ? *details : local;
  const std::vector<text::Token> src = text::Tokenize(in.source);
  const std::vector<text::Token> tgt = text::Tokenize(in.translation);
  const std::string src_plain = text::PlainText(in.source);
  const std::string tgt_plain = text::PlainText(in.translation);

  std::vector<const text::Token*> src_words, tgt_words;
  for (const auto& t : src) {
    if (t.kind == text::TokenKind::kWord) src_words.push_back(&t);
  }
  for (const auto& t : tgt) {
    if (t.kind == text::TokenKind::kWord) tgt_words.push_back(&t);
  }
  const double ns = std::max<size_t>(1, src_words.size());

  qa::Counts& counts = d.counts;
  if (in.qa != nullptr) {
    counts = *in.qa;
  } else {
    qa::Check({in.source, in.translation, in.source_lang, in.target_lang, in.terms}, {}, &counts);
  }

  std::vector<Feature> f;
  // Length: log of the character ratio (the model compares it with the pair's norm).
  const double ls = std::max<size_t>(1, text::CodePointCount(src_plain));
  const double lt = std::max<size_t>(1, text::CodePointCount(tgt_plain));
  f.push_back({"log_length_ratio", std::log(lt / ls)});
  f.push_back({"source_words", std::log1p(static_cast<double>(src_words.size()))});
  f.push_back({"unknown_ratio", static_cast<double>(in.unknown_words.size()) / ns});

  // Untranslated copies: lower-case source words of 4+ letters found as-is in the target and
  // not words of the target language.
  Dictionary* dict = AllDictionaries().For(hunspell_dir, in.target_lang);
  d.has_dictionary = dict != nullptr;
  std::set<std::string> tgt_set;
  for (const auto* t : tgt_words) tgt_set.insert(t->key);
  int copies = 0, candidates = 0;
  for (const auto* s : src_words) {
    if (text::CodePointCount(s->surface) < 4 || !StartsLower(s->surface) || HasDigit(s->surface)) {
      continue;
    }
    ++candidates;
    if (tgt_set.contains(s->key) && (dict == nullptr || !dict->Correct(s->surface))) {
      ++copies;
      d.copied.push_back(s->surface);
    }
  }
  f.push_back({"copy_ratio", candidates ? static_cast<double>(copies) / candidates : 0.0});

  // Spelling: target words the dictionary does not know, except those also in the source
  // (names, codes) and words with digits.
  std::set<std::string> src_set;
  for (const auto* s : src_words) src_set.insert(s->key);
  int misspelled = 0, checked = 0;
  if (dict != nullptr) {
    for (const auto* t : tgt_words) {
      if (src_set.contains(t->key) || HasDigit(t->surface)) continue;
      ++checked;
      if (!dict->Correct(t->surface)) {
        ++misspelled;
        d.misspelled.push_back(t->surface);
      }
    }
  }
  f.push_back({"misspelled_ratio", checked ? static_cast<double>(misspelled) / checked : 0.0});

  // Repetition beyond the source's: hallucinating systems loop.
  auto repetition = [](const std::vector<const text::Token*>& words) {
    if (words.size() < 2) return 0.0;
    std::set<std::string> uniq;
    for (const auto* w : words) uniq.insert(w->key);
    return 1.0 - static_cast<double>(uniq.size()) / words.size();
  };
  f.push_back({"repetition", std::max(0.0, repetition(tgt_words) - repetition(src_words))});

  f.push_back({"mismatches",
               static_cast<double>(counts.numbers_missing + counts.numbers_extra +
                                   counts.placeholders_missing + counts.placeholders_extra +
                                   counts.tags_missing + counts.tags_extra + counts.tags_unpaired +
                                   counts.urls_missing + counts.emails_missing)});
  f.push_back({"end_punctuation", counts.end_punctuation ? 1.0 : 0.0});
  bool case_differs = false;
  if (!src_words.empty() && !tgt_words.empty() && src_words[0]->begin < 4 &&
      tgt_words[0]->begin < 4) {
    case_differs = StartsLower(src_words[0]->surface) != StartsLower(tgt_words[0]->surface);
  }
  f.push_back({"first_letter_case", case_differs ? 1.0 : 0.0});
  f.push_back({"untranslated", counts.untranslated ? 1.0 : 0.0});
  f.push_back({"glossary_missing", static_cast<double>(counts.glossary_missing)});
  f.push_back({"forbidden_terms", static_cast<double>(counts.forbidden)});

  // TM agreement: a translation far from a high fuzzy match's is suspect, more so the higher
  // the match.
  double tm = 0;
  if (in.tm_score >= 75 && !in.tm_target.empty()) {
    tm = (1.0 - ChrF(tgt_plain, text::PlainText(in.tm_target))) * (in.tm_score - 70) / 30.0;
  }
  f.push_back({"tm_disagreement", tm});
  double rt = 0;
  if (in.back_translation.has_value()) {
    rt = 1.0 - ChrF(text::PlainText(*in.back_translation), src_plain);
  }
  f.push_back({"round_trip_loss", rt});
  f.push_back({"engine_logprob", in.engine_logprob.value_or(0.0)});
  return f;
}

std::vector<Feature> RawFeatures(const Input& input) {
  return ComputeFeatures(input, BuiltinOptions{}.hunspell_dir);
}

}  // namespace verso::qe
