#include "storage/record_codec.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/hash.h"
#include "common/json.h"
#include "common/strings.h"

namespace verso::storage {

int64_t PairHash(const SegmentRecord& s) {
  std::string key;
  key.reserve(s.source.size() + s.target.size() + s.context.key.size() + 40);
  StrAppend(&key, s.source, '\0', s.target, '\0', s.context.key, '\0', s.context.prev_hash, '\0',
            s.context.next_hash);
  return StableHash64Signed(key);
}

std::string PropsJson(const std::vector<Property>& props) {
  if (props.empty()) return {};
  nlohmann::json j = nlohmann::json::array();
  for (const Property& p : props) {
    nlohmann::json o = {{"s", static_cast<int>(p.scope)}, {"t", p.type}, {"v", p.value}};
    if (!p.lang.empty()) o["l"] = p.lang;
    j.push_back(std::move(o));
  }
  return DumpJson(j);
}

std::string NotesJson(const std::vector<Note>& notes) {
  if (notes.empty()) return {};
  nlohmann::json j = nlohmann::json::array();
  for (const Note& n : notes) {
    nlohmann::json o = {{"s", static_cast<int>(n.scope)}, {"x", n.text}};
    if (!n.lang.empty()) o["l"] = n.lang;
    j.push_back(std::move(o));
  }
  return DumpJson(j);
}

absl::Status ParseProps(std::string_view text, std::vector<Property>* out) {
  if (text.empty()) return absl::OkStatus();
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return absl::DataLossError("corrupt segment properties");
  for (const auto& o : j) {
    Property p;
    p.scope = static_cast<Scope>(o.value("s", 0));
    p.type = o.value("t", "");
    p.value = o.value("v", "");
    p.lang = o.value("l", "");
    out->push_back(std::move(p));
  }
  return absl::OkStatus();
}

absl::Status ParseNotes(std::string_view text, std::vector<Note>* out) {
  if (text.empty()) return absl::OkStatus();
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return absl::DataLossError("corrupt segment notes");
  for (const auto& o : j) {
    Note n;
    n.scope = static_cast<Scope>(o.value("s", 0));
    n.text = o.value("x", "");
    n.lang = o.value("l", "");
    out->push_back(std::move(n));
  }
  return absl::OkStatus();
}

std::string ExcludedAssignments(std::string_view columns,
                                std::initializer_list<std::string_view> except) {
  std::vector<std::string> out;
  for (std::string_view c : Split(columns, ',')) {
    c = StripAsciiWhitespace(c);
    if (std::find(except.begin(), except.end(), c) == except.end()) {
      out.push_back(StrCat(c, "=excluded.", c));
    }
  }
  return Join(out, ", ");
}

std::string PrefixColumns(std::string_view prefix, std::string_view columns) {
  std::vector<std::string> out;
  for (std::string_view c : Split(columns, ','))
    out.push_back(StrCat(prefix, StripAsciiWhitespace(c)));
  return Join(out, ", ");
}

}  // namespace verso::storage
