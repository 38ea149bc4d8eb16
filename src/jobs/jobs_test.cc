// Jobs on real components: SQLite, the TM service, the built-in Apertium engine behind the
// router, the builtin QE scorer; webhooks to a local HTTP server; a fake clock for leases and
// retry schedules.
#include "jobs/jobs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cache/redis.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/ids.h"
#include "common/strings.h"
#include "jobs/internal.h"
#include "mt/mt.h"
#include "mt/translate.h"
#include "qe/qe.h"
#include "resilience/resilience.h"
#include "tests/fake_http_server.h"
#include "tests/process.h"
#include "tm/tm.h"

namespace verso::jobs {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Json = nlohmann::json;

class JobsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int n = 0;
    dir_ = StrCat(::testing::TempDir(), "/jobs_", getpid(), "_", n++);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto db = storage::OpenSqlite(dir_ + "/verso.db", storage::SqliteOptions{});
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    tm_ = std::make_unique<tm::TmService>(db_.get(), &clock_, &ids_);
    ASSERT_TRUE(tm_->Load().ok());
    mt::ApertiumOptions ao;
    ao.max_pipelines_per_pair = 1;
    auto apertium = mt::NewApertiumEngine(ao);
    ASSERT_TRUE(apertium.ok()) << apertium.status();
    std::vector<std::unique_ptr<mt::Engine>> engines;
    engines.push_back(std::move(*apertium));
    mt::RouterOptions ro;
    ro.default_chain = {"apertium"};
    router_ = std::make_unique<mt::Router>(std::move(engines), ro, &clock_, &degradation_);
    translate_ = std::make_unique<mt::TranslateService>(tm_.get(), &db_->policies(), router_.get(),
                                                        &degradation_, &clock_);
    auto scorer = qe::NewBuiltinScorer({});
    ASSERT_TRUE(scorer.ok());
    scorer_ = std::move(*scorer);
    qe_ = std::make_unique<qe::QeService>(scorer_.get(), nullptr, qe::ServiceOptions{}, &clock_,
                                          &degradation_);
    reviewer_ =
        std::make_unique<qe::Reviewer>(qe_.get(), nullptr, tm_.get(), router_.get(), &degradation_);
    // The tests' receivers listen on 127.0.0.1: the operator's allow-list lets them in.
    AddressPolicy local = *AddressPolicy::Parse("127.0.0.1/32");
    sender_ = NewHttpWebhookSender(local);
    ServiceOptions o;
    o.webhook_addresses = local;
    o.chunk = 3;
    o.lease = absl::Seconds(30);
    o.webhook_secret = "server-secret";
    o.max_attempts = 2;
    o.follow_wait = absl::Milliseconds(100);
    o.follow_poll = absl::Milliseconds(5);
    service_ = std::make_unique<JobService>(db_.get(), tm_.get(), translate_.get(), reviewer_.get(),
                                            &degradation_, sender_.get(), &clock_, &ids_, o);
    auto store = tm_->CreateStore("acme", "main", "en", "es");
    ASSERT_TRUE(store.ok());
    store_ = store->record.id;
    std::vector<storage::SegmentRecord> segs(2);
    segs[0].source = "The file was saved.";
    segs[0].target = "El fichero se ha guardado.";
    segs[1].source = "Open the window.";
    segs[1].target = "Abra la ventana.";
    ASSERT_TRUE(tm_->AddSegments("acme", store_, segs, "ana").ok());
  }
  void TearDown() override {
    service_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Runs tasks until none is runnable now; returns how many ran.
  int Drain(const std::string& worker = "w1") {
    int ran = 0;
    while (true) {
      auto r = service_->RunOnce(worker);
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok() || !*r) return ran;
      ++ran;
    }
  }

  SubmitRequest Segments(std::vector<std::string> segments) {
    SubmitRequest r;
    r.tenant = "acme";
    r.user = "ana";
    r.source_lang = "en";
    r.target_langs = {"es"};
    r.tm_store = store_;
    r.segments = std::move(segments);
    return r;
  }

  std::string dir_;
  FakeClock clock_;
  IdGenerator ids_{clock_, 7};
  resilience::DegradationController degradation_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<tm::TmService> tm_;
  std::unique_ptr<mt::Router> router_;
  std::unique_ptr<mt::TranslateService> translate_;
  std::unique_ptr<qe::Scorer> scorer_;
  std::unique_ptr<qe::QeService> qe_;
  std::unique_ptr<qe::Reviewer> reviewer_;
  std::unique_ptr<WebhookSender> sender_;
  std::unique_ptr<JobService> service_;
  std::string store_;
};

// The wrong built-in translations ("Salvar la lima antes de cerrar.") scored 86-91 and
// were approved at the default threshold. Apertium's scores are not calibrated in any pair
// (models/qe-calibration.json): by default they all go to a person, and the review says why.
TEST_F(JobsTest, UncalibratedMachineTranslationsAreNeverApprovedByDefault) {
  const std::vector<std::string> texts = {"Save the file before closing.", "Open the file",
                                          "Click OK to continue."};
  auto job = service_->Submit(Segments(texts));
  ASSERT_TRUE(job.ok()) << job.status();
  Drain();
  EXPECT_EQ(service_->Segments("acme", job->job.id, "es", "pretranslated").status().message(),
            "state: \"pretranslated\" is not one of new, analysed, mt_pending, translated, "
            "approved, awaiting, confirmed, reviewed");
  auto segs = service_->Segments("acme", job->job.id, "es", "");
  ASSERT_EQ(segs->size(), 3u);
  for (const auto& s : *segs) {
    EXPECT_EQ(storage::EnumName(s.state), "awaiting") << s.source << " -> " << s.target;
    Json qe = Json::parse(s.review)["qe"];
    EXPECT_EQ(qe["threshold"], 101) << s.review;
    EXPECT_EQ(qe["calibration"]["engine"], "apertium");
    EXPECT_TRUE(qe["calibration"]["threshold"].is_null());
    EXPECT_EQ(qe["calibration"]["data"], "flores101-devtest");
  }
  // A threshold the submission asks for is the submitter's call, in every pair.
  SubmitRequest asked = Segments(texts);
  asked.qe_threshold = 0;
  auto job2 = service_->Submit(asked);
  ASSERT_TRUE(job2.ok()) << job2.status();
  Drain();
  auto info = service_->Get("acme", job2->job.id);
  EXPECT_EQ(info->counts.approved, 3);
}

