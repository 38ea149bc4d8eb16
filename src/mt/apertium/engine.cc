// The built-in engine: Apertium pipelines kept warm per language pair.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "mt/apertium/format.h"
#include "mt/apertium/modes.h"
#include "mt/apertium/tagger.h"
#include "mt/mt.h"
#include "text/text.h"

namespace verso::mt {
namespace {

using apertium::ModeInfo;
using apertium::Step;

const std::vector<std::string> kChildEnv = {"LC_ALL=C.UTF-8"};

// How a mode runs: its steps, with the in-process tagger shared by all its pipelines.
struct Plan {
  std::vector<Step> steps;
  std::unique_ptr<apertium::HmmTagger> tagger;
};

// A segment travelling through a pipeline. Shared by the caller, who waits for it, and the
// pipeline's threads, which move it from stage to stage.
struct Job {
  std::string data;      // the segment as the current stage sees it
  std::string end_mark;  // see Pipeline::Submit
  absl::Time deadline;   // the caller's
  std::vector<std::string> unknown_words;

  absl::Mutex mu;
  absl::CondVar cv;
  bool done ABSL_GUARDED_BY(mu) = false;
  absl::Status status ABSL_GUARDED_BY(mu);

  void Finish(absl::Status s) {
    absl::MutexLock lock(&mu);
    if (done) return;
    done = true;
    status = std::move(s);
    cv.SignalAll();
  }
  absl::Status Result() {
    absl::MutexLock lock(&mu);
    return status;
  }
  // False when `until` passed first.
  bool WaitUntil(absl::Time until) {
    absl::MutexLock lock(&mu);
    while (!done) {
      if (cv.WaitWithDeadline(&mu, until) && !done) return false;  // timed out
    }
    return true;
  }
};

// One warm instance of a mode's pipeline, with segments streaming through it: while one
// segment is in the generator the next is already being analysed, so a busy pipeline never
// waits for its caller. Each long-lived chain of stages has a thread that reads its output,
// runs the in-process steps that follow (tagger, one-shot stages) and writes to the next
// chain; segments keep their order, so each output belongs to the oldest segment in flight.
//
// Any error (a stage died, an answer out of step or truncated, a caller's deadline passed)
// breaks the pipeline: its processes are killed and every segment in it fails, to be retried
// by its caller on a fresh pipeline. Thread-safe.
class Pipeline {
 public:
  static absl::StatusOr<std::shared_ptr<Pipeline>> Start(const Plan* plan, std::string mode,
                                                         uint64_t id,
                                                         absl::Duration stage_timeout) {
    auto p = std::shared_ptr<Pipeline>(new Pipeline(plan, std::move(mode)));
    p->stage_timeout_ = stage_timeout;
    p->id_ = id;
    for (size_t i = 0; i < plan->steps.size(); ++i) {
      const Step& step = plan->steps[i];
      if (step.kind == Step::Kind::kWarmChain) {
        VERSO_ASSIGN_OR_RETURN(auto chain, Subprocess::StartChain(step.stages, kChildEnv));
        p->chains_.push_back(Chain{i, std::move(chain), {}});
      }
    }
    p->one_shots_.resize(plan->steps.size());
    for (size_t i = 0; i < plan->steps.size(); ++i) {
      if (plan->steps[i].kind == Step::Kind::kOneShot) {
        VERSO_ASSIGN_OR_RETURN(p->one_shots_[i],
                               Subprocess::Start(plan->steps[i].stages[0], kChildEnv));
      }
    }
    p->writer_ = std::thread([p = p.get()] { p->WriteLoop(); });
    for (size_t c = 0; c < p->chains_.size(); ++c) {
      p->readers_.emplace_back([p = p.get(), c] { p->ReadLoop(c); });
    }
    return p;
  }

  ~Pipeline() {
    Break(absl::UnavailableError("the pipeline was shut down"));
    if (writer_.joinable()) writer_.join();  // not started when a stage failed to start
    for (auto& r : readers_) r.join();
  }

