// Terminology: per-tenant glossaries (concepts with terms per language, TBX/CSV import and
// export) and term recognition in segments.
//
// Recognition is token based: a text is tokenized (text/text.h), words are case-folded and, in
// languages that have a Snowball stemmer, stemmed, and every term is a sequence of such keys. An
// Aho-Corasick automaton over the keys finds every term in one pass over the tokens, however many
// terms there are. A case-sensitive term also needs each word of the text to begin with the
// term's word as written ("API" matches "APIs", not "api").
#ifndef VERSO_TERMS_TERMS_H_
#define VERSO_TERMS_TERMS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "formats/formats.h"

namespace verso {
class Clock;
namespace storage {
class GlossaryRepository;
}
}  // namespace verso

namespace verso::terms {

using Concept = formats::Concept;
using Term = formats::Term;

// ---- Matching -------------------------------------------------------------------------------

// Thread-safe once built.
class Matcher {
 public:
  // `lang`: the texts' language (BCP 47); selects the stemmer.
  explicit Matcher(std::string_view lang);
  ~Matcher();
  Matcher(Matcher&&) noexcept;
  Matcher& operator=(Matcher&&) noexcept;

  // Adds a term before Build. Terms without a word are ignored.
  void Add(std::string_view plain_text, bool case_sensitive, uint32_t payload);
  void Build();

  struct Match {
    uint32_t payload;
    uint32_t begin;  // byte range in the searched text
    uint32_t end;
  };
  // Every term in `markup` (tagged text), leftmost first; a match inside a longer one at the
  // same place is left out ("web server" hides "server" there).
  std::vector<Match> Find(std::string_view markup) const;
  size_t size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// True when Snowball has a stemmer for the tag's language.
bool HasStemmer(std::string_view lang);

// ---- Glossaries -----------------------------------------------------------------------------

struct GlossaryInfo {
  std::string tenant;
  std::string name;
  std::string description;
  int64_t concepts = 0;
  int64_t terms = 0;
  absl::Time created_at;
  absl::Time updated_at;
};

// A term of the source segment, with what the translation should say.
struct TermHit {
  std::string concept_id;
  std::string source;  // the term as it appears in the segment
  std::string term;    // the glossary's source term
  uint32_t begin = 0;  // byte range in the segment
  uint32_t end = 0;
  bool source_forbidden = false;        // the source term itself is marked forbidden
  std::vector<Term> targets;            // preferred first, then admitted / unmarked
  std::vector<Term> forbidden_targets;  // what the translation must not say
};

// The terminology check of one translation.
struct TermCheck {
  std::vector<TermHit> hits;
  // Indexes into `hits` of those none of whose target terms appears in the translation.
  std::vector<size_t> missing;
  // Forbidden target-language terms found in the translation (whole glossary), as written there.
  std::vector<std::string> forbidden;
};

// How a process's term indexes follow changes made by other processes (scale-out). Every change
// raises the glossary's updated_at (its version: it never repeats), and an index is used for at
// most `revalidate` before its glossary's version is read again; a newer one rebuilds it. With an
// L2 (Redis), a rebuild takes the concepts from there (the platform spec's "glossary terms, L2,
// 1 hour", keyed by the version, so an entry is never stale) and each change is announced, so
// that every process drops its indexes at once instead of at its next check.
struct GlossaryCacheOptions {
  absl::Duration revalidate = absl::Seconds(1);
  std::function<std::optional<std::string>(const std::string& key)> l2_get;  // nullopt: a miss
  std::function<void(const std::string& key, const std::string& value)> l2_put;
  // After a change: delete the glossary's L2 keys (GlossaryL2Pattern) and tell every process
  // (which calls DropIndexes).
  std::function<void(std::string_view tenant, std::string_view name)> announce;
};

// The L2 keys of one glossary's concepts: "glossary:HASH:VERSION" (HASH of the tenant and name;
// the entry names both and is checked on reading), and the SCAN pattern that matches them all.
std::string GlossaryL2Key(std::string_view tenant, std::string_view name, int64_t version);
std::string GlossaryL2Pattern(std::string_view tenant, std::string_view name);
// The message announcing a change on kGlossaryInvalidationChannel, and its reading.
inline constexpr std::string_view kGlossaryInvalidationChannel = "glossary_invalidation";
std::string GlossaryChangeMessage(std::string_view tenant, std::string_view name);
bool ParseGlossaryChangeMessage(std::string_view message, std::string* tenant, std::string* name);

// Thread-safe. Concepts are stored in the database; matchers are built on first use per
// (glossary, source, target) and rebuilt after a change (see GlossaryCacheOptions).
class GlossaryService {
 public:
  GlossaryService(storage::GlossaryRepository* repo, const Clock* clock,
                  GlossaryCacheOptions cache = {});
  ~GlossaryService();

