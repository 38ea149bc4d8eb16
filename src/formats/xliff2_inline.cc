// XLIFF 2: inline codes and annotations: their content, types, fragment identifiers, the
// processing requirements on their order and pairing, and their conversion to verso markup.
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

absl::Status Xliff2Reader::Content(const XmlNode& n, int segment, bool in_target, UnitState* st,
                                   const std::string& context) const {
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
                                  {"canCopy", "canDelete", "canReorder", "copyOf", "disp", "equiv",
                                   "id", "dataRef", "subFlows", "subType", "type"},
                                  Others::kModules));
    } else if (kind == "pc") {
      VERSO_RETURN_IF_ERROR(
          Attrs(k,
                {"canCopy", "canDelete", "canOverlap", "canReorder", "copyOf", "dispEnd",
                 "dispStart", "equivEnd", "equivStart", "id", "dataRefEnd", "dataRefStart",
                 "subFlowsEnd", "subFlowsStart", "subType", "type", "dir"},
                Others::kModules));
    } else if (kind == "sc" || kind == "ec") {
      VERSO_RETURN_IF_ERROR(Attrs(k,
                                  {"canCopy", "canDelete", "canOverlap", "canReorder", "copyOf",
                                   "dataRef", "dir", "disp", "equiv", "id", "isolated",
                                   kind == "ec" ? "startRef" : "id", "subFlows", "subType", "type"},
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

absl::Status Xliff2Reader::TypeAndSubType(const XmlNode& k) const {
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
      return t_.Error(k, StrCat("type=\"", type, "\" is not fmt, ui, quote, link, image or other"));
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

absl::Status Xliff2Reader::InlineIds(const UnitState& st, CodesById* source,
                                     CodesById* target) const {
  for (const Inline& in : st.source_inline) {
    const XmlNode& k = *in.node;
    VERSO_RETURN_IF_ERROR(TypeAndSubType(k));
    if (k.Has("id")) {
      std::string id(k.Get("id"));
      if (st.part_ids.contains(id) || !source->emplace(id, &in).second) {
        return t_.Error(k, StrCat("the id \"", id, "\" is used twice in the unit"));
      }
    }
  }
  for (const Inline& in : st.target_inline) {
    const XmlNode& k = *in.node;
    VERSO_RETURN_IF_ERROR(TypeAndSubType(k));
    if (k.Has("id")) {
      std::string id(k.Get("id"));
      if (st.part_ids.contains(id) || !target->emplace(id, &in).second) {
        return t_.Error(k, StrCat("the id \"", id, "\" is used twice in the targets of the unit"));
      }
      auto src = source->find(id);
      if (src != source->end() && src->second->kind != in.kind && !k.Has("copyOf")) {
        return t_.Error(k, StrCat("<", in.kind, " id=\"", id, "\"> is a <", src->second->kind,
                                  "> in the source"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Xliff2Reader::CopyOf(const XmlNode& k, const CodesById& source,
                                  const CodesById& target) const {
  if (k.Has("dataRef") || k.Has("dataRefStart") || k.Has("dataRefEnd")) {
    return t_.Error(k, "a copy (copyOf) may not have original data of its own");
  }
  const std::string copy_of(k.Get("copyOf"));
  const Inline* base = nullptr;
  if (auto it = source.find(copy_of); it != source.end()) base = it->second;
  if (auto it = target.find(copy_of); base == nullptr && it != target.end()) base = it->second;
  if (base == nullptr) {
    return t_.Error(k, StrCat("copyOf=\"", copy_of, "\" names no code of the unit"));
  }
  if (base->node->Get("canCopy") == "no") {
    return t_.Error(k, StrCat("copyOf=\"", k.Get("copyOf"), "\" names a code with canCopy=\"no\""));
  }
  return absl::OkStatus();
}

absl::Status Xliff2Reader::Marker(const std::vector<Inline>& list, size_t i) const {
  const Inline& in = list[i];
  const XmlNode& k = *in.node;
  if (in.kind == "sm") {
    bool closed = false;
    for (size_t j = i + 1; j < list.size(); ++j) {
      if (list[j].kind == "em" && list[j].node->Get("startRef") == k.Get("id")) closed = true;
    }
    if (!closed) return t_.Error(k, StrCat("<sm id=\"", k.Get("id"), "\"> has no <em>"));
  } else {
    bool opened = false;
    for (size_t j = 0; j < i; ++j) {
      if (list[j].kind == "sm" && list[j].node->Get("id") == k.Get("startRef")) opened = true;
    }
    if (!opened) {
      return t_.Error(k, StrCat("<em startRef=\"", k.Get("startRef"), "\"> has no <sm> before it"));
    }
  }
  return absl::OkStatus();
}

absl::Status Xliff2Reader::CheckCode(const std::vector<Inline>& list, size_t i,
                                     const CodesById& ids, const CodesById& source,
                                     const CodesById& target, const UnitState& st) {
  const Inline& in = list[i];
  const XmlNode& k = *in.node;
  // Original data references.
  for (std::string_view ref : {"dataRef", "dataRefStart", "dataRefEnd"}) {
    if (k.Has(ref) && !st.data_ids->contains(std::string(k.Get(ref)))) {
      return t_.Error(k, StrCat(ref, "=\"", k.Get(ref), "\" names no <data> of the unit"));
    }
  }
  if (k.Has("copyOf")) VERSO_RETURN_IF_ERROR(CopyOf(k, source, target));
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
      return t_.Error(
          k, StrCat("canReorder=\"", reorder, "\" needs canCopy=\"no\" and canDelete=\"no\""));
    }
  }
  if (in.kind == "sc") {
    VERSO_RETURN_IF_ERROR(StartCode(list, i));
  } else if (in.kind == "ec") {
    VERSO_RETURN_IF_ERROR(EndCode(list, i, ids));
  } else if (in.kind == "sm" || in.kind == "em") {
    VERSO_RETURN_IF_ERROR(Marker(list, i));
  }
  if (in.kind == "mrk" || in.kind == "sm") VERSO_RETURN_IF_ERROR(Annotation(k, st));
  return absl::OkStatus();
}

absl::Status Xliff2Reader::ProtectedCodesKept(const UnitState& st) const {
  for (const Inline& in : st.source_inline) {
    const XmlNode& k = *in.node;
    if (k.Get("canDelete", "yes") != "no") continue;
    if (st.targets[static_cast<size_t>(in.segment)] == nullptr) continue;
    bool found = false;
    for (const Inline& t : st.target_inline) {
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
  return absl::OkStatus();
}

absl::Status Xliff2Reader::CheckInline(UnitState* st, bool candidate) {
  CodesById source, target;  // codes and markers by id
  VERSO_RETURN_IF_ERROR(InlineIds(*st, &source, &target));
  for (const std::vector<Inline>* list : {&st->source_inline, &st->target_inline}) {
    const CodesById& ids = list == &st->target_inline ? target : source;
    for (size_t i = 0; i < list->size(); ++i) {
      VERSO_RETURN_IF_ERROR(CheckCode(*list, i, ids, source, target, *st));
    }
    VERSO_RETURN_IF_ERROR(Reordering(*list));
  }
  if (candidate) return absl::OkStatus();
  // Codes that may not be deleted must be in every target of their segment.
  VERSO_RETURN_IF_ERROR(ProtectedCodesKept(*st));
  // The order of reorder-protected sequences must be kept in the target.
  return TargetOrder(*st);
}

absl::Status Xliff2Reader::StartCode(const std::vector<Inline>& list, size_t i) const {
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

absl::Status Xliff2Reader::Annotation(const XmlNode& k, const UnitState& st) const {
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

absl::Status Xliff2Reader::Reordering(const std::vector<Inline>& list) const {
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

std::string Xliff2Reader::CodeKey(const Inline& in) {
  if (in.kind == "ec" && !in.node->Has("id")) {
    return StrCat("ec>", in.node->Get("startRef"), " in ", in.context);
  }
  return StrCat(in.kind, "#", in.node->Get("id"), " in ", in.context);
}

absl::Status Xliff2Reader::TargetOrder(const UnitState& st) const {
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

void Xliff2Reader::ToMarkup(const XmlNode& n, DocumentUnit* u, std::string* out) const {
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

}  // namespace verso::formats::xliff
