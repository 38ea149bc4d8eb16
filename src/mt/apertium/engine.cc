// The built-in engine: Apertium pipelines kept warm per language pair.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>

#include "absl/time/clock.h"
#include "common/log.h"
#include "common/parallel.h"
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

// One warm instance of a mode's pipeline. Used by one thread at a time; after a failed Run it
// is in an unknown state and must be destroyed (which kills its processes).
class Pipeline {
 public:
  static absl::StatusOr<std::unique_ptr<Pipeline>> Start(const Plan* plan) {
    auto p = std::unique_ptr<Pipeline>(new Pipeline(plan));
    p->chains_.resize(plan->steps.size());
    p->one_shots_.resize(plan->steps.size());
    for (size_t i = 0; i < plan->steps.size(); ++i) {
      const Step& step = plan->steps[i];
      if (step.kind == Step::Kind::kWarmChain) {
        VERSO_ASSIGN_OR_RETURN(p->chains_[i], Subprocess::StartChain(step.stages, kChildEnv));
      } else if (step.kind == Step::Kind::kOneShot) {
        VERSO_ASSIGN_OR_RETURN(p->one_shots_[i], Subprocess::Start(step.stages[0], kChildEnv));
      }
    }
    return p;
  }

  // False when one of its long-lived processes has died since it was last used.
  bool Healthy() {
    for (auto& c : chains_) {
      if (c != nullptr && !c->Alive()) return false;
    }
    return true;
  }

  // Translates one encoded segment; `*output` is the last stage's output.
  absl::Status Run(std::string_view input, absl::Time deadline, std::string* output,
                   std::vector<std::string>* unknown_words) {
    // A stage killed mid-segment makes the stages after it flush what they have and a null:
    // a truncated answer that looks complete. A superblank after the segment, which every
    // stage passes through in order, tells a whole answer from a truncated or stale one.
    const std::string end_mark = StrCat("[ve", ++segments_, "]");
    std::string data = StrCat(input, end_mark);
    std::string out;
    for (size_t i = 0; i < plan_->steps.size(); ++i) {
      const Step& step = plan_->steps[i];
      out.clear();
      switch (step.kind) {
        case Step::Kind::kWarmChain: {
          // lt-proc reads one character past a segment before it flushes: a newline must come
          // before the null.
          if (data.empty() || data.back() != '\n') data += '\n';
          data += '\0';
          VERSO_RETURN_IF_ERROR(chains_[i]->Exchange(data, '\0', 1, deadline, &out));
          if (out.find('\0') != out.size() - 1) {
            return absl::InternalError("the pipeline answered out of step");
          }
          out.pop_back();
          break;
        }
        case Step::Kind::kHmmTagger: {
          VERSO_ASSIGN_OR_RETURN(out, plan_->tagger->Tag(data));
          break;
        }
        case Step::Kind::kOneShot: {
          std::unique_ptr<Subprocess> p = std::move(one_shots_[i]);
          if (p == nullptr) {
            VERSO_ASSIGN_OR_RETURN(p, Subprocess::Start(step.stages[0], kChildEnv));
          }
          VERSO_RETURN_IF_ERROR(p->RunToEnd(data, deadline, &out));
          // The next segment's process loads its data while this one travels on.
          auto next = Subprocess::Start(step.stages[0], kChildEnv);
          if (next.ok()) one_shots_[i] = std::move(*next);
          break;
        }
      }
      std::string_view body(out);
      while (!body.empty() && body.back() == '\n') body.remove_suffix(1);
      if (!body.ends_with(end_mark)) {
        return absl::InternalError("the pipeline lost the end of the segment");
      }
      // The first step starts with the morphological analyser, whose output marks the words
      // it does not know.
      if (i == 0 && unknown_words != nullptr) *unknown_words = apertium::UnknownWords(out);
      data.swap(out);
    }
    data.erase(data.rfind(end_mark), end_mark.size());
    *output = std::move(data);
    return absl::OkStatus();
  }