  absl::Status Create(std::string_view tenant, std::string_view name,
                      std::string_view description);  // AlreadyExists
  absl::StatusOr<GlossaryInfo> Get(std::string_view tenant, std::string_view name);
  absl::StatusOr<std::vector<GlossaryInfo>> List(std::string_view tenant);
  absl::Status Delete(std::string_view tenant, std::string_view name);

  absl::StatusOr<std::vector<Concept>> Concepts(std::string_view tenant, std::string_view name);
  absl::StatusOr<Concept> GetConcept(std::string_view tenant, std::string_view name,
                                     std::string_view id);
  // Inserts or replaces concepts (by id; an empty id gets a new one), atomically. Every term
  // needs a language and text; InvalidArgument names the concept and term index.
  absl::StatusOr<std::vector<Concept>> PutConcepts(std::string_view tenant, std::string_view name,
                                                   std::vector<Concept> concepts, bool replace_all);
  absl::Status DeleteConcept(std::string_view tenant, std::string_view name, std::string_view id);
  // An import (a file's concepts): a concept with an id replaces the glossary's concept of that
  // id; one without (a CSV row without a concept column) joins the concept that already has
  // one of its terms (same language, same text ignoring case), adding the terms it lacks, or
  // is new. A concept no term or id matches is never overwritten. `replace_all` first drops
  // every concept.
  struct ImportCounts {
    int64_t added = 0, merged = 0, replaced = 0;
  };
  absl::StatusOr<ImportCounts> Import(std::string_view tenant, std::string_view name,
                                      std::vector<Concept> concepts, bool replace_all);

  // Terms of `name` in the source markup, with their target-language terms. `nonblocking` (a
  // caller on an I/O thread): WouldBlock when the glossary would have to be read.
  absl::StatusOr<std::vector<TermHit>> Find(std::string_view tenant, std::string_view name,
                                            std::string_view source_lang,
                                            std::string_view target_lang,
                                            std::string_view source_markup,
                                            bool nonblocking = false);
  // Find, then checks `translation`: which hits' targets are missing, which forbidden
  // target terms appear.
  absl::StatusOr<TermCheck> Check(std::string_view tenant, std::string_view name,
                                  std::string_view source_lang, std::string_view target_lang,
                                  std::string_view source_markup, std::string_view translation);

  // The glossary's version (its updated_at, micros) that Find and Check use now: a changed
  // glossary has a greater one (within GlossaryCacheOptions::revalidate for another process's
  // change). NotFound for an unknown glossary; `nonblocking` as for Find.
  absl::StatusOr<int64_t> Version(std::string_view tenant, std::string_view name,
                                  std::string_view source_lang, std::string_view target_lang,
                                  bool nonblocking = false);

  // Drops this process's indexes of the glossary (another process announced a change to it).
  void DropIndexes(std::string_view tenant, std::string_view name);

  struct CacheStats {
    int64_t builds = 0;         // indexes built
    int64_t l2_hits = 0;        // builds whose concepts came from the L2
    int64_t revalidations = 0;  // version reads
  };
  CacheStats cache_stats() const;

 private:
  struct Index;
  struct Cached {
    std::shared_ptr<const Index> index;
    int64_t version = 0;  // the glossary's updated_at (micros) it was built from
    absl::Time checked;   // when that version was last read
  };
  absl::StatusOr<std::shared_ptr<const Index>> IndexFor(std::string_view tenant,
                                                        std::string_view name,
                                                        std::string_view source_lang,
                                                        std::string_view target_lang,
                                                        bool nonblocking = false);
  // The glossary's concepts at `version` (at least): from the L2 when it has them, else from the
  // database (then stored in the L2).
  absl::StatusOr<std::vector<Concept>> ConceptsAt(std::string_view tenant, std::string_view name,
                                                  int64_t version);
  // After this process changed the glossary: drops its indexes and announces the change.
  void Changed(std::string_view tenant, std::string_view name);
  // The index's source terms in `source_markup`, with their `target_lang` terms.
  static std::vector<TermHit> HitsIn(const Index& index, std::string_view target_lang,
                                     std::string_view source_markup);

  storage::GlossaryRepository* repo_;
  const Clock* clock_;
  const GlossaryCacheOptions cache_;
  mutable absl::Mutex mu_;
  std::map<std::string, Cached, std::less<>> indexes_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t drops_ ABSL_GUARDED_BY(mu_) = 0;  // DropIndexes calls
  CacheStats stats_ ABSL_GUARDED_BY(mu_);
};

// True when `term`'s language tag serves `lang` (same primary language; a regional term only
// its own region).
bool LangMatches(std::string_view term_lang, std::string_view lang);

}  // namespace verso::terms

#endif  // VERSO_TERMS_TERMS_H_