  // Queues segments (each ending with a newline, as EncodeSegment makes it) together: the
  // writer hands them to the first stage in one write, and every stage then works through
  // them per wake-up (one segment per write costs each stage a wake-up per segment: a batch
  // of 6,000 short ones ran at 35 % of the raw engine). False when the pipeline is broken.
  bool Submit(const std::vector<std::shared_ptr<Job>>& jobs) {
    absl::MutexLock lock(&mu_);
    if (broken_) return false;
    for (const std::shared_ptr<Job>& job : jobs) {
      // A stage killed mid-segment makes the stages after it flush what they have and a
      // null: a truncated answer that looks complete. A superblank after the segment, which
      // every stage passes through in order, tells a whole answer from a truncated or stale
      // one.
      job->end_mark = StrCat("[ve", ++segments_, "]");
      job->data += job->end_mark;
      submitted_.push_back(job);
      if (in_flight_++ == 0) last_progress_ = absl::Now();  // idle until now
    }
    cv_.SignalAll();
    return true;
  }

  // When a segment last came out of one of its stages (or the first went into an idle
  // pipeline). A segment queued behind others is not stuck while they move: only a pipeline
  // where nothing moves for the segment time-out is.
  absl::Time last_progress() {
    absl::MutexLock lock(&mu_);
    return last_progress_;
  }

  int in_flight() {
    absl::MutexLock lock(&mu_);
    return in_flight_;
  }
  // Pipelines are numbered in the order they start.
  uint64_t id() const { return id_; }
  bool broken() {
    absl::MutexLock lock(&mu_);
    return broken_;
  }

  // Kills the processes and fails every segment in the pipeline. Idempotent.
  void Break(const absl::Status& why) {
    std::vector<std::shared_ptr<Job>> failed;
    {
      absl::MutexLock lock(&mu_);
      if (broken_) return;
      broken_ = true;
      why_ = why;
      for (auto& j : submitted_) failed.push_back(std::move(j));
      submitted_.clear();
      for (auto& c : chains_) {
        for (auto& j : c.in_flight) failed.push_back(std::move(j));
        c.in_flight.clear();
        c.process->Signal(SIGKILL);
      }
      in_flight_ = 0;
      cv_.SignalAll();
    }
    for (auto& j : failed) j->Finish(why);
    if (!failed.empty()) {
      log::Warn("apertium.pipeline_broken", {{"mode", mode_},
                                             {"segments", static_cast<int64_t>(failed.size())},
                                             {"error", why.message()}});
    }
  }

  // False when one of its long-lived processes has died.
  bool Healthy() {
    absl::MutexLock lock(&mu_);
    if (broken_) return false;
    for (auto& c : chains_) {
      if (!c.process->Alive()) return false;
    }
    return true;
  }

 private:
  struct Chain {
    size_t step;  // index in the plan
    std::unique_ptr<Subprocess> process;
    std::deque<std::shared_ptr<Job>> in_flight;  // written to it, not yet read back
  };

  Pipeline(const Plan* plan, std::string mode) : plan_(plan), mode_(std::move(mode)) {}

  // Hands segments to chain `c` in one write: a stage that wakes up to several segments works
  // through them while its code and data are still in the cache. False when the pipeline is
  // broken.
  bool Feed(size_t c, std::vector<std::shared_ptr<Job>>& jobs) {
    if (jobs.empty()) return true;
    std::string batch;
    for (auto& job : jobs) {
      // lt-proc reads one character past a segment before it flushes: a newline must come
      // before the null.
      batch += job->data;
      if (job->data.empty() || job->data.back() != '\n') batch += '\n';
      batch += '\0';
      job->data.clear();
    }
    {
      absl::MutexLock lock(&mu_);
      if (!broken_) {
        for (auto& job : jobs) chains_[c].in_flight.push_back(job);
      }
    }
    if (broken()) {
      FailHeld(jobs);
      return false;
    }
    jobs.clear();
    absl::Status s = chains_[c].process->Write(batch);
    if (!s.ok()) {
      Break(s);
      return false;
    }
    return true;
  }

  void WriteLoop() {
    std::vector<std::shared_ptr<Job>> jobs;
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        while (!broken_ && submitted_.empty()) cv_.Wait(&mu_);
        if (broken_) return;
        for (auto& j : submitted_) jobs.push_back(std::move(j));
        submitted_.clear();
      }
      if (!Feed(0, jobs)) return;
    }
  }

  // Segments that a thread holds (out of every chain's in-flight list) when the pipeline
  // breaks fail with the reason it broke.
  void FailHeld(std::vector<std::shared_ptr<Job>>& jobs) {
    absl::Status why;
    {
      absl::MutexLock lock(&mu_);
      why = why_.ok() ? absl::UnavailableError("the pipeline broke") : why_;
    }
    for (auto& j : jobs) j->Finish(why);
    jobs.clear();
  }