 private:
  explicit Pipeline(const Plan* plan) : plan_(plan) {}
  const Plan* plan_;
  int64_t segments_ = 0;
  std::vector<std::unique_ptr<Subprocess>> chains_;     // per step
  std::vector<std::unique_ptr<Subprocess>> one_shots_;  // per step: started, not yet used
};

// The pipelines of one mode. Thread-safe.
class ModePool {
 public:
  ModePool(ModeInfo info, const ApertiumOptions* options)
      : info_(std::move(info)), options_(options) {}

  const ModeInfo& info() const { return info_; }

  // An idle pipeline, or a new one while there are fewer than the maximum. With `fresh`, always
  // a new one (for the retry of a segment whose pipeline failed). When all are busy, callers
  // wait in line and a released pipeline goes straight to the first of them: first come, first
  // served (no request starves under load), and no herd of waiters contending for it while it
  // idles. Retries go to the head of the line.
  absl::StatusOr<std::unique_ptr<Pipeline>> Acquire(absl::Time deadline, bool fresh = false) {
    VERSO_RETURN_IF_ERROR(EnsurePlan());
    std::unique_lock<std::mutex> lock(mu_);
    std::vector<std::unique_ptr<Pipeline>> dead;
    if (waiters_.empty()) {
      while (!fresh && !idle_.empty()) {
        auto p = std::move(idle_.back());
        idle_.pop_back();
        if (p->Healthy()) return p;
        // Killed while idle: replaced without costing the segment its retry.
        --live_;
        ++discarded_;
        dead.push_back(std::move(p));
      }
      if (fresh && live_ >= options_->max_pipelines_per_pair && !idle_.empty()) {
        // A fresh one is wanted and every place is taken: an idle pipeline gives up its place.
        dead.push_back(std::move(idle_.back()));
        idle_.pop_back();
        --live_;
      }
      if (live_ < options_->max_pipelines_per_pair) {
        ++live_;
        lock.unlock();
        dead.clear();  // kills their processes, outside the lock
        return StartReserved();
      }
    }
    Waiter w;
    w.fresh = fresh;
    if (fresh) {
      waiters_.push_front(&w);
    } else {
      waiters_.push_back(&w);
    }
    auto served = [&] { return w.handed != nullptr || w.may_start; };
    if (deadline == absl::InfiniteFuture()) {
      w.cv.wait(lock, served);
    } else if (!w.cv.wait_until(lock, absl::ToChronoTime(deadline), served)) {
      waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &w));
      return absl::DeadlineExceededError(
          StrCat("every apertium ", info_.name, " pipeline stayed busy until the deadline"));
    }
    if (w.handed != nullptr) {
      if (w.handed->Healthy()) return std::move(w.handed);
      ++discarded_;  // its place passes to the replacement
      dead.push_back(std::move(w.handed));
    }
    lock.unlock();
    dead.clear();
    return StartReserved();
  }

  void Release(std::unique_ptr<Pipeline> p) {
    std::unique_ptr<Pipeline> dead;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (waiters_.empty()) {
        idle_.push_back(std::move(p));
        return;
      }
      Waiter* w = waiters_.front();
      waiters_.pop_front();
      if (w->fresh) {
        dead = std::move(p);  // it wants a new pipeline: this one gives up its place
        w->may_start = true;
      } else {
        w->handed = std::move(p);
      }
      w->cv.notify_one();
    }
  }

  // A broken pipeline: destroyed (its processes killed) and its place freed.
  void Discard(std::unique_ptr<Pipeline> p) {
    p.reset();
    std::lock_guard<std::mutex> lock(mu_);
    ++discarded_;
    if (waiters_.empty()) {
      --live_;
      return;
    }
    Waiter* w = waiters_.front();  // the place goes to the first in line
    waiters_.pop_front();
    w->may_start = true;
    w->cv.notify_one();
  }

 private:
  struct Waiter {
    std::condition_variable cv;
    bool fresh = false;
    std::unique_ptr<Pipeline> handed;  // a released pipeline, now this waiter's
    bool may_start = false;            // or a place (counted in live_) to start one in
  };

  // Starts a pipeline in a place already counted in live_.
  absl::StatusOr<std::unique_ptr<Pipeline>> StartReserved() {
    auto p = Pipeline::Start(plan_.get());
    if (p.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      ++started_;
      return p;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (waiters_.empty()) {
      --live_;
    } else {  // let the next in line try
      Waiter* w = waiters_.front();
      waiters_.pop_front();
      w->may_start = true;
      w->cv.notify_one();
    }
    return Annotate(p.status(), StrCat("starting the apertium ", info_.name, " pipeline"));
  }

  absl::Status EnsurePlan() {
    std::lock_guard<std::mutex> lock(plan_mu_);
    if (plan_ != nullptr) return absl::OkStatus();
    auto plan = std::make_unique<Plan>();
    VERSO_ASSIGN_OR_RETURN(std::string command, apertium::NullFlushCommand(info_.path));
    VERSO_ASSIGN_OR_RETURN(plan->steps, apertium::PlanPipeline(command));
    for (size_t i = 0; i < plan->steps.size(); ++i) {
      const Step& s = plan->steps[i];
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
  std::mutex plan_mu_;
  std::unique_ptr<Plan> plan_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Pipeline>> idle_;
  std::deque<Waiter*> waiters_;
  int live_ = 0;
  int64_t started_ = 0;
  int64_t discarded_ = 0;
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
    std::vector<Translation> out(request.texts.size());
    std::vector<absl::Status> errors(request.texts.size());
    auto one = [&](size_t i) {
      auto t = TranslateOne(pool, request.texts[i], request.deadline);
      if (t.ok()) {
        out[i] = std::move(*t);
      } else {
        errors[i] = t.status();
      }
    };
    int threads =
        std::min<int>(static_cast<int>(request.texts.size()), options_.max_pipelines_per_pair);
    if (threads <= 1) {
      for (size_t i = 0; i < request.texts.size(); ++i) one(i);
    } else {
      ParallelFor(request.texts.size(), threads, [&](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) one(i);
      });
    }
    for (const auto& e : errors) {
      if (!e.ok()) return e;  // all or nothing: never a half-translated batch
    }
    return out;
  }

  void Warm() {
    for (const auto& name : options_.warm_modes) {
      auto it = pools_.find(name);
      if (it == pools_.end()) {
        log::Warn("apertium.warm", {{"mode", name}, {"error", "no such mode installed"}});
        continue;
      }
      auto p = it->second->Acquire(absl::Now() + absl::Seconds(60));
      if (p.ok()) {
        it->second->Release(std::move(*p));
      } else {
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

  absl::StatusOr<Translation> TranslateOne(ModePool* pool, const std::string& markup,
                                           absl::Time request_deadline) {
    apertium::EncodedSegment enc = apertium::EncodeSegment(markup);
    Translation t;
    t.engine = name_;
    t.model = pool->info().name;
    absl::Status last;
    // A pipeline that crashes or hangs is replaced, and the segment tried once more on the
    // fresh one.
    for (int attempt = 0; attempt < 2; ++attempt) {
      absl::Time deadline = std::min(request_deadline, absl::Now() + options_.segment_timeout);
      auto p = pool->Acquire(deadline, /*fresh=*/attempt > 0);
      if (!p.ok()) return p.status();
      std::string raw;
      absl::Status s = (*p)->Run(enc.stream, deadline, &raw, &t.unknown_words);
      if (s.ok()) {
        pool->Release(std::move(*p));
        t.text = apertium::DecodeSegment(raw, enc.codes);
        return t;
      }
      pool->Discard(std::move(*p));
      log::Warn("apertium.pipeline_failed",
                {{"mode", pool->info().name}, {"attempt", attempt + 1}, {"error", s.message()}});
      last = s;
      if (absl::Now() >= request_deadline) break;
    }
    if (absl::IsDeadlineExceeded(last)) return last;
    return absl::UnavailableError(
        StrCat("the apertium ", pool->info().name, " pipeline failed: ", last.message()));
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