TEST_F(JobsTest, SegmentsGoThroughTmMtAndReview) {
  auto job =
      service_->Submit(Segments({"The file was saved.", "The house is red.", "The file was saved.",
                                 "Open the windows.", "The dog eats bread."}));
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(storage::EnumName(job->job.status), "queued");
  EXPECT_EQ(job->counts.segments, 5);
  // analyse (which pre-translates too, and runs the MT task beside it once its first chunk of 3
  // has committed segments for MT), review.
  EXPECT_EQ(Drain(), 2);
  auto tasks = service_->Tasks("acme", job->job.id);
  ASSERT_EQ(tasks->size(), 3u);
  EXPECT_EQ(storage::EnumName((*tasks)[1].kind), "mt");
  EXPECT_EQ((*tasks)[1].lease_owner, "w1/mt");
  EXPECT_EQ(storage::EnumName((*tasks)[2].kind), "review");
  auto info = service_->Get("acme", job->job.id);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->counts.tm, 2);
  EXPECT_EQ(info->counts.mt, 3);
  EXPECT_EQ(info->counts.approved + info->counts.awaiting, 5);
  for (const Stage& s : info->stages) {
    if (s.name != "post_edit") {
      EXPECT_EQ(s.state, "done") << s.name;
    }
  }
  auto segs = service_->Segments("acme", job->job.id, "es", "");
  ASSERT_EQ(segs->size(), 5u);
  EXPECT_EQ(storage::EnumName((*segs)[0].origin), "tm");
  EXPECT_EQ((*segs)[0].target, "El fichero se ha guardado.");
  EXPECT_EQ(storage::EnumName((*segs)[0].state), "approved");
  EXPECT_EQ(storage::EnumName((*segs)[1].origin), "mt");
  EXPECT_EQ((*segs)[1].target, "La casa es roja.");
  EXPECT_EQ((*segs)[1].engine, "apertium");
  EXPECT_GE((*segs)[1].qe_score, 0);
  EXPECT_TRUE((*segs)[2].repetition);
  EXPECT_EQ((*segs)[3].tm_score, 66);  // "windows" vs "window": a fuzzy match, machine-translated
  EXPECT_EQ(storage::EnumName((*segs)[3].origin), "mt");
  // The analysis report: bands and GMX-V words.
  auto analysis = service_->GetAnalysis("acme", job->job.id);
  ASSERT_TRUE(analysis.ok());
  ASSERT_EQ(analysis->size(), 1u);
  std::map<std::string, int64_t> seg_by_band, words_by_band;
  for (const auto& b : (*analysis)[0].bands) {
    seg_by_band[b.band] = b.segments;
    words_by_band[b.band] = b.words;
  }
  EXPECT_EQ(seg_by_band["repetitions"], 1);
  EXPECT_EQ(seg_by_band["100"], 1);
  EXPECT_EQ(seg_by_band["50-74"], 1);
  EXPECT_EQ(seg_by_band["no-match"], 2);
  EXPECT_EQ(words_by_band["repetitions"], 4);
  EXPECT_EQ((*analysis)[0].total.words, 19);
  EXPECT_EQ((*analysis)[0].total.segments, 5);
}

// A TM match is reviewed where the analysis takes it, and written once: after the analysis task
// alone it is approved (or waits for a person when QA finds an error), its review recorded; the
// review stage that follows has nothing of it left.
TEST_F(JobsTest, TmMatchesAreReviewedByTheAnalysis) {
  std::vector<storage::SegmentRecord> bad(1);
  bad[0].source = "Close the 3 doors.";
  bad[0].target = "Cierre las 4 puertas.";  // QA: the number differs
  ASSERT_TRUE(tm_->AddSegments("acme", store_, bad, "ana").ok());
  auto job = service_->Submit(
      Segments({"The file was saved.", "The house is red.", "Close the 3 doors."}));
  ASSERT_TRUE(job.ok()) << job.status();
  auto ran = service_->RunOnce("w1");  // the analysis
  ASSERT_TRUE(ran.ok() && *ran);
  auto segs = service_->Segments("acme", job->job.id, "es", "");
  ASSERT_TRUE(segs.ok()) << segs.status();
  ASSERT_EQ(segs->size(), 3u);
  EXPECT_EQ(storage::EnumName((*segs)[0].state), "approved");
  EXPECT_NE((*segs)[0].review.find("\"qa\":[]"), std::string::npos) << (*segs)[0].review;
  EXPECT_EQ(storage::EnumName((*segs)[1].state), "mt_pending");
  EXPECT_EQ(storage::EnumName((*segs)[2].state), "awaiting");
  EXPECT_NE((*segs)[2].review.find("\"check\":\"numbers\""), std::string::npos)
      << (*segs)[2].review;
  EXPECT_EQ(Drain(), 2);  // mt, review
  segs = service_->Segments("acme", job->job.id, "es", "");
  EXPECT_EQ(storage::EnumName((*segs)[0].state), "approved");
  EXPECT_EQ(storage::EnumName((*segs)[1].origin), "mt");
  EXPECT_EQ(storage::EnumName((*segs)[2].state), "awaiting");
}

