// TBX v2/v3 and CSV termbases (see formats.h).
#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <map>

#include "common/status.h"
#include "common/strings.h"
#include "formats/formats.h"
#include "formats/xml_internal.h"
#include "text/text.h"

namespace verso::formats {
namespace {

constexpr size_t kMaxTbxBytes = 256 << 20;

std::string Attr(const xmlNode* n, std::string_view name) {
  for (const xmlAttr* a = n->properties; a != nullptr; a = a->next) {
    if (AttrName(a) == name) return AttrValue(a);
  }
  return "";
}

std::string Trimmed(std::string s) { return std::string(StripAsciiWhitespace(s)); }

// TBX administrativeStatus / normativeAuthorization values -> verso's statuses.
std::string StatusFromTbx(std::string_view v) {
  if (v.starts_with("preferred")) return "preferred";
  if (v.starts_with("admitted")) return "admitted";
  if (v.starts_with("deprecated") || v.starts_with("superseded")) return "forbidden";
  return "";
}

std::string_view StatusToTbx(std::string_view status) {
  if (status == "preferred") return "preferredTerm-admn-sts";
  if (status == "admitted") return "admittedTerm-admn-sts";
  if (status == "forbidden") return "deprecatedTerm-admn-sts";
  return "";
}

class TbxConverter {
 public:
  explicit TbxConverter(const std::string& name) : name_(name) {}

  absl::Status Error(const xmlNode* n, std::string_view what) const {
    return absl::InvalidArgumentError(StrCat(name_, ": line ", xmlGetLineNo(n), ": ", what));
  }

  // A data category on `n`: <termNote type="partOfSpeech"> (DCA) or <basic:partOfSpeech> (DCT).
  static std::string Category(const xmlNode* n) {
    std::string_view local = Name(n->name);
    if (local == "termNote" || local == "descrip" || local == "admin") return Attr(n, "type");
    return std::string(local);
  }

  // Reads the data categories of a term group (tig, ntig, termSec) into `term`.
  // An empty <term/> (SDL MultiTerm writes them for languages not yet translated) leaves
  // term->text empty; *saw_term tells whether there was a <term> at all.
  absl::Status ReadTermGroup(const xmlNode* group, Term* term, bool* saw_term) {
    for (const xmlNode* c = group->children; c != nullptr; c = c->next) {
      if (c->type != XML_ELEMENT_NODE) continue;
      if (Is(c, "term")) {
        term->text = Trimmed(NodeText(c));
        *saw_term = true;
        continue;
      }
      if (Is(c, "termGrp")) {  // TBX v2 <ntig><termGrp><term/><termNote/>...</termGrp>
        VERSO_RETURN_IF_ERROR(ReadTermGroup(c, term, saw_term));
        continue;
      }
      if (Is(c, "note")) {
        if (term->note.empty()) term->note = Trimmed(NodeText(c));
        continue;
      }
      const std::string category = Category(c);
      if (category == "partOfSpeech") {
        term->part_of_speech = Trimmed(NodeText(c));
      } else if (category == "administrativeStatus" || category == "normativeAuthorization") {
        std::string status = StatusFromTbx(Trimmed(NodeText(c)));
        if (!status.empty()) term->status = status;
      } else if (category == "x-caseSensitive") {
        term->case_sensitive = Trimmed(NodeText(c)) == "yes";
      }
    }
    return absl::OkStatus();
  }

  // Concept-level (and language-level) descriptions.
  void ReadDescriptions(const xmlNode* n, Concept* entry_concept) {
    for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
      if (c->type != XML_ELEMENT_NODE) continue;
      if (Is(c, "descripGrp")) {
        ReadDescriptions(c, entry_concept);
        continue;
      }
      if (Is(c, "note")) {
        if (entry_concept->note.empty()) entry_concept->note = Trimmed(NodeText(c));
        continue;
      }
      const std::string category = Category(c);
      if (category == "definition" && entry_concept->definition.empty()) {
        entry_concept->definition = Trimmed(NodeText(c));
      } else if (category == "subjectField" && entry_concept->subject.empty()) {
        entry_concept->subject = Trimmed(NodeText(c));
      }
    }
  }

