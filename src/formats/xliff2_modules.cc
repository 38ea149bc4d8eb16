// XLIFF 2: the checks of XLIFF's modules (metadata, glossary, translation candidates, resource
// data, size and length restriction, validation, change tracking) and their attributes.
#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <utility>

#include "common/status.h"
#include "common/strings.h"
#include "formats/xliff2.h"
#include "text/text.h"

namespace verso::formats::xliff {

absl::Status Xliff2Reader::ModuleAttrs(const XmlNode& n) const {
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
      return t_.Error(n, StrCat("fs:", a.local, " is not an attribute of the Format Style module"));
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

absl::Status Xliff2Reader::SizeAttrs(const XmlNode& n) const {
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

bool Xliff2Reader::SizeDataHas(const XmlNode& n, std::string_view id) const {
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

absl::Status Xliff2Reader::Extensions(const XmlNode& owner, const std::vector<const XmlNode*>& ext,
                                      const UnitState* st) {
  std::set<std::pair<std::string, std::string>> ids;
  for (const XmlNode* n : ext) {
    VERSO_RETURN_IF_ERROR(Module(*n, owner, st));
    VERSO_RETURN_IF_ERROR(ExtensionIds(*n, &ids));
  }
  return absl::OkStatus();
}

absl::Status Xliff2Reader::ExtensionIds(const XmlNode& n,
                                        std::set<std::pair<std::string, std::string>>* ids) const {
  if (!n.element || n.ns == core_) return absl::OkStatus();
  for (const XmlAttr* id : {n.Attr("", "id"), n.Attr(kXmlNamespace, "id")}) {
    if (id != nullptr && !ids->emplace(n.ns, id->value).second) {
      return t_.Error(n, StrCat("the id \"", id->value, "\" is used twice by elements of ", n.ns));
    }
  }
  for (int c : n.children) VERSO_RETURN_IF_ERROR(ExtensionIds(t_[c], ids));
  return absl::OkStatus();
}

absl::Status Xliff2Reader::Module(const XmlNode& n, const XmlNode& owner, const UnitState* st) {
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

absl::StatusOr<bool> Xliff2Reader::Leaf(absl::Status s) {
  if (!s.ok()) return s;
  return false;
}

absl::Status Xliff2Reader::Children(const XmlNode& n,
                                    std::initializer_list<std::string_view> allowed,
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

int Xliff2Reader::Count(const XmlNode& n, std::string_view local) const {
  int c = 0;
  for (const XmlNode* k : Elements(n)) c += k->ns == n.ns && k->local == local;
  return c;
}

absl::Status Xliff2Reader::Container(const XmlNode& n, std::string_view child,
                                     Others others) const {
  VERSO_RETURN_IF_ERROR(Attrs(n, {}, others));
  VERSO_RETURN_IF_ERROR(ElementOnly(n));
  VERSO_RETURN_IF_ERROR(Children(n, {child}, false));
  if (Count(n, child) == 0) return Bad(n, StrCat("has no <", n.prefix, ":", child, ">"));
  return absl::OkStatus();
}

absl::StatusOr<bool> Xliff2Reader::MetadataElement(const XmlNode& n,
                                                   [[maybe_unused]] const XmlNode& owner,
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
      return Leaf(Bad(n, StrCat("appliesTo=\"", applies, "\" is not source, target or ignorable")));
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

absl::StatusOr<bool> Xliff2Reader::GlossaryElement(const XmlNode& n,
                                                   [[maybe_unused]] const XmlNode& owner,
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

absl::StatusOr<bool> Xliff2Reader::MatchesElement(const XmlNode& n,
                                                  [[maybe_unused]] const XmlNode& owner,
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

absl::StatusOr<bool> Xliff2Reader::ResourcesElement(const XmlNode& n,
                                                    [[maybe_unused]] const XmlNode& owner,
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

absl::StatusOr<bool> Xliff2Reader::SizeRestrictionElement(const XmlNode& n,
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

absl::StatusOr<bool> Xliff2Reader::ValidationElement(const XmlNode& n,
                                                     [[maybe_unused]] const XmlNode& owner,
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

absl::StatusOr<bool> Xliff2Reader::ChangeTrackingElement(const XmlNode& n,
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
        return Leaf(Bad(
            *k, StrCat("the property \"", k->Get("property"), "\" appears twice in one revision")));
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

absl::Status Xliff2Reader::GlossaryRef(const XmlNode& n, const UnitState* st) const {
  if (!n.Has("ref") || st == nullptr) return absl::OkStatus();
  std::string_view ref = n.Get("ref");
  if (size_t hash = ref.find('#'); hash != std::string_view::npos) ref.remove_prefix(hash + 1);
  if (ref.starts_with("t=")) ref.remove_prefix(2);  // a span of the target
  if (!st->span_ids.contains(std::string(ref))) {
    return Bad(n, StrCat("ref=\"", n.Get("ref"), "\" names no segment or span of the unit"));
  }
  return absl::OkStatus();
}

absl::Status Xliff2Reader::Match(const XmlNode& n, const UnitState* st) {
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
  static const std::set<std::string_view> kTypes = {"am", "mt", "icm", "idm", "tb", "tm", "other"};
  if (n.Has("type") && !kTypes.contains(n.Get("type"))) {
    return Bad(n, StrCat("type=\"", n.Get("type"), "\" is not am, mt, icm, idm, tb, tm or other"));
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

absl::Status Xliff2Reader::Rule(const XmlNode& n, const XmlNode& owner) const {
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

absl::Status Xliff2Reader::Revisions(const XmlNode& n, const XmlNode& owner) {
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

}  // namespace verso::formats::xliff
