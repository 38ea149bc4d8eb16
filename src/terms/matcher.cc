// Term recognition: an Aho-Corasick automaton over stemmed word keys (see terms.h).
#include <libstemmer.h>

#include <algorithm>
#include <deque>

#include "absl/container/flat_hash_map.h"
#include "common/strings.h"
#include "terms/terms.h"
#include "text/text.h"

namespace verso::terms {
namespace {

// Snowball stemmers are not thread-safe: one per thread and language.
class Stemmers {
 public:
  ~Stemmers() {
    for (auto& [lang, s] : stemmers_) {
      if (s != nullptr) sb_stemmer_delete(s);
    }
  }
  sb_stemmer* Get(const std::string& lang) {
    auto it = stemmers_.find(lang);
    if (it != stemmers_.end()) return it->second;
    // libstemmer knows ISO 639-1 codes ("en", "de") as aliases of its algorithms; Porter's
    // English is the one it calls "en".
    sb_stemmer* s = lang.empty() ? nullptr : sb_stemmer_new(lang.c_str(), "UTF_8");
    stemmers_.emplace(lang, s);
    return s;
  }

 private:
  absl::flat_hash_map<std::string, sb_stemmer*> stemmers_;
};

std::string Stem(const std::string& lang, const std::string& folded) {
  thread_local Stemmers stemmers;
  sb_stemmer* s = stemmers.Get(lang);
  if (s == nullptr) return folded;
  const sb_symbol* out = sb_stemmer_stem(s, reinterpret_cast<const sb_symbol*>(folded.data()),
                                         static_cast<int>(folded.size()));
  if (out == nullptr) return folded;
  return std::string(reinterpret_cast<const char*>(out), sb_stemmer_length(s));
}

bool Searchable(const text::Token& t) {
  return t.kind == text::TokenKind::kWord || t.kind == text::TokenKind::kNumber ||
         t.kind == text::TokenKind::kPunct;
}

// The key a token is matched by: stemmed folded words, other tokens as written.
std::string Key(const std::string& lang, const text::Token& t) {
  if (t.kind == text::TokenKind::kWord) return Stem(lang, t.key);
  return t.surface;
}

}  // namespace

bool HasStemmer(std::string_view lang) {
  std::string primary = text::PrimaryLanguage(lang);
  sb_stemmer* s = primary.empty() ? nullptr : sb_stemmer_new(primary.c_str(), "UTF_8");
  if (s == nullptr) return false;
  sb_stemmer_delete(s);
  return true;
}

struct Matcher::Impl {
  std::string lang;                                    // primary language subtag
  absl::flat_hash_map<std::string, uint32_t> key_ids;  // token key -> id (0: none)
  struct Pattern {
    uint32_t payload;
    uint32_t length;  // tokens
    bool case_sensitive;
    std::vector<std::string> surfaces;  // case-sensitive terms: the words as written
  };
  std::vector<Pattern> patterns;
  struct Node {
    absl::flat_hash_map<uint32_t, uint32_t> next;
    uint32_t fail = 0;
    uint32_t output_link = 0;   // nearest node on the fail chain with outputs (0: none)
    std::vector<uint32_t> out;  // patterns ending here
  };
  std::vector<Node> nodes{Node{}};
  bool built = false;

