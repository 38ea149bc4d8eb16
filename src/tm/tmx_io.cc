// TMX and PO import, TMX export: the mapping between exchange units and segment records.
//
// TMX attributes verso models (creationid, creationdate, changeid, changedate, usagecount,
// lastusagedate) become record fields; every other attribute of a <tu> or of the source/target
// <tuv> is kept as a property named "@attribute" (scope unit/source/target) and written back on
// export. The unit's srclang is dropped: the store's language pair says which side is which.
// Context travels as the properties x-verso-context, x-verso-context-prev, x-verso-context-next.
#include <algorithm>
#include <map>
#include <ostream>

#include "common/clock.h"
#include "common/status.h"
#include "common/strings.h"
#include "common/version.h"
#include "formats/formats.h"
#include "text/text.h"
#include "tm/store.h"
#include "tm/tm.h"

namespace verso::tm {
namespace {

constexpr std::string_view kContextKeyProp = "x-verso-context";
constexpr std::string_view kContextPrevProp = "x-verso-context-prev";
constexpr std::string_view kContextNextProp = "x-verso-context-next";

// Picks the variant for `lang` (canonical): an exact match, else one that differs only by
// having no region/script where the other has one ("fr" for "fr-CA", or "fr-CA" for "fr").
// Never a different region: "pt-PT" data does not go into a "pt-BR" store.
// Canonical forms of the language tags an import meets (a file uses a handful); "" for invalid.
using LanguageCache = std::map<std::string, std::string, std::less<>>;

const std::string& Canonical(const std::string& tag, LanguageCache* cache) {
  auto it = cache->find(tag);
  if (it == cache->end()) {
    auto canonical = text::CanonicalLanguageTag(tag);
    it = cache->emplace(tag, canonical.ok() ? *canonical : std::string()).first;
  }
  return it->second;
}

const formats::TmxVariant* PickVariant(const std::vector<formats::TmxVariant>& variants,
                                       const std::string& lang, LanguageCache* cache) {
  const formats::TmxVariant* fallback = nullptr;
  const std::string primary = text::PrimaryLanguage(lang);
  const bool lang_is_bare = primary == lang;
  for (const auto& v : variants) {
    const std::string& canonical = Canonical(v.lang, cache);
    if (canonical.empty()) continue;
    if (canonical == lang) return &v;
    if (fallback == nullptr && text::PrimaryLanguage(canonical) == primary &&
        (lang_is_bare || canonical == primary)) {
      fallback = &v;
    }
  }
  return fallback;
}

absl::Status ApplyAttribute(const formats::XmlAttribute& a, Scope scope, SegmentRecord* r) {
  const std::string& n = a.name;
  if (scope == Scope::kUnit) {
    if (n == "srclang") return absl::OkStatus();
    if (n == "creationid") {
      r->creator = a.value;
      return absl::OkStatus();
    }
    if (n == "changeid") {
      r->changer = a.value;
      return absl::OkStatus();
    }
    if (n == "creationdate" || n == "changedate" || n == "lastusagedate") {
      auto t = formats::ParseTmxDate(a.value);
      if (!t.ok()) return absl::InvalidArgumentError(StrCat(n, ": ", t.status().message()));
      absl::Time time = absl::FromUnixSeconds(*t);
      if (n == "creationdate") r->created_at = time;
      if (n == "changedate") r->changed_at = time;
      if (n == "lastusagedate") r->last_used_at = time;
      return absl::OkStatus();
    }
    if (n == "usagecount") {
      int64_t v;
      if (!ParseInt64(a.value, &v) || v < 0) {
        return absl::InvalidArgumentError(
            StrCat("usagecount: \"", a.value, "\" is not a non-negative integer"));
      }
      r->usage_count = v;
      return absl::OkStatus();
    }
  }
  r->properties.push_back({scope, StrCat("@", n), a.value, ""});
  return absl::OkStatus();
}

absl::Status ApplyProps(const std::vector<formats::TmxProp>& props,
                        const std::vector<formats::TmxNote>& notes, Scope scope, SegmentRecord* r) {
  for (const auto& p : props) {
    if (scope == Scope::kUnit && p.type == kContextKeyProp) {
      r->context.key = p.value;
    } else if (scope == Scope::kUnit &&
               (p.type == kContextPrevProp || p.type == kContextNextProp)) {
      int64_t v;
      if (!ParseInt64(p.value, &v)) {
        return absl::InvalidArgumentError(StrCat(p.type, ": \"", p.value, "\" is not an integer"));
      }
      (p.type == kContextPrevProp ? r->context.prev_hash : r->context.next_hash) = v;
    } else {
      r->properties.push_back({scope, p.type, p.value, p.lang});
    }
  }
  for (const auto& n : notes) r->notes.push_back({scope, n.text, n.lang});
  return absl::OkStatus();
}

// Maps a unit to a record for the store's pair; an error is the reason to skip it.
absl::Status FromUnit(const formats::TmxUnit& unit, const TmStoreRecord& store,
                      LanguageCache* languages, SegmentRecord* r) {
  if (!unit.problem.empty()) return absl::InvalidArgumentError(unit.problem);
  const formats::TmxVariant* src = PickVariant(unit.variants, store.source_lang, languages);
  if (src == nullptr) {
    return absl::InvalidArgumentError(
        StrCat("no <tuv> in the source language ", store.source_lang));
  }
  const formats::TmxVariant* tgt = PickVariant(unit.variants, store.target_lang, languages);
  if (tgt == nullptr) {
    return absl::InvalidArgumentError(
        StrCat("no <tuv> in the target language ", store.target_lang));
  }
  r->source = src->segment;
  r->target = tgt->segment;
  for (const auto& a : unit.attributes) VERSO_RETURN_IF_ERROR(ApplyAttribute(a, Scope::kUnit, r));
  VERSO_RETURN_IF_ERROR(ApplyProps(unit.props, unit.notes, Scope::kUnit, r));
  for (const auto& a : src->attributes) VERSO_RETURN_IF_ERROR(ApplyAttribute(a, Scope::kSource, r));
  VERSO_RETURN_IF_ERROR(ApplyProps(src->props, src->notes, Scope::kSource, r));
  for (const auto& a : tgt->attributes) VERSO_RETURN_IF_ERROR(ApplyAttribute(a, Scope::kTarget, r));
  VERSO_RETURN_IF_ERROR(ApplyProps(tgt->props, tgt->notes, Scope::kTarget, r));
  return absl::OkStatus();
}

formats::TmxUnit ToUnit(const SegmentRecord& r, const TmStoreRecord& store) {
  formats::TmxUnit unit;
  formats::TmxVariant src, tgt;
  src.lang = store.source_lang;
  tgt.lang = store.target_lang;
  src.segment = r.source;
  tgt.segment = r.target;
  auto variant = [&](Scope scope) -> formats::TmxVariant* {
    return scope == Scope::kSource ? &src : scope == Scope::kTarget ? &tgt : nullptr;
  };
  for (const Property& p : r.properties) {
    if (!p.type.empty() && p.type[0] == '@') {
      formats::XmlAttribute a{p.type.substr(1), p.value};
      if (auto* v = variant(p.scope)) {
        v->attributes.push_back(std::move(a));
      } else {
        unit.attributes.push_back(std::move(a));
      }
    } else if (auto* v = variant(p.scope)) {
      v->props.push_back({p.type, p.value, p.lang});
    } else {
      unit.props.push_back({p.type, p.value, p.lang});
    }
  }
  for (const Note& n : r.notes) {
    if (auto* v = variant(n.scope)) {
      v->notes.push_back({n.text, n.lang});
    } else {
      unit.notes.push_back({n.text, n.lang});
    }
  }
  if (!r.creator.empty()) unit.attributes.push_back({"creationid", r.creator});
  unit.attributes.push_back(
      {"creationdate", formats::FormatTmxDate(absl::ToUnixSeconds(r.created_at))});
  if (!r.changer.empty()) unit.attributes.push_back({"changeid", r.changer});
  unit.attributes.push_back(
      {"changedate", formats::FormatTmxDate(absl::ToUnixSeconds(r.changed_at))});
  if (r.usage_count > 0) unit.attributes.push_back({"usagecount", StrCat(r.usage_count)});
  if (r.last_used_at != absl::InfinitePast()) {
    unit.attributes.push_back(
        {"lastusagedate", formats::FormatTmxDate(absl::ToUnixSeconds(r.last_used_at))});
  }
  if (!r.context.key.empty())
    unit.props.push_back({std::string(kContextKeyProp), r.context.key, ""});
  if (r.context.prev_hash != 0 || r.context.next_hash != 0) {
    unit.props.push_back({std::string(kContextPrevProp), StrCat(r.context.prev_hash), ""});
    unit.props.push_back({std::string(kContextNextProp), StrCat(r.context.next_hash), ""});
  }
  unit.variants.push_back(std::move(src));
  unit.variants.push_back(std::move(tgt));
  return unit;
}

// Progress over the two passes of an import: the first half while checking, the second while
// writing, so that bytes read reach the file's size at the end.
template <typename Reader>
std::function<void(int64_t)> ProgressOf(const ImportOptions& options, bool writing,
                                        std::shared_ptr<Reader> reader) {
  return [&options, writing, reader](int64_t units) {
    if (!options.progress) return;
    const int64_t total = reader->BytesTotal();
    options.progress((writing ? total / 2 : 0) + reader->BytesRead() / 2, total, units);
  };
}

}  // namespace

absl::StatusOr<ImportReport> TmService::ImportTmx(std::string_view tenant,
                                                  std::string_view store_id,
                                                  const std::string& path,
                                                  const ImportOptions& options) {
  VERSO_ASSIGN_OR_RETURN(auto store, FindStore(tenant, store_id));
  auto open = [&](ImportPass pass) -> absl::StatusOr<ImportSource> {
    std::shared_ptr<formats::TmxReader> reader;
    VERSO_ASSIGN_OR_RETURN(reader, formats::TmxReader::OpenFile(path, options.source_name));
    VERSO_RETURN_IF_ERROR(reader->ReadHeader().status());
    auto unit = std::make_shared<formats::TmxUnit>();
    auto languages = std::make_shared<LanguageCache>();
    const bool convert = pass != ImportPass::kScan;
    ImportSource source;
    source.next = [reader, unit, languages, store,
                   convert](ImportItem* item) -> absl::StatusOr<bool> {
      if (!convert) return reader->Skip();
      VERSO_ASSIGN_OR_RETURN(bool more, reader->Next(unit.get()));
      if (!more) return false;
      item->line = unit->line;
      absl::Status s = FromUnit(*unit, store->record, languages.get(), &item->record);
      if (!s.ok()) item->skip = std::string(s.message());
      return true;
    };
    source.progress = ProgressOf(options, pass == ImportPass::kWrite, reader);
    return source;
  };
  return RunImport(store, open, options);
}

namespace {

// A PO header's "Language:" (gettext's target language) must name the store's target language.
absl::Status CheckPoLanguage(const formats::PoEntry& header, const std::string& store_target) {
  if (header.msgstr.empty()) return absl::OkStatus();
  for (std::string_view line : Split(header.msgstr[0], '\n')) {
    if (!line.starts_with("Language:")) continue;
    std::string declared(StripAsciiWhitespace(line.substr(9)));
    if (declared.empty()) return absl::OkStatus();
    std::replace(declared.begin(), declared.end(), '_', '-');  // gettext writes pt_BR
    auto tag = text::CanonicalLanguageTag(declared);
    if (!tag.ok() || !text::TagsMatch(*tag, store_target)) {
      return absl::InvalidArgumentError(
          StrCat("line ", header.line, ": the PO header says \"Language: ",
                 StripAsciiWhitespace(line.substr(9)), "\", but the store translates into ",
                 store_target, "; import it into a store for that language"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ImportReport> TmService::ImportPo(std::string_view tenant, std::string_view store_id,
                                                 const std::string& path,
                                                 const ImportOptions& options) {
  VERSO_ASSIGN_OR_RETURN(auto store, FindStore(tenant, store_id));
  auto open = [&](ImportPass pass) -> absl::StatusOr<ImportSource> {
    std::shared_ptr<formats::PoReader> reader;
    VERSO_ASSIGN_OR_RETURN(reader, formats::PoReader::OpenFile(path, options.source_name));
    struct State {
      formats::PoEntry entry;
      std::vector<ImportItem> pending;  // the plural form of the last entry
    };
    auto state = std::make_shared<State>();
    ImportSource source;
    source.next = [reader, state, store_target = store->record.target_lang](
                      ImportItem* item) -> absl::StatusOr<bool> {
      formats::PoEntry& entry = state->entry;
      std::vector<ImportItem>& pending = state->pending;
      while (pending.empty()) {
        VERSO_ASSIGN_OR_RETURN(bool more, reader->Next(&entry));
        if (!more) return false;
        if (entry.msgid.empty()) {  // the header: its Language must be the store's target
          VERSO_RETURN_IF_ERROR(CheckPoLanguage(entry, store_target));
          continue;
        }
        ImportItem base;
        base.line = entry.line;
        base.record.context.key = entry.context;
        for (const auto& c : entry.extracted_comments)
          base.record.notes.push_back({Scope::kUnit, c, ""});
        for (const auto& c : entry.translator_comments) {
          base.record.notes.push_back({Scope::kTarget, c, ""});
        }
        for (const auto& ref : entry.references) {
          base.record.properties.push_back({Scope::kUnit, "x-po-reference", ref, ""});
        }
        if (entry.obsolete) {
          base.skip = "obsolete entry";
        } else if (entry.fuzzy()) {
          base.skip = "fuzzy entry (not a confirmed translation)";
        } else if (entry.msgstr.empty() || entry.msgstr[0].empty()) {
          base.skip = "untranslated entry";
        }
        ImportItem singular = base;
        singular.record.source = text::EscapeText(entry.msgid);
        if (base.skip.empty()) singular.record.target = text::EscapeText(entry.msgstr[0]);
        pending.push_back(std::move(singular));
        if (!entry.msgid_plural.empty() && base.skip.empty() && entry.msgstr.size() > 1 &&
            !entry.msgstr[1].empty()) {
          ImportItem plural = base;
          plural.record.source = text::EscapeText(entry.msgid_plural);
          plural.record.target = text::EscapeText(entry.msgstr[1]);
          pending.push_back(std::move(plural));
        }
      }
      *item = std::move(pending.front());
      pending.erase(pending.begin());
      return true;
    };
    source.progress = ProgressOf(options, pass == ImportPass::kWrite, reader);
    return source;
  };
  return RunImport(store, open, options);
}

absl::StatusOr<int64_t> TmService::ExportTmx(std::string_view tenant, std::string_view store_id,
                                             std::ostream* out) {
  VERSO_ASSIGN_OR_RETURN(auto store, FindStore(tenant, store_id));
  formats::TmxWriter writer(out);
  formats::TmxHeader header;
  header.attributes = std::vector<formats::XmlAttribute>{
      {"creationtool", "verso"},
      {"creationtoolversion", kVersion},
      {"segtype", "sentence"},
      {"o-tmf", "verso"},
      {"adminlang", "en"},
      {"srclang", store->record.source_lang},
      {"datatype", "plaintext"},  // inline codes are TMX elements
      {"creationdate", formats::FormatTmxDate(absl::ToUnixSeconds(clock_->Now()))}};
  header.props = std::vector<formats::TmxProp>{{"x-verso-store", store->record.id, ""},
                                               {"x-verso-store-name", store->record.name, ""}};
  writer.WriteHeader(header);
  int64_t units = 0;
  VERSO_RETURN_IF_ERROR(repo_->ScanSegments(store->record.id, 0, [&](const SegmentRecord& r) {
    writer.WriteUnit(ToUnit(r, store->record));
    ++units;
    return out->good();
  }));
  if (!writer.Finish())
    return absl::UnavailableError("TMX export: the output could not be written");
  return units;
}

}  // namespace verso::tm
