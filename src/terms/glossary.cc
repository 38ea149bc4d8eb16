// Glossaries: storage of concepts and cached term indexes (see terms.h).
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/clock.h"
#include "common/hash.h"
#include "common/json.h"
#include "common/names.h"
#include "common/status.h"
#include "common/strings.h"
#include "storage/storage.h"
#include "terms/terms.h"
#include "text/text.h"

namespace verso::terms {
namespace {

using Json = nlohmann::json;

std::string Encode(const Concept& c) {
  Json j = {{"id", c.id},
            {"subject", c.subject},
            {"definition", c.definition},
            {"note", c.note},
            {"terms", Json::array()}};
  for (const Term& t : c.terms) {
    j["terms"].push_back({{"lang", t.lang},
                          {"text", t.text},
                          {"part_of_speech", t.part_of_speech},
                          {"status", t.status},
                          {"case_sensitive", t.case_sensitive},
                          {"note", t.note}});
  }
  return DumpJson(j);
}

absl::StatusOr<Concept> Decode(const std::string& data) {
  Json j = Json::parse(data, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return absl::DataLossError("concept: not JSON");
  Concept c;
  c.id = j.value("id", "");
  c.subject = j.value("subject", "");
  c.definition = j.value("definition", "");
  c.note = j.value("note", "");
  for (const Json& t : j.value("terms", Json::array())) {
    Term term;
    term.lang = t.value("lang", "");
    term.text = t.value("text", "");
    term.part_of_speech = t.value("part_of_speech", "");
    term.status = t.value("status", "");
    term.case_sensitive = t.value("case_sensitive", false);
    term.note = t.value("note", "");
    c.terms.push_back(std::move(term));
  }
  return c;
}

absl::StatusOr<std::vector<Concept>> DecodeAll(const std::vector<storage::ConceptRecord>& rs) {
  std::vector<Concept> out;
  out.reserve(rs.size());
  for (const auto& r : rs) {
    VERSO_ASSIGN_OR_RETURN(Concept c, Decode(r.data));
    out.push_back(std::move(c));
  }
  return out;
}

GlossaryInfo Info(const storage::GlossaryRecord& r) {
  return {r.tenant, r.name, r.description, r.concepts, r.terms, r.created_at, r.updated_at};
}

// An L2 entry: the glossary's concepts (their stored JSON) with the glossary they belong to.
std::string EncodeL2(std::string_view tenant, std::string_view name, int64_t version,
                     const std::vector<storage::ConceptRecord>& records) {
  Json concepts = Json::array();
  for (const auto& r : records) concepts.push_back(r.data);
  return DumpJson(
      {{"tenant", tenant}, {"name", name}, {"version", version}, {"concepts", concepts}});
}

// nullopt unless `value` is an entry of this glossary at this version (a hash collision or a
// damaged entry is a miss).
std::optional<std::vector<Concept>> DecodeL2(const std::string& value, std::string_view tenant,
                                             std::string_view name, int64_t version) {
  Json j = Json::parse(value, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("tenant", "") != tenant ||
      j.value("name", "") != name || j.value("version", int64_t{-1}) != version ||
      !j.contains("concepts") || !j["concepts"].is_array()) {
    return std::nullopt;
  }
  std::vector<Concept> out;
  for (const Json& data : j["concepts"]) {
    if (!data.is_string()) return std::nullopt;
    auto c = Decode(data.get<std::string>());
    if (!c.ok()) return std::nullopt;
    out.push_back(std::move(*c));
  }
  return out;
}

std::string GlossaryHash(std::string_view tenant, std::string_view name) {
  return StrCat(StableHash64(StrCat(tenant, "\x1f", name)));
}

int StatusRank(std::string_view status) {
  if (status == "preferred") return 0;
  if (status == "forbidden") return 2;
  return 1;
}

}  // namespace

std::string GlossaryL2Key(std::string_view tenant, std::string_view name, int64_t version) {
  return StrCat("glossary:", GlossaryHash(tenant, name), ":", version);
}

std::string GlossaryL2Pattern(std::string_view tenant, std::string_view name) {
  return StrCat("glossary:", GlossaryHash(tenant, name), ":*");
}

std::string GlossaryChangeMessage(std::string_view tenant, std::string_view name) {
  return StrCat(tenant, "\x1f", name);
}

bool ParseGlossaryChangeMessage(std::string_view message, std::string* tenant, std::string* name) {
  const size_t at = message.find('\x1f');
  if (at == std::string_view::npos || at == 0 || at + 1 == message.size()) return false;
  *tenant = std::string(message.substr(0, at));
  *name = std::string(message.substr(at + 1));
  return true;
}

bool LangMatches(std::string_view term_lang, std::string_view lang) {
  if (EqualsIgnoreAsciiCase(term_lang, lang)) return true;
  if (!EqualsIgnoreAsciiCase(text::PrimaryLanguage(term_lang), text::PrimaryLanguage(lang))) {
    return false;
  }
  // A bare term serves every region; a regional term only its own.
  return term_lang.find('-') == std::string_view::npos &&
         term_lang.find('_') == std::string_view::npos;
}

struct GlossaryService::Index {
  int64_t version = 0;  // the glossary's updated_at (micros) its concepts are of
  std::vector<Concept> concepts;
  struct Entry {
    uint32_t concept_index;
    uint32_t term;
  };
  std::vector<Entry> source_entries;
  std::vector<Entry> target_entries;
  Matcher source{""};
  Matcher target{""};
};

GlossaryService::GlossaryService(storage::GlossaryRepository* repo, const Clock* clock,
                                 GlossaryCacheOptions cache)
    : repo_(repo), clock_(clock), cache_(std::move(cache)) {}
GlossaryService::~GlossaryService() = default;

absl::Status GlossaryService::Create(std::string_view tenant, std::string_view name,
                                     std::string_view description) {
  VERSO_RETURN_IF_ERROR(CheckName("name", name));
  storage::GlossaryRecord r;
  r.tenant = std::string(tenant);
  r.name = std::string(name);
  r.description = std::string(description);
  r.created_at = r.updated_at = clock_->Now();
  return repo_->CreateGlossary(r);
}

absl::StatusOr<GlossaryInfo> GlossaryService::Get(std::string_view tenant, std::string_view name) {
  VERSO_ASSIGN_OR_RETURN(storage::GlossaryRecord r, repo_->GetGlossary(tenant, name));
  return Info(r);
}

absl::StatusOr<std::vector<GlossaryInfo>> GlossaryService::List(std::string_view tenant) {
  VERSO_ASSIGN_OR_RETURN(std::vector<storage::GlossaryRecord> rs, repo_->ListGlossaries(tenant));
  std::vector<GlossaryInfo> out;
  for (const auto& r : rs) out.push_back(Info(r));
  return out;
}

absl::Status GlossaryService::Delete(std::string_view tenant, std::string_view name) {
  VERSO_RETURN_IF_ERROR(repo_->DeleteGlossary(tenant, name));
  Changed(tenant, name);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Concept>> GlossaryService::Concepts(std::string_view tenant,
                                                               std::string_view name) {
  VERSO_RETURN_IF_ERROR(repo_->GetGlossary(tenant, name).status());
  VERSO_ASSIGN_OR_RETURN(std::vector<storage::ConceptRecord> rs, repo_->ListConcepts(tenant, name));
  return DecodeAll(rs);
}

absl::StatusOr<Concept> GlossaryService::GetConcept(std::string_view tenant, std::string_view name,
                                                    std::string_view id) {
  VERSO_ASSIGN_OR_RETURN(std::vector<Concept> all, Concepts(tenant, name));
  for (Concept& c : all) {
    if (c.id == id) return std::move(c);
  }
  return absl::NotFoundError(StrCat("concept \"", id, "\" not found"));
}

absl::StatusOr<std::vector<Concept>> GlossaryService::PutConcepts(std::string_view tenant,
                                                                  std::string_view name,
                                                                  std::vector<Concept> concepts,
                                                                  bool replace_all) {
  std::vector<storage::ConceptRecord> records;
  records.reserve(concepts.size());
  std::set<std::string> ids;
  const absl::Time now = clock_->Now();
  for (size_t i = 0; i < concepts.size(); ++i) {
    Concept& c = concepts[i];
    if (c.id.empty()) {
      absl::MutexLock lock(&mu_);
      c.id = StrCat("c", absl::ToUnixMicros(now), "-", ++next_id_);
    }
    if (!ids.insert(c.id).second) {
      return absl::InvalidArgumentError(
          StrCat("concepts[", i, "].id: \"", c.id, "\" appears more than once"));
    }
    if (c.terms.empty()) {
      return absl::InvalidArgumentError(StrCat("concepts[", i, "].terms: at least one term"));
    }
    for (size_t k = 0; k < c.terms.size(); ++k) {
      Term& t = c.terms[k];
      const std::string where = StrCat("concepts[", i, "].terms[", k, "]");
      auto lang = text::CanonicalLanguageTag(t.lang);
      if (!lang.ok()) {
        return absl::InvalidArgumentError(
            StrCat(where, ".lang: \"", t.lang, "\" is not a BCP 47 language tag"));
      }
      t.lang = *lang;
      t.text = std::string(StripAsciiWhitespace(t.text));
      if (t.text.empty()) return absl::InvalidArgumentError(StrCat(where, ".text: is required"));
      if (!text::IsValidUtf8(t.text)) {
        return absl::InvalidArgumentError(StrCat(where, ".text: not valid UTF-8"));
      }
      if (!t.status.empty() && t.status != "preferred" && t.status != "admitted" &&
          t.status != "forbidden") {
        return absl::InvalidArgumentError(
            StrCat(where, ".status: must be preferred, admitted or forbidden"));
      }
    }
    records.push_back({c.id, Encode(c), static_cast<int64_t>(c.terms.size())});
  }
  VERSO_RETURN_IF_ERROR(repo_->PutConcepts(tenant, name, records, replace_all, now));
  Changed(tenant, name);
  return concepts;
}

namespace {

// A term's identity for matching concepts: its language and its case-folded text.
std::string TermKey(const Term& t) {
  auto lang = text::CanonicalLanguageTag(t.lang);
  return StrCat(lang.ok() ? *lang : t.lang, "\x1f", text::FoldCase(StripAsciiWhitespace(t.text)));
}

// Adds to `into` the terms of `from` it lacks; a subject or definition it lacks too.
void MergeInto(Concept* into, const Concept& from) {
  std::set<std::string> have;
  for (const Term& t : into->terms) have.insert(TermKey(t));
  for (const Term& t : from.terms) {
    if (have.insert(TermKey(t)).second) into->terms.push_back(t);
  }
  if (into->subject.empty()) into->subject = from.subject;
  if (into->definition.empty()) into->definition = from.definition;
}

}  // namespace

absl::StatusOr<GlossaryService::ImportCounts> GlossaryService::Import(std::string_view tenant,
                                                                      std::string_view name,
                                                                      std::vector<Concept> concepts,
                                                                      bool replace_all) {
  ImportCounts counts;
  std::vector<Concept> existing;
  if (!replace_all) {
    VERSO_ASSIGN_OR_RETURN(existing, Concepts(tenant, name));
  }
  std::map<std::string, size_t> by_term;  // TermKey -> index in `existing`
  std::map<std::string, size_t> by_id;
  for (size_t i = 0; i < existing.size(); ++i) {
    by_id.emplace(existing[i].id, i);
    for (const Term& t : existing[i].terms) by_term.emplace(TermKey(t), i);
  }
  std::vector<Concept> out;
  std::map<std::string, size_t> merged_at;  // existing id -> index in `out`
  for (Concept& c : concepts) {
    if (!c.id.empty()) {
      (by_id.count(c.id) > 0 ? counts.replaced : counts.added)++;
      out.push_back(std::move(c));
      continue;
    }
    const Concept* match = nullptr;
    for (const Term& t : c.terms) {
      if (auto it = by_term.find(TermKey(t)); it != by_term.end()) {
        match = &existing[it->second];
        break;
      }
    }
    if (match == nullptr) {
      ++counts.added;
      out.push_back(std::move(c));
      continue;
    }
    ++counts.merged;
    auto [at, fresh] = merged_at.emplace(match->id, out.size());
    if (fresh) out.push_back(*match);
    MergeInto(&out[at->second], c);
  }
  VERSO_RETURN_IF_ERROR(PutConcepts(tenant, name, std::move(out), replace_all).status());
  return counts;
}

absl::Status GlossaryService::DeleteConcept(std::string_view tenant, std::string_view name,
                                            std::string_view id) {
  VERSO_RETURN_IF_ERROR(repo_->GetGlossary(tenant, name).status());
  VERSO_RETURN_IF_ERROR(repo_->DeleteConcept(tenant, name, id, clock_->Now()));
  Changed(tenant, name);
  return absl::OkStatus();
}

void GlossaryService::Changed(std::string_view tenant, std::string_view name) {
  DropIndexes(tenant, name);
  if (cache_.announce) cache_.announce(tenant, name);
}

void GlossaryService::DropIndexes(std::string_view tenant, std::string_view name) {
  const std::string prefix = StrCat(tenant, "\x1f", name, "\x1f");
  absl::MutexLock lock(&mu_);
  ++drops_;
  for (auto it = indexes_.lower_bound(prefix);
       it != indexes_.end() && it->first.starts_with(prefix);) {
    it = indexes_.erase(it);
  }
}

absl::StatusOr<std::shared_ptr<const GlossaryService::Index>> GlossaryService::IndexFor(
    std::string_view tenant, std::string_view name, std::string_view source_lang,
    std::string_view target_lang, bool nonblocking) {
  const std::string key = StrCat(tenant, "\x1f", name, "\x1f", source_lang, "\x1f", target_lang);
  const absl::Time now = clock_->MonotonicNow();
  uint64_t drops = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = indexes_.find(key);
    if (it != indexes_.end() && now - it->second.checked < cache_.revalidate) {
      return it->second.index;
    }
    drops = drops_;
  }
  if (nonblocking) return WouldBlock("reading the glossary");
  // The glossary's version (NotFound once it is deleted, by any process).
  VERSO_ASSIGN_OR_RETURN(storage::GlossaryRecord glossary, repo_->GetGlossary(tenant, name));
  const int64_t version = absl::ToUnixMicros(glossary.updated_at);
  {
    absl::MutexLock lock(&mu_);
    ++stats_.revalidations;
    auto it = indexes_.find(key);
    if (it != indexes_.end() && it->second.version >= version) {
      it->second.checked = now;
      return it->second.index;
    }
  }
  VERSO_ASSIGN_OR_RETURN(std::vector<Concept> concepts, ConceptsAt(tenant, name, version));
  auto index = std::make_shared<Index>();
  index->version = version;
  index->concepts = std::move(concepts);
  index->source = Matcher(source_lang);
  index->target = Matcher(target_lang);
  for (uint32_t c = 0; c < index->concepts.size(); ++c) {
    const auto& terms = index->concepts[c].terms;
    for (uint32_t t = 0; t < terms.size(); ++t) {
      if (LangMatches(terms[t].lang, source_lang)) {
        index->source.Add(terms[t].text, terms[t].case_sensitive,
                          static_cast<uint32_t>(index->source_entries.size()));
        index->source_entries.push_back({c, t});
      }
      if (LangMatches(terms[t].lang, target_lang)) {
        index->target.Add(terms[t].text, terms[t].case_sensitive,
                          static_cast<uint32_t>(index->target_entries.size()));
        index->target_entries.push_back({c, t});
      }
    }
  }
  index->source.Build();
  index->target.Build();
  absl::MutexLock lock(&mu_);
  ++stats_.builds;
  Cached& cached = indexes_[key];
  if (cached.index == nullptr || cached.version <= version) {
    // A change dropped the indexes while this one was built (perhaps from concepts older than
    // it): it is checked again at its next use.
    cached = {index, version, drops == drops_ ? now : absl::InfinitePast()};
  }
  return std::shared_ptr<const Index>(index);
}

absl::StatusOr<std::vector<Concept>> GlossaryService::ConceptsAt(std::string_view tenant,
                                                                 std::string_view name,
                                                                 int64_t version) {
  const std::string key = GlossaryL2Key(tenant, name, version);
  if (cache_.l2_get) {
    if (std::optional<std::string> value = cache_.l2_get(key)) {
      if (auto concepts = DecodeL2(*value, tenant, name, version)) {
        absl::MutexLock lock(&mu_);
        ++stats_.l2_hits;
        return std::move(*concepts);
      }
    }
  }
  // Read after the version: at least as new as it (so is the L2 entry made from them).
  VERSO_ASSIGN_OR_RETURN(std::vector<storage::ConceptRecord> rs, repo_->ListConcepts(tenant, name));
  VERSO_ASSIGN_OR_RETURN(std::vector<Concept> out, DecodeAll(rs));
  if (cache_.l2_put) cache_.l2_put(key, EncodeL2(tenant, name, version, rs));
  return out;
}

GlossaryService::CacheStats GlossaryService::cache_stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

std::vector<TermHit> GlossaryService::HitsIn(const Index& index, std::string_view target_lang,
                                             std::string_view source_markup) {
  std::vector<TermHit> hits;
  for (const Matcher::Match& m : index.source.Find(source_markup)) {
    const Index::Entry& e = index.source_entries[m.payload];
    const Concept& c = index.concepts[e.concept_index];
    bool dup = false;
    for (const TermHit& h : hits) {
      dup |= h.concept_id == c.id && h.begin == m.begin && h.end == m.end;
    }
    if (dup) continue;
    TermHit hit;
    hit.concept_id = c.id;
    hit.term = c.terms[e.term].text;
    hit.source_forbidden = c.terms[e.term].status == "forbidden";
    hit.begin = m.begin;
    hit.end = m.end;
    hit.source = text::PlainText(source_markup.substr(m.begin, m.end - m.begin));
    for (const Term& t : c.terms) {
      if (!LangMatches(t.lang, target_lang)) continue;
      if (t.status == "forbidden") {
        hit.forbidden_targets.push_back(t);
      } else {
        hit.targets.push_back(t);
      }
    }
    std::stable_sort(hit.targets.begin(), hit.targets.end(), [](const Term& a, const Term& b) {
      return StatusRank(a.status) < StatusRank(b.status);
    });
    hits.push_back(std::move(hit));
  }
  return hits;
}

absl::StatusOr<int64_t> GlossaryService::Version(std::string_view tenant, std::string_view name,
                                                 std::string_view source_lang,
                                                 std::string_view target_lang, bool nonblocking) {
  VERSO_ASSIGN_OR_RETURN(std::shared_ptr<const Index> index,
                         IndexFor(tenant, name, source_lang, target_lang, nonblocking));
  return index->version;
}

absl::StatusOr<std::vector<TermHit>> GlossaryService::Find(
    std::string_view tenant, std::string_view name, std::string_view source_lang,
    std::string_view target_lang, std::string_view source_markup, bool nonblocking) {
  VERSO_ASSIGN_OR_RETURN(auto index, IndexFor(tenant, name, source_lang, target_lang, nonblocking));
  return HitsIn(*index, target_lang, source_markup);
}

absl::StatusOr<TermCheck> GlossaryService::Check(std::string_view tenant, std::string_view name,
                                                 std::string_view source_lang,
                                                 std::string_view target_lang,
                                                 std::string_view source_markup,
                                                 std::string_view translation) {
  VERSO_ASSIGN_OR_RETURN(auto index, IndexFor(tenant, name, source_lang, target_lang));
  TermCheck check;
  check.hits = HitsIn(*index, target_lang, source_markup);
  std::set<std::string> found_concepts;
  for (const Matcher::Match& m : index->target.Find(translation)) {
    const Index::Entry& e = index->target_entries[m.payload];
    const Concept& c = index->concepts[e.concept_index];
    if (c.terms[e.term].status == "forbidden") {
      check.forbidden.push_back(text::PlainText(translation.substr(m.begin, m.end - m.begin)));
    } else {
      found_concepts.insert(c.id);
    }
  }
  for (size_t i = 0; i < check.hits.size(); ++i) {
    const TermHit& h = check.hits[i];
    if (!h.targets.empty() && !found_concepts.contains(h.concept_id)) check.missing.push_back(i);
  }
  return check;
}

}  // namespace verso::terms
