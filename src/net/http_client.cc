#include "net/http_client.h"

#include <curl/curl.h>

#include <mutex>

#include <sys/socket.h>

#include "absl/time/clock.h"
#include "common/netaddr.h"
#include "common/strings.h"

namespace verso::net {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// One easy handle per thread: libcurl keeps its connections alive between requests.
struct Handle {
  CURL* curl = nullptr;
  Handle() {
    GlobalInit();
    curl = curl_easy_init();
  }
  ~Handle() {
    if (curl != nullptr) curl_easy_cleanup(curl);
  }
};

constexpr size_t kMaxHeadBytes = 64 << 10;

// What the callbacks of one transfer share.
struct Transfer {
  HttpResponse* response;
  size_t max_body;
  size_t head_bytes = 0;
  bool head_too_large = false;
  const AddressPolicy* addresses = nullptr;
  bool refused = false;  // the policy refused an address
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  if (t->response->body.size() + size * n > t->max_body) {
    t->response->truncated = true;
    return 0;  // libcurl stops the transfer (CURLE_WRITE_ERROR)
  }
  t->response->body.append(data, size * n);
  return size * n;
}

// Opens the socket for an address libcurl resolved, unless the policy refuses the address.
curl_socket_t OnOpenSocket(void* user, curlsocktype, curl_sockaddr* address) {
  auto* t = static_cast<Transfer*>(user);
  std::optional<IpAddress> ip = FromSockaddr(&address->addr);
  if (!ip || !t->addresses->Allows(*ip)) {
    t->refused = true;
    return CURL_SOCKET_BAD;
  }
  return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  t->head_bytes += size * n;
  if (t->head_bytes > kMaxHeadBytes) {
    t->head_too_large = true;
    return 0;
  }
  std::string_view line(data, size * n);
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name = AsciiLower(line.substr(0, colon));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() &&
           (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
      value.remove_suffix(1);
    }
    t->response->headers[name] = std::string(value);
  }
  return size * n;
}

std::string Host(const std::string& url) {
  size_t start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  size_t end = url.find_first_of("/?#", start);
  return url.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

}  // namespace

absl::StatusOr<HttpResponse> Send(const HttpRequest& request) {
  thread_local Handle handle;
  CURL* c = handle.curl;
  if (c == nullptr) return absl::InternalError("libcurl could not be initialised");
  absl::Duration left = request.deadline - absl::Now();
  if (left <= absl::ZeroDuration()) {
    return absl::DeadlineExceededError(StrCat("no time left to call ", Host(request.url)));
  }
  long timeout_ms = request.deadline == absl::InfiniteFuture()
                        ? 0L
                        : std::max<long>(1, static_cast<long>(absl::ToInt64Milliseconds(left)));
  HttpResponse response;
  Transfer transfer{&response, request.max_response_bytes};
  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &transfer);
  if (request.accept_encoding) curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
  if (request.addresses != nullptr) {
    transfer.addresses = request.addresses;
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, OnOpenSocket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &transfer);
    curl_easy_setopt(c, CURLOPT_PROXY, "");  // the policy must judge the receiver, not a proxy
    // Connections kept alive by the handle were opened under another request's policy.
    curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
  }
  curl_slist* headers = nullptr;
  for (const auto& [name, value] : request.headers) {
    headers = curl_slist_append(headers, StrCat(name, ": ", value).c_str());
  }
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  if (request.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
  } else if (request.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  if (transfer.refused && rc != CURLE_OK) {
    return absl::PermissionDeniedError(
        StrCat(Host(request.url), " resolves to an address that is not allowed"));
  }
  if (transfer.head_too_large) {
    return absl::ResourceExhaustedError(
        StrCat(Host(request.url), " answered with a head larger than ", kMaxHeadBytes, " bytes"));
  }
  if (response.truncated && rc == CURLE_WRITE_ERROR) rc = CURLE_OK;
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return absl::DeadlineExceededError(StrCat(Host(request.url), " did not answer in time"));
  }
  if (rc != CURLE_OK) {
    return absl::UnavailableError(
        StrCat("cannot reach ", Host(request.url), ": ", curl_easy_strerror(rc)));
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  return response;
}

}  // namespace verso::net
