// Status conventions shared by every area.
//
// Errors that cross a module boundary are absl::Status / absl::StatusOr<T>. The codes mean:
//   InvalidArgument     the caller's input is malformed (bad field, bad file); message names where
//   NotFound            the addressed thing does not exist (or belongs to someone else)
//   AlreadyExists       a create collided with an existing thing
//   FailedPrecondition  the request is valid but the state forbids it
//   ResourceExhausted   a limit was hit (size, rate, memory)
//   Unavailable         a dependency is down; retrying later may help
//   DataLoss            stored data is corrupt
//   Internal            a bug or an unexpected library failure
// Messages are for humans: they say what was wrong and where, and never carry secrets.
#ifndef VERSO_COMMON_STATUS_H_
#define VERSO_COMMON_STATUS_H_

#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define VERSO_STATUS_CONCAT_INNER_(a, b) a##b
#define VERSO_STATUS_CONCAT_(a, b) VERSO_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define VERSO_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::absl::Status verso_status_ = (expr);         \
    if (!verso_status_.ok()) return verso_status_; \
  } while (false)

// `lhs` = value of `rexpr` (an absl::StatusOr<T>), or returns its error.
#define VERSO_ASSIGN_OR_RETURN(lhs, rexpr) \
  VERSO_ASSIGN_OR_RETURN_IMPL_(VERSO_STATUS_CONCAT_(verso_statusor_, __LINE__), lhs, rexpr)
#define VERSO_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                 \
  if (!tmp.ok()) return std::move(tmp).status();      \
  lhs = std::move(tmp).value()

// Aborts the process with file:line and `msg` when `cond` is false. For programming errors only
// (broken invariants), never for bad input.
#define VERSO_CHECK(cond, msg)                                                   \
  do {                                                                           \
    if (!(cond)) ::verso::internal::CheckFailed(__FILE__, __LINE__, #cond, msg); \
  } while (false)

namespace verso {
namespace internal {
[[noreturn]] void CheckFailed(const char* file, int line, const char* cond, std::string_view msg);
}  // namespace internal

// A limit on how much one caller may do at once or per second (ResourceExhausted marked so
// that the API answers 429 with Retry-After instead of 413).
absl::Status Throttled(std::string_view message);
bool IsThrottled(const absl::Status& status);

// The server's disk is full (ResourceExhausted marked so): the API answers 507 Insufficient
// Storage with Retry-After; the same request succeeds once an operator has freed space.
absl::Status DiskFull(std::string_view message);
bool IsDiskFull(const absl::Status& status);

// An answer a caller that may not wait (an I/O thread) gets instead of waiting on a lock or on
// storage: Unavailable, marked. The caller asks again where waiting is allowed.
absl::Status WouldBlock(std::string_view what);
bool IsWouldBlock(const absl::Status& status);

// Prefixes the message of a non-OK status with `context` ("importing x.tmx: ...").
absl::Status Annotate(const absl::Status& status, std::string_view context);

}  // namespace verso

#endif  // VERSO_COMMON_STATUS_H_
