// Outbound HTTP for the provider adapters (libcurl; confined to http.cc). Connections are kept
// alive per thread. Thread-safe.
#ifndef VERSO_MT_PROVIDERS_HTTP_H_
#define VERSO_MT_PROVIDERS_HTTP_H_

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace verso::mt::providers {

struct HttpRequest {
  std::string method = "POST";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  absl::Time deadline = absl::InfiniteFuture();
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

// Any HTTP status is a response; errors are for no response at all: DeadlineExceeded when
// the deadline passed, Unavailable when the server could not be reached or dropped the
// connection. Messages name the host only (never the query, headers or body).
absl::StatusOr<HttpResponse> Send(const HttpRequest& request);

}  // namespace verso::mt::providers

#endif  // VERSO_MT_PROVIDERS_HTTP_H_
