// XLIFF 2.0/2.1/2.2 and XLIFF 1.2 documents (see formats.h): validation against the core
// schema and the specification's processing requirements, units with their inline codes as
// verso markup, and the byte ranges their targets occupy.
#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <utility>

#include "common/status.h"
#include "common/strings.h"
#include "formats/formats.h"
#include "formats/xliff_internal.h"
#include "formats/xml_scan.h"
#include "text/text.h"

namespace verso::formats {
namespace {

constexpr size_t kMaxXliffBytes = size_t{256} << 20;
constexpr int kMaxXliffDepth = 200;

constexpr std::string_view kXliff2 = "urn:oasis:names:tc:xliff:document:2.0";
constexpr std::string_view kXliff22 = "urn:oasis:names:tc:xliff:document:2.2";
constexpr std::string_view kXliff12 = "urn:oasis:names:tc:xliff:document:1.2";
constexpr std::string_view kMda = "urn:oasis:names:tc:xliff:metadata:2.0";
constexpr std::string_view kGls = "urn:oasis:names:tc:xliff:glossary:2.0";
constexpr std::string_view kMtc = "urn:oasis:names:tc:xliff:matches:2.0";
constexpr std::string_view kRes = "urn:oasis:names:tc:xliff:resourcedata:2.0";
constexpr std::string_view kVal = "urn:oasis:names:tc:xliff:validation:2.0";
constexpr std::string_view kCtr20 = "urn:oasis:names:tc:xliff:changetracking:2.0";
constexpr std::string_view kCtr21 = "urn:oasis:names:tc:xliff:changetracking:2.1";
constexpr std::string_view kFs = "urn:oasis:names:tc:xliff:fs:2.0";
constexpr std::string_view kSlr = "urn:oasis:names:tc:xliff:sizerestriction:2.0";
constexpr std::string_view kIts = "http://www.w3.org/2005/11/its";
constexpr std::string_view kItsm = "urn:oasis:names:tc:xliff:itsm:2.1";

bool IsNameChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == ':' || c >= 0x80;
}

bool IsNmtoken(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsNameChar(c); });
}

// "prefix:value" with both parts non-empty (XLIFF's user-defined values).
bool IsUserDefined(std::string_view s) {
  size_t colon = s.find(':');
  return colon != std::string_view::npos && colon > 0 && colon + 1 < s.size() &&
         s.find(':', colon + 1) == std::string_view::npos;
}

bool IsSpaceOnly(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
}

// Raw bytes of a node in the document.
std::string_view Raw(const XmlTree& t, const XmlNode& n) {
  return t.data.substr(n.begin, n.end - n.begin);
}

// The qualified name as written.
std::string QName(const XmlNode& n) {
  return n.prefix.empty() ? n.local : StrCat(n.prefix, ":", n.local);
}

// ---- XLIFF 2 -------------------------------------------------------------------------------

// What an attribute list may hold beyond the names it lists.
enum class Others {
  kNone,     // nothing else
  kModules,  // attributes of the modules that annotate inline codes (fs, slr, its)
  kAny,      // any attribute in another namespace (extension points)
};

// One inline element of a unit's source or target, in document order.
struct Inline {
  const XmlNode* node;
  std::string kind;  // ph pc sc ec mrk sm em cp
  int segment;       // index of the segment or ignorable
  bool in_target;
  std::string context;  // id of the enclosing <pc>, or ""
};

class Xliff2Reader {
 public:
  Xliff2Reader(const XmlTree& t, Document* doc) : t_(t), doc_(doc) {}

  struct UnitState {
    const XmlNode* unit = nullptr;
    const std::set<std::string>* note_ids = nullptr;
    const std::set<std::string>* data_ids = nullptr;
    std::vector<const XmlNode*> parts;  // segments and ignorables
    std::vector<const XmlNode*> sources;
    std::vector<const XmlNode*> targets;  // null when the part has none
    std::vector<Inline> source_inline;
    std::vector<Inline> target_inline;
    std::set<std::string> part_ids;
    std::set<std::string> span_ids;  // segment ids and source/target inline ids (module refs)
  };

  absl::Status Read() {
    const XmlNode& root = t_[t_.root];
    core_ = root.ns;
    if ((root.ns != kXliff2 && root.ns != kXliff22) || root.local != "xliff") {
      return t_.Error(root, "the document element is not XLIFF 2 <xliff>");
    }
    VERSO_RETURN_IF_ERROR(
        Attrs(root, {"version", "srcLang", "trgLang", "xml:space"}, Others::kAny));
    const std::string_view version = root.Get("version");
    if (version != "2.0" && version != "2.1" && (core_ == kXliff2 || version != "2.2")) {
      return t_.Error(root,
                      StrCat("version \"", version, "\" does not go with the namespace ", core_));
    }
    if (!root.Has("srcLang")) return t_.Error(root, "<xliff> has no srcLang");
    src_lang_ = std::string(root.Get("srcLang"));
    VERSO_RETURN_IF_ERROR(Language(root, src_lang_, "srcLang"));
    if (root.Has("trgLang")) {
      trg_lang_ = std::string(root.Get("trgLang"));
      VERSO_RETURN_IF_ERROR(Language(root, trg_lang_, "trgLang"));
    } else {
      doc_->lang_inserts.push_back(
          static_cast<int64_t>(root.start_end - (root.self_closing ? 2 : 1)));
    }
    doc_->source_lang = src_lang_;
    doc_->target_lang = trg_lang_;
    std::set<std::string> file_ids;
    int files = 0;
    int phase = 0;  // XLIFF 2.2: notes? mda:metadata? file+
    for (int c : root.children) {
      const XmlNode& n = t_[c];
      VERSO_RETURN_IF_ERROR(OnlySpace(n, "<xliff>"));
      if (!n.element) continue;
      if (core_ == kXliff22 && phase == 0 && IsCore(n, "notes")) {
        VERSO_RETURN_IF_ERROR(Notes(n));
        phase = 1;
        continue;
      }
      if (core_ == kXliff22 && phase <= 1 && n.ns == kMda && n.local == "metadata") {
        VERSO_RETURN_IF_ERROR(Module(n, root, nullptr));
        phase = 2;
        continue;
      }
      phase = 3;
      if (!IsCore(n, "file"))
        return t_.Error(n, StrCat("<", QName(n), "> is not allowed in <xliff>"));
      ++files;
      VERSO_RETURN_IF_ERROR(File(n, &file_ids));
    }
    if (files == 0) return t_.Error(root, "<xliff> has no <file>");
    return absl::OkStatus();
  }

 private:
  bool IsCore(const XmlNode& n, std::string_view local) const {
    return n.element && n.ns == core_ && n.local == local;
  }

  absl::Status OnlySpace(const XmlNode& n, std::string_view where) const {
    if (!n.element && !IsSpaceOnly(n.text)) {
      return t_.Error(n, StrCat("text is not allowed in ", where));
    }
    return absl::OkStatus();
  }

  absl::Status Language(const XmlNode& at, std::string_view tag, std::string_view attr) const {
    if (!text::CanonicalLanguageTag(tag).ok()) {
      return t_.Error(at, StrCat(attr, " \"", tag, "\" is not a well-formed BCP 47 language tag"));
    }
    return absl::OkStatus();
  }

  // Checks an element's attributes against the names it may have ("xml:lang" for the XML
  // namespace) and what else it may carry.
  absl::Status Attrs(const XmlNode& n, std::initializer_list<std::string_view> names,
                     Others others) const {
    for (const XmlAttr& a : n.attrs) {
      std::string full = a.ns == kXmlNamespace ? StrCat("xml:", a.local) : a.local;
      const bool listed = (a.ns.empty() || a.ns == kXmlNamespace) &&
                          std::find(names.begin(), names.end(), full) != names.end();
      if (listed) continue;
      bool ok = false;
      if (others == Others::kAny && a.ns == kXmlNamespace) ok = true;
      if (!a.ns.empty() && a.ns != kXmlNamespace && a.ns != core_) {
        if (others == Others::kAny) ok = true;
        if (others == Others::kModules)
          ok = a.ns == kFs || a.ns == kSlr || a.ns == kIts || a.ns == kItsm;
      }
      if (!ok) {
        return t_.Error(n, StrCat("<", QName(n), "> may not have the attribute ",
                                  a.prefix.empty() ? a.local : StrCat(a.prefix, ":", a.local)));
      }
    }
    VERSO_RETURN_IF_ERROR(ModuleAttrs(n));
    for (std::string_view yes_no :
         {"canResegment", "translate", "canCopy", "canDelete", "canOverlap", "isolated"}) {
      const XmlAttr* a = n.Attr("", yes_no);
      if (a != nullptr && a->value != "yes" && a->value != "no") {
        return t_.Error(n, StrCat(yes_no, "=\"", a->value, "\" is not yes or no"));
      }
    }
    for (std::string_view dir : {"srcDir", "trgDir", "dir"}) {
      const XmlAttr* a = n.Attr("", dir);
      if (a != nullptr && a->value != "ltr" && a->value != "rtl" && a->value != "auto") {
        return t_.Error(n, StrCat(dir, "=\"", a->value, "\" is not ltr, rtl or auto"));
      }
    }
    if (const XmlAttr* a = n.Attr("", "canReorder");
        a != nullptr && a->value != "yes" && a->value != "no" && a->value != "firstNo") {
      return t_.Error(n, StrCat("canReorder=\"", a->value, "\" is not yes, no or firstNo"));
    }
    if (const XmlAttr* a = n.Attr(kXmlNamespace, "lang");
        a != nullptr && !text::CanonicalLanguageTag(a->value).ok()) {
      return t_.Error(n, StrCat("xml:lang=\"", a->value, "\" is not a well-formed language tag"));
    }
    if (const XmlAttr* a = n.Attr(kXmlNamespace, "space");
        a != nullptr && a->value != "default" && a->value != "preserve") {
      return t_.Error(n, StrCat("xml:space=\"", a->value, "\" is not default or preserve"));
    }
    for (std::string_view id :
         {"id", "dataRef", "dataRefStart", "dataRefEnd", "startRef", "copyOf"}) {
      const XmlAttr* a = n.Attr("", id);
      if (a != nullptr && !IsNmtoken(a->value)) {
        return t_.Error(n, StrCat(id, "=\"", a->value, "\" is not an NMTOKEN"));
      }
    }
    for (std::string_view ids : {"subFlows", "subFlowsStart", "subFlowsEnd"}) {
      const XmlAttr* a = n.Attr("", ids);
      if (a == nullptr) continue;
      for (std::string_view id : Split(a->value, ' ')) {
        if (!id.empty() && !IsNmtoken(id)) {
          return t_.Error(n, StrCat(ids, "=\"", a->value, "\" is not a list of NMTOKENs"));
        }
      }
    }
    return absl::OkStatus();
  }

