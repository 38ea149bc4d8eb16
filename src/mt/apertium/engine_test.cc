// The built-in engine against the real `apertium` command, on FLORES.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "absl/time/clock.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "mt/mt.h"
#include "text/text.h"

namespace verso::mt {
namespace {

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::string Flores(const std::string& lang) {
  return std::string(VERSO_SHARED_DATA) + "/mt/flores101-devtest/" + lang + ".devtest";
}

// Line numbers (from 1) 1, 1 + stride, 1 + 2 * stride, ... up to `lines`.
std::vector<size_t> Sample(size_t lines, size_t stride) {
  std::vector<size_t> out;
  for (size_t i = 1; i <= lines; i += stride) out.push_back(i);
  return out;
}

// VERSO_FLORES_FULL=1 runs the FLORES checks on every line (the engine side) and every eighth
// line (the per-line `apertium` command): about 20 minutes on two cores, since each run of the
// command starts a whole pipeline (4-5 s here) and spa-cat's one-shot stages start a process
// per segment. By default (the suite, CI) the command is compared on every 64th line (16 of
// 1012) and spa-cat translates every 16th line (64), about 2.5 minutes a pair here;
// bench/run-mt-bench compares every eng-spa line with its own `apertium -u`.
bool FullFlores() {
  const char* v = std::getenv("VERSO_FLORES_FULL");
  return v != nullptr && std::string(v) == "1";
}
size_t ReferenceStride() { return FullFlores() ? 8 : 64; }

// `sed -n Np FILE | apertium -u PAIR` for each line number (from 1), computed once per build
// tree (two lines at a time).
std::vector<std::string> References(const std::string& pair, const std::string& file,
                                    const std::vector<size_t>& line_numbers) {
  std::string dir = std::string(VERSO_BINARY_DIR) + "/apertium-refs/" + pair;
  std::filesystem::create_directories(dir);
  std::string numbers;
  for (size_t n : line_numbers) StrAppend(&numbers, n, " ");
  std::string script =
      "cd " + dir + " && for i in " + numbers +
      "; do [ -s $i.txt ] || echo $i; done | xargs -r -P 2 -I{} sh -c \"sed -n '{}p' '" + file +
      "' | apertium -u " + pair + " > {}.tmp.\\$\\$ && mv {}.tmp.\\$\\$ {}.txt\"";
  auto p = Subprocess::Start({"/bin/sh", "-c", script});
  EXPECT_TRUE(p.ok());
  std::string out;
  absl::Status s = (*p)->RunToEnd("", absl::Now() + absl::Minutes(10), &out);
  EXPECT_TRUE(s.ok()) << s;
  std::vector<std::string> refs;
  for (size_t i : line_numbers) {
    std::ifstream in(dir + "/" + std::to_string(i) + ".txt", std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string r = ss.str();
    if (!r.empty() && r.back() == '\n') r.pop_back();
    refs.push_back(text::EscapeText(r));  // the engine answers in markup
  }
  return refs;
}

std::unique_ptr<Engine> NewEngine(int pipelines, absl::Duration timeout = absl::Seconds(20)) {
  ApertiumOptions o;
  o.max_pipelines_per_pair = pipelines;
  o.segment_timeout = timeout;
  auto e = NewApertiumEngine(o);
  EXPECT_TRUE(e.ok()) << e.status();
  return std::move(*e);
}

absl::StatusOr<Translation> TranslateOne(Engine& e, const std::string& src, const std::string& tgt,
                                         const std::string& plain) {
  TranslateRequest r;
  r.source_lang = src;
  r.target_lang = tgt;
  r.texts = {text::EscapeText(plain)};
  auto t = e.Translate(r);
  if (!t.ok()) return t.status();
  return (*t)[0];
}

// Translates every line with `threads` concurrent callers taking lines in a shuffled order.
std::vector<std::string> TranslateAll(Engine& e, const std::string& src, const std::string& tgt,
                                      const std::vector<std::string>& lines, int threads) {
  std::vector<std::string> out(lines.size());
  std::vector<size_t> order(lines.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(threads));
  std::atomic<size_t> next{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (size_t k; (k = next.fetch_add(1)) < order.size();) {
        size_t i = order[k];
        auto r = TranslateOne(e, src, tgt, lines[i]);
        if (r.ok()) {
          out[i] = r->text;
        } else {
          ++failures;
          ADD_FAILURE() << "line " << i + 1 << ": " << r.status();
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(failures.load(), 0);
  return out;
}

// Translates the lines in requests of `batch` segments, two requests at a time.
std::vector<std::string> TranslateBatches(Engine& e, const std::string& src, const std::string& tgt,
                                          const std::vector<std::string>& lines, size_t batch) {
  std::vector<std::string> out(lines.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t begin; (begin = next.fetch_add(batch)) < lines.size();) {
      TranslateRequest r;
      r.source_lang = src;
      r.target_lang = tgt;
      for (size_t i = begin; i < std::min(lines.size(), begin + batch); ++i) {
        r.texts.push_back(text::EscapeText(lines[i]));
      }
      auto t = e.Translate(r);
      if (!t.ok()) {
        ADD_FAILURE() << "batch at line " << begin + 1 << ": " << t.status();
        continue;
      }
      EXPECT_EQ(t->size(), r.texts.size());
      for (size_t k = 0; k < t->size(); ++k) out[begin + k] = (*t)[k].text;
    }
  };
  std::thread a(worker), b(worker);
  a.join();
  b.join();
  return out;
}

size_t CountEqual(const std::vector<std::string>& a, const std::vector<std::string>& b,
                  const std::string& what) {
  size_t same = 0, shown = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] == b[i]) {
      ++same;
    } else if (shown++ < 3) {
      std::cerr << what << " line " << i + 1 << " differs:\n  apertium: " << b[i]
                << "\n  verso:    " << a[i] << "\n";
    }
  }
  std::cerr << what << ": " << same << " of " << a.size() << " lines identical\n";
  return same;
}

// Translates the FLORES lines 1, 1 + stride, ... (every line when `stride` is 1 or the run is
// full) and compares them with the `apertium` command on every ReferenceStride()th line.
void CheckFlores(const std::string& pair, const std::string& src, const std::string& tgt,
                 const std::string& file, size_t stride) {
  std::vector<std::string> all = ReadLines(Flores(file));
  ASSERT_EQ(all.size(), 1012u);
  if (FullFlores()) stride = 1;
  const std::vector<size_t> numbers = Sample(all.size(), stride);
  std::vector<std::string> lines;
  for (size_t n : numbers) lines.push_back(all[n - 1]);
  const std::vector<size_t> sample = Sample(all.size(), ReferenceStride());
  ASSERT_EQ(ReferenceStride() % stride, 0u);  // the sample is a subset of the lines
  std::vector<std::string> refs = References(pair, Flores(file), sample);
  auto engine = NewEngine(4);
  std::vector<std::string> c1 = TranslateAll(*engine, src, tgt, lines, 1);
  std::vector<std::string> c8 = TranslateAll(*engine, src, tgt, lines, 8);
  auto sampled = [&](const std::vector<std::string>& translated) {
    std::vector<std::string> out;
    for (size_t n : sample) out.push_back(translated[(n - 1) / stride]);
    return out;
  };
  // At least 99 % of the sampled lines as `apertium` translates each on its own...
  EXPECT_GE(CountEqual(sampled(c1), refs, pair + " concurrency 1") * 100, sample.size() * 99);
  EXPECT_GE(CountEqual(sampled(c8), refs, pair + " concurrency 8") * 100, sample.size() * 99);
  // ...and not one that depends on load, order or what was translated before.
  EXPECT_EQ(CountEqual(c8, c1, pair + " concurrency 8 vs 1"), lines.size());
  // Whole batches stream through the default number of pipelines.
  auto defaults = NewEngine(0);
  std::vector<std::string> batches = TranslateBatches(*defaults, src, tgt, lines, 100);
  EXPECT_EQ(CountEqual(batches, c1, pair + " in batches of 100 vs 1"), lines.size());
  // One request of every line: its segments go in a window at a time, refilled in blocks.
  std::vector<std::string> whole = TranslateBatches(*defaults, src, tgt, lines, lines.size());
  EXPECT_EQ(CountEqual(whole, c1, pair + " in one batch vs 1"), lines.size());
}

TEST(ApertiumEngineTest, FloresEngSpaEqualsTheApertiumCommandPerLine) {
  CheckFlores("eng-spa", "en", "es", "eng", 1);
}

TEST(ApertiumEngineTest, FloresSpaCatEqualsTheApertiumCommandPerLine) {
  CheckFlores("spa-cat", "es", "ca", "spa", 16);
}

TEST(ApertiumEngineTest, DeclaresInstalledPairsWithLanguageTags) {
  auto engine = NewEngine(1);
  std::vector<LanguagePair> pairs = engine->Pairs();
  EXPECT_NE(std::find(pairs.begin(), pairs.end(), LanguagePair{"en", "es"}), pairs.end());
  EXPECT_NE(std::find(pairs.begin(), pairs.end(), LanguagePair{"es", "ca"}), pairs.end());
  EXPECT_NE(std::find(pairs.begin(), pairs.end(), LanguagePair{"es", "pt-BR"}), pairs.end());
  EXPECT_NE(std::find(pairs.begin(), pairs.end(), LanguagePair{"es", "ca-valencia"}), pairs.end());
  EXPECT_TRUE(SupportsPair(pairs, "en-GB", "es-MX"));
  EXPECT_FALSE(SupportsPair(pairs, "en", "de"));
  TranslateRequest r{"en", "de", {"Hello"}};
  EXPECT_EQ(engine->Translate(r).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ApertiumEngineTest, CodesAndPlaceholdersSurviveAndUnknownWordsAreReported) {
  auto engine = NewEngine(1);
  TranslateRequest r;
  r.source_lang = "en";
  r.target_lang = "es";
  r.texts = {
      "Press <bpt i=\"1\">&lt;b&gt;</bpt>Save<ept i=\"1\">&lt;/b&gt;</ept> to keep %s "
      "files in {folder}.",
      "Arnold Schwarzenegger signed the law."};
  auto t = engine->Translate(r);
  ASSERT_TRUE(t.ok()) << t.status();
  const std::string& out = (*t)[0].text;
  for (const char* code :
       {"<bpt i=\"1\">&lt;b&gt;</bpt>", "<ept i=\"1\">&lt;/b&gt;</ept>", "%s", "{folder}"}) {
    size_t at = out.find(code);
    EXPECT_NE(at, std::string::npos) << code << " missing in " << out;
    EXPECT_EQ(out.find(code, at + 1), std::string::npos) << code << " twice in " << out;
  }
  EXPECT_LT(out.find("<bpt"), out.find("<ept"));
  EXPECT_EQ((*t)[0].engine, "apertium");
  EXPECT_EQ((*t)[0].model, "eng-spa");
  EXPECT_EQ((*t)[1].text, "Arnold Schwarzenegger firmó la ley.");
  EXPECT_EQ((*t)[1].unknown_words, std::vector<std::string>{"Schwarzenegger"});
  EXPECT_TRUE((*t)[0].unknown_words.empty());
}

// NUL ends a segment in the pipelines' stream: a text holding one must not break the pipeline
// other callers share (the request fuzz test found it through /v2/translate).
TEST(ApertiumEngineTest, ATextWithNulIsRefusedAndThePipelineKeepsServing) {
  auto engine = NewEngine(1);
  TranslateRequest bad;
  bad.source_lang = "en";
  bad.target_lang = "es";
  bad.texts = {"The house", std::string("is\0red", 6)};
  absl::StatusOr<std::vector<Translation>> refused = engine->Translate(bad);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.status().message(), "texts[1]: control character U+0000 at byte 2");
  bad.texts = {"The house is red."};
  auto t = engine->Translate(bad);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)[0].text, "La casa es roja.");
}

