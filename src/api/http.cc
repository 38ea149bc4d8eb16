#include "api/http.h"

#include "common/json.h"
#include "common/names.h"
#include "common/status.h"
#include "common/strings.h"

namespace verso::api {

std::string_view Request::Header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return {};
}

std::optional<std::string> Request::Query(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return v;
  }
  return std::nullopt;
}

std::optional<std::string> UnknownQueryParameter(const Route& route, const Request& req) {
  if (route.query.size() == 1 && route.query[0] == "*") return std::nullopt;
  for (const auto& [name, value] : req.query) {
    if (std::find(route.query.begin(), route.query.end(), name) == route.query.end()) return name;
  }
  return std::nullopt;
}

std::string SortableNumber(int64_t n) {
  std::string digits = std::to_string(n < 0 ? 0 : n);
  return std::string(digits.size() < 19 ? 19 - digits.size() : 0, '0') + digits;
}

absl::StatusOr<Page> ReadPage(const Request& req, int default_limit, int max_limit) {
  Page page;
  page.limit = default_limit;
  if (auto q = req.Query("limit")) {
    int64_t limit = 0;
    if (!ParseInt64(*q, &limit) || limit < 1 || limit > max_limit) {
      return BadRequest(
          StrCat("limit: \"", Abbreviate(*q, 40), "\" is not an integer from 1 to ", max_limit));
    }
    page.limit = static_cast<int>(limit);
  }
  if (auto c = req.Query("cursor")) {
    VERSO_ASSIGN_OR_RETURN(page.after, DecodeCursor(*c));
  }
  return page;
}

bool IsWebSocketUpgrade(const Request& req) {
  return AsciiLower(StripAsciiWhitespace(req.Header("upgrade"))) == "websocket";
}

Response JsonResponse(int status, const Json& body) {
  Response r;
  r.status = status;
  // Inputs are checked for UTF-8 before they reach a handler; replacing any bad byte anyway
  // means a response can never fail to serialize.
  r.body = DumpJson(body);
  return r;
}

std::string RetryAfterSeconds(absl::Duration d) {
  return StrCat(std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(d, absl::Seconds(1)))));
}

Response RetryLater(std::string_view code, std::string_view message, absl::Duration retry) {
  Response res = ErrorResponse(429, code, message);
  res.headers.emplace_back("Retry-After", RetryAfterSeconds(retry));
  return res;
}

int StatusToHttp(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return IsBadRequest(status) ? 400 : 422;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kResourceExhausted:
      return IsThrottled(status) ? 429 : IsDiskFull(status) ? 507 : 413;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kDeadlineExceeded:
      return 503;
    default:
      return 500;
  }
}

std::string_view ErrorCodeName(int http_status) {
  switch (http_status) {
    case 400:
      return "bad_request";
    case 401:
      return "unauthenticated";
    case 403:
      return "permission_denied";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 409:
      return "conflict";
    case 413:
      return "payload_too_large";
    case 415:
      return "unsupported_media_type";
    case 422:
      return "invalid_argument";
    case 429:
      return "rate_limited";
    case 503:
      return "unavailable";
    case 507:
      return "insufficient_storage";
    default:
      return "internal";
  }
}

Response ErrorResponse(int http_status, std::string_view code, std::string_view message) {
  // request_id is filled in by the server, which knows it.
  return JsonResponse(http_status,
                      Json{{"error", {{"code", code}, {"message", message}, {"request_id", ""}}}});
}

Response ErrorResponse(const absl::Status& status) {
  if (IsWouldBlock(status)) {
    Response r;
    r.would_block = true;
    return r;
  }
  int http = StatusToHttp(status);
  std::string message(status.message());
  // Internal errors are logged by the server; clients get no internals.
  if (http == 500) message = "internal error";
  Response r = ErrorResponse(http, ErrorCodeName(http), message);
  // Unavailable (a database or engine lost for now) is worth retrying, after a pause.
  if (http == 503) r.headers.emplace_back("Retry-After", "5");
  // A full disk is an operator's to free: worth retrying, later.
  if (http == 507) r.headers.emplace_back("Retry-After", "60");
  return r;
}

std::string AttachmentDisposition(std::string_view file_name) {
  std::string fallback;
  for (unsigned char c : file_name) {
    if (c < 0x20 || c == 0x7F || c == '"' || c == '\\' || c >= 0x80) {
      if (c >= 0x80 && (c & 0xC0) == 0x80) continue;  // one '_' per non-ASCII character
      fallback += '_';
    } else {
      fallback += static_cast<char>(c);
    }
  }
  if (fallback.empty()) fallback = "download";
  return StrCat("attachment; filename=\"", fallback, "\"; filename*=UTF-8''",
                PercentEncode(file_name));
}

void Router::Add(Route route) {
  std::vector<std::string> parts;
  for (std::string_view part : Split(route.pattern, '/')) parts.emplace_back(part);
  patterns_.push_back(std::move(parts));
  routes_.push_back(std::move(route));
}

namespace {

bool IsParam(std::string_view part) {
  return part.size() > 2 && part.front() == '{' && part.back() == '}';
}

// Whether a path split at '/' matches a pattern split the same way ("/v1/tm/{store}" and
// "/v1/tm/tm_123"): every literal part equal, every {param} part non-empty.
bool Matches(const std::vector<std::string>& pattern, const std::vector<std::string_view>& path) {
  if (pattern.size() != path.size()) return false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (IsParam(pattern[i]) ? path[i].empty() : pattern[i] != path[i]) return false;
  }
  return true;
}

}  // namespace

Router::Found Router::Find(std::string_view method, std::string_view path,
                           std::map<std::string, std::string>* params) const {
  // The path is split once; the patterns were split when added (every request tries them all).
  const std::vector<std::string_view> parts = Split(path, '/');
  Found found;
  for (size_t r = 0; r < routes_.size(); ++r) {
    if (!Matches(patterns_[r], parts)) continue;
    if (routes_[r].method != method) {
      found.allowed.push_back(routes_[r].method);
      continue;
    }
    found.route = &routes_[r];
    found.allowed.clear();
    params->clear();
    for (size_t i = 0; i < parts.size(); ++i) {
      const std::string& part = patterns_[r][i];
      if (IsParam(part)) (*params)[part.substr(1, part.size() - 2)] = std::string(parts[i]);
    }
    return found;
  }
  return found;
}

}  // namespace verso::api