  void ReadLoop(size_t c) {
    std::string buffer;
    size_t scanned = 0;
    std::vector<std::shared_ptr<Job>> onward;
    while (true) {
      auto got = chains_[c].process->Read(&buffer);
      if (!got.ok() || *got == 0) {
        Break(got.ok() ? absl::UnavailableError("a pipeline stage ended") : got.status());
        FailHeld(onward);
        return;
      }
      size_t start = 0;
      for (size_t nul; (nul = buffer.find('\0', scanned)) != std::string::npos;) {
        std::shared_ptr<Job> job;
        bool out_of_step = false;
        {
          absl::MutexLock lock(&mu_);
          if (!broken_) {
            if (chains_[c].in_flight.empty()) {
              out_of_step = true;
            } else {
              job = std::move(chains_[c].in_flight.front());
              chains_[c].in_flight.pop_front();
              last_progress_ = absl::Now();
            }
          }
        }
        if (out_of_step) Break(absl::InternalError("the pipeline answered out of step"));
        if (job == nullptr) {  // broken
          FailHeld(onward);
          return;
        }
        job->data.assign(buffer, start, nul - start);
        start = scanned = nul + 1;
        onward.push_back(job);
        if (!Advance(c, job)) {
          FailHeld(onward);
          return;
        }
        if (c + 1 == chains_.size()) onward.pop_back();  // finished
      }
      buffer.erase(0, start);
      scanned = buffer.size();
      if (c + 1 < chains_.size() && !Feed(c + 1, onward)) return;
    }
  }

  // Checks what chain `c` made of a segment and runs the steps up to the next chain, or
  // finishes the segment after the last. False when the pipeline broke.
  bool Advance(size_t c, const std::shared_ptr<Job>& job) {
    std::string_view body(job->data);
    while (!body.empty() && body.back() == '\n') body.remove_suffix(1);
    if (!body.ends_with(job->end_mark)) {
      Break(absl::InternalError("the pipeline lost the end of a segment"));
      return false;
    }
    // The first chain starts with the morphological analyser, whose output marks the words
    // it does not know.
    if (c == 0) job->unknown_words = apertium::UnknownWords(job->data);
    size_t next_step = chains_[c].step + 1;
    size_t end_step = c + 1 < chains_.size() ? chains_[c + 1].step : plan_->steps.size();
    for (size_t i = next_step; i < end_step; ++i) {
      const Step& step = plan_->steps[i];
      absl::Status s;
      if (step.kind == Step::Kind::kHmmTagger) {
        auto tagged = plan_->tagger->Tag(job->data);
        if (tagged.ok()) {
          job->data = std::move(*tagged);
        } else {
          s = tagged.status();
        }
      } else {
        s = RunOneShot(i, job.get());
      }
      if (!s.ok()) {
        Break(s);
        return false;
      }
    }
    if (c + 1 < chains_.size()) return true;
    job->data.erase(job->data.rfind(job->end_mark), job->end_mark.size());
    {
      absl::MutexLock lock(&mu_);
      --in_flight_;
    }
    job->Finish(absl::OkStatus());
    return true;
  }

  // A stage that keeps state across segments: a fresh process for each (started ahead, while
  // the previous segment was running).
  absl::Status RunOneShot(size_t step, Job* job) {
    std::unique_ptr<Subprocess> p = std::move(one_shots_[step]);
    if (p == nullptr) {
      VERSO_ASSIGN_OR_RETURN(p, Subprocess::Start(plan_->steps[step].stages[0], kChildEnv));
    }
    std::string out;
    absl::Status s =
        p->RunToEnd(job->data, std::min(job->deadline, absl::Now() + stage_timeout_), &out);
    auto next = Subprocess::Start(plan_->steps[step].stages[0], kChildEnv);
    if (next.ok()) one_shots_[step] = std::move(*next);
    if (!s.ok()) return s;
    job->data = std::move(out);
    return absl::OkStatus();
  }

  const Plan* plan_;
  const std::string mode_;
  uint64_t id_ = 0;
  absl::Duration stage_timeout_;
  std::vector<Chain> chains_;
  std::vector<std::unique_ptr<Subprocess>> one_shots_;  // per step; only its reader uses it
  std::thread writer_;
  std::vector<std::thread> readers_;