  absl::Status ReadEntry(const xmlNode* entry, std::vector<Concept>* out) {
    Concept entry_concept;
    entry_concept.id = Attr(entry, "id");
    ReadDescriptions(entry, &entry_concept);
    for (const xmlNode* ls = entry->children; ls != nullptr; ls = ls->next) {
      if (!Is(ls, "langSet") && !Is(ls, "langSec")) continue;
      std::string lang = Attr(ls, "xml:lang");
      if (lang.empty()) lang = Attr(ls, "lang");
      if (lang.empty()) return Error(ls, StrCat("<", Name(ls->name), "> has no xml:lang"));
      ReadDescriptions(ls, &entry_concept);
      for (const xmlNode* g = ls->children; g != nullptr; g = g->next) {
        if (!Is(g, "tig") && !Is(g, "ntig") && !Is(g, "termSec")) continue;
        Term term;
        term.lang = lang;
        bool saw_term = false;
        VERSO_RETURN_IF_ERROR(ReadTermGroup(g, &term, &saw_term));
        if (!saw_term) return Error(g, StrCat("<", Name(g->name), "> has no <term>"));
        if (!term.text.empty()) entry_concept.terms.push_back(std::move(term));
      }
    }
    if (!entry_concept.terms.empty()) out->push_back(std::move(entry_concept));
    return absl::OkStatus();
  }

  absl::Status Walk(const xmlNode* n, std::vector<Concept>* out) {
    for (const xmlNode* c = n; c != nullptr; c = c->next) {
      if (c->type == XML_ENTITY_REF_NODE) {
        return Error(c, StrCat("entity reference &", Name(c->name), "; is not allowed"));
      }
      if (c->type != XML_ELEMENT_NODE) continue;
      if (Is(c, "termEntry") || Is(c, "conceptEntry")) {
        VERSO_RETURN_IF_ERROR(ReadEntry(c, out));
      } else {
        VERSO_RETURN_IF_ERROR(Walk(c->children, out));
      }
    }
    return absl::OkStatus();
  }

 private:
  const std::string& name_;
};

}  // namespace

absl::StatusOr<std::vector<Concept>> ReadTbx(std::string_view data, const std::string& name) {
  VERSO_RETURN_IF_ERROR(RefuseCompressed(data.substr(0, kSignatureBytes), name));
  if (data.size() > kMaxTbxBytes) {
    return absl::InvalidArgumentError(
        StrCat(name, ": larger than ", kMaxTbxBytes >> 20, " MiB, the limit for a termbase"));
  }
  VERSO_ASSIGN_OR_RETURN(XmlDocPtr doc, ParseXml(data, name));
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (root == nullptr || (!Is(root, "martif") && !Is(root, "tbx"))) {
    return absl::InvalidArgumentError(
        StrCat(name, ": line ", root ? xmlGetLineNo(root) : 1, ": the document element is <",
               root ? Name(root->name) : "", ">, not <martif> (TBX v2) or <tbx> (TBX v3)"));
  }
  std::vector<Concept> out;
  TbxConverter converter(name);
  absl::Status s = converter.Walk(root->children, &out);
  if (!s.ok()) return s;
  return out;
}

