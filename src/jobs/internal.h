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

using storage::JobStatus;
using storage::SegmentOrigin;
using storage::SegmentState;
using storage::TaskKind;
using storage::TaskState;

// Approved or confirmed: nothing more to do for the segment.
inline bool Closed(SegmentState state) {
  return state == SegmentState::kApproved || state == SegmentState::kConfirmed;
}

inline bool Ended(JobStatus status) {
  return status == JobStatus::kCompleted || status == JobStatus::kFailed ||
         status == JobStatus::kCancelled;
}

}  // namespace verso::jobs

#endif  // VERSO_JOBS_INTERNAL_H_