// The workbench's edits: applied once per id, refused (nothing written) when made on a version
// someone has changed since.
TEST_F(JobsTest, EditsCarryAnIdAndTheVersionTheyWereMadeOn) {
  SubmitRequest r = Segments({"The house is red.", "The cat sleeps."});
  r.qe_threshold = 101;
  auto job = service_->Submit(r);
  ASSERT_TRUE(job.ok()) << job.status();
  Drain();
  const std::string id = job->job.id;
  auto first = service_->SaveDraft("acme", id, "es", 0, "La casa", "ana", Edit{"ed_a", 0});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->version, 1);
  EXPECT_EQ(first->edit_id, "ed_a");
  // The same edit again (its answer was lost): not applied twice.
  auto again = service_->SaveDraft("acme", id, "es", 0, "La casa", "ana", Edit{"ed_a", 0});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->version, 1);
  // Bea's edit made on version 0: a conflict, and Ana's draft stays.
  auto stale = service_->SaveDraft("acme", id, "es", 0, "La casita", "bea", Edit{"ed_b", 0});
  EXPECT_TRUE(IsEditConflict(stale.status())) << stale.status();
  EXPECT_EQ(stale.status().message(),
            "segment es/0 changed since version 0 (now version 1, by ana): nothing was written; "
            "keep one text or merge them and send again");
  auto confirmed_stale =
      service_->Confirm("acme", id, "es", 0, "La casita.", "bea", false, Edit{"ed_c", 0});
  EXPECT_TRUE(IsEditConflict(confirmed_stale.status())) << confirmed_stale.status();
  auto now = service_->Segment("acme", id, "es", 0);
  EXPECT_EQ(now->segment.draft, "La casa");
  EXPECT_EQ(storage::EnumName(now->segment.state), "awaiting");
  // On the version she now knows, Bea confirms; a resend of that confirm changes nothing.
  auto confirmed =
      service_->Confirm("acme", id, "es", 0, "La casita.", "bea", false, Edit{"ed_d", 1});
  ASSERT_TRUE(confirmed.ok()) << confirmed.status();
  EXPECT_EQ(confirmed->version, 2);
  auto resent = service_->Confirm("acme", id, "es", 0, "La casita.", "bea", false, Edit{"ed_d", 1});
  ASSERT_TRUE(resent.ok()) << resent.status();
  EXPECT_EQ(resent->version, 2);
  EXPECT_EQ(service_->Get("acme", id)->counts.confirmed, 1);
  // Without an id or a version (API clients as before): last write wins, versions still count.
  auto plain = service_->SaveDraft("acme", id, "es", 1, "El gato", "ana");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->version, 1);
  EXPECT_TRUE(absl::IsInvalidArgument(
      service_->SaveDraft("acme", id, "es", 1, "x", "ana", Edit{"no spaces", 1}).status()));
  // What QA and the glossary say of a text, nothing written.
  auto check = service_->Check("acme", id, "es", 1, "El gato 7 duerme.");
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_NE(check->find("numbers not in the source: 7"), std::string::npos) << *check;
  EXPECT_EQ(service_->Segment("acme", id, "es", 1)->segment.draft, "El gato");
}

TEST_F(JobsTest, PostEditsAreConfirmedIntoTheTmAndCompleteTheJobWithAWebhook) {
  std::vector<test::FakeRequest> received;
  std::mutex mu;
  test::FakeHttpServer hook([&](const test::FakeRequest& r) {
    std::lock_guard<std::mutex> lock(mu);
    received.push_back(r);
    return test::FakeResponse{204, {}, ""};
  });
  SubmitRequest r = Segments({"The file was saved.", "The house is red.", "The cat sleeps."});
  r.qe_threshold = 101;  // nothing machine-translated is trusted
  r.webhook_url = StrCat("http://127.0.0.1:", hook.port(), "/hooks/verso");
  auto job = service_->Submit(r);
  ASSERT_TRUE(job.ok()) << job.status();
  Drain();
  auto info = service_->Get("acme", job->job.id);
  EXPECT_EQ(storage::EnumName(info->job.status), "post_editing");
  EXPECT_EQ(info->counts.awaiting, 2);
  auto awaiting = service_->Awaiting("acme", 10);
  ASSERT_EQ(awaiting->size(), 2u);
  EXPECT_EQ((*awaiting)[0].index, 1);
  // A draft, then the confirmation of the draft; the other confirmed as machine-translated.
  auto draft = service_->SaveDraft("acme", job->job.id, "es", 1, "La casa es roja!", "bea");
  ASSERT_TRUE(draft.ok()) << draft.status();
  auto c1 = service_->Confirm("acme", job->job.id, "es", 1, "La casa es rojísima.", "bea");
  ASSERT_TRUE(c1.ok()) << c1.status();
  EXPECT_EQ(storage::EnumName(c1->origin), "human");
  EXPECT_EQ(storage::EnumName(c1->state), "confirmed");
  EXPECT_EQ(storage::EnumName(service_->Get("acme", job->job.id)->job.status), "post_editing");
  // Written to the TM at once: the next lookup finds it.
  tm::LookupOptions lo;
  auto m = tm_->Lookup("acme", store_, "The house is red.", lo);
  ASSERT_TRUE(m.ok());
  ASSERT_FALSE(m->matches.empty());
  EXPECT_EQ(m->matches[0].score, 100);
  EXPECT_EQ(m->matches[0].segment.target, "La casa es rojísima.");
  auto c2 = service_->Confirm("acme", job->job.id, "es", 2, std::nullopt, "bea");
  ASSERT_TRUE(c2.ok()) << c2.status();
  EXPECT_EQ(storage::EnumName(c2->origin), "mt");
  info = service_->Get("acme", job->job.id);
  EXPECT_EQ(storage::EnumName(info->job.status), "completed");
  EXPECT_EQ(info->counts.confirmed, 2);
  EXPECT_TRUE(absl::IsFailedPrecondition(
      service_->SaveDraft("acme", job->job.id, "es", 1, "x", "bea").status()));
  // The webhook: one delivery, signed with the tenant's secret.
  EXPECT_EQ(Drain(), 1);
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].target, "/hooks/verso");
  EXPECT_EQ(received[0].Header("x-verso-event"), "job.completed");
  EXPECT_EQ(received[0].Header("x-verso-signature"),
            StrCat("sha256=", HmacSha256Hex(service_->WebhookSecret("acme"), received[0].body)));
  Json body = Json::parse(received[0].body);
  EXPECT_EQ(body["job"]["id"], job->job.id);
  EXPECT_EQ(body["job"]["status"], "completed");
  auto deliveries = service_->Deliveries("acme", job->job.id);
  ASSERT_EQ(deliveries->size(), 1u);
  EXPECT_EQ((*deliveries)[0].http_status, 204);
  // The segments download: every segment confirmed or approved.
  auto out = service_->Download("acme", job->job.id, "es");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->file_name, StrCat(job->job.id, ".es.json"));
  EXPECT_EQ(Json::parse(out->bytes)["segments"],
            Json({"El fichero se ha guardado.", "La casa es rojísima.", c2->target}));
}

