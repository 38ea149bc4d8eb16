#include "common/status.h"

#include "absl/strings/cord.h"
#include "common/strings.h"

#include <cstdio>
#include <cstdlib>

namespace verso {
namespace internal {

void CheckFailed(const char* file, int line, const char* cond, std::string_view msg) {
  std::fprintf(stderr, "%s:%d: check failed: %s: %.*s\n", file, line, cond,
               static_cast<int>(msg.size()), msg.data());
  std::abort();
}

}  // namespace internal

namespace {
constexpr char kThrottledPayload[] = "verso/throttled";
}  // namespace

absl::Status Throttled(std::string_view message) {
  absl::Status s = absl::ResourceExhaustedError(std::string(message));
  s.SetPayload(kThrottledPayload, absl::Cord("1"));
  return s;
}

bool IsThrottled(const absl::Status& status) {
  return absl::IsResourceExhausted(status) && status.GetPayload(kThrottledPayload).has_value();
}

namespace {
constexpr char kDiskFullPayload[] = "verso/disk-full";
}  // namespace

absl::Status DiskFull(std::string_view message) {
  absl::Status s = absl::ResourceExhaustedError(std::string(message));
  s.SetPayload(kDiskFullPayload, absl::Cord("1"));
  return s;
}

bool IsDiskFull(const absl::Status& status) {
  return absl::IsResourceExhausted(status) && status.GetPayload(kDiskFullPayload).has_value();
}

namespace {
constexpr char kWouldBlockPayload[] = "verso/would-block";
}  // namespace

absl::Status WouldBlock(std::string_view what) {
  absl::Status s = absl::UnavailableError(StrCat(what, " would have to wait"));
  s.SetPayload(kWouldBlockPayload, absl::Cord("1"));
  return s;
}

bool IsWouldBlock(const absl::Status& status) {
  return absl::IsUnavailable(status) && status.GetPayload(kWouldBlockPayload).has_value();
}

absl::Status Annotate(const absl::Status& status, std::string_view context) {
  if (status.ok()) return status;
  absl::Status out(status.code(), StrCat(context, ": ", status.message()));
  status.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

}  // namespace verso