  absl::Mutex mu_;
  absl::CondVar cv_;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status why_ ABSL_GUARDED_BY(mu_);  // what broke it
  int64_t segments_ ABSL_GUARDED_BY(mu_) = 0;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_progress_ ABSL_GUARDED_BY(mu_);
  // Waiting for the first chain.
  std::deque<std::shared_ptr<Job>> submitted_ ABSL_GUARDED_BY(mu_);
};

// The pipelines of one mode. Thread-safe.
class ModePool {
 public:
  ModePool(ModeInfo info, const ApertiumOptions* options)
      : info_(std::move(info)), options_(options) {}

  const ModeInfo& info() const { return info_; }

  // The least busy pipeline started after pipeline `newer_than` (0: any); a new one when all
  // have segments in flight and there are fewer than the maximum, or when none is newer (a
  // segment whose pipeline failed is retried on a fresh one).
  absl::StatusOr<std::shared_ptr<Pipeline>> Pick(uint64_t newer_than) {
    VERSO_RETURN_IF_ERROR(EnsurePlan());
    std::shared_ptr<Pipeline> best;
    std::vector<std::shared_ptr<Pipeline>> dead;
    uint64_t id;
    {
      absl::MutexLock lock(&mu_);
      while (true) {
        for (auto it = live_.begin(); it != live_.end();) {
          if (!(*it)->Healthy()) {
            // Killed while idle, or broken: replaced without costing a segment its retry.
            dead.push_back(std::move(*it));
            it = live_.erase(it);
            continue;
          }
          if ((*it)->id() > newer_than &&
              (best == nullptr || (*it)->in_flight() < best->in_flight())) {
            best = *it;
          }
          ++it;
        }
        // Nothing to take while pipelines up to the limit are being started: wait for them.
        // Callers that arrive together (a cold start, a burst) would otherwise each start one,
        // and eight pipelines of twelve processes share two cores worse than one.
        if (best != nullptr || starting_ == 0 ||
            static_cast<int>(live_.size()) + starting_ < MaxPipelines()) {
          break;
        }
        started_.Wait(&mu_);
      }
      bool grow = best == nullptr || (best->in_flight() > 0 &&
                                      static_cast<int>(live_.size()) + starting_ < MaxPipelines());
      if (!grow) return best;
      ++starting_;
      id = ++next_id_;
    }
    dead.clear();  // waits for their threads, outside the lock
    const Plan* plan;
    {
      absl::MutexLock lock(&plan_mu_);
      plan = plan_.get();
    }
    auto p = Pipeline::Start(plan, info_.name, id, options_->segment_timeout);
    absl::MutexLock lock(&mu_);
    --starting_;
    started_.SignalAll();
    if (!p.ok()) {
      if (best != nullptr) return best;
      return Annotate(p.status(), StrCat("starting the apertium ", info_.name, " pipeline"));
    }
    live_.push_back(*p);
    return *p;
  }

  int MaxPipelines() const { return max_pipelines_; }

  // Takes a broken pipeline out of service.
  void Remove(const std::shared_ptr<Pipeline>& p) {
    std::shared_ptr<Pipeline> victim;
    {
      absl::MutexLock lock(&mu_);
      auto it = std::find(live_.begin(), live_.end(), p);
      if (it == live_.end()) return;
      victim = std::move(*it);
      live_.erase(it);
    }
  }

 private:
  absl::Status EnsurePlan() {
    absl::MutexLock lock(&plan_mu_);
    if (plan_ != nullptr) return absl::OkStatus();
    auto plan = std::make_unique<Plan>();
    VERSO_ASSIGN_OR_RETURN(std::string command, apertium::NullFlushCommand(info_.path));
    VERSO_ASSIGN_OR_RETURN(plan->steps, apertium::PlanPipeline(command));
    for (const Step& s : plan->steps) {
      if (s.kind == Step::Kind::kHmmTagger) {
        if (plan->tagger != nullptr) return absl::InternalError("two taggers in one mode");
        VERSO_ASSIGN_OR_RETURN(plan->tagger, apertium::HmmTagger::Load(s.tagger_data));
      }
    }
    if (plan->steps.front().kind != Step::Kind::kWarmChain) {
      return absl::InternalError(StrCat("mode ", info_.name, " does not start with lt-proc"));
    }
    plan_ = std::move(plan);
    return absl::OkStatus();
  }

