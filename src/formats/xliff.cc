// XLIFF 2.0/2.1/2.2 (the reader in xliff2.h) and XLIFF 1.2 documents (see formats.h): validation
// against the core schema and the specification's processing requirements, units with their inline
// codes as verso markup, and the byte ranges their targets occupy.
#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <utility>

#include "common/status.h"
#include "common/strings.h"
#include "formats/formats.h"
#include "formats/xliff2.h"
#include "formats/xliff_internal.h"
#include "formats/xml_scan.h"
#include "text/text.h"

namespace verso::formats {
namespace {

using xliff::IsNmtoken;
using xliff::IsSpaceOnly;
using xliff::IsUserDefined;
using xliff::kMaxXliffBytes;
using xliff::kMaxXliffDepth;
using xliff::kXliff12;
using xliff::kXliff2;
using xliff::kXliff22;
using xliff::OpenTagOf;
using xliff::QName;
using xliff::Raw;
using xliff::Xliff2Reader;

// ---- XLIFF 1.2 -----------------------------------------------------------------------------

class Xliff12Reader {
 public:
  Xliff12Reader(const XmlTree& t, Document* doc) : t_(t), doc_(doc) {}

  absl::Status Read() {
    const XmlNode& root = t_[t_.root];
    if (root.local != "xliff" || (root.ns != kXliff12 && !root.ns.empty())) {
      return t_.Error(root, "the document element is not XLIFF 1.2 <xliff>");
    }
    if (root.Get("version") != "1.2") {
      return t_.Error(root, StrCat("version \"", root.Get("version"), "\" is not 1.2"));
    }
    ns_ = root.ns;
    int files = 0;
    for (int c : root.children) {
      const XmlNode& f = t_[c];
      if (!f.element || f.ns != ns_) continue;
      if (f.local != "file")
        return t_.Error(f, StrCat("<", QName(f), "> is not allowed in <xliff>"));
      ++files;
      for (std::string_view required : {"original", "source-language", "datatype"}) {
        if (!f.Has(required)) return t_.Error(f, StrCat("<file> has no ", required));
      }
      VERSO_RETURN_IF_ERROR(Language(f, "source-language"));
      if (f.Has("target-language")) VERSO_RETURN_IF_ERROR(Language(f, "target-language"));
      if (doc_->source_lang.empty()) {
        doc_->source_lang = std::string(f.Get("source-language"));
        doc_->target_lang = std::string(f.Get("target-language"));
      }
      if (!f.Has("target-language")) {
        doc_->lang_inserts.push_back(static_cast<int64_t>(f.start_end - (f.self_closing ? 2 : 1)));
      }
      file_ = std::string(f.Get("original"));
      ids_.clear();
      const XmlNode* body = nullptr;
      for (int k : f.children) {
        if (t_[k].element && t_[k].ns == ns_ && t_[k].local == "body") body = &t_[k];
      }
      if (body == nullptr) return t_.Error(f, "<file> has no <body>");
      VERSO_RETURN_IF_ERROR(Walk(*body, f.Get("translate", "yes") != "no"));
    }
    if (files == 0) return t_.Error(root, "<xliff> has no <file>");
    return absl::OkStatus();
  }

 private:
  absl::Status Language(const XmlNode& f, std::string_view attr) const {
    if (!text::CanonicalLanguageTag(f.Get(attr)).ok()) {
      return t_.Error(f, StrCat(attr, " \"", f.Get(attr), "\" is not a well-formed language tag"));
    }
    return absl::OkStatus();
  }

  absl::Status Walk(const XmlNode& n, bool translate) {
    for (int c : n.children) {
      const XmlNode& k = t_[c];
      if (!k.element || k.ns != ns_) continue;
      if (k.local == "group") {
        VERSO_RETURN_IF_ERROR(
            Walk(k, k.Has("translate") ? k.Get("translate") == "yes" : translate));
      } else if (k.local == "trans-unit") {
        VERSO_RETURN_IF_ERROR(
            TransUnit(k, k.Has("translate") ? k.Get("translate") == "yes" : translate));
      }
    }
    return absl::OkStatus();
  }

  // XLIFF 1.2 inline content is verso's markup vocabulary: elements are written without their
  // namespace prefix, with their attributes; foreign elements are refused.
  absl::Status ToMarkup(const XmlNode& n, std::string* out) const {
    for (int c : n.children) {
      const XmlNode& k = t_[c];
      if (!k.element) {
        *out += text::EscapeText(k.text);
        continue;
      }
      static const std::set<std::string_view> kInline = {"g",   "x",  "bx", "ex",  "bpt",
                                                         "ept", "ph", "it", "mrk", "sub"};
      if (k.ns != ns_ || !kInline.contains(k.local)) {
        return t_.Error(k, StrCat("<", QName(k), "> is not XLIFF 1.2 inline content"));
      }
      StrAppend(out, "<", k.local);
      for (const XmlAttr& a : k.attrs) {
        if (!a.ns.empty() && a.ns != kXmlNamespace) continue;
        StrAppend(out, " ", a.ns.empty() ? a.local : StrCat("xml:", a.local), "=\"",
                  XmlEscape(a.value, true), "\"");
      }
      if (k.children.empty() && (k.local == "x" || k.local == "bx" || k.local == "ex")) {
        *out += "/>";
        continue;
      }
      *out += ">";
      VERSO_RETURN_IF_ERROR(ToMarkup(k, out));
      StrAppend(out, "</", k.local, ">");
    }
    return absl::OkStatus();
  }

