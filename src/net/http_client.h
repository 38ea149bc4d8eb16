// Outbound HTTP: provider adapters, webhooks, QE services, TM peers (libcurl; confined to
// http_client.cc). Connections are kept alive per thread. Thread-safe.
#ifndef VERSO_NET_HTTP_CLIENT_H_
#define VERSO_NET_HTTP_CLIENT_H_

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace verso {
class AddressPolicy;
}  // namespace verso

namespace verso::net {

struct HttpRequest {
  std::string method = "POST";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  absl::Time deadline = absl::InfiniteFuture();
  // The most of an answer that is read (its body after decompression, and its head
  // separately up to 64 KiB): a bigger one is an error, however well it compresses.
  size_t max_response_bytes = 16 << 20;
  // Ask for compressed answers (and unpack them, within max_response_bytes).
  bool accept_encoding = true;
  // When set, only addresses it allows are connected to, checked on every address the name
  // resolves to, at connect time; no proxy is used and redirects are never followed.
  const AddressPolicy* addresses = nullptr;
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  bool truncated = false;  // the body was longer than max_response_bytes: cut there
};

// Any HTTP status is a response; errors are for no response at all: DeadlineExceeded when
// the deadline passed, Unavailable when the server could not be reached or dropped the
// connection, PermissionDenied when the address policy refused every address of the host,
// ResourceExhausted when the answer's head was larger than 64 KiB. A body past
// max_response_bytes is cut there (`truncated`; nothing more is read or unpacked). Messages name
// the host only (never the query, headers or body).
absl::StatusOr<HttpResponse> Send(const HttpRequest& request);

}  // namespace verso::net

#endif  // VERSO_NET_HTTP_CLIENT_H_