TEST_F(JobsTest, AWebhookThatFailsThreeTimesIsRetriedOnTheSpecsSchedule) {
  std::atomic<int> calls{0};
  test::FakeHttpServer hook([&](const test::FakeRequest&) {
    return ++calls <= 3 ? test::FakeResponse{503, {}, "busy"} : test::FakeResponse{200, {}, "ok"};
  });
  SubmitRequest r = Segments({"The file was saved."});
  r.webhook_url = StrCat("http://127.0.0.1:", hook.port(), "/h");
  auto job = service_->Submit(r);
  ASSERT_TRUE(job.ok());
  const absl::Time t0 = clock_.Now();
  Drain();  // the stages, then the first delivery attempt (503)
  EXPECT_EQ(storage::EnumName(service_->Get("acme", job->job.id)->job.status), "completed");
  EXPECT_EQ(calls.load(), 1);
  // Nothing before the first retry is due; each retry runs once its time has come.
  // (Due between 0.9 and 1.1 times the delay: the ±10 % jitter.)
  const absl::Duration schedule[] = {absl::Minutes(1), absl::Minutes(5), absl::Minutes(30)};
  std::vector<absl::Time> attempted = {t0};
  for (int k = 0; k < 3; ++k) {
    clock_.Advance(schedule[k] * 0.89);
    EXPECT_EQ(Drain(), 0) << k;
    clock_.Advance(schedule[k] * 0.22);
    EXPECT_EQ(Drain(), 1) << k;
    EXPECT_EQ(calls.load(), k + 2);
    attempted.push_back(clock_.Now());
  }
  auto d = service_->Deliveries("acme", job->job.id);
  ASSERT_EQ(d->size(), 4u);
  std::vector<int> statuses, attempts;
  for (const auto& x : *d) {
    statuses.push_back(x.http_status);
    attempts.push_back(x.attempt);
  }
  EXPECT_THAT(statuses, ElementsAre(503, 503, 503, 200));
  EXPECT_THAT(attempts, ElementsAre(1, 2, 3, 4));
  for (size_t k = 0; k < 4; ++k) EXPECT_EQ((*d)[k].at, attempted[k]) << k;  // the log's times
  auto tasks = service_->Tasks("acme", job->job.id);
  EXPECT_EQ(storage::EnumName(tasks->back().kind), "webhook");
  EXPECT_EQ(storage::EnumName(tasks->back().state), "done");
  clock_.Advance(absl::Hours(24));
  EXPECT_EQ(Drain(), 0);
  EXPECT_EQ(calls.load(), 4);
}

// A segment an earlier version analysed without pre-translating it (its analysis task was
// interrupted there) still goes through a pretranslate task of its own.
TEST_F(JobsTest, ASegmentAnalysedByAnEarlierVersionIsStillPretranslated) {
  auto job = service_->Submit(
      Segments({"The file was saved.", "The house is red.", "The file was saved."}));
  ASSERT_TRUE(job.ok()) << job.status();
  auto segs = db_->jobs().GetJobSegments(job->job.id, "es");
  ASSERT_TRUE(segs.ok());
  storage::JobChange legacy;
  legacy.segments.push_back((*segs)[0]);
  legacy.segments[0].state = storage::SegmentState::kAnalysed;
  legacy.segments[0].tm_score = 100;
  legacy.segments[0].tm_target = "El fichero se ha guardado.";
  ASSERT_TRUE(db_->jobs().Apply(legacy).ok());
  EXPECT_EQ(Drain(), 4);  // analyse, pretranslate, mt, review
  auto tasks = service_->Tasks("acme", job->job.id);
  ASSERT_EQ(tasks->size(), 4u);
  EXPECT_EQ(storage::EnumName((*tasks)[1].kind), "pretranslate");
  auto info = service_->Get("acme", job->job.id);
  EXPECT_EQ(info->counts.tm, 2);
  EXPECT_EQ(info->counts.mt, 1);
  for (const Stage& s : info->stages) {
    if (s.name != "post_edit") EXPECT_EQ(s.state, "done") << s.name;
  }
  auto done = service_->Segments("acme", job->job.id, "es", "");
  ASSERT_EQ(done->size(), 3u);
  EXPECT_EQ((*done)[0].target, "El fichero se ha guardado.");
  EXPECT_EQ(storage::EnumName((*done)[0].origin), "tm");
  EXPECT_EQ(storage::EnumName((*done)[0].state), "approved");
}