  absl::Status TransUnit(const XmlNode& tu, bool translate) {
    if (!tu.Has("id")) return t_.Error(tu, "<trans-unit> has no id");
    const std::string id(tu.Get("id"));
    if (!ids_.insert(id).second) {
      return t_.Error(tu, StrCat("the trans-unit id \"", id, "\" is used twice in the file"));
    }
    const XmlNode* source = nullptr;
    const XmlNode* target = nullptr;
    const XmlNode* last_before_target = nullptr;
    for (int c : tu.children) {
      const XmlNode& k = t_[c];
      if (!k.element || k.ns != ns_) continue;
      if (k.local == "source") {
        if (source != nullptr) return t_.Error(k, "<trans-unit> has two <source>s");
        source = &k;
        last_before_target = &k;
      } else if (k.local == "seg-source") {
        last_before_target = &k;
      } else if (k.local == "target") {
        if (target != nullptr) return t_.Error(k, "<trans-unit> has two <target>s");
        target = &k;
      }
    }
    if (source == nullptr) return t_.Error(tu, "<trans-unit> has no <source>");
    DocumentUnit u;
    u.id = StrCat(file_, "/", id);
    u.line = tu.line;
    VERSO_RETURN_IF_ERROR(ToMarkup(*source, &u.source));
    for (int c : tu.children) {
      const XmlNode& k = t_[c];
      if (k.element && k.ns == ns_ && k.local == "note")
        u.notes.push_back(k.children.empty() ? "" : t_[k.children[0]].text);
    }
    if (target != nullptr) {
      VERSO_RETURN_IF_ERROR(ToMarkup(*target, &u.target));
      if (target->self_closing) {
        u.begin = static_cast<int64_t>(target->begin);
        u.end = static_cast<int64_t>(target->end);
        u.before = OpenTagOf(t_, *target);
        u.after = StrCat("</", QName(*target), ">");
      } else {
        u.begin = static_cast<int64_t>(target->start_end);
        u.end = static_cast<int64_t>(target->end_begin);
      }
    } else {
      const std::string prefix = source->prefix.empty() ? "" : StrCat(source->prefix, ":");
      u.begin = u.end = static_cast<int64_t>(last_before_target->end);
      u.before = StrCat("<", prefix, "target>");
      u.after = StrCat("</", prefix, "target>");
    }
    if (translate) doc_->units.push_back(std::move(u));
    return absl::OkStatus();
  }

  const XmlTree& t_;
  Document* doc_;
  std::string ns_, file_;
  std::set<std::string> ids_;
};

}  // namespace

absl::StatusOr<Document> ReadXliff(std::string_view data, const std::string& name) {
  VERSO_ASSIGN_OR_RETURN(XmlTree tree, ScanXml(data, name, kMaxXliffBytes, kMaxXliffDepth));
  Document doc;
  const XmlNode& root = tree[tree.root];
  if (root.ns == kXliff2 || root.ns == kXliff22) {
    doc.format = "xliff2";
    Xliff2Reader reader(tree, &doc);
    VERSO_RETURN_IF_ERROR(reader.Read());
  } else if (root.local == "xliff" && root.Get("version") == "1.2") {
    doc.format = "xliff12";
    Xliff12Reader reader(tree, &doc);
    VERSO_RETURN_IF_ERROR(reader.Read());
  } else {
    return tree.Error(root, StrCat("<", QName(root), " version=\"", root.Get("version"),
                                   "\"> is neither XLIFF 2 nor XLIFF 1.2"));
  }
  return doc;
}

absl::StatusOr<std::string> XliffInline(const DocumentUnit& unit, std::string_view markup,
                                        std::string_view format) {
  VERSO_ASSIGN_OR_RETURN(std::vector<text::Run> runs, text::ParseMarkup(markup));
  // The markup vocabulary is XLIFF 1.2's own (checked by ParseMarkup).
  if (format == "xliff12") return std::string(markup);
  std::string out;
  auto attr = [](std::string_view tag, std::string_view name) -> std::string {
    const std::string needle = StrCat(" ", name, "=\"");
    size_t at = tag.find(needle);
    if (at == std::string_view::npos) return "";
    at += needle.size();
    // Ids are NMTOKENs (the reader checked): nothing in them is escaped.
    return std::string(tag.substr(at, tag.find('"', at) - at));
  };
  auto lookup = [&](const std::string& key) -> const std::string* {
    for (const auto& [k, xml] : unit.codes) {
      if (k == key) return &xml;
    }
    return nullptr;
  };
  std::vector<std::string> open;
  for (const text::Run& r : runs) {
    if (r.kind == text::Run::Kind::kText) {
      out += XmlEscape(r.text, false);
      continue;
    }
    std::string key;
    if (r.kind == text::Run::Kind::kClose) {
      if (open.empty()) return absl::InvalidArgumentError("markup: an unbalanced end tag");
      key = StrCat("/", open.back());
      open.pop_back();
    } else {
      std::string_view tag = r.text;
      size_t name_end = tag.find_first_of(" />", 1);
      std::string name(tag.substr(1, name_end - 1));
      std::string id = attr(tag, "id"), rid = attr(tag, "rid");
      key = name == "ex" && id.empty() ? StrCat("ex>", rid) : StrCat(name, "#", id);
      if (r.kind == text::Run::Kind::kOpen) open.push_back(key);
    }
    const std::string* xml = lookup(key);
    if (xml == nullptr) {
      return absl::InvalidArgumentError(StrCat("the translation of ", unit.id, " has the code ",
                                               r.text.substr(0, 60),
                                               ", which its source does not have"));
    }
    out += *xml;
  }
  return out;
}

}  // namespace verso::formats
