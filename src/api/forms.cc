// Form bodies (api/http.h): application/x-www-form-urlencoded pairs and multipart/form-data
// parts. Apart from the router so that the libFuzzer target fuzz/request_fuzz.cc builds them
// alone.
#include "api/http.h"
#include "common/names.h"
#include "common/status.h"
#include "common/strings.h"

namespace verso::api {

std::optional<std::vector<std::pair<std::string, std::string>>> ParseFormPairs(std::string_view s) {
  std::vector<std::pair<std::string, std::string>> out;
  for (std::string_view pair : Split(s, '&')) {
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    auto k = PercentDecode(pair.substr(0, eq), true);
    auto v = PercentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
    if (!k || !v) return std::nullopt;
    out.emplace_back(std::move(*k), std::move(*v));
  }
  return out;
}

namespace {

// A part's name and file name are UTF-8 without control characters; a text field (a part with
// neither a file name nor a media type other than text/plain) is UTF-8. Files are checked by
// the readers of their formats.
absl::Status CheckPart(const FormPart& part) {
  if (part.name.empty()) return BadRequest("multipart/form-data: a part has no name");
  if (absl::Status n = CheckFileName("multipart/form-data: a part's name", part.name); !n.ok()) {
    return BadRequest(ToStd(n.message()));
  }
  if (absl::Status f = CheckFileName(
          StrCat("multipart/form-data: the part \"", part.name, "\": filename"), part.filename);
      !f.ok()) {
    return BadRequest(ToStd(f.message()));
  }
  const std::string type = AsciiLower(part.content_type.substr(0, part.content_type.find(';')));
  const bool text = part.filename.empty() && (type.empty() || type == "text/plain");
  if (text && !IsUtf8(part.data)) {
    return BadRequest(
        StrCat("multipart/form-data: the part \"", part.name, "\" is not valid UTF-8"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<FormPart>> ParseMultipart(std::string_view body,
                                                     std::string_view content_type) {
  std::string boundary;
  for (std::string_view param : Split(content_type, ';')) {
    param = StripAsciiWhitespace(param);
    if (EqualsIgnoreAsciiCase(param.substr(0, 9), "boundary=")) {
      boundary = std::string(param.substr(9));
      if (boundary.size() >= 2 && boundary.front() == '"' && boundary.back() == '"') {
        boundary = boundary.substr(1, boundary.size() - 2);
      }
    }
  }
  if (boundary.empty() || boundary.size() > 70) {
    return BadRequest("multipart/form-data: the Content-Type has no usable boundary");
  }
  const std::string delimiter = StrCat("--", boundary);
  size_t at = body.find(delimiter);
  if (at == std::string_view::npos) return BadRequest("multipart/form-data: no part found");
  std::vector<FormPart> parts;
  while (true) {
    at += delimiter.size();
    if (body.substr(at, 2) == "--") break;  // the closing delimiter
    if (body.substr(at, 2) != "\r\n") {
      return BadRequest("multipart/form-data: a boundary line does not end with CRLF");
    }
    at += 2;
    const size_t head_end = body.find("\r\n\r\n", at);
    if (head_end == std::string_view::npos) {
      return BadRequest("multipart/form-data: a part's headers do not end");
    }
    FormPart part;
    for (std::string_view line : Split(body.substr(at, head_end - at), '\n')) {
      line = StripAsciiWhitespace(line);
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      const std::string name = AsciiLower(line.substr(0, colon));
      std::string_view value = StripAsciiWhitespace(line.substr(colon + 1));
      if (name == "content-type") {
        part.content_type = std::string(value);
      } else if (name == "content-disposition") {
        for (std::string_view param : Split(value, ';')) {
          param = StripAsciiWhitespace(param);
          const size_t eq = param.find('=');
          if (eq == std::string_view::npos) continue;
          std::string_view key = param.substr(0, eq);
          std::string_view v = param.substr(eq + 1);
          if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
          if (key == "name") part.name = std::string(v);
          if (key == "filename") part.filename = std::string(v);
        }
      }
    }
    const size_t data_begin = head_end + 4;
    const size_t next = body.find(StrCat("\r\n", delimiter), data_begin);
    if (next == std::string_view::npos) {
      return BadRequest(StrCat("multipart/form-data: the part \"", part.name, "\" never ends"));
    }
    part.data = std::string(body.substr(data_begin, next - data_begin));
    VERSO_RETURN_IF_ERROR(CheckPart(part));
    parts.push_back(std::move(part));
    at = next + 2;
  }
  return parts;
}

}  // namespace verso::api