  const ModeInfo info_;
  const ApertiumOptions* options_;
  // Worked out once: hardware_concurrency() reads sysfs, and Pick runs for every segment.
  const int max_pipelines_ = options_->max_pipelines_per_pair > 0
                                 ? options_->max_pipelines_per_pair
                                 : std::max(1,
                                            static_cast<int>(std::thread::hardware_concurrency()) /
                                                2);
  absl::Mutex plan_mu_;
  std::unique_ptr<Plan> plan_ ABSL_GUARDED_BY(plan_mu_);
  absl::Mutex mu_;
  std::vector<std::shared_ptr<Pipeline>> live_ ABSL_GUARDED_BY(mu_);
  int starting_ ABSL_GUARDED_BY(mu_) = 0;
  absl::CondVar started_;  // signalled when a start ends (a pipeline more, or a failure)
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
};

class ApertiumEngine : public Engine {
 public:
  ApertiumEngine(const ApertiumOptions& options, std::vector<ModeInfo> modes) : options_(options) {
    for (auto& m : modes) {
      pairs_.push_back({m.source, m.target});
      std::string name = m.name;
      pools_.emplace(name, std::make_unique<ModePool>(std::move(m), &options_));
    }
  }

  const std::string& name() const override { return name_; }
  EngineKind kind() const override { return EngineKind::kBuiltin; }
  std::vector<LanguagePair> Pairs() const override { return pairs_; }

  absl::StatusOr<std::vector<Translation>> Translate(const TranslateRequest& request) override {
    ModePool* pool = FindPool(request.source_lang, request.target_lang);
    if (pool == nullptr) {
      return absl::InvalidArgumentError(StrCat("apertium has no ", request.source_lang, " -> ",
                                               request.target_lang, " pair installed"));
    }
    // NUL ends a segment in the pipelines' stream: one inside a text would break the pipeline
    // for every caller on it. The API refuses control characters before this; so does this.
    for (size_t i = 0; i < request.texts.size(); ++i) {
      if (size_t nul = request.texts[i].find('\0'); nul != std::string::npos) {
        return absl::InvalidArgumentError(
            StrCat("texts[", i, "]: control character U+0000 at byte ", nul));
      }
    }
    // Every segment goes into a pipeline at once (they stream through it one after the
    // other); a segment whose pipeline failed is tried once more on a fresh one.
    struct Segment {
      apertium::EncodedSegment enc;
      std::shared_ptr<Job> job;
      std::shared_ptr<Pipeline> pipeline;
      absl::Status status;
    };
    std::vector<Segment> segments(request.texts.size());
    for (size_t i = 0; i < segments.size(); ++i) {
      segments[i].enc = apertium::EncodeSegment(request.texts[i]);
    }
    for (int attempt = 0; attempt < 2; ++attempt) {
      std::vector<Segment*> todo;
      for (auto& s : segments) {
        if (attempt == 0 || !s.status.ok()) todo.push_back(&s);
      }
      if (todo.empty()) break;
      if (attempt > 0 && absl::Now() >= request.deadline) break;
      // A window, so that one long batch does not fill a pipeline other callers share; it is
      // refilled half a window at a time, so that segments go in together (Pipeline::Submit).
      size_t submitted = 0;
      auto submit_upto = [&](size_t upto) -> absl::Status {
        std::vector<std::pair<std::shared_ptr<Pipeline>, std::vector<std::shared_ptr<Job>>>> to;
        // One pick per pipeline to avoid (0 on the first attempt) and call: nothing counts
        // the segments of this call in flight before Submit, so every pick would be the same,
        // and each one checks the health of every process of every pipeline.
        std::vector<std::pair<uint64_t, std::shared_ptr<Pipeline>>> picked;
        for (; submitted < std::min(upto, todo.size()); ++submitted) {
          Segment* s = todo[submitted];
          uint64_t newer_than = s->pipeline != nullptr ? s->pipeline->id() : 0;
          auto known = std::find_if(picked.begin(), picked.end(),
                                    [&](const auto& p) { return p.first == newer_than; });
          if (known != picked.end()) {
            s->pipeline = known->second;
          } else {
            VERSO_ASSIGN_OR_RETURN(s->pipeline, pool->Pick(newer_than));
            picked.emplace_back(newer_than, s->pipeline);
          }
          s->job = std::make_shared<Job>();
          s->job->data = s->enc.stream;
          s->job->deadline = request.deadline;
          s->status = absl::OkStatus();
          auto it = std::find_if(to.begin(), to.end(),
                                 [&](const auto& p) { return p.first == s->pipeline; });
          if (it == to.end()) it = to.insert(to.end(), {s->pipeline, {}});
          it->second.push_back(s->job);
        }
        for (auto& [pipeline, jobs] : to) {
          if (!pipeline->Submit(jobs)) {
            for (auto& job : jobs) job->Finish(absl::UnavailableError("the pipeline broke"));
          }
        }
        return absl::OkStatus();
      };
      constexpr size_t kWindow = 128;
      VERSO_RETURN_IF_ERROR(submit_upto(kWindow));
      for (size_t i = 0; i < todo.size(); ++i) {
        Segment* s = todo[i];
        if (i % (kWindow / 2) == 0) VERSO_RETURN_IF_ERROR(submit_upto(i + kWindow));
        if (!AwaitSegment(*s->job, *s->pipeline)) {
          // Stuck: whatever holds it up holds up every segment behind it.
          s->pipeline->Break(absl::DeadlineExceededError("a segment timed out in the pipeline"));
          s->job->Finish(absl::DeadlineExceededError("a segment timed out in the pipeline"));
        }
        s->status = s->job->Result();
        if (!s->status.ok()) {
          pool->Remove(s->pipeline);
          log::Warn("apertium.pipeline_failed", {{"mode", pool->info().name},
                                                 {"attempt", attempt + 1},
                                                 {"error", s->status.message()}});
        }
      }
    }
    std::vector<Translation> out(segments.size());
    for (size_t i = 0; i < segments.size(); ++i) {
      Segment& s = segments[i];
      if (!s.status.ok()) {  // all or nothing: never a half-translated batch
        if (absl::IsDeadlineExceeded(s.status)) return s.status;
        return absl::UnavailableError(
            StrCat("the apertium ", pool->info().name, " pipeline failed: ", s.status.message()));
      }
      out[i].engine = name_;
      out[i].model = pool->info().name;
      out[i].text = apertium::DecodeSegment(s.job->data, s.enc.codes);
      out[i].unknown_words = std::move(s.job->unknown_words);
    }
    return out;
  }

