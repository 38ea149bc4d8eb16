// XLIFF 2: the reader's walk over the document (xliff, file, group, unit, segment and ignorable,
// notes, original data) and the units it makes of it.
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

absl::Status Xliff2Reader::Read() {
  const XmlNode& root = t_[t_.root];
  core_ = root.ns;
  if ((root.ns != kXliff2 && root.ns != kXliff22) || root.local != "xliff") {
    return t_.Error(root, "the document element is not XLIFF 2 <xliff>");
  }
  VERSO_RETURN_IF_ERROR(Attrs(root, {"version", "srcLang", "trgLang", "xml:space"}, Others::kAny));
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

bool Xliff2Reader::IsCore(const XmlNode& n, std::string_view local) const {
  return n.element && n.ns == core_ && n.local == local;
}

absl::Status Xliff2Reader::OnlySpace(const XmlNode& n, std::string_view where) const {
  if (!n.element && !IsSpaceOnly(n.text)) {
    return t_.Error(n, StrCat("text is not allowed in ", where));
  }
  return absl::OkStatus();
}

absl::Status Xliff2Reader::Language(const XmlNode& at, std::string_view tag,
                                    std::string_view attr) const {
  if (!text::CanonicalLanguageTag(tag).ok()) {
    return t_.Error(at, StrCat(attr, " \"", tag, "\" is not a well-formed BCP 47 language tag"));
  }
  return absl::OkStatus();
}

absl::Status Xliff2Reader::Attrs(const XmlNode& n, std::initializer_list<std::string_view> names,
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

absl::Status Xliff2Reader::RequireId(const XmlNode& n) const {
  if (!n.Has("id")) return t_.Error(n, StrCat("<", QName(n), "> has no id"));
  return absl::OkStatus();
}

std::vector<const XmlNode*> Xliff2Reader::Elements(const XmlNode& n) const {
  std::vector<const XmlNode*> out;
  for (int c : n.children) {
    if (t_[c].element) out.push_back(&t_[c]);
  }
  return out;
}

absl::Status Xliff2Reader::ElementOnly(const XmlNode& n) const {
  for (int c : n.children) VERSO_RETURN_IF_ERROR(OnlySpace(t_[c], StrCat("<", QName(n), ">")));
  return absl::OkStatus();
}

absl::Status Xliff2Reader::TextOnly(const XmlNode& n) const {
  for (int c : n.children) {
    if (t_[c].element) {
      return t_.Error(t_[c], StrCat("<", QName(n), "> holds text only"));
    }
  }
  return absl::OkStatus();
}

absl::Status Xliff2Reader::Bad(const XmlNode& n, std::string_view what) const {
  return t_.Error(n, StrCat("<", QName(n), ">: ", what));
}

absl::Status Xliff2Reader::Notes(const XmlNode& n) {
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
      return t_.Error(note,
                      StrCat("appliesTo=\"", note.Get("appliesTo"), "\" is not source or target"));
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

absl::Status Xliff2Reader::File(const XmlNode& f, std::set<std::string>* file_ids) {
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

bool Xliff2Reader::Translate(const XmlNode& n, bool inherited) const {
  return n.Has("translate") ? n.Get("translate") == "yes" : inherited;
}

absl::Status Xliff2Reader::Skeleton(const XmlNode& n) const {
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

absl::Status Xliff2Reader::Group(const XmlNode& g, bool translate) {
  VERSO_RETURN_IF_ERROR(
      Attrs(g, {"id", "name", "canResegment", "translate", "srcDir", "trgDir", "type", "xml:space"},
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

absl::Status Xliff2Reader::Unit(const XmlNode& u, bool translate) {
  VERSO_RETURN_IF_ERROR(
      Attrs(u, {"id", "name", "canResegment", "translate", "srcDir", "trgDir", "xml:space", "type"},
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

absl::Status Xliff2Reader::OriginalData(const XmlNode& n, std::set<std::string>* ids) const {
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

absl::Status Xliff2Reader::Cp(const XmlNode& n) const {
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
    return t_.Error(
        n, StrCat("<cp hex=\"", hex, "\"> must be a character XML cannot hold (write it as text)"));
  }
  return absl::OkStatus();
}

std::string_view Xliff2Reader::Space(const XmlNode& n) const {
  for (const XmlNode* p = &n;; p = &t_[p->parent]) {
    if (const XmlAttr* a = p->Attr(kXmlNamespace, "space"); a != nullptr) return a->value;
    if (p->parent < 0) return "default";
  }
}

std::string_view Xliff2Reader::Lang(const XmlNode& n) const {
  for (const XmlNode* p = &n;; p = &t_[p->parent]) {
    if (const XmlAttr* a = p->Attr(kXmlNamespace, "lang"); a != nullptr) return a->value;
    if (p->parent < 0) return "";
  }
}

absl::Status Xliff2Reader::Part(const XmlNode& p, UnitState* st) const {
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
      return t_.Error(p, StrCat("state=\"", s, "\" is not initial, translated, reviewed or final"));
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
    return t_.Error(*source, StrCat("<source>'s language (xml:lang) \"", l,
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

absl::Status Xliff2Reader::FragmentId(const XmlNode& at, std::string_view ref,
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

absl::Status Xliff2Reader::EndCode(const std::vector<Inline>& list, size_t i,
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

absl::Status Xliff2Reader::Emit(const std::string& unit_id, const UnitState& st) const {
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
        u.before = OpenTagOf(t_, *target);
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

}  // namespace verso::formats::xliff
