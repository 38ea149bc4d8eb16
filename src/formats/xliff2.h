// XLIFF 2 reading, private to formats/: the reader (xliff2_reader.cc: the document's
// structure and its conversion to units), its checks of XLIFF's modules (xliff2_modules.cc)
// and of inline codes and annotations (xliff2_inline.cc), and what the XLIFF 1.2 reader
// (xliff.cc) shares with it.
#ifndef VERSO_FORMATS_XLIFF2_H_
#define VERSO_FORMATS_XLIFF2_H_

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/strings.h"
#include "formats/formats.h"
#include "formats/xml_scan.h"

namespace verso::formats::xliff {

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

inline bool IsNameChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == ':' || c >= 0x80;
}

inline bool IsNmtoken(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsNameChar(c); });
}

// "prefix:value" with both parts non-empty (XLIFF's user-defined values).
inline bool IsUserDefined(std::string_view s) {
  size_t colon = s.find(':');
  return colon != std::string_view::npos && colon > 0 && colon + 1 < s.size() &&
         s.find(':', colon + 1) == std::string_view::npos;
}

inline bool IsSpaceOnly(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
}

// Raw bytes of a node in the document.
inline std::string_view Raw(const XmlTree& t, const XmlNode& n) {
  return t.data.substr(n.begin, n.end - n.begin);
}

// The start tag of a self-closing element (<target .../>) as an open tag: "<target ...>".
inline std::string OpenTagOf(const XmlTree& t, const XmlNode& n) {
  std::string_view tag = t.data.substr(n.begin, n.start_end - n.begin);
  tag.remove_suffix(2);  // "/>"
  while (!tag.empty() &&
         (tag.back() == ' ' || tag.back() == '\n' || tag.back() == '\t' || tag.back() == '\r')) {
    tag.remove_suffix(1);
  }
  return StrCat(tag, ">");
}

// The qualified name as written.
inline std::string QName(const XmlNode& n) {
  return n.prefix.empty() ? n.local : StrCat(n.prefix, ":", n.local);
}

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