  // Waits for a segment while its pipeline keeps moving. False when the caller's deadline
  // passed or nothing came out of the pipeline for the segment time-out: on a loaded machine a
  // segment may wait long behind others, and that is not a stuck pipeline.
  bool AwaitSegment(Job& job, Pipeline& pipeline) {
    while (true) {
      absl::Time stuck_at = pipeline.last_progress() + options_.segment_timeout;
      if (job.WaitUntil(std::min(job.deadline, stuck_at))) return true;
      absl::Time now = absl::Now();
      if (now >= job.deadline || now >= pipeline.last_progress() + options_.segment_timeout) {
        return false;
      }
    }
  }

  void Warm() {
    for (const auto& name : options_.warm_modes) {
      auto it = pools_.find(name);
      if (it == pools_.end()) {
        log::Warn("apertium.warm", {{"mode", name}, {"error", "no such mode installed"}});
        continue;
      }
      auto p = it->second->Pick(/*newer_than=*/0);
      if (!p.ok()) {
        log::Warn("apertium.warm", {{"mode", name}, {"error", p.status().message()}});
      }
    }
  }

 private:
  ModePool* FindPool(std::string_view source, std::string_view target) {
    // Exact tags first, then bare languages for regional requests ("es-MX" -> "es").
    auto find = [&](std::string_view s, std::string_view t) -> ModePool* {
      for (auto& [name, pool] : pools_) {
        if (pool->info().source == s && pool->info().target == t) return pool.get();
      }
      return nullptr;
    };
    if (ModePool* p = find(source, target)) return p;
    std::string bare_source = text::PrimaryLanguage(source);
    std::string bare_target = text::PrimaryLanguage(target);
    if (ModePool* p = find(source, bare_target)) return p;
    if (ModePool* p = find(bare_source, target)) return p;
    return find(bare_source, bare_target);
  }

  const std::string name_ = "apertium";
  const ApertiumOptions options_;
  std::vector<LanguagePair> pairs_;
  std::map<std::string, std::unique_ptr<ModePool>> pools_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> NewApertiumEngine(const ApertiumOptions& options) {
  IgnoreSigpipe();
  VERSO_ASSIGN_OR_RETURN(std::vector<ModeInfo> modes, apertium::DiscoverModes(options.modes_dir));
  if (modes.empty()) {
    return absl::NotFoundError(StrCat("no Apertium language pairs in ", options.modes_dir));
  }
  auto engine = std::make_unique<ApertiumEngine>(options, std::move(modes));
  engine->Warm();
  return engine;
}

}  // namespace verso::mt