  // Attributes of the Format Style module (fs:fs, fs:subFs).
  absl::Status ModuleAttrs(const XmlNode& n) const {
    static const std::set<std::string_view> kHtml = {
        "a",      "b",    "bdo",   "big",   "blockquote", "body",   "br",   "button", "caption",
        "center", "cite", "code",  "col",   "colgroup",   "dd",     "del",  "div",    "dl",
        "dt",     "em",   "h1",    "h2",    "h3",         "h4",     "h5",   "h6",     "head",
        "hr",     "html", "i",     "img",   "label",      "legend", "li",   "ol",     "p",
        "pre",    "q",    "s",     "samp",  "select",     "small",  "span", "strike", "strong",
        "sub",    "sup",  "table", "tbody", "td",         "tfoot",  "th",   "thead",  "title",
        "tr",     "tt",   "u",     "ul"};
    VERSO_RETURN_IF_ERROR(SizeAttrs(n));
    for (const XmlAttr& a : n.attrs) {
      if (a.ns != kFs) continue;
      if (a.local != "fs" && a.local != "subFs") {
        return t_.Error(n,
                        StrCat("fs:", a.local, " is not an attribute of the Format Style module"));
      }
      if (a.local == "fs" && !kHtml.contains(a.value)) {
        return t_.Error(n,
                        StrCat("fs:fs=\"", a.value, "\" is not an HTML element the module allows"));
      }
      if (a.local == "subFs" && n.Attr(kFs, "fs") == nullptr) {
        return t_.Error(n, "fs:subFs is set without fs:fs");
      }
      if (n.ns == core_ && n.local == "ec" && n.Get("isolated") != "yes") {
        return t_.Error(n, StrCat("fs:", a.local, " on an <ec> that is not isolated"));
      }
    }
    return absl::OkStatus();
  }