// Reads one XLIFF 2 document (its parsed tree) into *doc: every check of the core schema and the
// specification's processing requirements, then the units.
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

  absl::Status Read();

 private:
  bool IsCore(const XmlNode& n, std::string_view local) const;

  absl::Status OnlySpace(const XmlNode& n, std::string_view where) const;

  absl::Status Language(const XmlNode& at, std::string_view tag, std::string_view attr) const;

  // Checks an element's attributes against the names it may have ("xml:lang" for the XML
  // namespace) and what else it may carry.
  absl::Status Attrs(const XmlNode& n, std::initializer_list<std::string_view> names,
                     Others others) const;

  // Attributes of the Format Style module (fs:fs, fs:subFs).
  absl::Status ModuleAttrs(const XmlNode& n) const;

  // Attributes of the Size and Length Restriction module.
  absl::Status SizeAttrs(const XmlNode& n) const;

  // An element with this id inside an slr:data sibling of `n` or of one of its ancestors.
  bool SizeDataHas(const XmlNode& n, std::string_view id) const;

  absl::Status RequireId(const XmlNode& n) const;

  // Extension and module elements among a file's, group's or unit's children: ids unique per
  // namespace; elements of XLIFF's modules checked against their module.
  absl::Status Extensions(const XmlNode& owner, const std::vector<const XmlNode*>& ext,
                          const UnitState* st);

  // id and xml:id of an extension element and its descendants in other namespaces.
  absl::Status ExtensionIds(const XmlNode& n,
                            std::set<std::pair<std::string, std::string>>* ids) const;

  // ---- Modules -------------------------------------------------------------------------------

  std::vector<const XmlNode*> Elements(const XmlNode& n) const;

  absl::Status ElementOnly(const XmlNode& n) const;

  absl::Status TextOnly(const XmlNode& n) const;

  absl::Status Bad(const XmlNode& n, std::string_view what) const;

  // Checks an element of an XLIFF module (and, inside it, further module elements); elements
  // of other namespaces are extensions and left alone.
  absl::Status Module(const XmlNode& n, const XmlNode& owner, const UnitState* st);

  // A module element checked and nothing more to do below it (or why it is wrong).
  static absl::StatusOr<bool> Leaf(absl::Status s);

  // Module's helpers: the element's children are `allowed` ones of its namespace (`others`: or
  // any of another namespace than the core's)...
  absl::Status Children(const XmlNode& n, std::initializer_list<std::string_view> allowed,
                        bool others) const;
  // ...how many children of its namespace are named `local`...
  int Count(const XmlNode& n, std::string_view local) const;
  // ...and an element holding one or more `child`ren and nothing else.
  absl::Status Container(const XmlNode& n, std::string_view child, Others others) const;

  // An element of the Metadata (mda) module.
  absl::StatusOr<bool> MetadataElement(const XmlNode& n, [[maybe_unused]] const XmlNode& owner,
                                       [[maybe_unused]] const UnitState* st);

  // An element of the Glossary (gls) module.
  absl::StatusOr<bool> GlossaryElement(const XmlNode& n, [[maybe_unused]] const XmlNode& owner,
                                       [[maybe_unused]] const UnitState* st);

  // An element of the Translation Candidates (mtc) module.
  absl::StatusOr<bool> MatchesElement(const XmlNode& n, [[maybe_unused]] const XmlNode& owner,
                                      [[maybe_unused]] const UnitState* st);

  // An element of the Resource Data (res) module.
  absl::StatusOr<bool> ResourcesElement(const XmlNode& n, [[maybe_unused]] const XmlNode& owner,
                                        [[maybe_unused]] const UnitState* st);

  // An element of the Size and Length Restriction (slr): profiles, normalization, data module.
  absl::StatusOr<bool> SizeRestrictionElement(const XmlNode& n,
                                              [[maybe_unused]] const XmlNode& owner,
                                              [[maybe_unused]] const UnitState* st);

  // An element of the Validation (val) module.
  absl::StatusOr<bool> ValidationElement(const XmlNode& n, [[maybe_unused]] const XmlNode& owner,
                                         [[maybe_unused]] const UnitState* st);

  // An element of the Change Tracking (ctr) module.
  absl::StatusOr<bool> ChangeTrackingElement(const XmlNode& n,
                                             [[maybe_unused]] const XmlNode& owner,
                                             [[maybe_unused]] const UnitState* st);

  // gls:glossEntry/@ref and gls:translation/@ref point to a span of the unit ("#id" or "id").
  absl::Status GlossaryRef(const XmlNode& n, const UnitState* st) const;

  absl::Status Match(const XmlNode& n, const UnitState* st);

  absl::Status Rule(const XmlNode& n, const XmlNode& owner) const;

  // ctr:revisions: appliesTo names what changed; ref must name an element with that id in the
  // enclosing file, group or unit, and is required when such elements have ids.
  absl::Status Revisions(const XmlNode& n, const XmlNode& owner);

  absl::Status Notes(const XmlNode& n);

  absl::Status File(const XmlNode& f, std::set<std::string>* file_ids);

  bool Translate(const XmlNode& n, bool inherited = true) const;

  absl::Status Skeleton(const XmlNode& n) const;

  absl::Status Group(const XmlNode& g, bool translate);

  absl::Status Unit(const XmlNode& u, bool translate);

  absl::Status OriginalData(const XmlNode& n, std::set<std::string>* ids) const;

  absl::Status Cp(const XmlNode& n) const;

  std::string_view Space(const XmlNode& n) const;

  // The xml:lang in effect at a node; "" when none is declared.
  std::string_view Lang(const XmlNode& n) const;

  absl::Status Part(const XmlNode& p, UnitState* st) const;

  // Inline content of a source or target (or of a <pc> or <mrk> in it).
  absl::Status Content(const XmlNode& n, int segment, bool in_target, UnitState* st,
                       const std::string& context = "") const;

  absl::Status TypeAndSubType(const XmlNode& k) const;

  // A fragment identifier (XLIFF 2 section "Fragment Identification"): "#" then selectors
  // "prefix=id" joined by "/", absolute when it starts with "#/". Returns the selectors.
  absl::Status FragmentId(const XmlNode& at, std::string_view ref,
                          std::vector<std::pair<std::string, std::string>>* out,
                          bool* absolute) const;

  // The processing requirements on a unit's inline codes and annotations.
  // `candidate`: the source and target of a translation candidate (mtc:match), whose target
  // need not keep the source's protected codes.
  absl::Status CheckInline(UnitState* st, bool candidate = false);
  // CheckInline's steps: ids unique per side and of the same kind on both; one code's rules;
  // copyOf naming a code that may be copied; <sm>/<em> pairing; protected codes in the target.
  using CodesById = std::map<std::string, const Inline*>;
  absl::Status InlineIds(const UnitState& st, CodesById* source, CodesById* target) const;
  absl::Status CheckCode(const std::vector<Inline>& list, size_t i, const CodesById& ids,
                         const CodesById& source, const CodesById& target, const UnitState& st);
  absl::Status CopyOf(const XmlNode& k, const CodesById& source, const CodesById& target) const;
  absl::Status Marker(const std::vector<Inline>& list, size_t i) const;
  absl::Status ProtectedCodesKept(const UnitState& st) const;

  absl::Status StartCode(const std::vector<Inline>& list, size_t i) const;

  absl::Status EndCode(const std::vector<Inline>& list, size_t i,
                       const std::map<std::string, const Inline*>& ids) const;

  absl::Status Annotation(const XmlNode& k, const UnitState& st) const;

  // Codes with canReorder="no" continue the sequence a "firstNo" code starts.
  absl::Status Reordering(const std::vector<Inline>& list) const;

  // A code and where it sits (the <pc> around it).
  static std::string CodeKey(const Inline& in);

  absl::Status TargetOrder(const UnitState& st) const;

  // ---- Conversion to units -----------------------------------------------------------------

  // Inline content -> verso markup; codes are recorded with the XML they stand for.
  // <cp hex="X"/> becomes <x id="cpX"/>.
  void ToMarkup(const XmlNode& n, DocumentUnit* u, std::string* out) const;

  absl::Status Emit(const std::string& unit_id, const UnitState& st) const;

  const XmlTree& t_;
  Document* doc_;
  std::string core_;  // the namespace: XLIFF 2.0/2.1 or 2.2
  std::string src_lang_, trg_lang_, file_id_;
  std::set<std::string> group_ids_, unit_ids_;
  std::vector<std::pair<const XmlNode*, std::string>> sub_flows_;
  std::set<std::string>* scope_notes_ = nullptr;
  const XmlNode* file_ = nullptr;
};

}  // namespace verso::formats::xliff

#endif  // VERSO_FORMATS_XLIFF2_H_
