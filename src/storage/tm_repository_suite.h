// The behaviour every TmRepository backend must show. A backend's test instantiates it:
//   INSTANTIATE_TEST_SUITE_P(Sqlite, TmRepositorySuite, ::testing::Values(&MakeSqlite));
#ifndef VERSO_STORAGE_TM_REPOSITORY_SUITE_H_
#define VERSO_STORAGE_TM_REPOSITORY_SUITE_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/strings.h"
#include "storage/storage.h"

namespace verso::storage {

// Returns a fresh, empty database.
using RepositoryFactory = std::unique_ptr<Database> (*)();

class TmRepositorySuite : public ::testing::TestWithParam<RepositoryFactory> {
 protected:
  void SetUp() override {
    db_ = GetParam()();
    ASSERT_NE(db_, nullptr);
    repo_ = &db_->tm();
  }

  TmStoreRecord Store(const std::string& id, const std::string& tenant = "acme") {
    TmStoreRecord s;
    s.id = id;
    s.tenant = tenant;
    s.name = "Store " + id;
    s.source_lang = "en-US";
    s.target_lang = "es-ES";
    s.created_at = absl::FromUnixSeconds(1'700'000'000);
    return s;
  }

  static SegmentRecord Seg(const std::string& source, const std::string& target) {
    SegmentRecord s;
    s.source = source;
    s.target = target;
    s.creator = "ana";
    s.changer = "ana";
    s.created_at = absl::FromUnixSeconds(1'700'000'100);
    s.changed_at = absl::FromUnixSeconds(1'700'000'200);
    return s;
  }

  // Writes the segments in one transaction and returns their ids.
  std::vector<int64_t> Put(const std::string& store, std::vector<SegmentRecord> segs) {
    auto w = repo_->BeginWrite(store);
    EXPECT_TRUE(w.ok()) << w.status();
    std::vector<int64_t> ids;
    for (auto& s : segs) {
      auto out = (*w)->Put(&s);
      EXPECT_TRUE(out.ok()) << out.status();
      ids.push_back(out->id);
    }
    EXPECT_TRUE((*w)->Commit().ok());
    return ids;
  }

  std::unique_ptr<Database> db_;
  TmRepository* repo_ = nullptr;
};

TEST_P(TmRepositorySuite, StoresCreateGetListDelete) {
  ASSERT_TRUE(repo_->CreateStore(Store("tm_a")).ok());
  ASSERT_TRUE(repo_->CreateStore(Store("tm_b", "other")).ok());
  EXPECT_EQ(repo_->CreateStore(Store("tm_a")).code(), absl::StatusCode::kAlreadyExists);
  auto a = repo_->GetStore("tm_a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->tenant, "acme");
  EXPECT_EQ(a->source_lang, "en-US");
  EXPECT_EQ(a->created_at, absl::FromUnixSeconds(1'700'000'000));
  EXPECT_EQ(repo_->GetStore("tm_zz").status().code(), absl::StatusCode::kNotFound);
  auto acme = repo_->ListStores("acme");
  ASSERT_TRUE(acme.ok());
  ASSERT_EQ(acme->size(), 1u);
  EXPECT_EQ((*acme)[0].id, "tm_a");
  EXPECT_EQ(repo_->ListStores("")->size(), 2u);
  ASSERT_TRUE(repo_->DeleteStore("tm_a").ok());
  EXPECT_EQ(repo_->DeleteStore("tm_a").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(repo_->GetStore("tm_a").status().code(), absl::StatusCode::kNotFound);
}

TEST_P(TmRepositorySuite, SegmentsRoundTripEveryField) {
  ASSERT_TRUE(repo_->CreateStore(Store("tm_a")).ok());
  SegmentRecord s = Seg("Open <ph x=\"1\">&lt;b/></ph> file", "Abrir archivo");
  s.context = {"menu.open", 11, -12};
  s.last_used_at = absl::FromUnixMicros(1'700'000'300'123'456);
  s.usage_count = 3;
  s.properties = {{Scope::kUnit, "x-project", "Apollo", ""},
                  {Scope::kTarget, "@datatype", "rtf", ""},
                  {Scope::kSource, "domain", "IT", "en-US"}};
  s.notes = {{Scope::kUnit, "Menu item \"Open\"", "en"}, {Scope::kTarget, "ok", ""}};
  int64_t id = Put("tm_a", {s})[0];
  EXPECT_GT(id, 0);
  auto got = repo_->GetSegment("tm_a", id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->source, s.source);
  EXPECT_EQ(got->target, s.target);
  EXPECT_EQ(got->context, s.context);
  EXPECT_EQ(got->creator, "ana");
  EXPECT_EQ(got->created_at, s.created_at);
  EXPECT_EQ(got->changed_at, s.changed_at);
  EXPECT_EQ(got->last_used_at, s.last_used_at);
  EXPECT_EQ(got->usage_count, 3);
  EXPECT_EQ(got->properties, s.properties);
  EXPECT_EQ(got->notes, s.notes);
  EXPECT_EQ(*repo_->CountSegments("tm_a"), 1);
}

TEST_P(TmRepositorySuite, SameSourceTargetAndContextMerges) {
  ASSERT_TRUE(repo_->CreateStore(Store("tm_a")).ok());
  SegmentRecord first = Seg("Save", "Guardar");
  first.usage_count = 2;
  SegmentRecord again = Seg("Save", "Guardar");
  again.usage_count = 5;
  again.created_at = absl::FromUnixSeconds(1'600'000'000);  // older: its creation date wins
  again.creator = "bob";
  again.changer = "bob";
  again.properties = {{Scope::kUnit, "x", "y", ""}};
  SegmentRecord other_target = Seg("Save", "Salvar");
  SegmentRecord other_context = Seg("Save", "Guardar");
  other_context.context.key = "dialog.save";

  auto w = repo_->BeginWrite("tm_a");
  ASSERT_TRUE(w.ok());
  auto o1 = (*w)->Put(&first);
  auto o2 = (*w)->Put(&again);
  auto o3 = (*w)->Put(&other_target);
  auto o4 = (*w)->Put(&other_context);
  ASSERT_TRUE(o1.ok()) << o1.status();
  ASSERT_TRUE(o2.ok()) << o2.status();
  ASSERT_TRUE(o3.ok()) << o3.status();
  ASSERT_TRUE(o4.ok()) << o4.status();
  ASSERT_TRUE((*w)->Commit().ok());
  EXPECT_TRUE(o1->inserted);
  EXPECT_FALSE(o2->inserted);
  EXPECT_EQ(o2->id, o1->id);
  EXPECT_TRUE(o3->inserted);
  EXPECT_TRUE(o4->inserted);
  EXPECT_EQ(*repo_->CountSegments("tm_a"), 3);
  auto merged = repo_->GetSegment("tm_a", o1->id);
  ASSERT_TRUE(merged.ok());
  EXPECT_EQ(merged->usage_count, 7);
  EXPECT_EQ(merged->created_at, absl::FromUnixSeconds(1'600'000'000));
  EXPECT_EQ(merged->creator, "bob");
  EXPECT_EQ(merged->changer, "bob");
  EXPECT_EQ(merged->properties.size(), 1u);
}

TEST_P(TmRepositorySuite, UncommittedWriterRollsBack) {
  ASSERT_TRUE(repo_->CreateStore(Store("tm_a")).ok());
  {
    auto w = repo_->BeginWrite("tm_a");
    ASSERT_TRUE(w.ok());
    SegmentRecord s = Seg("a", "b");
    ASSERT_TRUE((*w)->Put(&s).ok());
  }  // destroyed without Commit
  EXPECT_EQ(*repo_->CountSegments("tm_a"), 0);
  // The write lock was released: a new writer works.
  EXPECT_EQ(Put("tm_a", {Seg("c", "d")}).size(), 1u);
  EXPECT_EQ(*repo_->CountSegments("tm_a"), 1);
}

TEST_P(TmRepositorySuite, UpdateDeleteUsage) {
  ASSERT_TRUE(repo_->CreateStore(Store("tm_a")).ok());
  std::vector<int64_t> ids = Put("tm_a", {Seg("One", "Uno"), Seg("Two", "Dos")});
  SegmentRecord up = Seg("One!", "¡Uno!");
  up.id = ids[0];
  up.changer = "carl";
  up.changed_at = absl::FromUnixSeconds(1'800'000'000);
  ASSERT_TRUE(repo_->UpdateSegment("tm_a", up).ok());
  auto got = repo_->GetSegment("tm_a", ids[0]);
  EXPECT_EQ(got->source, "One!");
  EXPECT_EQ(got->changer, "carl");
  EXPECT_EQ(got->creator, "ana");
  // Updating into a duplicate of another segment is refused.
  SegmentRecord dup = Seg("Two", "Dos");
  dup.id = ids[0];
  EXPECT_EQ(repo_->UpdateSegment("tm_a", dup).code(), absl::StatusCode::kAlreadyExists);
  // Uses in one batch; a deleted segment's or store's are skipped.
  auto used = repo_->RecordUsage({{"tm_a", ids[1], 1, absl::FromUnixSeconds(1'800'000'000)},
                                  {"tm_a", ids[1], 1, absl::FromUnixSeconds(1'900'000'000)},
                                  {"tm_a", 999999, 1, absl::FromUnixSeconds(1'900'000'000)},
                                  {"tm_gone", 1, 1, absl::FromUnixSeconds(1'900'000'000)}});
  ASSERT_TRUE(used.ok()) << used.status();
  EXPECT_EQ(*used, 2);
  EXPECT_EQ(repo_->GetSegment("tm_a", ids[1])->usage_count, 2);
  EXPECT_EQ(repo_->GetSegment("tm_a", ids[1])->last_used_at, absl::FromUnixSeconds(1'900'000'000));
  ASSERT_TRUE(repo_->DeleteSegment("tm_a", ids[1]).ok());
  EXPECT_EQ(repo_->DeleteSegment("tm_a", ids[1]).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(repo_->GetSegment("tm_a", ids[1]).status().code(), absl::StatusCode::kNotFound);
  SegmentRecord missing = Seg("x", "y");
  missing.id = 999999;
  EXPECT_EQ(repo_->UpdateSegment("tm_a", missing).code(), absl::StatusCode::kNotFound);
}

TEST_P(TmRepositorySuite, StoresAreIsolated) {
  ASSERT_TRUE(repo_->CreateStore(Store("tm_a")).ok());
  ASSERT_TRUE(repo_->CreateStore(Store("tm_b")).ok());
  std::vector<int64_t> a = Put("tm_a", {Seg("Hello", "Hola")});
  Put("tm_b", {Seg("Bye", "Adiós")});
  EXPECT_EQ(repo_->GetSegment("tm_b", a[0]).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(repo_->DeleteSegment("tm_b", a[0]).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(repo_->GetSegments("tm_b", {a[0]})->empty());
  std::vector<std::string> seen;
  ASSERT_TRUE(repo_
                  ->ScanSegments("tm_b", 0,
                                 [&](const SegmentRecord& s) {
                                   seen.push_back(s.source);
                                   return true;
                                 })
                  .ok());
  EXPECT_THAT(seen, ::testing::ElementsAre("Bye"));
  ASSERT_TRUE(repo_->DeleteStore("tm_a").ok());
  EXPECT_EQ(*repo_->CountSegments("tm_b"), 1);
  EXPECT_EQ(repo_->BeginWrite("tm_a").status().code(), absl::StatusCode::kNotFound);
}

TEST_P(TmRepositorySuite, ScanIsOrderedAndResumable) {
  ASSERT_TRUE(repo_->CreateStore(Store("tm_a")).ok());
  std::vector<SegmentRecord> segs;
  for (int i = 0; i < 50; ++i) segs.push_back(Seg("s" + std::to_string(i), "t"));
  std::vector<int64_t> ids = Put("tm_a", segs);
  std::vector<int64_t> scanned;
  ASSERT_TRUE(repo_
                  ->ScanSegments("tm_a", ids[19],
                                 [&](const SegmentRecord& s) {
                                   scanned.push_back(s.id);
                                   return scanned.size() < 10;
                                 })
                  .ok());
  ASSERT_EQ(scanned.size(), 10u);
  EXPECT_EQ(scanned.front(), ids[20]);
  EXPECT_EQ(scanned.back(), ids[29]);
  auto some = repo_->GetSegments("tm_a", {ids[3], 123456789, ids[1]});
  ASSERT_TRUE(some.ok());
  ASSERT_EQ(some->size(), 2u);
  EXPECT_EQ((*some)[0].id, ids[3]);
  EXPECT_EQ((*some)[1].id, ids[1]);
}

TEST_P(TmRepositorySuite, ApiKeysStoreOnlyTheHash) {
  KeyRepository& keys = db_->keys();
  ApiKeyRecord k;
  k.id = "key_1";
  k.tenant = "acme";
  k.name = "ci";
  k.scopes = {"tm:read", "tm:write"};
  k.hash = "ab12";
  k.prefix = "vk_abcd";
  k.created_at = absl::FromUnixSeconds(1'700'000'000);
  ASSERT_TRUE(keys.CreateKey(k).ok());
  auto found = keys.FindKeyByHash("ab12");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->tenant, "acme");
  EXPECT_EQ(found->scopes, (std::vector<std::string>{"tm:read", "tm:write"}));
  EXPECT_FALSE(found->revoked());
  EXPECT_EQ(keys.FindKeyByHash("zz").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(keys.RevokeKey("key_1", absl::FromUnixSeconds(1'800'000'000)).ok());
  EXPECT_EQ(keys.FindKeyByHash("ab12")->revoked_at, absl::FromUnixSeconds(1'800'000'000));
  EXPECT_EQ(keys.RevokeKey("key_9", absl::Now()).code(), absl::StatusCode::kNotFound);
  k.id = "key_2";
  k.tenant = "other";
  k.hash = "cd34";
  ASSERT_TRUE(keys.CreateKey(k).ok());
  EXPECT_EQ(keys.ListKeys("acme")->size(), 1u);
  EXPECT_EQ(keys.ListKeys("")->size(), 2u);
}

TEST_P(TmRepositorySuite, ImportsPersistAndUnfinishedOnesAreListed) {
  ImportRepository& imports = db_->imports();
  ImportRecord r;
  r.id = "imp_1";
  r.store_id = "tm_a";
  r.tenant = "acme";
  r.file = "/data/imports/imp_1.tmx";
  r.format = "tmx";
  r.user = "key_1";
  r.status = "running";
  r.bytes_total = 1234;
  r.created_at = absl::FromUnixSeconds(1'700'000'000);
  ASSERT_TRUE(imports.SaveImport(r).ok());
  r.id = "imp_2";
  r.status = "succeeded";
  r.report = "{\"inserted\":3}";
  r.finished_at = absl::FromUnixSeconds(1'700'000'100);
  ASSERT_TRUE(imports.SaveImport(r).ok());
  auto unfinished = imports.UnfinishedImports();
  ASSERT_TRUE(unfinished.ok());
  ASSERT_EQ(unfinished->size(), 1u);
  EXPECT_EQ((*unfinished)[0].id, "imp_1");
  auto done = imports.GetImport("imp_2");
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->report, "{\"inserted\":3}");
  EXPECT_EQ(done->finished_at, absl::FromUnixSeconds(1'700'000'100));
  r.id = "imp_1";
  r.status = "failed";
  r.error = "boom";
  ASSERT_TRUE(imports.SaveImport(r).ok());  // replaces
  EXPECT_TRUE(imports.UnfinishedImports()->empty());
  EXPECT_EQ(imports.GetImport("imp_1")->error, "boom");
  EXPECT_EQ(imports.GetImport("imp_x").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(db_->Ping().ok());
}

TEST_P(TmRepositorySuite, QaProfilesPutGetListDelete) {
  QaProfileRepository& q = db_->qa_profiles();
  EXPECT_TRUE(absl::IsNotFound(q.GetQaProfile("acme", "web").status()));
  ASSERT_TRUE(
      q.PutQaProfile(
           {"acme", "web", {"end_punctuation", "double_space"}, 80, absl::FromUnixSeconds(5)})
          .ok());
  ASSERT_TRUE(q.PutQaProfile({"acme", "app", {}, 0, absl::FromUnixSeconds(6)}).ok());
  ASSERT_TRUE(q.PutQaProfile({"other", "web", {"numbers"}, 0, absl::FromUnixSeconds(7)}).ok());
  auto web = q.GetQaProfile("acme", "web");
  ASSERT_TRUE(web.ok());
  EXPECT_EQ(web->disabled_checks, (std::vector<std::string>{"end_punctuation", "double_space"}));
  EXPECT_EQ(web->max_length, 80);
  EXPECT_EQ(web->updated_at, absl::FromUnixSeconds(5));
  auto list = q.ListQaProfiles("acme");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "app");
  ASSERT_TRUE(q.DeleteQaProfile("acme", "web").ok());
  EXPECT_TRUE(absl::IsNotFound(q.DeleteQaProfile("acme", "web")));
  EXPECT_EQ(q.GetQaProfile("other", "web")->disabled_checks, std::vector<std::string>{"numbers"});
}

TEST_P(TmRepositorySuite, ClusterNodesHeartbeatLeaveAndSettingsAreDecidedOnce) {
  ClusterRepository& c = db_->cluster();
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  ASSERT_TRUE(c.Heartbeat({"b", "tm", "http://127.0.0.1:2", t0, t0 + absl::Seconds(5)}).ok());
  ASSERT_TRUE(c.Heartbeat({"a", "tm", "http://127.0.0.1:1", t0, t0 + absl::Seconds(5)}).ok());
  // A heartbeat moves the expiry and the URL of the same row.
  ASSERT_TRUE(c.Heartbeat({"b", "tm", "http://127.0.0.1:3", t0, t0 + absl::Seconds(9)}).ok());
  auto nodes = c.ListNodes();
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  ASSERT_EQ(nodes->size(), 2u);
  EXPECT_EQ((*nodes)[0].id, "a");
  EXPECT_EQ((*nodes)[1].url, "http://127.0.0.1:3");
  EXPECT_EQ((*nodes)[1].expires_at, t0 + absl::Seconds(9));
  EXPECT_EQ((*nodes)[1].started_at, t0);
  ASSERT_TRUE(c.RemoveNode("a").ok());
  // A row expired over an hour before someone's heartbeat is forgotten.
  ASSERT_TRUE(c.Heartbeat({"c", "tm", "http://127.0.0.1:4", t0, t0 + absl::Hours(2)}).ok());
  nodes = c.ListNodes();
  ASSERT_TRUE(nodes.ok());
  ASSERT_EQ(nodes->size(), 1u);
  EXPECT_EQ((*nodes)[0].id, "c");
  auto first = c.Setting("secret", "one");
  auto second = c.Setting("secret", "two");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first, "one");
  EXPECT_EQ(*second, "one");
  // Read without storing; replaced on purpose.
  auto none = c.GetSetting("notice");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(c.PutSetting("notice", "Temporary latency increase expected").ok());
  ASSERT_TRUE(c.PutSetting("secret", "three").ok());
  auto notice = c.GetSetting("notice");
  ASSERT_TRUE(notice.ok() && notice->has_value());
  EXPECT_EQ(**notice, "Temporary latency increase expected");
  EXPECT_EQ(*c.Setting("secret", "four"), "three");
}

TEST_P(TmRepositorySuite, EnginePoliciesPutGetListDelete) {
  PolicyRepository& p = db_->policies();
  EXPECT_TRUE(absl::IsNotFound(p.GetPolicy("acme", "default").status()));
  ASSERT_TRUE(
      p.PutPolicy({"acme", "default", {"openai", "deepl", "apertium"}, absl::FromUnixSeconds(10)})
          .ok());
  ASSERT_TRUE(p.PutPolicy({"acme", "cheap", {"apertium"}, absl::FromUnixSeconds(11)}).ok());
  ASSERT_TRUE(p.PutPolicy({"other", "default", {"deepl"}, absl::FromUnixSeconds(12)}).ok());
  auto got = p.GetPolicy("acme", "default");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->engines, (std::vector<std::string>{"openai", "deepl", "apertium"}));
  EXPECT_EQ(got->updated_at, absl::FromUnixSeconds(10));
  ASSERT_TRUE(p.PutPolicy({"acme", "default", {"anthropic"}, absl::FromUnixSeconds(13)}).ok());
  EXPECT_EQ(p.GetPolicy("acme", "default")->engines, std::vector<std::string>{"anthropic"});
  auto list = p.ListPolicies("acme");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "cheap");
  EXPECT_EQ((*list)[1].name, "default");
  EXPECT_TRUE(p.DeletePolicy("acme", "cheap").ok());
  EXPECT_TRUE(absl::IsNotFound(p.DeletePolicy("acme", "cheap")));
  EXPECT_TRUE(absl::IsNotFound(p.GetPolicy("acme", "cheap").status()));
  EXPECT_EQ(p.GetPolicy("other", "default")->engines, std::vector<std::string>{"deepl"});
}

TEST_P(TmRepositorySuite, JobsSegmentsAndTasksChangeTogether) {
  JobRepository& jobs = db_->jobs();
  const absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  JobRecord j;
  j.id = "job_1";
  j.tenant = "acme";
  j.status = JobStatus::kQueued;
  j.source_lang = "en";
  j.target_langs = {"de", "fr"};
  j.qe_threshold = 85.5;
  j.idempotency_key = "k1";
  j.format = "po";
  j.document = std::string("msgid \"a\"\0binary", 17);
  j.created_at = j.updated_at = t0;
  JobSegmentRecord seg;
  seg.job_id = "job_1";
  seg.target_lang = "de";
  seg.index = 0;
  seg.source = "Hello";
  seg.words = 1;
  seg.characters = 5;
  seg.qe_score = 91.25;
  seg.updated_at = t0;
  TaskRecord task;
  task.job_id = "job_1";
  task.kind = TaskKind::kAnalyse;
  task.target_lang = "de";
  task.run_after = t0;
  task.created_at = t0;
  ASSERT_TRUE(jobs.Apply({{j}, {seg}, {task}, 0, "", {}}).ok());
  auto got = jobs.GetJob("job_1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->document, "");  // read apart
  EXPECT_EQ(*jobs.GetJobDocument("job_1"), j.document);
  EXPECT_TRUE(absl::IsNotFound(jobs.GetJobDocument("job_9").status()));
  // Saving a record read without its document keeps the document.
  JobRecord saved = *got;
  saved.status = JobStatus::kRunning;
  ASSERT_TRUE(jobs.Apply({{saved}, {}, {}, 0, "", {}}).ok());
  EXPECT_EQ(jobs.GetJob("job_1")->status, JobStatus::kRunning);
  EXPECT_EQ(*jobs.GetJobDocument("job_1"), j.document);
  EXPECT_EQ(got->target_langs, (std::vector<std::string>{"de", "fr"}));
  EXPECT_EQ(got->qe_threshold, 85.5);
  EXPECT_EQ(got->finished_at, absl::InfinitePast());
  // The same idempotency key cannot make a second job: nothing of that change is written.
  JobRecord dup = j;
  dup.id = "job_2";
  TaskRecord task2 = task;
  task2.job_id = "job_2";
  EXPECT_TRUE(absl::IsAlreadyExists(jobs.Apply({{dup}, {}, {task2}, 0, "", {}})));
  EXPECT_EQ(jobs.FindJobByIdempotencyKey("acme", "k1")->id, "job_1");
  EXPECT_TRUE(absl::IsNotFound(jobs.FindJobByIdempotencyKey("other", "k1").status()));
  EXPECT_EQ(jobs.JobTasks("job_2")->size(), 0u);

  // Leasing: one worker gets the task; nobody else until the lease expires.
  auto leased = jobs.LeaseTask("w1", t0, t0 + absl::Seconds(30));
  ASSERT_TRUE(leased.ok()) << leased.status();
  EXPECT_EQ(leased->kind, TaskKind::kAnalyse);
  EXPECT_EQ(leased->attempts, 1);
  EXPECT_TRUE(absl::IsNotFound(
      jobs.LeaseTask("w2", t0 + absl::Seconds(10), t0 + absl::Seconds(40)).status()));
  EXPECT_TRUE(jobs.RenewLease(leased->id, "w1", t0 + absl::Seconds(60)).ok());
  EXPECT_TRUE(absl::IsNotFound(
      jobs.LeaseTask("w2", t0 + absl::Seconds(45), t0 + absl::Seconds(75)).status()));
  auto again = jobs.LeaseTask("w2", t0 + absl::Seconds(61), t0 + absl::Seconds(91));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id, leased->id);
  EXPECT_EQ(again->attempts, 2);
  EXPECT_EQ(leased->crashes, 0);
  EXPECT_EQ(again->crashes, 1);  // taken over from a worker whose lease ran out
  // The first worker lost it: it can neither renew nor finish, and its change is not written.
  EXPECT_TRUE(absl::IsAborted(jobs.RenewLease(leased->id, "w1", t0 + absl::Seconds(99))));
  JobSegmentRecord late = seg;
  late.target = "Hallo (late)";
  EXPECT_TRUE(absl::IsAborted(jobs.Apply({{}, {late}, {}, leased->id, "w1", {}})));
  EXPECT_EQ(jobs.GetJobSegment("job_1", "de", 0)->target, "");
  // The second finishes it and enqueues the next stage in the same transaction.
  JobSegmentRecord done = seg;
  done.target = "Hallo";
  done.state = SegmentState::kTranslated;
  done.version = 3;
  done.edit_id = "ed_7";
  TaskRecord next = task;
  next.kind = TaskKind::kReview;
  ASSERT_TRUE(jobs.Apply({{}, {done}, {next}, again->id, "w2", {}}).ok());
  auto segs = jobs.GetJobSegments("job_1", "de");
  ASSERT_EQ(segs->size(), 1u);
  EXPECT_EQ((*segs)[0].target, "Hallo");
  EXPECT_EQ((*segs)[0].qe_score, 91.25);
  EXPECT_EQ((*segs)[0].characters, 5);
  EXPECT_EQ((*segs)[0].version, 3);
  EXPECT_EQ((*segs)[0].edit_id, "ed_7");
  // Failing: back to the queue after a delay, then dead.
  auto r = jobs.LeaseTask("w1", t0 + absl::Seconds(100), t0 + absl::Seconds(130));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, TaskKind::kReview);
  ASSERT_TRUE(jobs.FailTask(r->id, "w1", "boom", t0 + absl::Seconds(200), false).ok());
  EXPECT_TRUE(absl::IsNotFound(
      jobs.LeaseTask("w1", t0 + absl::Seconds(150), t0 + absl::Seconds(180)).status()));
  r = jobs.LeaseTask("w1", t0 + absl::Seconds(200), t0 + absl::Seconds(230));
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(jobs.FailTask(r->id, "w1", "boom again", t0 + absl::Seconds(300), true).ok());
  auto tasks = jobs.JobTasks("job_1");
  ASSERT_EQ(tasks->size(), 2u);
  EXPECT_EQ((*tasks)[0].state, TaskState::kDone);
  EXPECT_EQ((*tasks)[1].state, TaskState::kDead);
  EXPECT_EQ((*tasks)[1].error, "boom again");
  EXPECT_EQ((*tasks)[1].attempts, 2);
  EXPECT_EQ((*tasks)[1].crashes, 0);  // failures reported by a live worker are not crashes
  auto stats = jobs.GetQueueStats();
  EXPECT_EQ(stats->dead, 1);
  EXPECT_EQ(stats->queued, 0);
  // Awaiting segments, oldest first, per tenant.
  JobSegmentRecord a1 = seg, a2 = seg;
  a1.index = 1;
  a1.state = SegmentState::kAwaiting;
  a1.updated_at = t0 + absl::Seconds(5);
  a2.index = 2;
  a2.state = SegmentState::kAwaiting;
  a2.updated_at = t0 + absl::Seconds(3);
  ASSERT_TRUE(
      jobs.Apply({{}, {a1, a2}, {}, 0, "", {{"job_1", "job.completed", 1, 500, "", t0}}}).ok());
  EXPECT_EQ(stats->awaiting_post_edit, 0);
  EXPECT_EQ(jobs.GetQueueStats()->awaiting_post_edit, 2);  // the MTPE queue
  auto counted = jobs.CountJobSegments("job_1");
  ASSERT_TRUE(counted.ok()) << counted.status();
  ASSERT_EQ(counted->size(), 2u);  // (de, awaiting, "", "") x2 and (de, translated, "", "") x1
  EXPECT_EQ((*counted)[0].state, SegmentState::kAwaiting);
  EXPECT_EQ((*counted)[0].segments, 2);
  EXPECT_EQ((*counted)[0].words, 2);
  EXPECT_EQ((*counted)[1].state, SegmentState::kTranslated);
  EXPECT_EQ((*counted)[1].segments, 1);
  auto awaiting = jobs.AwaitingSegments("acme", 10);
  ASSERT_EQ(awaiting->size(), 2u);
  EXPECT_EQ((*awaiting)[0].index, 2);
  EXPECT_EQ(jobs.AwaitingSegments("other", 10)->size(), 0u);
  // Pages: after the first segment comes the second, after the second nothing.
  auto after_first = jobs.AwaitingSegments("acme", 10, &(*awaiting)[0]);
  ASSERT_EQ(after_first->size(), 1u);
  EXPECT_EQ((*after_first)[0].index, 1);
  EXPECT_EQ(jobs.AwaitingSegments("acme", 10, &(*awaiting)[1])->size(), 0u);
  auto listed = jobs.ListJobs("acme", 10);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(jobs.ListJobs("acme", 10, listed->at(0).created_at, listed->at(0).id)->size(), 0u);
  EXPECT_EQ(jobs.ListJobs("acme", 10, listed->at(0).created_at + absl::Microseconds(1))->size(),
            1u);
  auto deliveries = jobs.Deliveries("job_1");
  ASSERT_EQ(deliveries->size(), 1u);
  EXPECT_EQ((*deliveries)[0].http_status, 500);
  EXPECT_EQ(jobs.ListJobs("acme", 10)->at(0).document, "");
}

// One tenant's queue of old tasks does not keep another tenant waiting: the next lease goes to
// the tenant with the fewest tasks running, and none past the per-tenant limit.
TEST_P(TmRepositorySuite, LeasesAreFairBetweenTenants) {
  JobRepository& jobs = db_->jobs();
  const absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  auto job = [&](const std::string& id, const std::string& tenant, int tasks, absl::Time at) {
    JobRecord j;
    j.id = id;
    j.tenant = tenant;
    j.status = JobStatus::kQueued;
    j.source_lang = "en";
    j.target_langs = {"de"};
    j.format = "segments";
    j.created_at = j.updated_at = at;
    JobChange c;
    c.jobs.push_back(j);
    for (int i = 0; i < tasks; ++i) {
      TaskRecord t;
      t.job_id = id;
      t.kind = TaskKind::kAnalyse;
      t.target_lang = StrCat("t", i);
      t.run_after = at;
      t.created_at = at;
      c.enqueue.push_back(t);
    }
    ASSERT_TRUE(jobs.Apply(c).ok());
  };
  job("job_big", "big", 5, t0);                         // five tasks, queued first
  job("job_small", "small", 1, t0 + absl::Seconds(1));  // one, queued later
  const absl::Time now = t0 + absl::Seconds(10), until = now + absl::Seconds(30);
  auto first = jobs.LeaseTask("w1", now, until, 0);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->job_id, "job_big");  // oldest first while nobody runs anything
  auto second = jobs.LeaseTask("w2", now, until, 0);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->job_id, "job_small");  // then the tenant with nothing running
  auto third = jobs.LeaseTask("w3", now, until, 0);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->job_id, "job_big");
  // At most two per tenant: "big" has two running, "small" nothing left.
  EXPECT_TRUE(absl::IsNotFound(jobs.LeaseTask("w4", now, until, 2).status()));
  EXPECT_TRUE(jobs.LeaseTask("w4", now, until, 3).ok());
}

// A job with `tasks` analysis tasks for `tenant`, queued at `at`.
inline JobChange QueuedJob(const std::string& id, const std::string& tenant, int tasks,
                           absl::Time at) {
  JobChange c;
  JobRecord j;
  j.id = id;
  j.tenant = tenant;
  j.source_lang = "en";
  j.target_langs = {"de"};
  j.format = "segments";
  j.created_at = j.updated_at = at;
  c.jobs.push_back(j);
  for (int i = 0; i < tasks; ++i) {
    TaskRecord t;
    t.job_id = id;
    t.kind = TaskKind::kAnalyse;
    t.target_lang = "de";
    t.run_after = t.created_at = at;
    c.enqueue.push_back(t);
  }
  return c;
}

// A task enqueued with a lease owner is leased to it from the start (a worker queuing a task it
// runs itself): nobody else leases it until the lease expires, its owner renews and finishes
// it, and a lapsed lease is taken over as any other.
TEST_P(TmRepositorySuite, ATaskCanBeQueuedLeasedToItsOwner) {
  JobRepository& jobs = db_->jobs();
  const absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  JobChange c = QueuedJob("job_own", "acme", 0, t0);
  for (const char* owner : {"w1", ""}) {
    TaskRecord t;
    t.job_id = "job_own";
    t.kind = TaskKind::kMt;
    t.target_lang = "de";
    t.run_after = t.created_at = t0;
    t.lease_owner = owner;
    t.lease_until = t0 + absl::Seconds(30);
    c.enqueue.push_back(t);
  }
  ASSERT_TRUE(jobs.Apply(c).ok());
  auto tasks = jobs.JobTasks("job_own");
  ASSERT_TRUE(tasks.ok());
  ASSERT_EQ(tasks->size(), 2u);
  const TaskRecord own = (*tasks)[0];
  EXPECT_EQ(own.state, TaskState::kLeased);
  EXPECT_EQ(own.lease_owner, "w1");
  EXPECT_EQ(own.lease_until, t0 + absl::Seconds(30));
  EXPECT_EQ(own.attempts, 1);
  EXPECT_EQ((*tasks)[1].state, TaskState::kQueued);
  EXPECT_EQ((*tasks)[1].lease_owner, "");
  EXPECT_EQ((*tasks)[1].attempts, 0);
  // Another worker gets the queued one, then nothing while the lease holds.
  auto other = jobs.LeaseTask("w2", t0 + absl::Seconds(1), t0 + absl::Seconds(100));
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->id, (*tasks)[1].id);
  EXPECT_TRUE(absl::IsNotFound(
      jobs.LeaseTask("w3", t0 + absl::Seconds(2), t0 + absl::Seconds(32)).status()));
  EXPECT_TRUE(jobs.RenewLease(own.id, "w1", t0 + absl::Seconds(60)).ok());
  EXPECT_TRUE(absl::IsAborted(jobs.RenewLease(own.id, "w3", t0 + absl::Seconds(60))));
  EXPECT_TRUE(absl::IsNotFound(
      jobs.LeaseTask("w3", t0 + absl::Seconds(45), t0 + absl::Seconds(75)).status()));
  auto taken = jobs.LeaseTask("w3", t0 + absl::Seconds(61), t0 + absl::Seconds(91));
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_EQ(taken->id, own.id);
  EXPECT_EQ(taken->attempts, 2);
  EXPECT_EQ(taken->crashes, 1);
}

// Every field of a job segment comes back as written: quotes, backslashes, control characters,
// characters outside the BMP, a score with many digits; bytes that are not UTF-8 never fail the
// write. A segment given twice in one change is written as it was given last.
TEST_P(TmRepositorySuite, JobSegmentsRoundTripEveryField) {
  JobRepository& jobs = db_->jobs();
  const absl::Time t0 = absl::FromUnixMicros(1'700'000'000'123'456);
  JobChange c = QueuedJob("job_rt", "acme", 0, t0);
  JobSegmentRecord seg;
  seg.job_id = "job_rt";
  seg.target_lang = "de";
  seg.index = 3;
  seg.unit_id = "u\"3\"";
  seg.source = "Say \"hi\"\\ to <b>Ana</b>\n\ttab \x01 \xF0\x9F\x98\x80 end";
  seg.target = "Sag \"hallo\" \u00fc";
  seg.origin = SegmentOrigin::kMt;
  seg.state = SegmentState::kAwaiting;
  seg.tm_score = 87;
  seg.tm_target = "Alt \\ \"x\"";
  seg.repetition = true;
  seg.words = 7;
  seg.characters = 42;
  seg.engine = "apertium";
  seg.review = R"({"qa":[{"check":"numbers","message":"\"3\" vs \"4\""}],"qe":{"score":71.25}})";
  seg.qe_score = 71.123456789012345;
  seg.draft = "Entwurf\r\n";
  seg.editor = "ana";
  seg.updated_at = t0;
  seg.version = 5;
  seg.edit_id = "e-1";
  JobSegmentRecord earlier = seg;
  earlier.target = "overwritten";
  JobSegmentRecord bad = seg;
  bad.index = 4;
  bad.target = "caf\xE9";  // Latin-1, not UTF-8
  c.segments = {earlier, seg, bad};
  ASSERT_TRUE(jobs.Apply(c).ok());
  auto got = jobs.GetJobSegment("job_rt", "de", 3);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->unit_id, seg.unit_id);
  EXPECT_EQ(got->source, seg.source);
  EXPECT_EQ(got->target, seg.target);
  EXPECT_EQ(got->origin, seg.origin);
  EXPECT_EQ(got->state, seg.state);
  EXPECT_EQ(got->tm_score, seg.tm_score);
  EXPECT_EQ(got->tm_target, seg.tm_target);
  EXPECT_EQ(got->repetition, seg.repetition);
  EXPECT_EQ(got->words, seg.words);
  EXPECT_EQ(got->characters, seg.characters);
  EXPECT_EQ(got->engine, seg.engine);
  EXPECT_EQ(got->review, seg.review);
  EXPECT_EQ(got->qe_score, seg.qe_score);
  EXPECT_EQ(got->draft, seg.draft);
  EXPECT_EQ(got->editor, seg.editor);
  EXPECT_EQ(got->updated_at, seg.updated_at);
  EXPECT_EQ(got->version, seg.version);
  EXPECT_EQ(got->edit_id, seg.edit_id);
  auto replaced = jobs.GetJobSegment("job_rt", "de", 4);
  ASSERT_TRUE(replaced.ok()) << replaced.status();
  // SQLite keeps the bytes; PostgreSQL's TEXT cannot hold them and gets U+FFFD.
  const std::string_view instance = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  ASSERT_TRUE(instance.ends_with("/Sqlite") || instance.ends_with("/Postgres")) << instance;
  EXPECT_EQ(replaced->target, instance.ends_with("/Postgres") ? "caf\xEF\xBF\xBD" : "caf\xE9");
  EXPECT_EQ(jobs.GetJobSegments("job_rt", "de")->size(), 2u);
}

// Workers lease and finish at the same moment, which both backends group (SQLite commits
// concurrent queue writes together, PostgreSQL leases for concurrent callers in one call):
// every task goes to exactly one worker, and a change refused inside a group leaves out all of
// its own writes (here the finish it made before its new job was refused) and nobody else's.
TEST_P(TmRepositorySuite, ConcurrentWorkersLeaseEachTaskOnceAndFailAlone) {
  JobRepository& jobs = db_->jobs();
  const absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  constexpr int kTasks = 200;
  JobChange queued = QueuedJob("job_g", "acme", kTasks, t0);
  queued.jobs[0].idempotency_key = "k-g";
  ASSERT_TRUE(jobs.Apply(queued).ok());
  std::atomic<int> finished{0}, refused{0}, other{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 16; ++w) {
    workers.emplace_back([&, w] {
      const std::string owner = StrCat("w", w);
      while (true) {
        auto task = jobs.LeaseTask(owner, t0, t0 + absl::Minutes(5));
        if (absl::IsNotFound(task.status())) return;
        if (!task.ok()) {
          ++other;
          return;
        }
        JobSegmentRecord seg;
        seg.job_id = "job_g";
        seg.target_lang = "de";
        seg.source = "s";
        seg.index = 100000 + task->id;
        // Finishes the task, then makes a job whose idempotency key is taken: refused whole.
        JobRecord dup = queued.jobs[0];
        dup.id = StrCat("job_dup_", task->id);
        absl::Status s = jobs.Apply({{dup}, {seg}, {}, task->id, owner, {}});
        absl::IsAlreadyExists(s) ? ++refused : ++other;
        seg.index = task->id;
        jobs.Apply({{}, {seg}, {}, task->id, owner, {}}).ok() ? ++finished : ++other;
      }
    });
  }
  for (auto& t : workers) t.join();
  EXPECT_EQ(finished.load(), kTasks);
  EXPECT_EQ(refused.load(), kTasks);
  EXPECT_EQ(other.load(), 0);
  auto segments = jobs.GetJobSegments("job_g", "de");
  ASSERT_TRUE(segments.ok());
  ASSERT_EQ(segments->size(), static_cast<size_t>(kTasks));
  for (const auto& s : *segments) EXPECT_LT(s.index, 100000) << s.index;
  // Read page by page, the same segments in the same order.
  std::vector<int64_t> paged;
  for (std::string after_target;;) {
    const int64_t after_index = paged.empty() ? -1 : paged.back();
    auto page = jobs.GetJobSegmentsPage("job_g", "de", "", after_target, after_index, 7);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& s : *page) paged.push_back(s.index);
    if (page->size() < 7) break;
    after_target = "de";
  }
  ASSERT_EQ(paged.size(), segments->size());
  for (size_t i = 0; i < paged.size(); ++i) EXPECT_EQ(paged[i], (*segments)[i].index);
  EXPECT_EQ(jobs.GetJobSegmentsPage("job_g", "de", "awaiting", "", -1, 100)->size(), 0u);
  EXPECT_EQ(jobs.GetJobSegmentsPage("job_g", "", "new", "", -1, 100)->size(),
            std::min<size_t>(100, segments->size()));
  auto tasks = jobs.JobTasks("job_g");
  ASSERT_TRUE(tasks.ok());
  ASSERT_EQ(tasks->size(), static_cast<size_t>(kTasks));
  for (const auto& t : *tasks) {
    EXPECT_EQ(t.state, TaskState::kDone);
    EXPECT_EQ(t.attempts, 1);
  }
  EXPECT_TRUE(absl::IsNotFound(jobs.GetJob("job_dup_1").status()));
}

}  // namespace verso::storage

#endif  // VERSO_STORAGE_TM_REPOSITORY_SUITE_H_
