#include "common/json.h"

#include <nlohmann/json.hpp>
#include <vector>

#include "common/strings.h"

namespace verso {
namespace {

using Json = nlohmann::json;

// Builds the document from nlohmann's SAX events, so that depth can be checked before a level
// is allocated and an error can name the value it is in.
class Builder {
 public:
  explicit Builder(const JsonLimits& limits) : limits_(limits) {}

  bool null() { return Value(Json(nullptr)); }
  bool boolean(bool b) { return Value(Json(b)); }
  bool number_integer(Json::number_integer_t n) { return Value(Json(n)); }
  bool number_unsigned(Json::number_unsigned_t n) { return Value(Json(n)); }
  bool number_float(Json::number_float_t n, const Json::string_t&) { return Value(Json(n)); }
  bool string(Json::string_t& s) { return Value(Json(std::move(s))); }
  bool binary(Json::binary_t&) { return Fail(JsonError::kSyntax, "binary values are not JSON"); }
  bool start_object(std::size_t) { return Open(Json::object()); }
  bool start_array(std::size_t) { return Open(Json::array()); }
  bool key(Json::string_t& k) {
    frames_.back().key = std::move(k);
    return true;
  }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }
  bool parse_error(std::size_t position, const std::string& last_token,
                   const nlohmann::detail::exception& e) {
    // A number too large is the one error that belongs to a value, not to the syntax.
    const bool range = e.id == 406;
    // nlohmann's position is just past what it read: for a number, point at its start; for a
    // syntax error, at the byte it stopped at (as nlohmann's own message does).
    if (range) {
      position_ = position >= last_token.size() ? position - last_token.size() : 0;
    } else {
      position_ = position > 0 ? position - 1 : 0;
    }
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..." ->
    // what follows the position (ours is computed the same way).
    if (size_t colon = what.find(": ");
        what.find("parse error") != std::string::npos && colon != std::string::npos) {
      what = what.substr(colon + 2);
    }
    // The token nlohmann quotes may be any bytes of any length.
    return Fail(range ? JsonError::kRange : JsonError::kSyntax,
                range ? "number out of range" : Abbreviate(what, 160), /*at_position=*/true);
  }

  Json& root() { return root_; }
  JsonError error() const { return error_; }
  const std::string& message() const { return message_; }
  bool at_position() const { return at_position_; }
  size_t position() const { return position_; }

 private:
  struct Frame {
    Json* container;
    size_t count = 0;  // elements placed (arrays)
    std::string key;   // the key of the value being read (objects)
  };

  // Where the next value goes, e.g. `segments[2].source`.
  std::string Path() const {
    std::string out;
    for (const Frame& f : frames_) {
      if (f.container->is_array()) {
        StrAppend(&out, "[", f.count, "]");
      } else {
        if (!out.empty()) out += '.';
        out += f.key;
      }
    }
    return out;
  }

  Json* Place(Json v) {
    if (frames_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    Frame& f = frames_.back();
    if (f.container->is_array()) {
      f.container->push_back(std::move(v));
      ++f.count;
      return &f.container->back();
    }
    Json& slot = (*f.container)[f.key];
    slot = std::move(v);
    return &slot;
  }

  bool Value(Json v) {
    Place(std::move(v));
    return true;
  }

  bool Open(Json container) {
    if (static_cast<int>(frames_.size()) >= limits_.max_depth) {
      return Fail(JsonError::kDepth, StrCat("nested deeper than ", limits_.max_depth, " levels"));
    }
    // The element count of an enclosing array moves on when the container closes, so that an
    // error inside it names its own index.
    Json* placed;
    if (!frames_.empty() && frames_.back().container->is_array()) {
      frames_.back().container->push_back(std::move(container));
      placed = &frames_.back().container->back();
    } else {
      placed = Place(std::move(container));
    }
    frames_.push_back(Frame{placed});
    return true;
  }

  bool Close() {
    frames_.pop_back();
    if (!frames_.empty() && frames_.back().container->is_array()) ++frames_.back().count;
    return true;
  }

  bool Fail(JsonError error, std::string message, bool at_position = false) {
    error_ = error;
    // A value's own problems name its path; a syntax error has only its position.
    std::string path = error == JsonError::kSyntax ? "" : Path();
    message_ = path.empty() ? std::move(message) : StrCat(path, ": ", message);
    at_position_ = at_position;
    return false;
  }

  const JsonLimits& limits_;
  Json root_;
  std::vector<Frame> frames_;
  JsonError error_ = JsonError::kNone;
  std::string message_;
  bool at_position_ = false;
  size_t position_ = 0;
};

// Line and column (from 1) of byte `offset`.
std::string Where(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      ++column;
    }
  }
  return StrCat("line ", line, ", column ", column);
}

}  // namespace

absl::StatusOr<nlohmann::json> ParseJson(std::string_view text, const JsonLimits& limits,
                                         JsonError* why) {
  Builder builder(limits);
  bool ok = false;
  try {
    ok = Json::sax_parse(text.begin(), text.end(), &builder, Json::input_format_t::json,
                         /*strict=*/true);
  } catch (const std::exception& e) {  // nlohmann reports through parse_error; belt and braces
    if (why != nullptr) *why = JsonError::kSyntax;
    return absl::InvalidArgumentError(StrCat("malformed JSON: ", e.what()));
  }
  if (ok) {
    if (why != nullptr) *why = JsonError::kNone;
    return std::move(builder.root());
  }
  if (why != nullptr)
    *why = builder.error() == JsonError::kNone ? JsonError::kSyntax : builder.error();
  const size_t at = builder.position();
  if (builder.error() == JsonError::kRange) {
    return absl::InvalidArgumentError(StrCat(builder.message(), " (", Where(text, at), ")"));
  }
  if (builder.at_position()) {
    return absl::InvalidArgumentError(
        StrCat("malformed JSON at ", Where(text, at), ": ", builder.message()));
  }
  return absl::InvalidArgumentError(StrCat("malformed JSON: ", builder.message()));
}

nlohmann::json ParseAnswerJson(std::string_view text) {
  absl::StatusOr<Json> j = ParseJson(text, JsonLimits{128});
  if (!j.ok()) return Json(Json::value_t::discarded);
  return std::move(*j);
}

std::string DumpJson(const nlohmann::json& value, int indent) {
  return value.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace verso
