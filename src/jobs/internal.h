// What service.cc and stages.cc share (private to jobs/): the segment states and job statuses.
#ifndef VERSO_JOBS_INTERNAL_H_
#define VERSO_JOBS_INTERNAL_H_

#include <string_view>

#include "storage/storage.h"

namespace verso::jobs {

using storage::JobChange;
using storage::JobRecord;
using storage::JobSegmentRecord;
using storage::TaskRecord;

// Segment states, in pipeline order.
inline constexpr std::string_view kNew = "new";
inline constexpr std::string_view kAnalysed = "analysed";
inline constexpr std::string_view kMtPending = "mt_pending";
inline constexpr std::string_view kTranslated = "translated";
inline constexpr std::string_view kApproved = "approved";
inline constexpr std::string_view kAwaiting = "awaiting";
inline constexpr std::string_view kConfirmed = "confirmed";

// Approved or confirmed: nothing more to do for the segment.
inline bool Closed(std::string_view state) { return state == kApproved || state == kConfirmed; }

inline bool Ended(std::string_view status) {
  return status == "completed" || status == "failed" || status == "cancelled";
}

}  // namespace verso::jobs

#endif  // VERSO_JOBS_INTERNAL_H_
