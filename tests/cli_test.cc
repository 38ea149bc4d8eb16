// The verso command line, end to end: a real binary on a temporary data directory.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <tuple>

#include "absl/time/clock.h"
#include "common/file.h"
#include "tests/http_client.h"
#include "tests/process.h"
#include "tests/verso_server.h"

namespace verso {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kKit = std::string(VERSO_SHARED_DATA) + "/tmx/lisa-compliance-kit/";

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/cli_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  test::RunResult Verso(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), {VERSO_BINARY, "--data-dir", dir_ + "/data"});
    return test::Run(args, env);
  }
  std::string CreateStore(const std::string& src, const std::string& tgt) {
    // Store names are unique per tenant.
    auto r = Verso({"tm", "create", "--name", "t" + std::to_string(++stores_), "--source", src,
                    "--target", tgt, "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out)["id"];
  }

  std::string dir_;
  int stores_ = 0;
};

// `verso tm` commands start from the store's index snapshot instead of reading every segment:
// the first builds the index and writes the snapshot, the next read it plus the changes made
// since; a snapshot older than the change log is sure to hold (30 minutes) is not used.
TEST_F(CliTest, TmCommandsStartFromTheIndexSnapshot) {
  std::string id = CreateStore("en-us", "fr-ca");
  ASSERT_EQ(Verso({"tm", "import", id, kKit + "ImportTest2A.tmx"}).exit_code, 0);
  const std::string snap = dir_ + "/data/snapshots/" + id + ".snap";
  EXPECT_FALSE(std::filesystem::exists(snap));
  auto first = Verso({"tm", "lookup", id, "Second sentence."});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr("; index built in "));
  ASSERT_TRUE(std::filesystem::exists(snap));
  auto second = Verso({"tm", "lookup", id, "Second sentence."});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_THAT(second.out, HasSubstr("; index read from its snapshot in "));
  // A segment added after the snapshot is found: the changes since are read from the log.
  ASSERT_EQ(Verso({"tm", "add", id, "--source", "Zebra crossing widget", "--target",
                   "Passage pour piétons"})
                .exit_code,
            0);
  auto added = Verso({"tm", "lookup", id, "Zebra crossing widget"});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  EXPECT_THAT(added.out, HasSubstr("Passage pour piétons"));
  EXPECT_THAT(added.out, HasSubstr("; index read from its snapshot in "));
  // The snapshot made an hour older: not used, and written again by the command.
  std::string file;
  {
    std::ifstream in(snap, std::ios::binary);
    file.assign(std::istreambuf_iterator<char>(in), {});
  }
  const size_t eol = file.find('\n');
  ASSERT_NE(eol, std::string::npos);
  std::vector<std::string> fields;
  std::istringstream header(file.substr(0, eol));
  for (std::string f; header >> f;) fields.push_back(f);
  // magic version store position written endian placement checksum
  ASSERT_EQ(fields.size(), 8u) << file.substr(0, eol);
  const std::string written = fields[4];
  const std::string older = std::to_string(std::stoll(written) - 3'600'000'000LL);
  ASSERT_EQ(older.size(), written.size());
  file.replace(file.find(" " + written + " ") + 1, written.size(), older);
  {
    std::ofstream out(snap, std::ios::binary | std::ios::trunc);
    out << file;
  }
  auto stale = Verso({"tm", "lookup", id, "Zebra crossing widget"});
  ASSERT_EQ(stale.exit_code, 0) << stale.err;
  EXPECT_THAT(stale.out, HasSubstr("Passage pour piétons"));
  EXPECT_THAT(stale.out, HasSubstr("; index built in "));
  auto fresh = Verso({"tm", "lookup", id, "Zebra crossing widget"});
  EXPECT_THAT(fresh.out, HasSubstr("; index read from its snapshot in "));
  // Deleting the store deletes its snapshot (it holds the store's texts).
  ASSERT_EQ(Verso({"tm", "delete", id}).exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(snap));
}

TEST_F(CliTest, CreateImportLookupConcordanceStatsExport) {
  std::string id = CreateStore("en-us", "fr-ca");
  auto imported = Verso({"tm", "import", id, kKit + "ImportTest2A.tmx", "--json"});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  json report = json::parse(imported.out);
  EXPECT_EQ(report["inserted"], 7);
  EXPECT_EQ(report["skipped"], 0);

  auto lookup = Verso({"tm", "lookup", id, "Second sentence.", "--json"});
  ASSERT_EQ(lookup.exit_code, 0) << lookup.err;
  json matches = json::parse(lookup.out)["matches"];
  ASSERT_GE(matches.size(), 1u);
  EXPECT_EQ(matches[0]["segment"]["source"], "Second sentence.");  // plain: codes dropped
  auto tagged = Verso({"tm", "lookup", id, "Second sentence.", "--markup", "--json"});
  ASSERT_EQ(tagged.exit_code, 0) << tagged.err;
  EXPECT_EQ(json::parse(tagged.out)["matches"][0]["segment"]["source"],
            "Second<it type=\"bold\" pos=\"end\" x=\"1\">&lt;/b&gt;</it> sentence.");
  EXPECT_EQ(matches[0]["base_score"], 100);
  EXPECT_EQ(matches[0]["score"], 99);  // the <it> code is missing from the query
  EXPECT_EQ(matches[0]["band"], "95-99");

  auto text =
      Verso({"tm", "lookup", id, "Nested formatting = Bold+Italic+Underlined, Bold+Italic, Bold"});
  ASSERT_EQ(text.exit_code, 0);
  EXPECT_THAT(text.out, HasSubstr("Format en gigogne"));

  auto conc = Verso({"tm", "concordance", id, "chat", "--in", "target"});
  ASSERT_EQ(conc.exit_code, 0) << conc.err;
  EXPECT_THAT(conc.out, HasSubstr("[chat]"));
  EXPECT_THAT(conc.out, HasSubstr("1 found"));
  // Word beginnings with --match prefix, one page at a time through --cursor.
  auto first =
      Verso({"tm", "concordance", id, "sent", "--match", "prefix", "--limit", "1", "--json"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  json page1 = json::parse(first.out);
  ASSERT_EQ(page1["matches"].size(), 1u);
  ASSERT_TRUE(page1["next_cursor"].is_string()) << first.out;
  auto second = Verso({"tm", "concordance", id, "sent", "--match", "prefix", "--limit", "1",
                       "--cursor", page1["next_cursor"], "--json"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  json page2 = json::parse(second.out);
  ASSERT_EQ(page2["matches"].size(), 1u);
  EXPECT_LT(page2["matches"][0]["segment"]["id"], page1["matches"][0]["segment"]["id"]);
  EXPECT_EQ(page2["total"], page1["total"]);
  // Whole words by default: "sent" is no word of these sentences.
  EXPECT_EQ(json::parse(Verso({"tm", "concordance", id, "sent", "--json"}).out)["total"], 0);
  // The store's segments, a page at a time.
  auto listed = Verso({"tm", "segments", id, "--limit", "5", "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  json segs = json::parse(listed.out);
  ASSERT_EQ(segs["segments"].size(), 5u);
  auto rest = Verso({"tm", "segments", id, "--after",
                     std::to_string(segs["next_after"].get<int64_t>()), "--json"});
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  EXPECT_EQ(json::parse(rest.out)["segments"].size(), 2u);
  EXPECT_TRUE(json::parse(rest.out)["next_after"].is_null());

  auto stats = Verso({"tm", "stats", id, "--json"});
  ASSERT_EQ(stats.exit_code, 0);
  EXPECT_EQ(json::parse(stats.out)["segment_count"], 7);
  EXPECT_EQ(json::parse(stats.out)["source_lang"], "en-US");

  std::string out = dir_ + "/out.tmx";
  auto exported = Verso({"tm", "export", id, out});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_EQ(exported.out, "Exported 7 units to " + out + "\n");
  std::string again = CreateStore("en-US", "fr-CA");
  auto reimported = Verso({"tm", "import", again, out, "--json"});
  EXPECT_EQ(json::parse(reimported.out)["inserted"], 7);

  auto list = Verso({"tm", "list", "--json"});
  EXPECT_EQ(json::parse(list.out).size(), 2u);
}

// Units that name no creator are the importing user's ($USER, or --user), not "import".
TEST_F(CliTest, ImportedUnitsWithoutACreatorAreTheUsers) {
  std::string id = CreateStore("en", "fr");
  const std::string tmx = dir_ + "/anonymous.tmx";
  std::ofstream(tmx) << R"(<?xml version="1.0" encoding="UTF-8"?>
<tmx version="1.4"><header creationtool="x" creationtoolversion="1" segtype="sentence"
 o-tmf="x" adminlang="en" srclang="en" datatype="plaintext"/><body>
<tu><tuv xml:lang="en"><seg>Hello</seg></tuv><tuv xml:lang="fr"><seg>Bonjour</seg></tuv></tu>
<tu creationid="ys"><tuv xml:lang="en"><seg>Bye</seg></tuv><tuv xml:lang="fr"><seg>Salut</seg></tuv></tu>
</body></tmx>)";
  auto imported = Verso({"tm", "import", id, tmx}, {"USER=ana"});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  auto listed = Verso({"tm", "segments", id, "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  json segs = json::parse(listed.out)["segments"];
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(segs[0]["creator"], "ana");
  EXPECT_EQ(segs[1]["creator"], "ys");
  auto added = Verso({"tm", "add", id, "--source", "Yes", "--target", "Oui", "--json"},
                     {"USER=", "LOGNAME="});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  EXPECT_EQ(json::parse(added.out)["creator"], "cli");
}

TEST_F(CliTest, ErrorsAreClearAndExitNonZero) {
  std::string id = CreateStore("en", "de");
  auto bad_lang = Verso({"tm", "create", "--name", "x", "--source", "en", "--target", "deutsch"});
  EXPECT_EQ(bad_lang.exit_code, 1);
  EXPECT_EQ(bad_lang.err,
            "verso: error: target_lang: \"deutsch\" is not a valid BCP 47 language tag: "
            "\"deutsch\" is not a language subtag (2-3 letters)\n");
  auto missing = Verso({"tm", "lookup", "tm_nope", "hello"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "verso: error: TM store tm_nope not found\n");
  std::string broken = dir_ + "/broken.tmx";
  std::ofstream(broken)
      << "<?xml version=\"1.0\"?>\n<tmx version=\"1.4\">\n<header/>\n<body/></tmx>";
  auto import = Verso({"tm", "import", id, broken});
  EXPECT_EQ(import.exit_code, 1);
  EXPECT_EQ(import.err,
            "verso: error: " + broken + ": line 3: <header> has no srclang attribute\n");
  auto usage = Verso({"tm", "lookup"});
  EXPECT_EQ(usage.exit_code, 106);  // CLI11's "required option missing"
  auto config = Verso({"tm", "list"}, {"VERSO_DATA_DIRR=/tmp"});
  EXPECT_EQ(config.exit_code, 0);  // said, then ignored
  EXPECT_EQ(config.err,
            "verso: warning: environment variable VERSO_DATA_DIRR names no verso option; "
            "ignored\n");
  std::string yaml = dir_ + "/verso.yaml";
  std::ofstream(yaml) << "log:\n  level: chatty\n";
  auto bad_file = Verso({"--config", yaml, "tm", "list"});
  EXPECT_EQ(bad_file.exit_code, 1);
  EXPECT_EQ(bad_file.err,
            "verso: error: configuration: log.level: \"chatty\" is not one of debug, "
            "info, warn, error, off (file " +
                yaml + ":2:10)\n");
}

TEST_F(CliTest, AddThenLookupAcrossProcesses) {
  std::string id = CreateStore("en", "es");
  auto add = Verso({"tm", "add", id, "--source", "Save as <b>PDF</b> & exit", "--target",
                    "Guardar como <b>PDF</b> y salir", "--json"});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  EXPECT_EQ(json::parse(add.out)["source"], "Save as <b>PDF</b> & exit");  // as typed
  auto lookup = Verso({"tm", "lookup", id, "Save as <b>PDF</b> & exit", "--json"});
  ASSERT_EQ(lookup.exit_code, 0) << lookup.err;
  EXPECT_EQ(json::parse(lookup.out)["matches"][0]["score"], 100);
}

// `verso qe eval` on the held-out MLQE-PE rows: the figures docs/quality.md reports for the
// shipped model (refitting means updating both).
TEST_F(CliTest, QeEvalReportsTheHeldOutFigures) {
  const std::string mlqe = std::string(VERSO_SHARED_DATA) + "/qe/mlqe-pe/";
  auto ende = Verso(
      {"qe", "eval", mlqe + "direct-assessments_dev_en-de-dev/en-de-dev/dev.ende.df.short.tsv",
       "--hter", mlqe + "post-editing_dev_en-de-dev/en-de-dev/dev.hter", "--rows", "odd"});
  ASSERT_EQ(ende.exit_code, 0) << ende.err;
  EXPECT_THAT(ende.out, HasSubstr("(en -> de, 500 segments, rows: odd)"));
  EXPECT_THAT(ende.out,
              HasSubstr("verso builtin (with the engine's log-prob)      0.311     0.393"));
  EXPECT_THAT(ende.out,
              HasSubstr("engine log-prob alone (model_scores)            0.209     0.280"));
  EXPECT_THAT(ende.out, HasSubstr("       85       127   25.4%           84.3%            64.6%"));
  auto roen = Verso({"qe", "eval",
                     mlqe + "direct-assessments_dev_ro-en-dev/ro-en-dev/dev.roen.df.short.tsv",
                     "--rows", "odd"});
  ASSERT_EQ(roen.exit_code, 0) << roen.err;
  EXPECT_THAT(roen.out,
              HasSubstr("verso builtin (with the engine's log-prob)      0.674     0.599"));
  EXPECT_THAT(roen.out,
              HasSubstr("verso builtin (black-box features only)         0.452     0.318"));
  auto bad = Verso({"qe", "eval", kKit + "../../tbx/okapi-tbx2/test01.tbx"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("the languages cannot be told from the file name"));
}

// Imports that take nothing fail loudly: the LISA kit's en-US -> fr-CA TMX into an en -> es
// store skips every unit; a German catalog of this machine (its PO header says "Language: de")
// is refused by an en -> fr store before anything is written.
TEST_F(CliTest, ImportsThatTakeNothingOrTheWrongLanguageFail) {
  std::string es = CreateStore("en", "es");
  auto wrong_pair = Verso({"tm", "import", es, kKit + "ImportTest2A.tmx"});
  EXPECT_EQ(wrong_pair.exit_code, 1) << wrong_pair.out;
  EXPECT_THAT(wrong_pair.err, HasSubstr("verso: error: all 7 units were skipped, nothing was "
                                        "imported; the first, at line "));
  EXPECT_THAT(wrong_pair.err, HasSubstr("no <tuv> in the target language es"));

  const std::string po = dir_ + "/apt.de.po";
  auto unfmt =
      test::Run({"/usr/bin/msgunfmt", "/usr/share/locale/de/LC_MESSAGES/apt.mo", "-o", po});
  ASSERT_EQ(unfmt.exit_code, 0) << unfmt.err;
  std::string fr = CreateStore("en", "fr");
  auto german = Verso({"tm", "import", fr, po});
  EXPECT_EQ(german.exit_code, 1);
  EXPECT_THAT(german.err, HasSubstr("the PO header says \"Language: de\", but the store "
                                    "translates into fr"));
  auto stats = Verso({"tm", "stats", fr, "--json"});
  EXPECT_EQ(json::parse(stats.out)["segment_count"], 0) << stats.out << stats.err;
}

// A PO file in the charset its header names: this machine's German apt catalog, converted by
// gettext's msgconv to windows-1252, imports the same segments as the UTF-8 file.
TEST_F(CliTest, APoFileInAnotherCharsetImportsLikeItsUtf8Original) {
  const std::string po = dir_ + "/apt.de.po";
  const std::string cp1252 = dir_ + "/apt.de.cp1252.po";
  ASSERT_EQ(test::Run({"/usr/bin/msgunfmt", "/usr/share/locale/de/LC_MESSAGES/apt.mo", "-o", po})
                .exit_code,
            0);
  auto conv = test::Run({"/usr/bin/msgconv", "--to-code=CP1252", po, "-o", cp1252});
  ASSERT_EQ(conv.exit_code, 0) << conv.err;
  std::string utf8_store = CreateStore("en", "de");
  std::string cp_store = CreateStore("en", "de");
  auto a = Verso({"tm", "import", utf8_store, po, "--json"});
  auto b = Verso({"tm", "import", cp_store, cp1252, "--json"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_GT(json::parse(a.out)["inserted"].get<int>(), 100);
  EXPECT_EQ(json::parse(b.out)["inserted"], json::parse(a.out)["inserted"]);
  auto list = [&](const std::string& store) {
    json all = json::array();
    int64_t after = 0;
    while (true) {
      auto r = Verso(
          {"tm", "segments", store, "--limit", "1000", "--after", std::to_string(after), "--json"});
      json page = json::parse(r.out);
      for (auto& s : page["segments"]) all.push_back({s["source"], s["target"]});
      if (page["next_after"].is_null()) return all;
      after = page["next_after"];
    }
  };
  json from_utf8 = list(utf8_store);
  EXPECT_EQ(list(cp_store), from_utf8);
  EXPECT_THAT(from_utf8.dump(), HasSubstr("\u00fc"));  // an ü, read right from both files
}

// A first `serve` that cannot listen prints no admin key (it would be lost with the failed
// start); a stray VERSO_* variable (a client's VERSO_API_KEY) is a warning, not a stop.
TEST_F(CliTest, AFailedFirstStartKeepsNoKeyAndStrayVariablesOnlyWarn) {
  test::VersoServer running(dir_ + "/first", {});
  ASSERT_GT(running.port(), 0);
  auto busy = Verso({"serve", "--listen", "127.0.0.1:" + std::to_string(running.port())},
                    {"VERSO_API_KEY=vk_from_a_client_script"});
  EXPECT_EQ(busy.exit_code, 1);
  EXPECT_THAT(busy.err, HasSubstr("Address already in use"));
  EXPECT_THAT(busy.err, HasSubstr("verso: warning: environment variable VERSO_API_KEY names no "
                                  "verso option; ignored"));
  EXPECT_THAT(busy.out, Not(HasSubstr("admin key")));
  auto version = Verso({"version", "--json"});
  EXPECT_EQ(json::parse(version.out)["version"], "0.2.0") << version.out;
  auto keys = Verso({"keys", "list", "--json"});
  ASSERT_EQ(keys.exit_code, 0) << keys.err;
  EXPECT_EQ(json::parse(keys.out).size(), 0u) << keys.out;
  running.Signal(SIGTERM);
  EXPECT_EQ(running.Wait(), 0);
}

// The issue's case: a store made and a segment added with `verso tm` while `verso serve` runs on
// the same data directory reach the server within seconds, without a restart.
TEST_F(CliTest, TheCliAndARunningServerSeeEachOthersChanges) {
  const std::string data = dir_ + "/data";
  const std::string key = test::CreateKey(data, "acme", "tm:read,tm:write");
  test::VersoServer server(data, {});
  ASSERT_GT(server.port(), 0);
  auto created = Verso({"tm", "create", "--tenant", "acme", "--name", "cli", "--source", "en",
                        "--target", "es", "--json"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string store = json::parse(created.out)["id"];
  auto added = Verso({"tm", "add", store, "--tenant", "acme", "--source", "Save the file",
                      "--target", "Guarde el archivo"});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  std::string target;
  for (int i = 0; i < 100 && target.empty(); ++i) {
    test::HttpResponse r = test::Fetch(
        server.port(), "POST", "/v1/tm/" + store + "/lookup", R"({"source":"Save the file"})",
        {{"Authorization", "Bearer " + key}, {"Content-Type", "application/json"}});
    json body = json::parse(r.body, nullptr, false);
    if (r.status == 200 && !body["matches"].empty()) {
      target = body["matches"][0]["segment"]["target"];
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_EQ(target, "Guarde el archivo");
  server.Signal(SIGTERM);
  EXPECT_EQ(server.Wait(), 0);
}

// `verso autoscale plan` on a running server's /metrics, and with --state across runs: the
// window of "CPU > 70 % for 2 min" is judged over the samples the earlier runs kept.
TEST_F(CliTest, AutoscalePlanReadsAServersMetricsAndKeepsItsHistory) {
  test::VersoServer server(dir_ + "/data", {});
  ASSERT_GT(server.port(), 0);
  auto live = Verso({"autoscale", "plan", "--metrics",
                     "http://127.0.0.1:" + std::to_string(server.port()) + "/metrics", "--json"});
  ASSERT_EQ(live.exit_code, 0) << live.err;
  json plan = json::parse(live.out);
  ASSERT_EQ(plan.size(), 5u);
  EXPECT_EQ(plan[1]["role"], "workers");
  EXPECT_EQ(plan[1]["action"], "hold");  // an empty queue, but not for 10 minutes yet
  EXPECT_EQ(plan[1]["signal"], 0.0);     // verso_queue_oldest_seconds{queue="tasks"}
  server.Signal(SIGTERM);
  EXPECT_EQ(server.Wait(), 0);

  // Three runs a minute apart (their samples carry their times), each seeing 2 busy cores.
  const std::string state = dir_ + "/autoscale.state";
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  std::string last;
  for (int run = 0; run < 4; ++run) {
    const int64_t at = now_ms - (3 - run) * 60'000;
    const std::string file = dir_ + "/scrape" + std::to_string(run) + ".prom";
    std::ofstream(file) << "verso_process_cpu_seconds{role=\"api\",instance=\"a\"} "
                        << run * 60 * 2 * 0.9 << " " << at << "\n"
                        << "verso_cpu_limit_cores{role=\"api\",instance=\"a\"} 2 " << at << "\n";
    auto r = Verso({"autoscale", "plan", "--metrics", file, "--state", state});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    last = r.out.substr(0, r.out.find('\n'));
    if (run == 2) EXPECT_EQ(last, "api: scale_out 1 -> 3 (CPU 90 % > 70 % for 2 min)") << run;
    if (run < 2) EXPECT_EQ(last.rfind("api: hold", 0), 0u) << run << ": " << last;
  }
  EXPECT_EQ(last, "api: scale_out 1 -> 3 (CPU 90 % > 70 % for 2 min)");
  // A malformed scrape names its line; the state file is left as it was.
  const std::string before = ReadFile(state).value_or("");
  std::ofstream(dir_ + "/bad.prom") << "verso_queue_depth{queue=\"tasks\"} 1\nverso_x{ 2\n";
  auto bad = Verso({"autoscale", "plan", "--metrics", dir_ + "/bad.prom", "--state", state});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.err, "verso: error: metrics line 2, column 10: expected a label name or }\n");
  EXPECT_EQ(ReadFile(state).value_or(""), before);
}

// Two stores of one tenant with one name cannot be told apart: the second is refused.
TEST_F(CliTest, StoreNamesAreUniquePerTenant) {
  auto first = Verso({"tm", "create", "--name", "Docs", "--source", "en", "--target", "es"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto again = Verso({"tm", "create", "--name", "Docs", "--source", "en", "--target", "fr"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("name: the tenant already has a store named \"Docs\" (tm_"));
  auto other = Verso(
      {"tm", "create", "--name", "Docs", "--tenant", "globex", "--source", "en", "--target", "es"});
  EXPECT_EQ(other.exit_code, 0) << other.err;
}

// The committed calibration (models/qe-calibration.json) is what `verso qe calibrate` measures
// now: Apertium's FLORES translations, their builtin scores and chrF against the references.
TEST_F(CliTest, QeCalibrationReproducesTheCommittedTable) {
  std::ifstream in(std::string(VERSO_SOURCE_DIR) + "/models/qe-calibration.json");
  json table = json::parse(in);
  ASSERT_EQ(table["entries"].size(), 10u);
  const std::string flores = std::string(VERSO_SHARED_DATA) + "/mt/flores101-devtest/";
  for (const auto& [s, t, sl, tl] : {std::tuple{"eng", "spa", "en", "es"}}) {
    auto r =
        Verso({"qe", "calibrate", flores + s + ".devtest", flores + t + ".devtest", "--source-lang",
               sl, "--target-lang", tl, "--data", "flores101-devtest", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    json measured = json::parse(r.out);
    json committed;
    for (const json& e : table["entries"]) {
      if (e["source_lang"] == sl && e["target_lang"] == tl) committed = e;
    }
    EXPECT_EQ(measured, committed) << sl << "-" << tl;
    // The score says nothing about Apertium's quality here: nothing may be auto-approved.
    EXPECT_TRUE(measured["threshold"].is_null());
    EXPECT_LT(std::abs(measured["pearson"].get<double>()), 0.1);
  }
  auto other = Verso({"qe", "calibrate", flores + "eng.devtest", flores + "spa.devtest",
                      "--source-lang", "en", "--target-lang", "es", "--engine", "deepl"});
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_THAT(other.err, HasSubstr("--engine: only \"apertium\" runs here"));
}

}  // namespace
}  // namespace verso

namespace verso {
namespace {

// The backup drill on SQLite: a backup with its checksums, a change after it (verify names
// it), a restore that refuses to replace a database without --force and a file that is not a
// database, then restores and verifies the backup's content exactly.
TEST_F(CliTest, BackupRestoreAndVerifyFindWhatChangedSince) {
  const std::string store = CreateStore("en", "es");
  ASSERT_EQ(
      Verso({"tm", "add", store, "--source", "Save the file", "--target", "Guarde"}).exit_code, 0);
  const std::string file = dir_ + "/backup.db";
  auto backed = Verso({"backup", file});
  ASSERT_EQ(backed.exit_code, 0) << backed.err;
  EXPECT_THAT(backed.out, ::testing::HasSubstr("1 TM stores, 0 glossaries, 0 jobs"));
  EXPECT_EQ(Verso({"backup", file}).err,
            "verso: error: " + file + " exists: a backup goes to a new file\n");

  ASSERT_EQ(Verso({"tm", "add", store, "--source", "Open it", "--target", "Ábralo"}).exit_code, 0);
  auto changed = Verso({"verify", "--against", file + ".manifest"});
  EXPECT_EQ(changed.exit_code, 1);
  EXPECT_EQ(changed.out, "tm " + store + ": differs (2 items now, 1 in the backup)\n");

  EXPECT_EQ(Verso({"restore", file}).exit_code, 1);  // the database exists: --force
  std::ofstream(dir_ + "/bad.db") << "not a database";
  auto bad = Verso({"restore", dir_ + "/bad.db", "--force"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, ::testing::HasSubstr("not a verso database"));
  auto restored = Verso({"restore", file, "--force"});
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  EXPECT_THAT(restored.out, ::testing::HasSubstr("Verified: 1 TM stores, glossaries and jobs"));
  auto same = Verso({"verify", "--against", file + ".manifest"});
  EXPECT_EQ(same.exit_code, 0) << same.err;
  auto stats = Verso({"tm", "stats", store, "--json"});
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_EQ(json::parse(stats.out)["segment_count"], 1) << stats.out;  // as backed up
}

// `verso backup DIR --keep N`: the newest N backups stay, with the change log files they need.
TEST_F(CliTest, BackupKeepsTheNewestAndTheChangeLogTheyNeed) {
  const std::string store = CreateStore("en", "es");
  const std::string backups = dir_ + "/backups";
  std::filesystem::create_directories(backups);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Verso({"tm", "add", store, "--source", "Line " + std::to_string(i), "--target",
                     "Línea " + std::to_string(i)})
                  .exit_code,
              0);
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // names by second
    auto backed = Verso({"backup", backups, "--keep", "2"});
    ASSERT_EQ(backed.exit_code, 0) << backed.err;
    if (i == 2) {
      // The first backup goes, and the log file between it and the second (the one before the
      // first went when the first was taken: no kept backup needed it then).
      EXPECT_THAT(backed.out, ::testing::HasSubstr("Kept the newest 2 backups in " + backups +
                                                   " (removed 1); removed 1 change log files (1 "
                                                   "KiB) and 0 logs set aside"));
    }
  }
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(backups)) {
    files += e.path().extension() == ".db" ? 1 : 0;
  }
  EXPECT_EQ(files, 2);
  // Another database's backup in the same directory, named as the oldest: never removed.
  const std::string foreign = backups + "/verso-20000101T000000Z.db";
  test::RunResult other =
      test::Run({VERSO_BINARY, "--data-dir", dir_ + "/other", "backup", foreign});
  ASSERT_EQ(other.exit_code, 0) << other.err;
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto again = Verso({"backup", backups, "--keep", "2"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, ::testing::HasSubstr("(removed 1; left 1 of other databases)"));
  EXPECT_TRUE(std::filesystem::exists(foreign));
  EXPECT_TRUE(std::filesystem::exists(foreign + ".manifest"));
  auto not_a_dir = Verso({"backup", dir_ + "/one.db", "--keep", "2"});
  EXPECT_EQ(not_a_dir.exit_code, 1);
  EXPECT_THAT(not_a_dir.err,
              ::testing::HasSubstr("--keep: " + dir_ + "/one.db is not a directory of backups"));
}

}  // namespace
}  // namespace verso