std::string WriteTbx(const std::vector<Concept>& concepts, std::string_view lang) {
  std::string out = StrCat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<tbx type=\"TBX-Basic\" style=\"dca\" ",
      "xml:lang=\"", XmlEscape(lang, true), "\" xmlns=\"urn:iso:std:iso:30042:ed-2\">\n",
      "  <tbxHeader>\n    <fileDesc>\n      <sourceDesc>\n        <p>Exported by verso</p>\n",
      "      </sourceDesc>\n    </fileDesc>\n  </tbxHeader>\n  <text>\n    <body>\n");
  int n = 0;
  for (const Concept& c : concepts) {
    ++n;
    std::string id = c.id.empty() ? StrCat("c", n) : c.id;
    StrAppend(&out, "      <conceptEntry id=\"", XmlEscape(id, true), "\">\n");
    if (!c.subject.empty()) {
      StrAppend(&out, "        <descrip type=\"subjectField\">", XmlEscape(c.subject, false),
                "</descrip>\n");
    }
    if (!c.definition.empty()) {
      StrAppend(&out, "        <descrip type=\"definition\">", XmlEscape(c.definition, false),
                "</descrip>\n");
    }
    if (!c.note.empty()) StrAppend(&out, "        <note>", XmlEscape(c.note, false), "</note>\n");
    // Terms grouped by language, in order of first appearance.
    std::vector<std::string> langs;
    for (const Term& t : c.terms) {
      if (std::find(langs.begin(), langs.end(), t.lang) == langs.end()) langs.push_back(t.lang);
    }
    for (const std::string& l : langs) {
      StrAppend(&out, "        <langSec xml:lang=\"", XmlEscape(l, true), "\">\n");
      for (const Term& t : c.terms) {
        if (t.lang != l) continue;
        StrAppend(&out, "          <termSec>\n            <term>", XmlEscape(t.text, false),
                  "</term>\n");
        if (!t.part_of_speech.empty()) {
          StrAppend(&out, "            <termNote type=\"partOfSpeech\">",
                    XmlEscape(t.part_of_speech, false), "</termNote>\n");
        }
        if (!StatusToTbx(t.status).empty()) {
          StrAppend(&out, "            <termNote type=\"administrativeStatus\">",
                    StatusToTbx(t.status), "</termNote>\n");
        }
        if (t.case_sensitive) {
          out += "            <termNote type=\"x-caseSensitive\">yes</termNote>\n";
        }
        if (!t.note.empty()) {
          StrAppend(&out, "            <note>", XmlEscape(t.note, false), "</note>\n");
        }
        out += "          </termSec>\n";
      }
      out += "        </langSec>\n";
    }
    out += "      </conceptEntry>\n";
  }
  out += "    </body>\n  </text>\n</tbx>\n";
  return out;
}

// ---- CSV ------------------------------------------------------------------------------------