  uint32_t Id(const std::string& key, bool create) {
    auto it = key_ids.find(key);
    if (it != key_ids.end()) return it->second;
    if (!create) return 0;
    uint32_t id = static_cast<uint32_t>(key_ids.size()) + 1;
    key_ids.emplace(key, id);
    return id;
  }
};

Matcher::Matcher(std::string_view lang) : impl_(std::make_unique<Impl>()) {
  impl_->lang = text::PrimaryLanguage(lang);
}
Matcher::~Matcher() = default;
Matcher::Matcher(Matcher&&) noexcept = default;
Matcher& Matcher::operator=(Matcher&&) noexcept = default;

size_t Matcher::size() const { return impl_->patterns.size(); }

void Matcher::Add(std::string_view plain_text, bool case_sensitive, uint32_t payload) {
  Impl& m = *impl_;
  std::vector<text::Token> tokens = text::TokenizePlain(plain_text);
  Impl::Pattern p{payload, 0, case_sensitive, {}};
  uint32_t node = 0;
  bool has_word = false;
  for (const text::Token& t : tokens) {
    if (!Searchable(t)) continue;
    has_word |= t.kind == text::TokenKind::kWord || t.kind == text::TokenKind::kNumber;
    const uint32_t id = m.Id(Key(m.lang, t), true);
    auto it = m.nodes[node].next.find(id);
    if (it == m.nodes[node].next.end()) {
      m.nodes.emplace_back();
      const uint32_t fresh = static_cast<uint32_t>(m.nodes.size() - 1);
      m.nodes[node].next.emplace(id, fresh);
      node = fresh;
    } else {
      node = it->second;
    }
    ++p.length;
    p.surfaces.push_back(t.kind == text::TokenKind::kWord ? t.surface : "");
  }
  if (!has_word) return;
  if (!case_sensitive) p.surfaces.clear();
  m.nodes[node].out.push_back(static_cast<uint32_t>(m.patterns.size()));
  m.patterns.push_back(std::move(p));
  m.built = false;
}

void Matcher::Build() {
  Impl& m = *impl_;
  // Breadth-first: failure links, and output links to the nearest node with outputs.
  std::deque<uint32_t> queue;
  for (auto& [id, child] : m.nodes[0].next) {
    m.nodes[child].fail = 0;
    m.nodes[child].output_link = 0;
    queue.push_back(child);
  }
  while (!queue.empty()) {
    const uint32_t n = queue.front();
    queue.pop_front();
    for (auto& [id, child] : m.nodes[n].next) {
      uint32_t f = m.nodes[n].fail;
      while (true) {
        auto it = m.nodes[f].next.find(id);
        if (it != m.nodes[f].next.end() && it->second != child) {
          m.nodes[child].fail = it->second;
          break;
        }
        if (f == 0) {
          m.nodes[child].fail = 0;
          break;
        }
        f = m.nodes[f].fail;
      }
      const uint32_t fl = m.nodes[child].fail;
      m.nodes[child].output_link = !m.nodes[fl].out.empty() ? fl : m.nodes[fl].output_link;
      queue.push_back(child);
    }
  }
  m.built = true;
}

std::vector<Matcher::Match> Matcher::Find(std::string_view markup) const {
  const Impl& m = *impl_;
  std::vector<Match> found;
  if (m.patterns.empty()) return found;
  std::vector<text::Token> all = text::Tokenize(markup);
  // Tags and placeholders are not searched, but one between two words breaks a term.
  std::vector<const text::Token*> tokens;
  std::vector<bool> break_before;
  tokens.reserve(all.size());
  bool gap = false;
  for (const text::Token& t : all) {
    if (Searchable(t)) {
      tokens.push_back(&t);
      break_before.push_back(gap);
      gap = false;
    } else {
      gap = true;
    }
  }
  struct Raw {
    uint32_t pattern;
    size_t first;  // token index
    size_t last;
  };
  std::vector<Raw> raw;
  uint32_t node = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const text::Token& t = *tokens[i];
    if (break_before[i]) node = 0;
    auto key_it = m.key_ids.find(Key(m.lang, t));
    if (key_it == m.key_ids.end()) {
      node = 0;
      continue;
    }
    const uint32_t id = key_it->second;
    while (true) {
      auto it = m.nodes[node].next.find(id);
      if (it != m.nodes[node].next.end()) {
        node = it->second;
        break;
      }
      if (node == 0) break;
      node = m.nodes[node].fail;
    }
    for (uint32_t n = m.nodes[node].out.empty() ? m.nodes[node].output_link : node; n != 0;
         n = m.nodes[n].output_link) {
      for (uint32_t p : m.nodes[n].out) {
        raw.push_back({p, i + 1 - m.patterns[p].length, i});
      }
    }
  }
  // Case rules, then longest-leftmost without overlaps inside a longer match.
  std::vector<Raw> ok;
  for (const Raw& r : raw) {
    const Impl::Pattern& p = m.patterns[r.pattern];
    bool match = true;
    if (p.case_sensitive) {
      for (size_t k = 0; k < p.length && match; ++k) {
        const std::string& want = p.surfaces[k];
        if (!want.empty() && !tokens[r.first + k]->surface.starts_with(want)) match = false;
      }
    }
    if (match) ok.push_back(r);
  }
  std::sort(ok.begin(), ok.end(), [](const Raw& a, const Raw& b) {
    if (a.first != b.first) return a.first < b.first;
    return a.last > b.last;
  });
  for (size_t i = 0; i < ok.size(); ++i) {
    bool inside = false;
    for (size_t j = 0; j < ok.size() && !inside; ++j) {
      if (j == i) continue;
      const bool contains = ok[j].first <= ok[i].first && ok[j].last >= ok[i].last &&
                            (ok[j].last - ok[j].first) > (ok[i].last - ok[i].first);
      inside = contains;
    }
    if (inside) continue;
    found.push_back(
        {m.patterns[ok[i].pattern].payload, tokens[ok[i].first]->begin, tokens[ok[i].last]->end});
  }
  return found;
}

}  // namespace verso::terms