TEST_F(JobsTest, AnExpiredLeaseIsRunAgainAndNothingIsDoneTwice) {
  auto job = service_->Submit(Segments({"The house is red.", "The cat sleeps.", "The dog runs.",
                                        "The sun shines.", "The car is fast."}));
  ASSERT_TRUE(job.ok());
  // A worker takes the first task and dies without a word.
  auto lost = db_->jobs().LeaseTask("dead-worker", clock_.Now(), clock_.Now() + absl::Seconds(30));
  ASSERT_TRUE(lost.ok());
  EXPECT_EQ(Drain("w2"), 0);  // still leased
  clock_.Advance(absl::Seconds(31));
  EXPECT_EQ(Drain("w2"), 2);  // the analysis (with MT beside it), the review
  auto tasks = service_->Tasks("acme", job->job.id);
  ASSERT_EQ(tasks->size(), 3u);
  EXPECT_EQ((*tasks)[0].attempts, 2);
  EXPECT_EQ((*tasks)[0].lease_owner, "w2");
  // The dead worker's late commit is refused.
  storage::JobChange late;
  late.finish_task = lost->id;
  late.finish_owner = "dead-worker";
  EXPECT_TRUE(absl::IsAborted(db_->jobs().Apply(late)));
  auto segs = service_->Segments("acme", job->job.id, "es", "");
  ASSERT_EQ(segs->size(), 5u);
  for (const auto& s : *segs) EXPECT_NE(s.target, "") << s.index;
}

// The MT task follows the analysis (queued on its first committed chunk). Here the analysis
// has committed two segments for MT and stalls (its worker died): the MT task translates those
// two, waits for more in vain and ends without queueing the review. The analysis, taken over,
// does the rest and queues MT again, whose task queues the one review.
TEST_F(JobsTest, AnMtTaskThatOutlivesTheAnalysisLeavesTheRestToTheNextOne) {
  auto job = service_->Submit(Segments({"The house is red.", "The cat sleeps.", "The dog runs.",
                                        "The file was saved.", "The car is fast."}));
  ASSERT_TRUE(job.ok()) << job.status();
  auto stalled =
      db_->jobs().LeaseTask("dead-worker", clock_.Now(), clock_.Now() + absl::Seconds(30));
  ASSERT_TRUE(stalled.ok()) << stalled.status();
  ASSERT_EQ(storage::EnumName(stalled->kind), "analyse");
  auto segs = db_->jobs().GetJobSegments(job->job.id, "es");
  ASSERT_TRUE(segs.ok());
  storage::JobChange first_chunk;  // what the analysis committed before it stalled
  for (int i : {0, 1}) {
    first_chunk.segments.push_back((*segs)[i]);
    first_chunk.segments.back().state = storage::SegmentState::kMtPending;
  }
  storage::TaskRecord mt;
  mt.job_id = job->job.id;
  mt.kind = storage::TaskKind::kMt;
  mt.target_lang = "es";
  mt.run_after = mt.created_at = clock_.Now();
  first_chunk.enqueue.push_back(mt);
  ASSERT_TRUE(db_->jobs().Apply(first_chunk).ok());

  EXPECT_EQ(Drain("w2"), 1);  // the MT task alone
  auto tasks = service_->Tasks("acme", job->job.id);
  ASSERT_EQ(tasks->size(), 2u);
  EXPECT_EQ(storage::EnumName((*tasks)[1].state), "done");
  auto now = service_->Segments("acme", job->job.id, "es", "");
  ASSERT_EQ(now->size(), 5u);
  EXPECT_EQ((*now)[0].target, "La casa es roja.");
  EXPECT_EQ(storage::EnumName((*now)[0].state), "awaiting");  // reviewed with its chunk
  EXPECT_EQ((*now)[1].engine, "apertium");
  for (int i : {2, 3, 4}) EXPECT_EQ(storage::EnumName((*now)[i].state), "new") << i;

  clock_.Advance(absl::Seconds(31));
  EXPECT_EQ(Drain("w2"), 3);  // the analysis taken over, MT, review
  tasks = service_->Tasks("acme", job->job.id);
  ASSERT_EQ(tasks->size(), 4u);
  std::vector<std::string> kinds;
  for (const auto& t : *tasks) {
    kinds.push_back(std::string(storage::EnumName(t.kind)));
    EXPECT_EQ(storage::EnumName(t.state), "done") << t.id;
  }
  EXPECT_THAT(kinds, ElementsAre("analyse", "mt", "mt", "review"));
  auto info = service_->Get("acme", job->job.id);
  EXPECT_EQ(info->counts.tm, 1);
  EXPECT_EQ(info->counts.mt, 4);
  EXPECT_EQ(info->counts.approved + info->counts.awaiting, 5);
  for (const Stage& s : info->stages) {
    if (s.name != "post_edit") EXPECT_EQ(s.state, "done") << s.name;
  }
}

// An analysis that ends while an MT task is open queues no second one: that task, taken over
// here, translates everything and queues the review.
TEST_F(JobsTest, AnAnalysisThatEndsWhileMtIsOpenQueuesNoSecondMtTask) {
  auto job = service_->Submit(Segments({"The house is red.", "The cat sleeps.", "The dog runs.",
                                        "The file was saved.", "The car is fast."}));
  ASSERT_TRUE(job.ok()) << job.status();
  storage::TaskRecord mt;
  mt.job_id = job->job.id;
  mt.kind = storage::TaskKind::kMt;
  mt.target_lang = "es";
  mt.run_after = mt.created_at = clock_.Now();
  storage::JobChange queue;
  queue.enqueue.push_back(mt);
  ASSERT_TRUE(db_->jobs().Apply(queue).ok());
  const absl::Time until = clock_.Now() + absl::Seconds(30);
  auto a = db_->jobs().LeaseTask("dead-1", clock_.Now(), until);
  auto m = db_->jobs().LeaseTask("dead-2", clock_.Now(), until);
  ASSERT_TRUE(a.ok() && m.ok());
  ASSERT_EQ(storage::EnumName(a->kind), "analyse");
  ASSERT_EQ(storage::EnumName(m->kind), "mt");
  clock_.Advance(absl::Seconds(31));
  EXPECT_EQ(Drain("w2"), 3);  // analyse, mt, review
  auto tasks = service_->Tasks("acme", job->job.id);
  ASSERT_EQ(tasks->size(), 3u);
  EXPECT_EQ(storage::EnumName((*tasks)[2].kind), "review");
  auto info = service_->Get("acme", job->job.id);
  EXPECT_EQ(info->counts.mt, 4);
  EXPECT_EQ(info->counts.approved + info->counts.awaiting, 5);
}