// Processes below this one whose command line contains `needle`.
std::vector<int> DescendantsRunning(const std::string& needle) {
  std::vector<int> pids;
  DIR* d = opendir("/proc");
  if (d == nullptr) return pids;
  while (dirent* e = readdir(d)) {
    int pid = atoi(e->d_name);
    if (pid <= 0) continue;
    std::ifstream cmd("/proc/" + std::to_string(pid) + "/cmdline");
    std::string c((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
    if (c.find(needle) == std::string::npos) continue;
    // Walk up the parents to see that it is ours.
    for (int p = pid; p > 1;) {
      std::ifstream stat("/proc/" + std::to_string(p) + "/stat");
      std::string s((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
      size_t close = s.rfind(')');
      if (close == std::string::npos) break;
      std::istringstream rest(s.substr(close + 2));
      char state;
      int ppid = 0;
      rest >> state >> ppid;
      if (ppid == getpid()) {
        pids.push_back(pid);
        break;
      }
      p = ppid;
    }
  }
  closedir(d);
  return pids;
}

// Callers that arrive together at a cold engine share the pipeline one of them starts: they do
// not each start their own beyond the limit (before the fix, eight callers started eight).
TEST(ApertiumEngineTest, CallersArrivingTogetherStartNoMorePipelinesThanTheLimit) {
  auto engine = NewEngine(/*pipelines=*/1);
  std::vector<std::thread> callers;
  std::vector<absl::StatusOr<Translation>> got(8, absl::UnknownError("not run"));
  for (int i = 0; i < 8; ++i) {
    callers.emplace_back(
        [&, i] { got[i] = TranslateOne(*engine, "en", "es", "The house is red."); });
  }
  for (auto& t : callers) t.join();
  for (const auto& t : got) {
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(t->text, "La casa es roja.");
  }
  // One morphological analyser per pipeline.
  EXPECT_EQ(DescendantsRunning("eng-spa.automorf.bin").size(), 1u);
}

// Workers translate FLORES lines (round and round) while pipeline processes are killed, until
// a dozen kills have landed and every line was translated at least once: the number of kills
// does not depend on how fast the machine is.
TEST(ApertiumEngineTest, KillingPipelineProcessesUnderLoadLosesNoRequest) {
  const std::vector<std::string> all = ReadLines(Flores("eng"));
  const std::vector<size_t> sample = Sample(all.size(), ReferenceStride());
  std::vector<std::string> lines;
  for (size_t n : sample) lines.push_back(all[n - 1]);
  std::vector<std::string> refs = References("eng-spa", Flores("eng"), sample);
  auto engine = NewEngine(3);
  constexpr int kWorkers = 3;
  constexpr int kKills = 12;
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::atomic<int> completed[kWorkers] = {};
  std::atomic<int> failures{0}, translated{0}, equal{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      while (!stop) {
        const size_t i = next.fetch_add(1) % lines.size();
        auto r = TranslateOne(*engine, "en", "es", lines[i]);
        if (r.ok()) {
          ++translated;
          if (r->text == refs[i]) {
            ++equal;
          } else if (translated < 5 * static_cast<int>(lines.size())) {
            ADD_FAILURE() << "line " << i + 1 << ": " << r->text << "\n  expected: " << refs[i];
          }
        } else {
          ++failures;
          ADD_FAILURE() << "line " << i + 1 << ": " << r.status();
        }
        ++completed[w];
      }
      completed[w] = -1;  // done: differs from any count the killer waits on
    });
  }
  // kill -9 one process of some pipeline; wait until the engine has noticed (it reaps a dead
  // stage when it finds its pipeline broken, whether busy or idle), then until every worker has
  // finished another segment (so the segment that was hit has had its one retry), and again.
  // The engine promises one retry, so a second kill must not land while a retry is running.
  std::mt19937 rng(7);
  const char* stages[] = {"autobil.bin", "automorf.bin", "t1x.bin", "autogen.bin", "lrx-proc"};
  int kills = 0;
  while (kills < kKills || next.load() < lines.size()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (kills >= kKills) continue;  // the first pass over the lines is not finished yet
    auto pids = DescendantsRunning(stages[rng() % 5]);
    if (pids.empty()) continue;
    int victim = pids[rng() % pids.size()];
    if (kill(victim, SIGKILL) != 0) continue;
    ++kills;
    const std::string proc = "/proc/" + std::to_string(victim);
    for (int waited = 0; std::filesystem::exists(proc) && waited < 5000; ++waited) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    int seen[kWorkers];
    for (int w = 0; w < kWorkers; ++w) seen[w] = completed[w];
    for (int w = 0; w < kWorkers; ++w) {
      while (seen[w] >= 0 && completed[w] == seen[w]) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
  }
  stop = true;
  for (auto& w : workers) w.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(kills, kKills);
  EXPECT_GE(translated.load(), static_cast<int>(lines.size()));
  EXPECT_EQ(equal.load(), translated.load()) << "eng-spa under kill -9";
}

TEST(ApertiumEngineTest, AModeWhoseProgramIsMissingFailsCleanly) {
  std::string dir = ::testing::TempDir() + "/modes_" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/eng-fra.mode")
      << "lt-proc '/usr/share/apertium/apertium-eng-spa/eng-spa.automorf.bin' | "
         "verso-no-such-program -x | "
         "lt-proc -g '/usr/share/apertium/apertium-eng-spa/eng-spa.autogen.bin'\n";
  ApertiumOptions o;
  o.modes_dir = dir;
  auto engine = NewApertiumEngine(o);
  ASSERT_TRUE(engine.ok()) << engine.status();
  for (int i = 0; i < 2; ++i) {  // the engine stays usable
    auto t = TranslateOne(**engine, "en", "fr", "Hello");
    EXPECT_EQ(t.status().code(), absl::StatusCode::kUnavailable) << t.status();
    EXPECT_NE(std::string(t.status().message()).find("verso-no-such-program"), std::string::npos)
        << t.status();
  }
  std::filesystem::remove_all(dir);
}

TEST(ApertiumEngineTest, AStuckPipelineIsReplacedAndTheSegmentRetried) {
  // The time-out must leave a fresh pipeline time to load its dictionaries on a busy machine
  // (2 s did not, once in three runs here).
  auto engine = NewEngine(1, absl::Seconds(6));
  ASSERT_TRUE(TranslateOne(*engine, "en", "es", "Good morning.").ok());
  // Freeze the generator: the next segment cannot get through this pipeline.
  auto pids = DescendantsRunning("autogen.bin");
  ASSERT_FALSE(pids.empty());
  for (int pid : pids) kill(pid, SIGSTOP);
  auto t = TranslateOne(*engine, "en", "es", "He signed the law.");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->text, " Firmó la ley.");
  for (int pid : pids) kill(pid, SIGCONT);  // killed already with its group; harmless
}

}  // namespace
}  // namespace verso::mt