  // Attributes of the Size and Length Restriction module.
  absl::Status SizeAttrs(const XmlNode& n) const {
    auto integer = [](std::string_view v) {
      return !v.empty() &&
             std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    // "max", "min,max" with "*" for no maximum.
    auto restriction = [&](std::string_view v) {
      size_t comma = v.find(',');
      if (comma == std::string_view::npos) return integer(v) || v == "*";
      std::string_view max = v.substr(comma + 1);
      return integer(v.substr(0, comma)) && (integer(max) || max == "*");
    };
    // The values' syntax is the profile's: XLIFF's own profiles (xliff:codepoints,
    // xliff:utf8, ...) count whole numbers; other profiles define their own.
    std::string_view general, storage;
    bool profiles = false;
    if (file_ != nullptr) {
      for (int c : file_->children) {
        const XmlNode& k = t_[c];
        if (k.element && k.ns == kSlr && k.local == "profiles") {
          profiles = true;
          general = k.Get("generalProfile");
          storage = k.Get("storageProfile");
        }
      }
    }
    for (const XmlAttr& a : n.attrs) {
      if (a.ns != kSlr) continue;
      const bool standard = (a.local == "equivStorage" || a.local == "storageRestriction")
                                ? storage.starts_with("xliff:")
                                : general.starts_with("xliff:");
      // Without a declared profile nothing defines the syntax; a number is still expected to
      // be a whole one (the OASIS suite holds both "some info" as valid and "25.5" as invalid).
      const bool numeric =
          !a.value.empty() && a.value.find_first_not_of("0123456789.+-eE") == std::string::npos;
      if (a.local == "equivStorage" || a.local == "sizeInfo") {
        if ((standard || (!profiles && numeric)) && !integer(a.value)) {
          return t_.Error(n, StrCat("slr:", a.local, "=\"", a.value, "\" is not a whole number"));
        }
      } else if (a.local == "sizeRestriction" || a.local == "storageRestriction") {
        if (standard && !restriction(a.value)) {
          return t_.Error(n, StrCat("slr:", a.local, "=\"", a.value,
                                    "\" is not a maximum or min,max (* for none)"));
        }
      } else if (a.local == "sizeInfoRef") {
        if (n.Attr(kSlr, "sizeInfo") != nullptr) {
          return t_.Error(n, "slr:sizeInfo and slr:sizeInfoRef cannot go together");
        }
        if (!SizeDataHas(n, a.value)) {
          return t_.Error(n, StrCat("slr:sizeInfoRef=\"", a.value,
                                    "\" names nothing in an <slr:data> beside it or an ancestor"));
        }
      } else {
        return t_.Error(n, StrCat("slr:", a.local,
                                  " is not an attribute of the Size and Length "
                                  "Restriction module"));
      }
      if (n.ns == core_ && n.local == "ec" && n.Get("isolated") != "yes") {
        return t_.Error(n, StrCat("slr:", a.local, " on an <ec> that is not isolated"));
      }
    }
    return absl::OkStatus();
  }

  // An element with this id inside an slr:data sibling of `n` or of one of its ancestors.
  bool SizeDataHas(const XmlNode& n, std::string_view id) const {
    std::function<bool(const XmlNode&)> has = [&](const XmlNode& x) {
      if (x.element && x.Get("id") == id && x.Has("id")) return true;
      for (int c : x.children) {
        if (has(t_[c])) return true;
      }
      return false;
    };
    for (const XmlNode* p = &n; p->parent >= 0; p = &t_[p->parent]) {
      for (int c : t_[p->parent].children) {
        const XmlNode& sib = t_[c];
        if (sib.element && sib.ns == kSlr && sib.local == "data") {
          for (int k : sib.children) {
            if (has(t_[k])) return true;
          }
        }
      }
    }
    return false;
  }

  absl::Status RequireId(const XmlNode& n) const {
    if (!n.Has("id")) return t_.Error(n, StrCat("<", QName(n), "> has no id"));
    return absl::OkStatus();
  }

  // Extension and module elements among a file's, group's or unit's children: ids unique per
  // namespace; names of XLIFF modules must be ones the module defines.
  // Extension and module elements among a file's, group's or unit's children: ids unique per
  // namespace; elements of XLIFF's modules checked against their module.
  absl::Status Extensions(const XmlNode& owner, const std::vector<const XmlNode*>& ext,
                          const UnitState* st) {
    std::set<std::pair<std::string, std::string>> ids;
    for (const XmlNode* n : ext) {
      VERSO_RETURN_IF_ERROR(Module(*n, owner, st));
      VERSO_RETURN_IF_ERROR(ExtensionIds(*n, &ids));
    }
    return absl::OkStatus();
  }

  // id and xml:id of an extension element and its descendants in other namespaces.
  absl::Status ExtensionIds(const XmlNode& n,
                            std::set<std::pair<std::string, std::string>>* ids) const {
    if (!n.element || n.ns == core_) return absl::OkStatus();
    for (const XmlAttr* id : {n.Attr("", "id"), n.Attr(kXmlNamespace, "id")}) {
      if (id != nullptr && !ids->emplace(n.ns, id->value).second) {
        return t_.Error(n,
                        StrCat("the id \"", id->value, "\" is used twice by elements of ", n.ns));
      }
    }
    for (int c : n.children) VERSO_RETURN_IF_ERROR(ExtensionIds(t_[c], ids));
    return absl::OkStatus();
  }

  // ---- Modules -------------------------------------------------------------------------------

  std::vector<const XmlNode*> Elements(const XmlNode& n) const {
    std::vector<const XmlNode*> out;
    for (int c : n.children) {
      if (t_[c].element) out.push_back(&t_[c]);
    }
    return out;
  }

  absl::Status ElementOnly(const XmlNode& n) const {
    for (int c : n.children) VERSO_RETURN_IF_ERROR(OnlySpace(t_[c], StrCat("<", QName(n), ">")));
    return absl::OkStatus();
  }

  absl::Status TextOnly(const XmlNode& n) const {
    for (int c : n.children) {
      if (t_[c].element) {
        return t_.Error(t_[c], StrCat("<", QName(n), "> holds text only"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Bad(const XmlNode& n, std::string_view what) const {
    return t_.Error(n, StrCat("<", QName(n), ">: ", what));
  }

  // Checks an element of an XLIFF module (and, inside it, further module elements); elements
  // of other namespaces are extensions and left alone.
  absl::Status Module(const XmlNode& n, const XmlNode& owner, const UnitState* st) {
    if (!n.element) return absl::OkStatus();
    using Check =
        absl::StatusOr<bool> (Xliff2Reader::*)(const XmlNode&, const XmlNode&, const UnitState*);
    static const std::pair<std::string_view, Check> kModules[] = {
        {kMda, &Xliff2Reader::MetadataElement},
        {kGls, &Xliff2Reader::GlossaryElement},
        {kMtc, &Xliff2Reader::MatchesElement},
        {kRes, &Xliff2Reader::ResourcesElement},
        {kSlr, &Xliff2Reader::SizeRestrictionElement},
        {kVal, &Xliff2Reader::ValidationElement},
        {kCtr20, &Xliff2Reader::ChangeTrackingElement},
        {kCtr21, &Xliff2Reader::ChangeTrackingElement},
    };
    if (n.ns == kFs) return Bad(n, "the Format Style module has attributes only");
    for (const auto& [ns, check] : kModules) {
      if (n.ns != ns) continue;
      // True: the element's children are module elements to check in turn.
      VERSO_ASSIGN_OR_RETURN(bool descend, (this->*check)(n, owner, st));
      if (!descend) return absl::OkStatus();
      for (const XmlNode* k : Elements(n)) VERSO_RETURN_IF_ERROR(Module(*k, owner, st));
      return absl::OkStatus();
    }
    return absl::OkStatus();  // an extension: kept as it is
  }

  // A module element checked and nothing more to do below it (or why it is wrong).
  static absl::StatusOr<bool> Leaf(absl::Status s) {
    if (!s.ok()) return s;
    return false;
  }

  // Module's helpers: the element's children are `allowed` ones of its namespace (`others`: or
  // any of another namespace than the core's)...
  absl::Status Children(const XmlNode& n, std::initializer_list<std::string_view> allowed,
                        bool others) const {
    for (const XmlNode* k : Elements(n)) {
      if (k->ns == n.ns && std::find(allowed.begin(), allowed.end(), k->local) != allowed.end()) {
        continue;
      }
      if (others && k->ns != n.ns && k->ns != core_) continue;
      return t_.Error(*k, StrCat("<", QName(*k), "> is not allowed in <", QName(n), ">"));
    }
    return absl::OkStatus();
  }
  // ...how many children of its namespace are named `local`...
  int Count(const XmlNode& n, std::string_view local) const {
    int c = 0;
    for (const XmlNode* k : Elements(n)) c += k->ns == n.ns && k->local == local;
    return c;
  }
  // ...and an element holding one or more `child`ren and nothing else.
  absl::Status Container(const XmlNode& n, std::string_view child, Others others) const {
    VERSO_RETURN_IF_ERROR(Attrs(n, {}, others));
    VERSO_RETURN_IF_ERROR(ElementOnly(n));
    VERSO_RETURN_IF_ERROR(Children(n, {child}, false));
    if (Count(n, child) == 0) return Bad(n, StrCat("has no <", n.prefix, ":", child, ">"));
    return absl::OkStatus();
  }

  // An element of the Metadata (mda) module.
  absl::StatusOr<bool> MetadataElement(const XmlNode& n, [[maybe_unused]] const XmlNode& owner,
                                       [[maybe_unused]] const UnitState* st) {
    const std::string& e = n.local;
    [[maybe_unused]] const std::string& ns = n.ns;
    if (e == "metadata") {
      VERSO_RETURN_IF_ERROR(Attrs(n, {"id"}, Others::kNone));
      VERSO_RETURN_IF_ERROR(ElementOnly(n));
      VERSO_RETURN_IF_ERROR(Children(n, {"metaGroup"}, false));
      if (Count(n, "metaGroup") == 0) return Leaf(Bad(n, "has no <mda:metaGroup>"));
    } else if (e == "metaGroup") {
      VERSO_RETURN_IF_ERROR(Attrs(n, {"id", "category", "appliesTo"}, Others::kNone));
      VERSO_RETURN_IF_ERROR(ElementOnly(n));
      VERSO_RETURN_IF_ERROR(Children(n, {"metaGroup", "meta"}, false));
      std::string_view applies = n.Get("appliesTo", "source");
      if (applies != "source" && applies != "target" && applies != "ignorable") {
        return Leaf(
            Bad(n, StrCat("appliesTo=\"", applies, "\" is not source, target or ignorable")));
      }
      if (Elements(n).empty()) return Leaf(Bad(n, "is empty"));
    } else if (e == "meta") {
      VERSO_RETURN_IF_ERROR(Attrs(n, {"type"}, Others::kNone));
      if (!n.Has("type")) return Leaf(Bad(n, "has no type"));
      return Leaf(TextOnly(n));
    } else {
      return Leaf(Bad(n, "is not an element of the Metadata module"));
    }
    return true;
  }

  // An element of the Glossary (gls) module.
  absl::StatusOr<bool> GlossaryElement(const XmlNode& n, [[maybe_unused]] const XmlNode& owner,
                                       [[maybe_unused]] const UnitState* st) {
    const std::string& e = n.local;
    [[maybe_unused]] const std::string& ns = n.ns;
    if (e == "glossary") {
      VERSO_RETURN_IF_ERROR(Container(n, "glossEntry", Others::kNone));
      std::set<std::string> ids;
      for (const XmlNode* entry : Elements(n)) {
        std::vector<const XmlNode*> with_ids = {entry};
        for (const XmlNode* k : Elements(*entry)) {
          if (k->ns == kGls && k->local == "translation") with_ids.push_back(k);
        }
        for (const XmlNode* w : with_ids) {
          if (w->Has("id") && !ids.insert(std::string(w->Get("id"))).second) {
            return Leaf(
                Bad(*w, StrCat("the id \"", w->Get("id"), "\" is used twice in the glossary")));
          }
        }
      }
    } else if (e == "glossEntry") {
      VERSO_RETURN_IF_ERROR(Attrs(n, {"id", "ref"}, Others::kAny));
      VERSO_RETURN_IF_ERROR(ElementOnly(n));
      VERSO_RETURN_IF_ERROR(Children(n, {"term", "translation", "definition"}, true));
      if (Count(n, "term") != 1) return Leaf(Bad(n, "needs exactly one <gls:term>"));
      if (Count(n, "definition") > 1) return Leaf(Bad(n, "has more than one <gls:definition>"));
      if (Count(n, "translation") == 0 && Count(n, "definition") == 0) {
        return Leaf(Bad(n, "needs a <gls:translation> or a <gls:definition>"));
      }
      VERSO_RETURN_IF_ERROR(GlossaryRef(n, st));
    } else if (e == "term" || e == "definition") {
      VERSO_RETURN_IF_ERROR(Attrs(n, {"source"}, Others::kAny));
      return Leaf(TextOnly(n));
    } else if (e == "translation") {
      VERSO_RETURN_IF_ERROR(Attrs(n, {"id", "ref", "source"}, Others::kAny));
      VERSO_RETURN_IF_ERROR(GlossaryRef(n, st));
      return Leaf(TextOnly(n));
    } else {
      return Leaf(Bad(n, "is not an element of the Glossary module"));
    }
    return true;
  }

  // An element of the Translation Candidates (mtc) module.
  absl::StatusOr<bool> MatchesElement(const XmlNode& n, [[maybe_unused]] const XmlNode& owner,
                                      [[maybe_unused]] const UnitState* st) {
    const std::string& e = n.local;
    [[maybe_unused]] const std::string& ns = n.ns;
    if (e == "matches") {
      VERSO_RETURN_IF_ERROR(Container(n, "match", Others::kNone));
    } else if (e == "match") {
      return Leaf(Match(n, st));
    } else {
      return Leaf(Bad(n, "is not an element of the Translation Candidates module"));
    }
    return true;
  }

  // An element of the Resource Data (res) module.
  absl::StatusOr<bool> ResourcesElement(const XmlNode& n, [[maybe_unused]] const XmlNode& owner,
                                        [[maybe_unused]] const UnitState* st) {
    const std::string& e = n.local;
    [[maybe_unused]] const std::string& ns = n.ns;
    if (e == "resourceData") {
      VERSO_RETURN_IF_ERROR(Attrs(n, {"id"}, Others::kNone));
      VERSO_RETURN_IF_ERROR(ElementOnly(n));
      VERSO_RETURN_IF_ERROR(Children(n, {"resourceItemRef", "resourceItem"}, false));
      if (Elements(n).empty()) return Leaf(Bad(n, "is empty"));
    } else if (e == "resourceItemRef") {
      VERSO_RETURN_IF_ERROR(Attrs(n, {"id", "ref"}, Others::kAny));
      if (!n.Has("ref")) return Leaf(Bad(n, "has no ref"));
      return Leaf(TextOnly(n));
    } else if (e == "resourceItem") {
      VERSO_RETURN_IF_ERROR(Attrs(n, {"mimeType", "id", "context"}, Others::kAny));
      VERSO_RETURN_IF_ERROR(ElementOnly(n));
      VERSO_RETURN_IF_ERROR(Children(n, {"source", "target", "reference"}, false));
    } else if (e == "source" || e == "target") {
      VERSO_RETURN_IF_ERROR(Attrs(n, {"href", "xml:lang"}, Others::kAny));
      bool content = false;
      for (int c : n.children) content = content || t_[c].element || !t_[c].text.empty();
      if (n.Has("href") == content) {
        return Leaf(Bad(n, content ? "has both href and content" : "has neither href nor content"));
      }
      // (The suite's valid files give res:target other languages than trgLang; only the
      // source's is held to the document's.)
      if (const XmlAttr* l = n.Attr(kXmlNamespace, "lang");
          e == "source" && l != nullptr && !EqualsIgnoreAsciiCase(l->value, src_lang_)) {
        return Leaf(Bad(n, StrCat("xml:lang=\"", l->value,
                                  "\" differs from the document's srcLang \"", src_lang_, "\"")));
      }
      return Leaf(absl::OkStatus());  // any content
    } else if (e == "reference") {
      VERSO_RETURN_IF_ERROR(Attrs(n, {"href", "xml:lang"}, Others::kAny));
      if (!n.Has("href")) return Leaf(Bad(n, "has no href"));
      return Leaf(absl::OkStatus());
    } else {
      return Leaf(Bad(n, "is not an element of the Resource Data module"));
    }
    return true;
  }

  // An element of the Size and Length Restriction (slr): profiles, normalization, data module.
  absl::StatusOr<bool> SizeRestrictionElement(const XmlNode& n,
                                              [[maybe_unused]] const XmlNode& owner,
                                              [[maybe_unused]] const UnitState* st) {
    const std::string& e = n.local;
    [[maybe_unused]] const std::string& ns = n.ns;
    if (e == "profiles") {
      VERSO_RETURN_IF_ERROR(Attrs(n, {"generalProfile", "storageProfile"}, Others::kNone));
      VERSO_RETURN_IF_ERROR(ElementOnly(n));
      VERSO_RETURN_IF_ERROR(Children(n, {"normalization"}, true));
    } else if (e == "normalization") {
      VERSO_RETURN_IF_ERROR(Attrs(n, {"general", "storage"}, Others::kNone));
      for (std::string_view a : {"general", "storage"}) {
        std::string_view v = n.Get(a, "none");
        if (v != "none" && v != "nfc" && v != "nfd") {
          return Leaf(Bad(n, StrCat(a, "=\"", v, "\" is not none, nfc or nfd")));
        }
      }
      return Leaf(TextOnly(n));
    } else if (e == "data") {
      VERSO_RETURN_IF_ERROR(Attrs(n, {"profile"}, Others::kAny));
      if (!n.Has("profile")) return Leaf(Bad(n, "has no profile"));
      return Leaf(absl::OkStatus());
    } else {
      return Leaf(Bad(n, "is not an element of the Size and Length Restriction module"));
    }
    return true;
  }

  // An element of the Validation (val) module.
  absl::StatusOr<bool> ValidationElement(const XmlNode& n, [[maybe_unused]] const XmlNode& owner,
                                         [[maybe_unused]] const UnitState* st) {
    const std::string& e = n.local;
    [[maybe_unused]] const std::string& ns = n.ns;
    if (e == "validation") {
      VERSO_RETURN_IF_ERROR(Container(n, "rule", Others::kAny));
    } else if (e == "rule") {
      return Leaf(Rule(n, owner));
    } else {
      return Leaf(Bad(n, "is not an element of the Validation module"));
    }
    return true;
  }

  // An element of the Change Tracking (ctr) module.
  absl::StatusOr<bool> ChangeTrackingElement(const XmlNode& n,
                                             [[maybe_unused]] const XmlNode& owner,
                                             [[maybe_unused]] const UnitState* st) {
    const std::string& e = n.local;
    [[maybe_unused]] const std::string& ns = n.ns;
    if (e == "changeTrack") {
      VERSO_RETURN_IF_ERROR(Container(n, "revisions", Others::kNone));
    } else if (e == "revisions") {
      return Leaf(Revisions(n, owner));
    } else if (e == "revision") {
      VERSO_RETURN_IF_ERROR(Attrs(n, {"author", "datetime", "version"}, Others::kAny));
      VERSO_RETURN_IF_ERROR(ElementOnly(n));
      VERSO_RETURN_IF_ERROR(Children(n, {"item"}, true));
      if (Count(n, "item") == 0) return Leaf(Bad(n, "has no <ctr:item>"));
      std::set<std::string> properties;
      for (const XmlNode* k : Elements(n)) {
        if (k->ns == ns && !properties.insert(std::string(k->Get("property"))).second) {
          return Leaf(Bad(*k, StrCat("the property \"", k->Get("property"),
                                     "\" appears twice in one revision")));
        }
      }
    } else if (e == "item") {
      VERSO_RETURN_IF_ERROR(Attrs(n, {"property"}, Others::kAny));
      if (!n.Has("property")) return Leaf(Bad(n, "has no property"));
      return Leaf(absl::OkStatus());
    } else {
      return Leaf(Bad(n, "is not an element of the Change Tracking module"));
    }
    return true;
  }

  // gls:glossEntry/@ref and gls:translation/@ref point to a span of the unit ("#id" or "id").
  absl::Status GlossaryRef(const XmlNode& n, const UnitState* st) const {
    if (!n.Has("ref") || st == nullptr) return absl::OkStatus();
    std::string_view ref = n.Get("ref");
    if (size_t hash = ref.find('#'); hash != std::string_view::npos) ref.remove_prefix(hash + 1);
    if (ref.starts_with("t=")) ref.remove_prefix(2);  // a span of the target
    if (!st->span_ids.contains(std::string(ref))) {
      return Bad(n, StrCat("ref=\"", n.Get("ref"), "\" names no segment or span of the unit"));
    }
    return absl::OkStatus();
  }

  absl::Status Match(const XmlNode& n, const UnitState* st) {
    VERSO_RETURN_IF_ERROR(Attrs(n,
                                {"id", "matchQuality", "matchSuitability", "origin", "ref",
                                 "reference", "similarity", "subType", "type"},
                                Others::kAny));
    if (n.Attr(kXmlNamespace, "lang") != nullptr) return Bad(n, "may not have xml:lang");
    for (std::string_view a : {"matchQuality", "matchSuitability", "similarity"}) {
      if (!n.Has(a)) continue;
      double v = 0;
      std::string s(n.Get(a));
      char* end = nullptr;
      v = std::strtod(s.c_str(), &end);
      if (s.empty() || *end != '\0' || v < 0 || v > 100 ||
          s.find_first_not_of("0123456789.+-") != std::string::npos) {
        return Bad(n, StrCat(a, "=\"", s, "\" is not a number from 0 to 100"));
      }
    }
    if (n.Has("reference") && n.Get("reference") != "yes" && n.Get("reference") != "no") {
      return Bad(n, StrCat("reference=\"", n.Get("reference"), "\" is not yes or no"));
    }
    static const std::set<std::string_view> kTypes = {"am", "mt", "icm",  "idm",
                                                      "tb", "tm", "other"};
    if (n.Has("type") && !kTypes.contains(n.Get("type"))) {
      return Bad(n,
                 StrCat("type=\"", n.Get("type"), "\" is not am, mt, icm, idm, tb, tm or other"));
    }
    if (n.Has("subType")) {
      if (!n.Has("type")) return Bad(n, "subType is set without type");
      if (!IsUserDefined(n.Get("subType"))) {
        return Bad(n, StrCat("subType=\"", n.Get("subType"), "\" is not prefix:value"));
      }
    }
    if (!n.Has("ref")) return Bad(n, "has no ref");
    std::string_view ref = n.Get("ref");
    if (!ref.starts_with("#")) {
      return Bad(n, StrCat("ref=\"", ref, "\" is not a fragment identifier (#id)"));
    }
    std::string_view id = ref.substr(1);
    if (id.starts_with("t=")) id.remove_prefix(2);  // a span of the target
    if (st != nullptr && !st->span_ids.contains(std::string(id))) {
      return Bad(n, StrCat("ref=\"", ref, "\" names no segment or span of the unit"));
    }
    // mda:metadata? originalData? source target ext*
    VERSO_RETURN_IF_ERROR(ElementOnly(n));
    UnitState tmp;
    std::set<std::string> data_ids, no_notes;
    tmp.unit = &n;
    tmp.note_ids = &no_notes;
    tmp.data_ids = &data_ids;
    const XmlNode* source = nullptr;
    const XmlNode* target = nullptr;
    for (const XmlNode* k : Elements(n)) {
      if (k->ns == core_ && k->local == "originalData" && source == nullptr) {
        VERSO_RETURN_IF_ERROR(OriginalData(*k, &data_ids));
      } else if (k->ns == core_ && k->local == "source" && source == nullptr) {
        source = k;
      } else if (k->ns == core_ && k->local == "target" && source != nullptr && target == nullptr) {
        target = k;
      } else if (k->ns == core_) {
        return Bad(*k, StrCat("is not allowed here in <", QName(n), ">"));
      } else {
        VERSO_RETURN_IF_ERROR(Module(*k, n, st));
      }
    }
    if (source == nullptr || target == nullptr) return Bad(n, "needs a <source> and a <target>");
    VERSO_RETURN_IF_ERROR(Attrs(*source, {"xml:lang", "xml:space"}, Others::kNone));
    VERSO_RETURN_IF_ERROR(Attrs(*target, {"xml:lang", "xml:space"}, Others::kNone));
    tmp.parts.push_back(&n);
    tmp.sources.push_back(source);
    tmp.targets.push_back(target);
    VERSO_RETURN_IF_ERROR(Content(*source, 0, false, &tmp));
    VERSO_RETURN_IF_ERROR(Content(*target, 0, true, &tmp));
    return CheckInline(&tmp, /*candidate=*/true);
  }

  absl::Status Rule(const XmlNode& n, const XmlNode& owner) const {
    VERSO_RETURN_IF_ERROR(Attrs(n,
                                {"isPresent", "occurs", "isNotPresent", "startsWith", "endsWith",
                                 "existsInSource", "caseSensitive", "normalization", "disabled"},
                                Others::kAny));
    for (std::string_view a : {"existsInSource", "caseSensitive", "disabled"}) {
      if (n.Has(a) && n.Get(a) != "yes" && n.Get(a) != "no") {
        return Bad(n, StrCat(a, "=\"", n.Get(a), "\" is not yes or no"));
      }
    }
    std::string_view norm = n.Get("normalization", "nfc");
    if (norm != "none" && norm != "nfc" && norm != "nfd") {
      return Bad(n, StrCat("normalization=\"", norm, "\" is not none, nfc or nfd"));
    }
    int natives = 0;
    for (std::string_view a : {"isPresent", "isNotPresent", "startsWith", "endsWith"})
      natives += n.Has(a);
    bool custom = false;
    for (const XmlAttr& a : n.attrs) custom = custom || (!a.ns.empty() && a.ns != kXmlNamespace);
    if (natives + (custom ? 1 : 0) != 1) {
      return Bad(
          n, "needs exactly one of isPresent, isNotPresent, startsWith, endsWith or a custom rule");
    }
    if (n.Has("occurs")) {
      int64_t v = 0;
      if (!ParseInt64(n.Get("occurs"), &v) || v < 1) {
        return Bad(n, StrCat("occurs=\"", n.Get("occurs"), "\" is not a positive integer"));
      }
      if (!n.Has("isPresent")) return Bad(n, "occurs goes with isPresent only");
    }
    if (n.Has("existsInSource") &&
        !(n.Has("isPresent") || n.Has("startsWith") || n.Has("endsWith"))) {
      return Bad(n, "existsInSource needs isPresent, startsWith or endsWith");
    }
    if (n.Get("disabled") == "yes" && owner.ns == core_ && owner.local == "file") {
      return Bad(n, "a rule of the file cannot be disabled");
    }
    return TextOnly(n);
  }

  // ctr:revisions: appliesTo names what changed; ref must name an element with that id in the
  // enclosing file, group or unit, and is required when such elements have ids.
  absl::Status Revisions(const XmlNode& n, const XmlNode& owner) {
    VERSO_RETURN_IF_ERROR(Attrs(n, {"appliesTo", "ref", "currentVersion"}, Others::kAny));
    if (!n.Has("appliesTo")) return Bad(n, "has no appliesTo");
    VERSO_RETURN_IF_ERROR(ElementOnly(n));
    const XmlNode* referenced = nullptr;
    int candidates_with_ids = 0;
    std::vector<const XmlNode*> stack = {&owner};
    while (!stack.empty()) {
      const XmlNode* x = stack.back();
      stack.pop_back();
      for (int c : x->children) {
        const XmlNode& k = t_[c];
        if (!k.element || k.ns != core_) continue;
        if (k.local == n.Get("appliesTo") && k.Has("id")) ++candidates_with_ids;
        if (n.Has("ref") && k.Get("id") == n.Get("ref") && k.Has("id")) referenced = &k;
        stack.push_back(&k);
      }
    }
    if (n.Has("ref") && referenced == nullptr) {
      return Bad(n, StrCat("ref=\"", n.Get("ref"), "\" names no element of the enclosing <",
                           owner.local, ">"));
    }
    if (!n.Has("ref") && candidates_with_ids > 1) {
      return Bad(n, StrCat("appliesTo=\"", n.Get("appliesTo"),
                           "\" names elements with ids: ref must say which one"));
    }
    for (const XmlNode* rev : Elements(n)) {
      if (rev->ns != n.ns || rev->local != "revision") {
        return Bad(*rev, "is not allowed in <ctr:revisions>");
      }
      VERSO_RETURN_IF_ERROR(Module(*rev, owner, nullptr));
      for (const XmlNode* item : Elements(*rev)) {
        std::string_view property = item->Get("property");
        if (referenced != nullptr && property != "content" && !referenced->Has(property)) {
          return Bad(*item,
                     StrCat("property=\"", property, "\" is neither content nor an attribute of <",
                            referenced->local, " id=\"", referenced->Get("id"), "\">"));
        }
      }
    }
    return absl::OkStatus();
  }

  absl::Status Notes(const XmlNode& n) {
    VERSO_RETURN_IF_ERROR(Attrs(n, {}, Others::kNone));
    std::set<std::string> ids;
    int count = 0;
    for (int c : n.children) {
      const XmlNode& note = t_[c];
      VERSO_RETURN_IF_ERROR(OnlySpace(note, "<notes>"));
      if (!note.element) continue;
      if (!IsCore(note, "note")) {
        return t_.Error(note, StrCat("<", QName(note), "> is not allowed in <notes>"));
      }
      ++count;
      VERSO_RETURN_IF_ERROR(
          Attrs(note, {"id", "appliesTo", "category", "priority", "ref"}, Others::kAny));
      if (note.Has("id") && !ids.insert(std::string(note.Get("id"))).second) {
        return t_.Error(note, StrCat("the note id \"", note.Get("id"), "\" is used twice"));
      }
      if (note.Has("appliesTo") && note.Get("appliesTo") != "source" &&
          note.Get("appliesTo") != "target") {
        return t_.Error(
            note, StrCat("appliesTo=\"", note.Get("appliesTo"), "\" is not source or target"));
      }
      if (note.Has("priority")) {
        std::string_view p = note.Get("priority");
        int64_t v = 0;
        if (!ParseInt64(p, &v) || v < 1 || v > 10) {
          return t_.Error(note, StrCat("priority=\"", p, "\" is not 1 to 10"));
        }
      }
      for (int k : note.children) {
        if (t_[k].element) return t_.Error(t_[k], "a <note> holds text only");
      }
      if (scope_notes_ != nullptr && note.Has("id"))
        scope_notes_->insert(std::string(note.Get("id")));
    }
    if (count == 0) return t_.Error(n, "<notes> has no <note>");
    return absl::OkStatus();
  }

  absl::Status File(const XmlNode& f, std::set<std::string>* file_ids) {
    VERSO_RETURN_IF_ERROR(
        Attrs(f, {"id", "canResegment", "original", "translate", "srcDir", "trgDir", "xml:space"},
              Others::kAny));
    VERSO_RETURN_IF_ERROR(RequireId(f));
    file_id_ = std::string(f.Get("id"));
    file_ = &f;
    if (!file_ids->insert(file_id_).second) {
      return t_.Error(f, StrCat("the file id \"", file_id_, "\" is used twice"));
    }
    group_ids_.clear();
    unit_ids_.clear();
    sub_flows_.clear();
    // skeleton? ext* notes? (unit|group)+
    int phase = 0;
    bool any_unit = false;
    std::vector<const XmlNode*> ext;
    for (int c : f.children) {
      const XmlNode& n = t_[c];
      VERSO_RETURN_IF_ERROR(OnlySpace(n, "<file>"));
      if (!n.element) continue;
      if (IsCore(n, "skeleton") && phase == 0) {
        VERSO_RETURN_IF_ERROR(Skeleton(n));
        phase = 1;
      } else if (n.ns != core_ && phase <= 1) {
        ext.push_back(&n);
        phase = 1;
      } else if (IsCore(n, "notes") && phase <= 1) {
        VERSO_RETURN_IF_ERROR(Notes(n));
        phase = 2;
      } else if (IsCore(n, "unit") || IsCore(n, "group")) {
        phase = 3;
        any_unit = true;
        VERSO_RETURN_IF_ERROR(IsCore(n, "unit") ? Unit(n, Translate(f)) : Group(n, Translate(f)));
      } else {
        return t_.Error(n, StrCat("<", QName(n), "> is not allowed here in <file>"));
      }
    }
    if (!any_unit) return t_.Error(f, "<file> has no <unit> or <group>");
    VERSO_RETURN_IF_ERROR(Extensions(f, ext, nullptr));
    for (const auto& [node, id] : sub_flows_) {
      if (!unit_ids_.contains(id)) {
        return t_.Error(*node, StrCat("subFlows names \"", id, "\", which is no unit of the file"));
      }
    }
    return absl::OkStatus();
  }

  bool Translate(const XmlNode& n, bool inherited = true) const {
    return n.Has("translate") ? n.Get("translate") == "yes" : inherited;
  }

  absl::Status Skeleton(const XmlNode& n) const {
    VERSO_RETURN_IF_ERROR(Attrs(n, {"href"}, Others::kNone));
    bool content = false;
    for (int c : n.children) {
      const XmlNode& k = t_[c];
      if (k.element) {
        if (k.ns == core_) return t_.Error(k, "XLIFF elements are not allowed in <skeleton>");
        content = true;
      } else if (!IsSpaceOnly(k.text)) {
        content = true;
      }
    }
    if (n.Has("href") == content) {
      return t_.Error(n, content ? "<skeleton> has both href and content"
                                 : "<skeleton> has neither href nor content");
    }
    return absl::OkStatus();
  }

  absl::Status Group(const XmlNode& g, bool translate) {
    VERSO_RETURN_IF_ERROR(Attrs(
        g, {"id", "name", "canResegment", "translate", "srcDir", "trgDir", "type", "xml:space"},
        Others::kAny));
    VERSO_RETURN_IF_ERROR(RequireId(g));
    if (!group_ids_.insert(std::string(g.Get("id"))).second) {
      return t_.Error(g, StrCat("the group id \"", g.Get("id"), "\" is used twice in the file"));
    }
    if (g.Has("type") && !IsUserDefined(g.Get("type"))) {
      return t_.Error(g, StrCat("type=\"", g.Get("type"), "\" is not prefix:value"));
    }
    int phase = 1;
    std::vector<const XmlNode*> ext;
    for (int c : g.children) {
      const XmlNode& n = t_[c];
      VERSO_RETURN_IF_ERROR(OnlySpace(n, "<group>"));
      if (!n.element) continue;
      if (n.ns != core_ && phase <= 1) {
        ext.push_back(&n);
      } else if (IsCore(n, "notes") && phase <= 1) {
        VERSO_RETURN_IF_ERROR(Notes(n));
        phase = 2;
      } else if (IsCore(n, "unit") || IsCore(n, "group")) {
        phase = 3;
        VERSO_RETURN_IF_ERROR(IsCore(n, "unit") ? Unit(n, Translate(g, translate))
                                                : Group(n, Translate(g, translate)));
      } else {
        return t_.Error(n, StrCat("<", QName(n), "> is not allowed here in <group>"));
      }
    }
    return Extensions(g, ext, nullptr);
  }

  absl::Status Unit(const XmlNode& u, bool translate) {
    VERSO_RETURN_IF_ERROR(Attrs(
        u, {"id", "name", "canResegment", "translate", "srcDir", "trgDir", "xml:space", "type"},
        Others::kAny));
    VERSO_RETURN_IF_ERROR(RequireId(u));
    const std::string unit_id(u.Get("id"));
    if (!unit_ids_.insert(unit_id).second) {
      return t_.Error(u, StrCat("the unit id \"", unit_id, "\" is used twice in the file"));
    }
    if (u.Has("type") && !IsUserDefined(u.Get("type"))) {
      return t_.Error(u, StrCat("type=\"", u.Get("type"), "\" is not prefix:value"));
    }
    translate = Translate(u, translate);
    // ext* notes? originalData? (segment|ignorable)+
    int phase = 1;
    std::vector<const XmlNode*> ext;
    std::set<std::string> note_ids, data_ids;
    std::vector<const XmlNode*> parts;
    for (int c : u.children) {
      const XmlNode& n = t_[c];
      VERSO_RETURN_IF_ERROR(OnlySpace(n, "<unit>"));
      if (!n.element) continue;
      if (n.ns != core_ && phase <= 1) {
        ext.push_back(&n);
      } else if (IsCore(n, "notes") && phase <= 1) {
        scope_notes_ = &note_ids;
        absl::Status s = Notes(n);
        scope_notes_ = nullptr;
        VERSO_RETURN_IF_ERROR(s);
        phase = 2;
      } else if (IsCore(n, "originalData") && phase <= 2) {
        VERSO_RETURN_IF_ERROR(OriginalData(n, &data_ids));
        phase = 3;
      } else if (IsCore(n, "segment") || IsCore(n, "ignorable")) {
        phase = 4;
        parts.push_back(&n);
      } else {
        return t_.Error(n, StrCat("<", QName(n), "> is not allowed here in <unit>"));
      }
    }
    if (std::none_of(parts.begin(), parts.end(),
                     [](const XmlNode* p) { return p->local == "segment"; })) {
      return t_.Error(u, "<unit> has no <segment>");
    }
    UnitState st;
    st.unit = &u;
    st.note_ids = &note_ids;
    st.data_ids = &data_ids;
    for (const XmlNode* p : parts) VERSO_RETURN_IF_ERROR(Part(*p, &st));
    VERSO_RETURN_IF_ERROR(CheckInline(&st));
    st.span_ids = st.part_ids;
    for (const auto* list : {&st.source_inline, &st.target_inline}) {
      for (const Inline& in : *list) {
        if (in.node->Has("id")) st.span_ids.insert(std::string(in.node->Get("id")));
      }
    }
    VERSO_RETURN_IF_ERROR(Extensions(u, ext, &st));
    if (translate) VERSO_RETURN_IF_ERROR(Emit(unit_id, st));
    return absl::OkStatus();
  }

  absl::Status OriginalData(const XmlNode& n, std::set<std::string>* ids) const {
    VERSO_RETURN_IF_ERROR(Attrs(n, {}, Others::kNone));
    int count = 0;
    for (int c : n.children) {
      const XmlNode& d = t_[c];
      VERSO_RETURN_IF_ERROR(OnlySpace(d, "<originalData>"));
      if (!d.element) continue;
      if (!IsCore(d, "data")) {
        return t_.Error(d, StrCat("<", QName(d), "> is not allowed in <originalData>"));
      }
      ++count;
      VERSO_RETURN_IF_ERROR(Attrs(d, {"id", "dir", "xml:space"}, Others::kNone));
      VERSO_RETURN_IF_ERROR(RequireId(d));
      if (const XmlAttr* sp = d.Attr(kXmlNamespace, "space"); sp && sp->value != "preserve") {
        return t_.Error(d, "<data> may only have xml:space=\"preserve\"");
      }
      if (!ids->insert(std::string(d.Get("id"))).second) {
        return t_.Error(d, StrCat("the data id \"", d.Get("id"), "\" is used twice"));
      }
      for (int k : d.children) {
        const XmlNode& x = t_[k];
        if (x.element && !IsCore(x, "cp")) {
          return t_.Error(x, StrCat("<", QName(x), "> is not allowed in <data>"));
        }
        if (x.element) VERSO_RETURN_IF_ERROR(Cp(x));
      }
    }
    if (count == 0) return t_.Error(n, "<originalData> has no <data>");
    return absl::OkStatus();
  }

  absl::Status Cp(const XmlNode& n) const {
    VERSO_RETURN_IF_ERROR(Attrs(n, {"hex"}, Others::kNone));
    std::string_view hex = n.Get("hex");
    uint32_t cp = 0;
    bool ok = !hex.empty() && hex.size() <= 6 && hex.size() % 2 == 0;
    for (char c : hex) {
      int d = (c >= '0' && c <= '9')                   ? c - '0'
              : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10
                                                       : -1;
      if (d < 0) ok = false;
      cp = cp * 16 + static_cast<uint32_t>(d < 0 ? 0 : d);
    }
    if (!ok) return t_.Error(n, StrCat("<cp hex=\"", hex, "\"> is not a hexadecimal code point"));
    const bool xml_char = cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
                          (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
    if (xml_char || cp > 0x10FFFF) {
      return t_.Error(n, StrCat("<cp hex=\"", hex,
                                "\"> must be a character XML cannot hold (write it as text)"));
    }
    return absl::OkStatus();
  }

  std::string_view Space(const XmlNode& n) const {
    for (const XmlNode* p = &n;; p = &t_[p->parent]) {
      if (const XmlAttr* a = p->Attr(kXmlNamespace, "space"); a != nullptr) return a->value;
      if (p->parent < 0) return "default";
    }
  }

  // The xml:lang in effect at a node; "" when none is declared.
  std::string_view Lang(const XmlNode& n) const {
    for (const XmlNode* p = &n;; p = &t_[p->parent]) {
      if (const XmlAttr* a = p->Attr(kXmlNamespace, "lang"); a != nullptr) return a->value;
      if (p->parent < 0) return "";
    }
  }

  absl::Status Part(const XmlNode& p, UnitState* st) const {
    const bool segment = p.local == "segment";
    if (segment) {
      VERSO_RETURN_IF_ERROR(Attrs(p, {"id", "canResegment", "state", "subState"}, Others::kNone));
    } else {
      VERSO_RETURN_IF_ERROR(Attrs(p, {"id"}, Others::kNone));
    }
    if (p.Has("id") && !st->part_ids.insert(std::string(p.Get("id"))).second) {
      return t_.Error(p, StrCat("the id \"", p.Get("id"), "\" is used twice in the unit"));
    }
    if (segment && p.Has("state")) {
      std::string_view s = p.Get("state");
      if (s != "initial" && s != "translated" && s != "reviewed" && s != "final") {
        return t_.Error(p,
                        StrCat("state=\"", s, "\" is not initial, translated, reviewed or final"));
      }
    }
    if (segment && p.Has("subState")) {
      if (!p.Has("state")) return t_.Error(p, "subState is set without state");
      if (!IsUserDefined(p.Get("subState"))) {
        return t_.Error(p, StrCat("subState=\"", p.Get("subState"), "\" is not prefix:value"));
      }
    }
    const XmlNode* source = nullptr;
    const XmlNode* target = nullptr;
    for (int c : p.children) {
      const XmlNode& n = t_[c];
      VERSO_RETURN_IF_ERROR(OnlySpace(n, StrCat("<", p.local, ">")));
      if (!n.element) continue;
      if (IsCore(n, "source") && source == nullptr && target == nullptr) {
        source = &n;
      } else if (IsCore(n, "target") && source != nullptr && target == nullptr) {
        target = &n;
      } else {
        return t_.Error(n, StrCat("<", QName(n), "> is not allowed here in <", p.local, ">"));
      }
    }
    if (source == nullptr) return t_.Error(p, StrCat("<", p.local, "> has no <source>"));
    if (segment && target == nullptr) {
      std::string_view s = p.Get("state");
      if (s == "translated" || s == "reviewed" || s == "final") {
        return t_.Error(p, StrCat("a segment in state ", s, " needs a <target>"));
      }
    }
    VERSO_RETURN_IF_ERROR(Attrs(*source, {"xml:lang", "xml:space"}, Others::kNone));
    if (std::string_view l = Lang(*source); !l.empty() && !EqualsIgnoreAsciiCase(l, src_lang_)) {
      return t_.Error(*source,
                      StrCat("<source>'s language (xml:lang) \"", l,
                             "\" differs from the document's srcLang \"", src_lang_, "\""));
    }
    if (target != nullptr) {
      VERSO_RETURN_IF_ERROR(Attrs(*target, {"xml:lang", "xml:space", "order"}, Others::kNone));
      if (trg_lang_.empty()) {
        return t_.Error(*target, "a <target> in a document without trgLang");
      }
      if (std::string_view l = Lang(*target); !l.empty() && !EqualsIgnoreAsciiCase(l, trg_lang_)) {
        return t_.Error(*target,
                        StrCat("<target>'s language (xml:lang) \"", l,
                               "\" differs from the document's trgLang \"", trg_lang_, "\""));
      }
      if (Space(*source) != Space(*target)) {
        return t_.Error(*target, "<target> and its <source> differ in xml:space");
      }
    }
    const int index = static_cast<int>(st->parts.size());
    st->parts.push_back(&p);
    st->sources.push_back(source);
    st->targets.push_back(target);
    VERSO_RETURN_IF_ERROR(Content(*source, index, false, st));
    if (target != nullptr) VERSO_RETURN_IF_ERROR(Content(*target, index, true, st));
    return absl::OkStatus();
  }

  // Inline content of a source or target (or of a <pc> or <mrk> in it).
  absl::Status Content(const XmlNode& n, int segment, bool in_target, UnitState* st,
                       const std::string& context = "") const {
    for (int c : n.children) {
      const XmlNode& k = t_[c];
      if (!k.element) continue;
      if (k.ns != core_) {
        return t_.Error(k, StrCat("<", QName(k), "> is not allowed in inline content"));
      }
      const std::string& kind = k.local;
      if (kind == "cp") {
        VERSO_RETURN_IF_ERROR(Cp(k));
      } else if (kind == "ph") {
        VERSO_RETURN_IF_ERROR(Attrs(k,
                                    {"canCopy", "canDelete", "canReorder", "copyOf", "disp",
                                     "equiv", "id", "dataRef", "subFlows", "subType", "type"},
                                    Others::kModules));
      } else if (kind == "pc") {
        VERSO_RETURN_IF_ERROR(
            Attrs(k,
                  {"canCopy", "canDelete", "canOverlap", "canReorder", "copyOf", "dispEnd",
                   "dispStart", "equivEnd", "equivStart", "id", "dataRefEnd", "dataRefStart",
                   "subFlowsEnd", "subFlowsStart", "subType", "type", "dir"},
                  Others::kModules));
      } else if (kind == "sc" || kind == "ec") {
        VERSO_RETURN_IF_ERROR(
            Attrs(k,
                  {"canCopy", "canDelete", "canOverlap", "canReorder", "copyOf", "dataRef", "dir",
                   "disp", "equiv", "id", "isolated", kind == "ec" ? "startRef" : "id", "subFlows",
                   "subType", "type"},
                  Others::kModules));
      } else if (kind == "mrk" || kind == "sm") {
        VERSO_RETURN_IF_ERROR(Attrs(k, {"id", "translate", "type", "ref", "value"}, Others::kAny));
      } else if (kind == "em") {
        VERSO_RETURN_IF_ERROR(Attrs(k, {"startRef"}, Others::kNone));
        if (!k.Has("startRef")) return t_.Error(k, "<em> has no startRef");
      } else {
        return t_.Error(k, StrCat("<", QName(k), "> is not allowed in inline content"));
      }
      if (kind != "cp" && kind != "em" && kind != "ec") VERSO_RETURN_IF_ERROR(RequireId(k));
      (in_target ? st->target_inline : st->source_inline)
          .push_back({&k, kind, segment, in_target, context});
      if (kind == "pc" || kind == "mrk") {
        VERSO_RETURN_IF_ERROR(
            Content(k, segment, in_target, st, kind == "pc" ? std::string(k.Get("id")) : context));
      } else {
        for (int x : k.children) {
          if (t_[x].element || !t_[x].text.empty()) {
            return t_.Error(k, StrCat("<", kind, "> must be empty"));
          }
        }
      }
    }
    return absl::OkStatus();
  }

  absl::Status TypeAndSubType(const XmlNode& k) const {
    const bool marker = k.local == "mrk" || k.local == "sm";
    if (k.Has("type")) {
      std::string_view type = k.Get("type");
      if (marker) {
        if (type != "generic" && type != "comment" && type != "term" && !IsUserDefined(type)) {
          return t_.Error(
              k, StrCat("type=\"", type, "\" is not generic, comment, term or prefix:value"));
        }
      } else if (type != "fmt" && type != "ui" && type != "quote" && type != "link" &&
                 type != "image" && type != "other") {
        return t_.Error(k,
                        StrCat("type=\"", type, "\" is not fmt, ui, quote, link, image or other"));
      }
    }
    if (k.Has("subType")) {
      std::string_view sub = k.Get("subType");
      if (!k.Has("type")) return t_.Error(k, "subType is set without type");
      if (!IsUserDefined(sub))
        return t_.Error(k, StrCat("subType=\"", sub, "\" is not prefix:value"));
      if (sub.starts_with("xlf:")) {
        std::string_view need;
        if (sub == "xlf:lb" || sub == "xlf:pb" || sub == "xlf:b" || sub == "xlf:i" ||
            sub == "xlf:u") {
          need = "fmt";
        } else if (sub == "xlf:var") {
          need = "ui";
        } else {
          return t_.Error(k, StrCat("subType=\"", sub, "\" is not one XLIFF defines"));
        }
        if (k.Get("type") != need) {
          return t_.Error(k, StrCat("subType=\"", sub, "\" needs type=\"", need, "\""));
        }
      }
    }
    return absl::OkStatus();
  }

  // A fragment identifier (XLIFF 2 section "Fragment Identification"): "#" then selectors
  // "prefix=id" joined by "/", absolute when it starts with "#/". Returns the selectors.
  absl::Status FragmentId(const XmlNode& at, std::string_view ref,
                          std::vector<std::pair<std::string, std::string>>* out,
                          bool* absolute) const {
    auto bad = [&](std::string_view why) {
      return t_.Error(at, StrCat("ref=\"", ref, "\" is not a valid fragment identifier: ", why));
    };
    if (!ref.starts_with("#")) return bad("it does not start with #");
    std::string_view body = ref.substr(1);
    *absolute = body.starts_with("/");
    if (*absolute) body.remove_prefix(1);
    if (body.empty()) return bad("it selects nothing");
    static const std::set<std::string_view> kCore = {"f", "g", "u", "n", "d", "t"};
    static const std::set<std::string_view> kModulePrefixes = {"mtc", "gls", "mda", "res", "ctr",
                                                               "slr", "val", "its", "tbx"};
    std::set<std::string> seen;
    int leaves = 0;
    for (std::string_view part : Split(body, '/')) {
      std::string prefix, id;
      size_t eq = part.find('=');
      if (eq == std::string_view::npos) {
        id = std::string(part);
      } else {
        prefix = std::string(part.substr(0, eq));
        id = std::string(part.substr(eq + 1));
        if (!IsNmtoken(prefix) || prefix.find(':') != std::string::npos) {
          return bad(StrCat("the prefix \"", prefix, "\" is not an NMTOKEN"));
        }
        if (!kCore.contains(prefix) && prefix.size() < 2) {
          return bad(StrCat("the prefix \"", prefix, "\" is too short for a module or extension"));
        }
        if (!kCore.contains(prefix) && !kModulePrefixes.contains(prefix)) {
          return bad(StrCat("the prefix \"", prefix, "\" is not registered"));
        }
        if (!seen.insert(prefix).second)
          return bad(StrCat("the prefix \"", prefix, "\" is repeated"));
      }
      if (!IsNmtoken(id)) return bad(StrCat("\"", id, "\" is not an id"));
      const bool leaf = prefix != "f" && prefix != "g" && prefix != "u";
      if (leaves > 0)
        return bad(leaf ? "it selects more than one leaf" : "a selector follows the leaf");
      if (leaf) ++leaves;
      out->emplace_back(std::move(prefix), std::move(id));
    }
    // f before g/u, u after f.
    int rank = 0;
    for (const auto& [prefix, id] : *out) {
      int r = prefix == "f" ? 1 : prefix == "g" ? 2 : prefix == "u" ? 3 : 4;
      if (r < rank || (r == rank && r != 2)) return bad("its selectors are out of order");
      rank = r;
    }
    if (*absolute && (out->empty() || (*out)[0].first != "f")) {
      return bad("an absolute reference starts with f=");
    }
    return absl::OkStatus();
  }

  // The processing requirements on a unit's inline codes and annotations.
  // `candidate`: the source and target of a translation candidate (mtc:match), whose target
  // need not keep the source's protected codes.
  absl::Status CheckInline(UnitState* st, bool candidate = false) {
    std::map<std::string, const Inline*> by_id;  // source codes and markers by id
    for (const Inline& in : st->source_inline) {
      const XmlNode& k = *in.node;
      VERSO_RETURN_IF_ERROR(TypeAndSubType(k));
      if (k.Has("id")) {
        std::string id(k.Get("id"));
        if (st->part_ids.contains(id) || !by_id.emplace(id, &in).second) {
          return t_.Error(k, StrCat("the id \"", id, "\" is used twice in the unit"));
        }
      }
    }
    std::map<std::string, const Inline*> target_ids;
    for (const Inline& in : st->target_inline) {
      const XmlNode& k = *in.node;
      VERSO_RETURN_IF_ERROR(TypeAndSubType(k));
      if (k.Has("id")) {
        std::string id(k.Get("id"));
        if (st->part_ids.contains(id) || !target_ids.emplace(id, &in).second) {
          return t_.Error(k,
                          StrCat("the id \"", id, "\" is used twice in the targets of the unit"));
        }
        auto src = by_id.find(id);
        if (src != by_id.end() && src->second->kind != in.kind && !k.Has("copyOf")) {
          return t_.Error(k, StrCat("<", in.kind, " id=\"", id, "\"> is a <", src->second->kind,
                                    "> in the source"));
        }
      }
    }
    for (const std::vector<Inline>* list : {&st->source_inline, &st->target_inline}) {
      const bool in_target = list == &st->target_inline;
      const auto& ids = in_target ? target_ids : by_id;
      for (size_t i = 0; i < list->size(); ++i) {
        const Inline& in = (*list)[i];
        const XmlNode& k = *in.node;
        // Original data references.
        for (std::string_view ref : {"dataRef", "dataRefStart", "dataRefEnd"}) {
          if (k.Has(ref) && !st->data_ids->contains(std::string(k.Get(ref)))) {
            return t_.Error(k, StrCat(ref, "=\"", k.Get(ref), "\" names no <data> of the unit"));
          }
        }
        if (k.Has("copyOf")) {
          if (k.Has("dataRef") || k.Has("dataRefStart") || k.Has("dataRefEnd")) {
            return t_.Error(k, "a copy (copyOf) may not have original data of its own");
          }
          const std::string copy_of(k.Get("copyOf"));
          const Inline* base = nullptr;
          if (auto it = by_id.find(copy_of); it != by_id.end()) base = it->second;
          if (auto it = target_ids.find(copy_of); base == nullptr && it != target_ids.end()) {
            base = it->second;
          }
          if (base == nullptr) {
            return t_.Error(k, StrCat("copyOf=\"", copy_of, "\" names no code of the unit"));
          }
          if (base->node->Get("canCopy") == "no") {
            return t_.Error(
                k, StrCat("copyOf=\"", k.Get("copyOf"), "\" names a code with canCopy=\"no\""));
          }
        }
        if (in.kind == "pc") {
          if (k.Has("equivStart") != k.Has("equivEnd")) {
            return t_.Error(k, "equivStart and equivEnd go together");
          }
          if (k.Has("subFlowsStart") != k.Has("subFlowsEnd")) {
            return t_.Error(k, "subFlowsStart and subFlowsEnd go together");
          }
        }
        for (std::string_view flows : {"subFlows", "subFlowsStart", "subFlowsEnd"}) {
          if (!k.Has(flows)) continue;
          for (std::string_view id : Split(k.Get(flows), ' ')) {
            if (!id.empty()) sub_flows_.emplace_back(&k, std::string(id));
          }
        }
        // Reordering: "no" and "firstNo" codes can be neither copied nor deleted.
        const std::string_view reorder = k.Get("canReorder", "yes");
        if (reorder != "yes" && in.kind != "ec") {
          if (k.Get("canCopy", "yes") != "no" || k.Get("canDelete", "yes") != "no") {
            return t_.Error(k, StrCat("canReorder=\"", reorder,
                                      "\" needs canCopy=\"no\" and canDelete=\"no\""));
          }
        }
        if (in.kind == "sc") {
          VERSO_RETURN_IF_ERROR(StartCode(*list, i));
        } else if (in.kind == "ec") {
          VERSO_RETURN_IF_ERROR(EndCode(*list, i, ids));
        } else if (in.kind == "sm") {
          bool closed = false;
          for (size_t j = i + 1; j < list->size(); ++j) {
            if ((*list)[j].kind == "em" && (*list)[j].node->Get("startRef") == k.Get("id"))
              closed = true;
          }
          if (!closed) return t_.Error(k, StrCat("<sm id=\"", k.Get("id"), "\"> has no <em>"));
        } else if (in.kind == "em") {
          bool opened = false;
          for (size_t j = 0; j < i; ++j) {
            if ((*list)[j].kind == "sm" && (*list)[j].node->Get("id") == k.Get("startRef"))
              opened = true;
          }
          if (!opened) {
            return t_.Error(
                k, StrCat("<em startRef=\"", k.Get("startRef"), "\"> has no <sm> before it"));
          }
        }
        if (in.kind == "mrk" || in.kind == "sm") VERSO_RETURN_IF_ERROR(Annotation(k, *st));
      }
      VERSO_RETURN_IF_ERROR(Reordering(*list));
    }
    if (candidate) return absl::OkStatus();
    // Codes that may not be deleted must be in every target of their segment.
    for (const Inline& in : st->source_inline) {
      const XmlNode& k = *in.node;
      if (k.Get("canDelete", "yes") != "no") continue;
      if (st->targets[static_cast<size_t>(in.segment)] == nullptr) continue;
      bool found = false;
      for (const Inline& t : st->target_inline) {
        if (t.kind != in.kind) continue;
        if (in.kind == "ec" && !k.Has("id")) {
          found = found || t.node->Get("startRef") == k.Get("startRef");
        } else {
          found = found || t.node->Get("id") == k.Get("id");
        }
      }
      if (!found) {
        return t_.Error(k,
                        StrCat("<", in.kind, "> with canDelete=\"no\" is missing from the target"));
      }
    }
    // The order of reorder-protected sequences must be kept in the target.
    return TargetOrder(*st);
  }

  absl::Status StartCode(const std::vector<Inline>& list, size_t i) const {
    const XmlNode& k = *list[i].node;
    const XmlNode* end = nullptr;
    for (size_t j = i + 1; j < list.size(); ++j) {
      if (list[j].kind == "ec" && list[j].node->Get("startRef") == k.Get("id")) end = list[j].node;
    }
    const bool isolated = k.Get("isolated") == "yes";
    if (isolated && end != nullptr) {
      return t_.Error(
          k, StrCat("<sc id=\"", k.Get("id"), "\" isolated=\"yes\"> has its <ec> in the unit"));
    }
    if (!isolated && end == nullptr) {
      return t_.Error(k, StrCat("<sc id=\"", k.Get("id"),
                                "\"> has no <ec> in the unit: it must be isolated=\"yes\""));
    }
    if (end != nullptr) {
      for (std::string_view a : {"canCopy", "canDelete", "canOverlap"}) {
        if (k.Get(a, "yes") != end->Get(a, "yes")) {
          return t_.Error(*end, StrCat("<ec> and its <sc id=\"", k.Get("id"), "\"> differ in ", a));
        }
      }
      std::string_view sr = k.Get("canReorder", "yes"), er = end->Get("canReorder", "yes");
      if (!(sr == er || (sr == "firstNo" && er == "no"))) {
        return t_.Error(*end,
                        StrCat("<ec> and its <sc id=\"", k.Get("id"), "\"> differ in canReorder"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status EndCode(const std::vector<Inline>& list, size_t i,
                       const std::map<std::string, const Inline*>& ids) const {
    const XmlNode& k = *list[i].node;
    const bool isolated = k.Get("isolated") == "yes";
    if (isolated) {
      if (k.Has("startRef"))
        return t_.Error(k, "an isolated <ec> names its code with id, not startRef");
      if (!k.Has("id")) return t_.Error(k, "an isolated <ec> needs an id");
      return absl::OkStatus();
    }
    if (!k.Has("startRef")) {
      return t_.Error(k, k.Has("id") ? "an <ec> with an id must be isolated=\"yes\""
                                     : "an <ec> needs startRef (or isolated=\"yes\" and an id)");
    }
    if (k.Has("id")) return t_.Error(k, "an <ec> with startRef may not have an id");
    bool before = false;
    for (size_t j = 0; j < i; ++j) {
      if (list[j].kind == "sc" && list[j].node->Get("id") == k.Get("startRef")) before = true;
    }
    if (!before) {
      const bool exists = ids.contains(std::string(k.Get("startRef")));
      return t_.Error(k, StrCat("<ec startRef=\"", k.Get("startRef"), "\"> ",
                                exists ? "comes before its <sc>" : "names no <sc> of the unit"));
    }
    return absl::OkStatus();
  }

  absl::Status Annotation(const XmlNode& k, const UnitState& st) const {
    const std::string_view type = k.Get("type", "generic");
    if (type == "comment") {
      if (k.Has("value") == k.Has("ref")) {
        return t_.Error(k, "a comment annotation needs either value or ref, not both or neither");
      }
    }
    if (k.Has("ref")) {
      std::vector<std::pair<std::string, std::string>> sel;
      bool absolute = false;
      std::string_view ref = k.Get("ref");
      // A term annotation may point anywhere (an IRI); only fragment identifiers are checked.
      if (!ref.starts_with("#")) {
        if (type == "comment")
          return t_.Error(k, "a comment's ref must point to a <note> of the unit");
        return absl::OkStatus();
      }
      VERSO_RETURN_IF_ERROR(FragmentId(k, ref, &sel, &absolute));
      if (type == "comment") {
        const auto& [prefix, id] = sel.back();
        bool ok = prefix == "n" && st.note_ids->contains(id);
        if (absolute || sel[0].first == "f") {
          ok = ok && sel.size() >= 3 && sel[0].second == file_id_ &&
               sel[sel.size() - 2].first == "u" && sel[sel.size() - 2].second == st.unit->Get("id");
        } else {
          ok = ok && sel.size() == 1;
        }
        if (!ok) return t_.Error(k, StrCat("ref=\"", ref, "\" is not a <note> of the unit"));
      }
    }
    return absl::OkStatus();
  }

  // Codes with canReorder="no" continue the sequence a "firstNo" code starts.
  absl::Status Reordering(const std::vector<Inline>& list) const {
    bool in_sequence = false;
    for (const Inline& in : list) {
      if (in.kind == "mrk" || in.kind == "sm" || in.kind == "em" || in.kind == "cp") continue;
      std::string_view r = in.node->Get("canReorder", "yes");
      if (r == "firstNo") {
        in_sequence = true;
      } else if (r == "no") {
        if (!in_sequence && in.kind != "ec") {
          return t_.Error(*in.node, "canReorder=\"no\" without a \"firstNo\" code before it");
        }
      } else {
        in_sequence = false;
      }
    }
    return absl::OkStatus();
  }

  // A code and where it sits (the <pc> around it).
  static std::string CodeKey(const Inline& in) {
    if (in.kind == "ec" && !in.node->Has("id")) {
      return StrCat("ec>", in.node->Get("startRef"), " in ", in.context);
    }
    return StrCat(in.kind, "#", in.node->Get("id"), " in ", in.context);
  }

  absl::Status TargetOrder(const UnitState& st) const {
    // Source sequences: firstNo followed by its "no" codes.
    std::vector<std::vector<std::string>> sequences;
    for (const Inline& in : st.source_inline) {
      if (in.kind == "mrk" || in.kind == "sm" || in.kind == "em" || in.kind == "cp") continue;
      if (st.targets[static_cast<size_t>(in.segment)] == nullptr) continue;
      std::string_view r = in.node->Get("canReorder", "yes");
      if (r == "firstNo") {
        sequences.push_back({CodeKey(in)});
      } else if (r == "no" && !sequences.empty()) {
        sequences.back().push_back(CodeKey(in));
      }
    }
    std::vector<std::string> target;
    for (const Inline& in : st.target_inline) {
      if (in.kind == "mrk" || in.kind == "sm" || in.kind == "em" || in.kind == "cp") continue;
      target.push_back(CodeKey(in));
    }
    for (const auto& seq : sequences) {
      auto first = std::find(target.begin(), target.end(), seq[0]);
      if (first == target.end()) continue;  // reported as a missing code
      for (size_t k = 0; k < seq.size(); ++k) {
        if (first + static_cast<std::ptrdiff_t>(k) == target.end() ||
            *(first + static_cast<std::ptrdiff_t>(k)) != seq[k]) {
          return t_.Error(*st.unit, StrCat("the target changes the order of codes that may not be "
                                           "reordered (starting at ",
                                           seq[0], ")"));
        }
      }
    }
    // target order attributes: unique and within the number of parts.
    std::set<int64_t> orders;
    for (const XmlNode* tgt : st.targets) {
      if (tgt == nullptr || !tgt->Has("order")) continue;
      int64_t v = 0;
      if (!ParseInt64(tgt->Get("order"), &v) || v < 1 || v > static_cast<int>(st.parts.size())) {
        return t_.Error(*tgt,
                        StrCat("order=\"", tgt->Get("order"), "\" is not 1 to ", st.parts.size()));
      }
      if (!orders.insert(v).second) {
        return t_.Error(*tgt, StrCat("order=\"", v, "\" is used twice in the unit"));
      }
    }
    for (size_t i = 0; i < st.targets.size(); ++i) {
      if (st.targets[i] != nullptr && !st.targets[i]->Has("order") &&
          orders.contains(static_cast<int64_t>(i + 1))) {
        return t_.Error(*st.targets[i],
                        StrCat("the position ", i + 1, " is taken by another target's order"));
      }
    }
    return absl::OkStatus();
  }

  // ---- Conversion to units -----------------------------------------------------------------

  // Inline content -> verso markup; codes are recorded with the XML they stand for.
  // <cp hex="X"/> becomes <x id="cpX"/>.
  void ToMarkup(const XmlNode& n, DocumentUnit* u, std::string* out) const {
    for (int c : n.children) {
      const XmlNode& k = t_[c];
      if (!k.element) {
        *out += text::EscapeText(k.text);
        continue;
      }
      const std::string_view raw = Raw(t_, k);
      std::string key;
      if (k.local == "cp") {
        const std::string hex = AsciiUpper(k.Get("hex"));
        key = StrCat("x#cp", hex);
        StrAppend(out, "<x id=\"cp", hex, "\"/>");
      } else if (k.local == "ph") {
        key = StrCat("x#", k.Get("id"));
        StrAppend(out, "<x id=\"", k.Get("id"), "\"/>");
      } else if (k.local == "sc" || k.local == "sm") {
        key = StrCat("bx#", k.Get("id"));
        StrAppend(out, "<bx id=\"", k.Get("id"), "\"/>");
      } else if (k.local == "ec" || k.local == "em") {
        if (k.Has("startRef")) {
          key = StrCat("ex>", k.Get("startRef"));
          StrAppend(out, "<ex rid=\"", k.Get("startRef"), "\"/>");
        } else {
          key = StrCat("ex#", k.Get("id"));
          StrAppend(out, "<ex id=\"", k.Get("id"), "\"/>");
        }
      } else {  // pc, mrk
        const std::string name = k.local == "pc" ? "g" : "mrk";
        key = StrCat(name, "#", k.Get("id"));
        StrAppend(out, "<", name, " id=\"", k.Get("id"), "\">");
        ToMarkup(k, u, out);
        StrAppend(out, "</", name, ">");
        u->codes.emplace_back(key, std::string(t_.data.substr(k.begin, k.start_end - k.begin)));
        u->codes.emplace_back(StrCat("/", key),
                              k.self_closing
                                  ? StrCat("</", QName(k), ">")
                                  : std::string(t_.data.substr(k.end_begin, k.end - k.end_begin)));
        continue;
      }
      u->codes.emplace_back(std::move(key), std::string(raw));
    }
  }

  absl::Status Emit(const std::string& unit_id, const UnitState& st) const {
    for (size_t i = 0; i < st.parts.size(); ++i) {
      const XmlNode& part = *st.parts[i];
      if (part.local != "segment") continue;
      DocumentUnit u;
      u.id =
          StrCat(file_id_, "/", unit_id, "/", part.Has("id") ? part.Get("id") : StrCat("#", i + 1));
      u.line = part.line;
      ToMarkup(*st.sources[i], &u, &u.source);
      const XmlNode* target = st.targets[i];
      if (target != nullptr) {
        // The target's codes join the table (after the source's): a translation may keep a
        // code only the existing target has.
        ToMarkup(*target, &u, &u.target);
        if (target->self_closing) {
          u.begin = static_cast<int64_t>(target->begin);
          u.end = static_cast<int64_t>(target->end);
          std::string_view start = t_.data.substr(target->begin, target->start_end - target->begin);
          start.remove_suffix(2);
          while (!start.empty() && (start.back() == ' ' || start.back() == '\n' ||
                                    start.back() == '\t' || start.back() == '\r'))
            start.remove_suffix(1);
          u.before = StrCat(start, ">");
          u.after = StrCat("</", QName(*target), ">");
        } else {
          u.begin = static_cast<int64_t>(target->start_end);
          u.end = static_cast<int64_t>(target->end_begin);
        }
      } else {
        const XmlNode& source = *st.sources[i];
        u.begin = u.end = static_cast<int64_t>(source.end);
        const std::string prefix = source.prefix.empty() ? "" : StrCat(source.prefix, ":");
        const XmlAttr* space = source.Attr(kXmlNamespace, "space");
        u.before = StrCat("<", prefix, "target",
                          space ? StrCat(" xml:space=\"", space->value, "\"") : std::string(), ">");
        u.after = StrCat("</", prefix, "target>");
      }
      doc_->units.push_back(std::move(u));
    }
    return absl::OkStatus();
  }

  const XmlTree& t_;
  Document* doc_;
  std::string core_;  // the namespace: XLIFF 2.0/2.1 or 2.2
  std::string src_lang_, trg_lang_, file_id_;
  std::set<std::string> group_ids_, unit_ids_;
  std::vector<std::pair<const XmlNode*, std::string>> sub_flows_;
  std::set<std::string>* scope_notes_ = nullptr;
  const XmlNode* file_ = nullptr;
};

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
        std::string_view start =
            t_.data.substr(target->begin, target->start_end - target->begin - 2);
        while (!start.empty() && (start.back() == ' ' || start.back() == '\n'))
          start.remove_suffix(1);
        u.before = StrCat(start, ">");
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
