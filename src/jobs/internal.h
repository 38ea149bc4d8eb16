// What service.cc and stages.cc share (private to jobs/): the segment states and job statuses.
#ifndef VERSO_JOBS_INTERNAL_H_
#define VERSO_JOBS_INTERNAL_H_

#include <optional>
#include <string>
#include <string_view>

#include "jobs/jobs.h"
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

// Approved, confirmed or reviewed: the segment has its final translation (downloads use it).
inline bool Closed(SegmentState state) {
  return state == SegmentState::kApproved || state == SegmentState::kConfirmed ||
         state == SegmentState::kReviewed;
}

// Nothing more to do for the segment in `job`: closed, and in a job with revision not waiting
// for a reviewer (a post-editor's confirmation is; the machine's approval is not).
inline bool Finished(const JobRecord& job, SegmentState state) {
  return job.revision ? state == SegmentState::kApproved || state == SegmentState::kReviewed
                      : Closed(state);
}

inline bool Ended(JobStatus status) {
  return status == JobStatus::kCompleted || status == JobStatus::kFailed ||
         status == JobStatus::kCancelled;
}

// A job's status as the status cache keeps it: all of JobInfo but `messages` and `replayed`
// (status_cache.cc). DecodeStatus: nullopt for anything EncodeStatus of this version did not write.
std::string EncodeStatus(const JobInfo& info);
std::optional<JobInfo> DecodeStatus(std::string_view text);

}  // namespace verso::jobs

#endif  // VERSO_JOBS_INTERNAL_H_