// Two workers: MT runs beside the analysis of a job of many chunks; every segment is translated
// once and reviewed, and one review task ends the stages.
TEST_F(JobsTest, TwoWorkersOverlapTheAnalysisAndMtAndLoseNothing) {
  std::vector<std::string> texts;
  for (int i = 0; i < 40; ++i) {
    texts.push_back(i % 4 == 0 ? "The file was saved." : StrCat("The house ", i, " is red."));
  }
  auto job = service_->Submit(Segments(texts));
  ASSERT_TRUE(job.ok()) << job.status();
  service_->Start(2);
  std::string status;
  for (int i = 0; i < 3000; ++i) {
    auto info = service_->Get("acme", job->job.id);
    ASSERT_TRUE(info.ok());
    status = storage::EnumName(info->job.status);
    if (status != "queued" && status != "running") break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  service_->Stop();
  EXPECT_EQ(status, "post_editing");
  auto tasks = service_->Tasks("acme", job->job.id);
  int reviews = 0;
  std::vector<std::string> mt_owners;
  for (const auto& t : *tasks) {
    EXPECT_EQ(storage::EnumName(t.state), "done") << t.id;
    reviews += t.kind == storage::TaskKind::kReview;
    if (t.kind == storage::TaskKind::kMt) mt_owners.push_back(t.lease_owner);
  }
  EXPECT_EQ(reviews, 1);
  // One MT task, run beside the analysis by the analysis's worker (queued on its first chunk).
  ASSERT_EQ(mt_owners.size(), 1u);
  EXPECT_THAT(mt_owners[0], ::testing::EndsWith("/mt"));
  auto segs = service_->Segments("acme", job->job.id, "es", "");
  ASSERT_EQ(segs->size(), 40u);
  for (const auto& s : *segs) {
    EXPECT_EQ(storage::EnumName(s.origin), s.index % 4 == 0 ? "tm" : "mt") << s.index;
    EXPECT_EQ(s.target, s.index % 4 == 0 ? std::string("El fichero se ha guardado.")
                                         : StrCat("La casa ", s.index, " es rojo."))
        << s.index;
    EXPECT_TRUE(s.state == storage::SegmentState::kApproved ||
                s.state == storage::SegmentState::kAwaiting)
        << s.index;
  }
}

// A segment no engine can take (here: bytes stored before submissions were checked as they
// are now) fails alone: the others are translated, it goes to post-editing with the reason,
// and the engine's breaker never moves.
TEST_F(JobsTest, ASegmentNoEngineCanTakeFailsAlone) {
  SubmitRequest r = Segments({"The house is red.", "The cat sleeps.", "The dog runs."});
  r.qe_threshold = 101;  // nothing auto-approved: every segment ends awaiting a post-editor
  auto job = service_->Submit(r);
  ASSERT_TRUE(job.ok()) << job.status();
  auto stored = db_->jobs().GetJobSegment(job->job.id, "es", 1);
  ASSERT_TRUE(stored.ok());
  storage::JobChange corrupt;
  corrupt.segments.push_back(*stored);
  corrupt.segments[0].source = "The cat \xff sleeps.";
  ASSERT_TRUE(db_->jobs().Apply(corrupt).ok());
  Drain();
  EXPECT_EQ(storage::EnumName(service_->Get("acme", job->job.id)->job.status), "post_editing");
  auto segs = service_->Segments("acme", job->job.id, "es", "");
  ASSERT_EQ(segs->size(), 3u);
  EXPECT_EQ((*segs)[0].target, "La casa es roja.");
  EXPECT_EQ((*segs)[2].engine, "apertium");
  EXPECT_EQ((*segs)[1].target, "");
  EXPECT_EQ(storage::EnumName((*segs)[1].state), "awaiting");
  Json review = Json::parse((*segs)[1].review);
  EXPECT_EQ(review["mt_error"], "segments[0]: not valid UTF-8");
  EXPECT_EQ(router_->Engines()[0].breaker, resilience::BreakerState::kClosed);
  EXPECT_EQ(router_->Engines()[0].failures, 0);
}

// Input that kills the worker running it must not kill every worker after it: the second
// worker to die under a task dead-letters it, and the job fails saying why.
TEST_F(JobsTest, ATaskThatKilledItsWorkerTwiceIsDeadLettered) {
  auto job = service_->Submit(Segments({"The house is red."}));
  ASSERT_TRUE(job.ok());
  for (int crash = 0; crash < 2; ++crash) {
    auto lost = db_->jobs().LeaseTask(StrCat("crashing-worker-", crash), clock_.Now(),
                                      clock_.Now() + absl::Seconds(30));
    ASSERT_TRUE(lost.ok()) << lost.status();
    EXPECT_EQ(lost->crashes, crash);
    clock_.Advance(absl::Seconds(31));  // the worker died: its lease runs out
  }
  EXPECT_EQ(Drain("w2"), 1);  // the third lease sees two crashes: nothing runs
  auto info = service_->Get("acme", job->job.id);
  EXPECT_EQ(storage::EnumName(info->job.status), "failed");
  EXPECT_EQ(info->job.error,
            "analyse (es): the worker running this task stopped 2 times without finishing it "
            "(crashed or killed); it is not run again");
  auto tasks = service_->Tasks("acme", job->job.id);
  ASSERT_EQ(tasks->size(), 1u);
  EXPECT_EQ(storage::EnumName((*tasks)[0].state), "dead");
  EXPECT_EQ((*tasks)[0].crashes, 2);
  EXPECT_EQ((*tasks)[0].attempts, 3);
}

TEST_F(JobsTest, MaintenanceQueuesJobsAndResumesAfterwards) {
  degradation_.SetMaintenance(true);
  SubmitRequest r = Segments({"The house is red."});
  r.qe_threshold = 0;  // trust every machine translation
  auto job = service_->Submit(r);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(Drain(), 0);
  EXPECT_EQ(storage::EnumName(service_->Get("acme", job->job.id)->job.status), "queued");
  degradation_.SetMaintenance(false);
  EXPECT_EQ(Drain(), 3);
  EXPECT_EQ(storage::EnumName(service_->Get("acme", job->job.id)->job.status), "completed");
}

TEST_F(JobsTest, IdempotencyKeysReturnTheSameJob) {
  SubmitRequest r = Segments({"The house is red."});
  r.idempotency_key = "order-17";
  auto a = service_->Submit(r);
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->replayed);
  r.segments = {"Something else entirely."};
  auto b = service_->Submit(r);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->replayed);
  EXPECT_EQ(b->job.id, a->job.id);
  EXPECT_EQ(b->counts.segments, 1);
  // Another tenant's key is its own.
  r.tenant = "other";
  r.tm_store.clear();
  auto c = service_->Submit(r);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_NE(c->job.id, a->job.id);
  EXPECT_TRUE(absl::IsNotFound(service_->Get("other", a->job.id).status()));
}