namespace {

struct CsvRow {
  int64_t line = 0;
  std::vector<std::string> fields;
};

absl::StatusOr<std::vector<CsvRow>> ParseCsv(std::string_view data, const std::string& name) {
  if (data.starts_with("\xEF\xBB\xBF")) data.remove_prefix(3);
  std::vector<CsvRow> rows;
  CsvRow row;
  std::string field;
  int64_t line = 1;
  int64_t row_line = 1;
  size_t i = 0;
  bool any = false;
  auto end_field = [&] {
    row.fields.push_back(std::move(field));
    field.clear();
  };
  auto end_row = [&] {
    end_field();
    row.line = row_line;
    bool blank = row.fields.size() == 1 && row.fields[0].empty();
    if (!blank) rows.push_back(std::move(row));
    row = CsvRow{};
  };
  while (i < data.size()) {
    char c = data[i];
    any = true;
    if (c == '"' && field.empty()) {
      // Quoted field.
      const int64_t open_line = line;
      const size_t column = row.fields.size() + 1;
      ++i;
      bool closed = false;
      while (i < data.size()) {
        if (data[i] == '"') {
          if (i + 1 < data.size() && data[i + 1] == '"') {
            field.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        if (data[i] == '\n') ++line;
        field.push_back(data[i++]);
      }
      if (!closed) {
        return absl::InvalidArgumentError(StrCat(name, ": line ", open_line, ", column ", column,
                                                 ": the quoted field is never closed"));
      }
      if (i < data.size() && data[i] != ',' && data[i] != '\n' && data[i] != '\r') {
        return absl::InvalidArgumentError(StrCat(name, ": line ", line, ", column ", column,
                                                 ": characters after a closing quote"));
      }
      continue;
    }
    if (c == ',') {
      end_field();
    } else if (c == '\r' && i + 1 < data.size() && data[i + 1] == '\n') {
      // \r\n: the \n ends the row
    } else if (c == '\n') {
      end_row();
      ++line;
      row_line = line;
    } else {
      field.push_back(c);
    }
    ++i;
  }
  if (any && (!field.empty() || !row.fields.empty())) end_row();
  return rows;
}

bool ParseBool(std::string_view v, bool* out) {
  std::string l = AsciiLower(StripAsciiWhitespace(v));
  if (l == "true" || l == "yes" || l == "1") {
    *out = true;
  } else if (l == "false" || l == "no" || l == "0" || l.empty()) {
    *out = false;
  } else {
    return false;
  }
  return true;
}

std::string CsvField(std::string_view v) {
  if (v.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

}  // namespace

// The columns naming a concept (the first one present wins), and the long layout's others.
constexpr const char* kConceptColumns[] = {"concept", "concept_id", "entry_concept", "id"};
constexpr std::string_view kLongColumns[] = {"lang",           "term",           "status",
                                             "part_of_speech", "case_sensitive", "note"};

// A parsed CSV file with its header (lower case), and the helpers both layouts read it with.
struct CsvTable {
  const std::string& name;
  std::vector<std::string> header;
  std::vector<CsvRow> rows;  // rows[0] is the header

  int col(std::string_view n) const {
    for (size_t i = 0; i < header.size(); ++i) {
      if (header[i] == n) return static_cast<int>(i);
    }
    return -1;
  }
  static std::string cell(const CsvRow& r, int c) {
    if (c < 0 || c >= static_cast<int>(r.fields.size())) return "";
    return std::string(StripAsciiWhitespace(r.fields[c]));
  }
  absl::Status err(const CsvRow& r, int c, std::string_view what) const {
    return absl::InvalidArgumentError(
        StrCat(name, ": line ", r.line, ", column ", c + 1, " (", header[c], "): ", what));
  }
};

// One term a row: concept, lang, term and optional columns.
absl::StatusOr<std::vector<Concept>> ReadLongCsv(const CsvTable& table, int concept_col) {
  const int term_col = table.col("term");
  std::vector<Concept> out;
  // Long layout: every column must be one it knows.
  for (size_t i = 0; i < table.header.size(); ++i) {
    if (std::find(std::begin(kLongColumns), std::end(kLongColumns), table.header[i]) ==
            std::end(kLongColumns) &&
        std::find(std::begin(kConceptColumns), std::end(kConceptColumns), table.header[i]) ==
            std::end(kConceptColumns)) {
      return absl::InvalidArgumentError(
          StrCat(table.name, ": line 1, column ", i + 1, ": unknown column \"", table.header[i],
                 "\"; one term a row takes concept, lang, term and optionally status, "
                 "part_of_speech, case_sensitive, note"));
    }
  }
  const int lang_col = table.col("lang");
  if (lang_col < 0 || term_col < 0 || concept_col < 0) {
    return absl::InvalidArgumentError(
        StrCat(table.name,
               ": line 1: one term a row needs the columns concept (or concept_id, "
               "entry_concept), lang and term; the header has ",
               Join(table.header, ",")));
  }
  const int status_col = table.col("status"), pos_col = table.col("part_of_speech");
  const int case_col = table.col("case_sensitive"), note_col = table.col("note");
  std::map<std::string, size_t> by_id;
  for (size_t i = 1; i < table.rows.size(); ++i) {
    const CsvRow& r = table.rows[i];
    Term t;
    t.lang = table.cell(r, lang_col);
    t.text = table.cell(r, term_col);
    if (t.lang.empty()) return table.err(r, lang_col, "a language is required");
    if (t.text.empty()) return table.err(r, term_col, "a term is required");
    t.part_of_speech = table.cell(r, pos_col);
    t.note = table.cell(r, note_col);
    if (status_col >= 0) {
      t.status = AsciiLower(table.cell(r, status_col));
      if (!t.status.empty() && t.status != "preferred" && t.status != "admitted" &&
          t.status != "forbidden") {
        return table.err(r, status_col, "must be preferred, admitted or forbidden");
      }
    }
    if (case_col >= 0 && !ParseBool(table.cell(r, case_col), &t.case_sensitive)) {
      return table.err(r, case_col, "must be true or false");
    }
    const std::string id = table.cell(r, concept_col);
    if (id.empty())
      return table.err(r, concept_col,
                       "a concept id is required (rows with the same id are one concept)");
    auto [it, fresh] = by_id.emplace(id, out.size());
    if (fresh) {
      out.push_back(Concept{});
      out.back().id = id;
    }
    out[it->second].terms.push_back(std::move(t));
  }
  return out;
}

// One concept a row: a column per language tag, and optional columns.
absl::StatusOr<std::vector<Concept>> ReadWideCsv(const CsvTable& table, int concept_col) {
  std::vector<Concept> out;
  // Wide layout: every column that is not a known field is a language. A row names its concept
  // only through a concept column; without one the import matches concepts by their terms.
  const int pos_col = table.col("part_of_speech"), note_col = table.col("note");
  const int subject_col = table.col("subject"), def_col = table.col("definition");
  std::vector<int> lang_cols;
  for (size_t i = 0; i < table.header.size(); ++i) {
    const int c = static_cast<int>(i);
    if (c == pos_col || c == note_col || c == subject_col || c == def_col || c == concept_col) {
      continue;
    }
    if (table.header[i].empty()) {
      return absl::InvalidArgumentError(
          StrCat(table.name, ": line 1, column ", i + 1, ": the header is empty"));
    }
    if (!text::CanonicalLanguageTag(table.header[i]).ok()) {
      return absl::InvalidArgumentError(StrCat(
          table.name, ": line 1, column ", i + 1, ": \"", table.header[i],
          "\" is neither a language tag nor a known column; one concept a row takes language "
          "tags (\"en,de\") and optionally concept, part_of_speech, note, subject, definition; "
          "one term a row takes concept, lang, term"));
    }
    lang_cols.push_back(c);
  }
  if (lang_cols.size() < 2) {
    return absl::InvalidArgumentError(
        StrCat(table.name,
               ": line 1: the header needs two language columns (\"en,de\") or the "
               "columns concept, lang, term"));
  }
  for (size_t i = 1; i < table.rows.size(); ++i) {
    const CsvRow& r = table.rows[i];
    if (r.fields.size() > table.header.size()) {
      return absl::InvalidArgumentError(StrCat(table.name, ": line ", r.line, ": ", r.fields.size(),
                                               " fields, the header has ", table.header.size()));
    }
    Concept c;
    c.id = table.cell(r, concept_col);
    c.subject = table.cell(r, subject_col);
    c.definition = table.cell(r, def_col);
    for (int lc : lang_cols) {
      Term t;
      t.lang = std::string(StripAsciiWhitespace(table.rows[0].fields[lc]));
      t.text = table.cell(r, lc);
      if (t.text.empty()) continue;
      t.part_of_speech = table.cell(r, pos_col);
      t.note = table.cell(r, note_col);
      c.terms.push_back(std::move(t));
    }
    if (c.terms.empty()) continue;
    out.push_back(std::move(c));
  }
  return out;
}

absl::StatusOr<std::vector<Concept>> ReadGlossaryCsv(std::string_view data,
                                                     const std::string& name) {
  VERSO_RETURN_IF_ERROR(RefuseCompressed(data.substr(0, kSignatureBytes), name));
  CsvTable t{name, {}, {}};
  VERSO_ASSIGN_OR_RETURN(t.rows, ParseCsv(data, name));
  if (t.rows.empty()) return absl::InvalidArgumentError(StrCat(name, ": empty: no header row"));
  for (const std::string& h : t.rows[0].fields) {
    t.header.push_back(AsciiLower(StripAsciiWhitespace(h)));
  }
  // A concept's id: the first of these columns the header has.
  int concept_col = -1;
  for (const char* n : kConceptColumns) {
    if (concept_col < 0) concept_col = t.col(n);
  }
  if (t.col("term") >= 0 || t.col("lang") >= 0) return ReadLongCsv(t, concept_col);
  return ReadWideCsv(t, concept_col);
}

std::string WriteGlossaryCsv(const std::vector<Concept>& concepts) {
  std::string out = "concept,lang,term,status,part_of_speech,case_sensitive,note\r\n";
  for (const Concept& c : concepts) {
    for (const Term& t : c.terms) {
      StrAppend(&out, CsvField(c.id), ",", CsvField(t.lang), ",", CsvField(t.text), ",",
                CsvField(t.status), ",", CsvField(t.part_of_speech), ",",
                t.case_sensitive ? "true" : "false", ",", CsvField(t.note), "\r\n");
    }
  }
  return out;
}

}  // namespace verso::formats