// An error no retry can fix is not retried: the job's engine policy is deleted after
// submission, the MT stage fails with NotFound and the task is dead at its first attempt.
TEST_F(JobsTest, ATaskThatCannotSucceedIsDeadLetteredAtOnceAndFailsTheJob) {
  std::atomic<int> calls{0};
  std::string event;
  test::FakeHttpServer hook([&](const test::FakeRequest& r) {
    ++calls;
    event = r.Header("x-verso-event");
    return test::FakeResponse{200, {}, ""};
  });
  ASSERT_TRUE(db_->policies().PutPolicy({"acme", "builtin", {"apertium"}, clock_.Now()}).ok());
  SubmitRequest r = Segments({"The house is red."});
  r.engine_policy = "builtin";
  r.webhook_url = StrCat("http://127.0.0.1:", hook.port(), "/h");
  auto job = service_->Submit(r);
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_TRUE(db_->policies().DeletePolicy("acme", "builtin").ok());
  translate_->PolicyChanged("acme", "builtin");  // as the API's DELETE does
  Drain();                                       // analyse, mt fails for good, then the webhook
  auto info = service_->Get("acme", job->job.id);
  EXPECT_EQ(storage::EnumName(info->job.status), "failed");
  EXPECT_THAT(info->job.error, HasSubstr("mt (es)"));
  auto tasks = service_->Tasks("acme", job->job.id);
  EXPECT_EQ(storage::EnumName((*tasks)[1].kind), "mt");
  EXPECT_EQ(storage::EnumName((*tasks)[1].state), "dead");
  EXPECT_EQ((*tasks)[1].attempts, 1);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(event, "job.failed");
}

// A pair no engine translates is refused at submission, naming what the chain offers.
TEST_F(JobsTest, APairNoEngineTranslatesIsRefusedAtSubmission) {
  SubmitRequest r = Segments({"The house is red."});
  r.target_langs = {"ja"};
  auto job = service_->Submit(r);
  EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(job.status().message(),
              HasSubstr("target_langs: ja: no engine in the chain (apertium) translates en -> ja"));
}

TEST_F(JobsTest, APostEditQueueWaitingOverFourHoursLowersTheBar) {
  SubmitRequest first = Segments({"The house is red."});
  first.qe_threshold = 101;
  auto a = service_->Submit(first);
  ASSERT_TRUE(a.ok());
  Drain();
  auto waiting = service_->Segments("acme", a->job.id, "es", "awaiting");
  ASSERT_EQ(waiting->size(), 1u);
  const double score = (*waiting)[0].qe_score;
  ASSERT_GT(score, 10);
  EXPECT_FALSE(service_->Expedited());
  // Just above this translation's score: not trusted ...
  SubmitRequest second = Segments({"The house is red."});
  second.qe_threshold = score + 5;
  auto b = service_->Submit(second);
  ASSERT_TRUE(b.ok());
  Drain();
  EXPECT_EQ(service_->Get("acme", b->job.id)->counts.awaiting, 1);
  // ... until the oldest post-edit has waited more than 4 hours: the bar drops by 10 points.
  clock_.Advance(absl::Hours(4) + absl::Seconds(1));
  EXPECT_TRUE(service_->Expedited());
  auto c = service_->Submit(second);
  ASSERT_TRUE(c.ok());
  Drain();
  auto info = service_->Get("acme", c->job.id);
  EXPECT_EQ(info->counts.approved, 1);
  EXPECT_EQ(storage::EnumName(info->job.status), "completed");
  EXPECT_THAT(info->messages, ::testing::Contains("Expedited processing enabled"));
}

// The platform spec's job-status cache, shared by two processes (two services on one database,
// each with its own Redis client): a status is served from Redis until the job changes, and any
// change through either process makes it stale at once in both. A change behind the services'
// backs (straight into storage) is not seen: that shows the answer came from the cache.
TEST_F(JobsTest, AJobsStatusIsCachedUntilItChangesInAnyProcess) {
  const int port = test::FreePort();
  std::unique_ptr<test::Child> redis = test::StartRedis(port, dir_);
  ASSERT_NE(redis, nullptr) << "redis-server did not start";
  auto open = [&] {
    auto c = cache::RedisClient::Open(StrCat("redis://127.0.0.1:", port), {}, &Clock::Real());
    EXPECT_TRUE(c.ok()) << c.status();
    return std::move(*c);
  };
  std::unique_ptr<cache::RedisClient> ra = open(), rb = open();
  cache::VersionedCache ca(ra.get(), "job_status", absl::Seconds(30));
  cache::VersionedCache cb(rb.get(), "job_status", absl::Seconds(30));
  auto service = [&](cache::VersionedCache* c) {
    ServiceOptions o;
    o.chunk = 3;
    o.status_cache = c;
    return std::make_unique<JobService>(db_.get(), tm_.get(), translate_.get(), reviewer_.get(),
                                        &degradation_, sender_.get(), &clock_, &ids_, o);
  };
  std::unique_ptr<JobService> a = service(&ca), b = service(&cb);
  auto job = a->Submit(Segments({"Open the window.", "The house is big.", "A red car."}));
  ASSERT_TRUE(job.ok()) << job.status();
  const std::string id = job->job.id;
  // What storage says now, read without the cache.
  auto truth = [&] {
    auto info = service_->Get("acme", id);
    EXPECT_TRUE(info.ok()) << info.status();
    return EncodeStatus(*info);
  };

  auto first = a->Get("acme", id);  // a miss: read from storage and kept
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(storage::EnumName(first->job.status), "queued");
  EXPECT_EQ(EncodeStatus(*first), truth());
  storage::JobRecord behind = first->job;
  behind.error = "written behind the cache";
  ASSERT_TRUE(db_->jobs().Apply(storage::JobChange{.jobs = {behind}}).ok());
  EXPECT_EQ(b->Get("acme", id)->job.error, "");  // the other process's hit
  EXPECT_EQ(a->Get("acme", id)->job.error, "");
  EXPECT_EQ(ca.stats().hits, 1);
  EXPECT_EQ(cb.stats().hits, 1);
  // Another tenant's request never gets it, from the cache either.
  EXPECT_EQ(a->Get("globex", id).status().message(), StrCat("job ", id, " not found"));

  // Process b runs the job: every step it writes is seen by a at once.
  ASSERT_TRUE(b->RunOnce("w1").ok());  // analysis (with pre-translation)
  auto analysed = a->Get("acme", id);
  EXPECT_EQ(analysed->job.error, "written behind the cache");  // read again from storage
  EXPECT_EQ(analysed->counts.tm, 1);
  EXPECT_EQ(EncodeStatus(*analysed), truth());
  while (*b->RunOnce("w1")) {
    EXPECT_EQ(EncodeStatus(*a->Get("acme", id)), truth());
  }
  auto done = a->Get("acme", id);
  EXPECT_EQ(storage::EnumName(done->job.status), "post_editing");
  EXPECT_EQ(done->counts.awaiting, 2);
  EXPECT_EQ(done->counts.confirmed, 0);
  EXPECT_EQ(EncodeStatus(*done), truth());
  // A post-editor's confirmation through a reaches b's next read.
  auto awaiting = service_->Segments("acme", id, "es", "awaiting");
  ASSERT_EQ(awaiting->size(), 2u);
  EXPECT_EQ(b->Get("acme", id)->counts.confirmed, 0);
  ASSERT_TRUE(a->Confirm("acme", id, "es", (*awaiting)[0].index, "La casa es grande.", "bea").ok());
  EXPECT_EQ(b->Get("acme", id)->counts.confirmed, 1);
  EXPECT_EQ(EncodeStatus(*b->Get("acme", id)), truth());

  // Redis gone: status comes from storage, the same.
  redis->Kill(SIGKILL);
  redis->Wait();
  ASSERT_TRUE(a->Confirm("acme", id, "es", (*awaiting)[1].index, "Un coche rojo.", "bea").ok());
  auto completed = b->Get("acme", id);
  ASSERT_TRUE(completed.ok()) << completed.status();
  EXPECT_EQ(storage::EnumName(completed->job.status), "completed");
  EXPECT_EQ(EncodeStatus(*completed), truth());
}

TEST_F(JobsTest, BadSubmissionsNameTheField) {
  SubmitRequest r = Segments({"<b>unclosed"});
  auto s = service_->Submit(r);
  EXPECT_TRUE(absl::IsInvalidArgument(s.status()));
  EXPECT_THAT(s.status().message(), HasSubstr("segments[0]"));
  r = Segments({"ok"});
  r.target_langs = {"es", "es"};
  EXPECT_THAT(service_->Submit(r).status().message(), HasSubstr("target_langs[1]"));
  r = Segments({"ok"});
  r.qe_threshold = 150;
  EXPECT_THAT(service_->Submit(r).status().message(), HasSubstr("qe_threshold"));
  r = Segments({"ok"});
  r.tm_store = "tm_nope";
  EXPECT_TRUE(absl::IsNotFound(service_->Submit(r).status()));
  r = Segments({});
  r.document = "msgid \"a\"\nmsgstr \"\"\n\nmsgid \"b\nmsgstr \"\"\n";
  r.file_name = "broken.po";
  s = service_->Submit(r);
  EXPECT_TRUE(absl::IsInvalidArgument(s.status()));
  EXPECT_THAT(s.status().message(), HasSubstr("broken.po: line 4"));
  r.file_name = "x.docx";
  EXPECT_THAT(service_->Submit(r).status().message(), HasSubstr("format"));
}

}  // namespace
}  // namespace verso::jobs
