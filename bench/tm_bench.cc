// TM benchmark: builds TMs of real text (the machine's gettext catalogs, grown by word edits),
// imports them from TMX, and measures lookups of verso's index beside the linear scan (the same
// scoring over every segment) and beside PostgreSQL pg_trgm (Weblate's approach) on the same
// queries. Prints figures; asserts nothing.
//
//   tm_bench run --po CATALOG.po --work DIR [--sizes 100000,1000000] [--queries 2000]
//                [--pg "host=127.0.0.1 port=5433 dbname=postgres"] [--pg-queries 500]
//   tm_bench startup DB      (one cold start: load and index every store; prints JSON)
//   tm_bench snapshot CATALOG.po DIR SIZE  (a new owner: rebuild vs snapshot; see Snapshot)
#include <libpq-fe.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "absl/time/time.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/json_escape.h"
#include "common/log.h"
#include "formats/formats.h"
#include "storage/storage.h"
#include "text/text.h"
#include "tm/scoring.h"
#include "tm/tm.h"

namespace verso::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// A field of /proc/self/status in kB ("VmRSS", "RssAnon", "RssFile").
int64_t StatusKb(std::string_view field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(field) && line.size() > field.size() && line[field.size()] == ':') {
      return std::stoll(line.substr(field.size() + 1));
    }
  }
  return 0;
}

int64_t RssKb() { return StatusKb("VmRSS"); }

struct Pair {
  std::string source;  // plain text
  std::string target;
};

// ---- Corpus --------------------------------------------------------------------------------

std::vector<Pair> ReadCatalog(const std::string& path) {
  auto reader = formats::PoReader::OpenFile(path);
  if (!reader.ok()) {
    std::cerr << reader.status() << "\n";
    std::exit(1);
  }
  std::vector<Pair> pairs;
  std::set<std::string> seen;
  formats::PoEntry e;
  while (true) {
    auto more = (*reader)->Next(&e);
    if (!more.ok()) {
      std::cerr << more.status() << "\n";
      std::exit(1);
    }
    if (!*more) break;
    if (e.msgid.empty() || e.fuzzy() || e.obsolete || e.msgstr.empty() || e.msgstr[0].empty()) {
      continue;
    }
    bool control = false;
    for (char c : e.msgid + e.msgstr[0]) {
      control |= static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t';
    }
    if (control || !text::IsValidUtf8(e.msgid) || !text::IsValidUtf8(e.msgstr[0])) continue;
    if (e.msgid.find_first_not_of(" \t\n") == std::string::npos) continue;
    if (!seen.insert(e.msgid).second) continue;
    pairs.push_back({e.msgid, e.msgstr[0]});
  }
  return pairs;
}

std::vector<std::string> Words(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ' ') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// 1-3 word edits (substitute, insert, delete) with words drawn from the corpus.
std::string Perturb(std::mt19937_64& rng, const std::string& s,
                    const std::vector<std::string>& vocab) {
  std::vector<std::string> w = Words(s);
  int edits = 1 + static_cast<int>(rng() % 3);
  for (int i = 0; i < edits; ++i) {
    int op = static_cast<int>(rng() % 3);
    if (w.size() <= 1) op = 1;
    size_t pos = w.empty() ? 0 : rng() % w.size();
    const std::string& word = vocab[rng() % vocab.size()];
    if (op == 0) {
      w[pos] = word;
    } else if (op == 1) {
      w.insert(w.begin() + static_cast<long>(pos), word);
    } else {
      w.erase(w.begin() + static_cast<long>(pos));
    }
  }
  std::string out;
  for (size_t i = 0; i < w.size(); ++i) out += (i ? " " : "") + w[i];
  return out.empty() ? s + " x" : out;
}

struct Query {
  std::string text;  // plain
  int type;          // 0 exact copy, 1 edited, 2 unseen
};
const char* kTypeNames[] = {"exact copy", "1-3 word edits", "unseen"};

struct Corpus {
  std::vector<Pair> base;     // in the TM
  std::vector<Pair> heldout;  // never in the TM: the unseen queries
  std::vector<std::string> vocab;
};

Corpus SplitCorpus(std::vector<Pair> pairs) {
  std::mt19937_64 rng(20261126);
  std::shuffle(pairs.begin(), pairs.end(), rng);
  Corpus c;
  size_t held = std::min<size_t>(2000, pairs.size() / 20);
  c.heldout.assign(pairs.begin(), pairs.begin() + static_cast<long>(held));
  c.base.assign(pairs.begin() + static_cast<long>(held), pairs.end());
  std::set<std::string> vocab;
  for (const auto& p : c.base) {
    for (auto& w : Words(p.source)) vocab.insert(w);
  }
  c.vocab.assign(vocab.begin(), vocab.end());
  return c;
}

// The first `n` TM entries: the real pairs, then perturbed variants of them.
std::vector<Pair> GrowTm(const Corpus& c, size_t n) {
  std::mt19937_64 rng(n);
  std::vector<Pair> out;
  out.reserve(n);
  for (size_t i = 0; i < n && i < c.base.size(); ++i) out.push_back(c.base[i]);
  std::set<std::string> seen;
  for (const auto& p : out) seen.insert(p.source);
  while (out.size() < n) {
    const Pair& p = c.base[rng() % c.base.size()];
    std::string s = Perturb(rng, p.source, c.vocab);
    if (!seen.insert(s).second) continue;
    out.push_back({std::move(s), p.target});
  }
  return out;
}

std::vector<Query> MakeQueries(const Corpus& c, const std::vector<Pair>& tm, size_t count) {
  std::mt19937_64 rng(7);
  std::vector<Query> q;
  size_t base = std::min(tm.size(), c.base.size());
  for (size_t i = 0; i < count; ++i) {
    int type = static_cast<int>(i % 3);
    if (type == 0) {
      q.push_back({tm[rng() % tm.size()].source, 0});
    } else if (type == 1) {
      q.push_back({Perturb(rng, c.base[rng() % base].source, c.vocab), 1});
    } else {
      q.push_back({c.heldout[rng() % c.heldout.size()].source, 2});
    }
  }
  return q;
}

void WriteTmx(const std::vector<Pair>& tm, const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  formats::TmxWriter w(&out);
  formats::TmxHeader h;
  h.attributes = {{"creationtool", "tm_bench"}, {"segtype", "sentence"}, {"o-tmf", "verso"},
                  {"adminlang", "en"},          {"srclang", "en"},       {"datatype", "plaintext"},
                  {"creationtoolversion", "1"}};
  w.WriteHeader(h);
  for (const Pair& p : tm) {
    formats::TmxUnit u;
    u.attributes = {{"creationid", "bench"}, {"creationdate", "20261126T120000Z"}};
    u.variants.push_back({"en", {}, {}, {}, text::EscapeText(p.source), 0});
    u.variants.push_back({"es", {}, {}, {}, text::EscapeText(p.target), 0});
    w.WriteUnit(u);
  }
  w.Finish();
}

// ---- Measurements ----------------------------------------------------------------------------

struct Percentiles {
  double p50 = 0, p99 = 0, max = 0, mean = 0;
};

Percentiles Summarize(std::vector<double> v) {
  Percentiles p;
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))]; };
  p.p50 = at(0.50);
  p.p99 = at(0.99);
  p.max = v.back();
  double sum = 0;
  for (double x : v) sum += x;
  p.mean = sum / v.size();
  return p;
}

// Reference score of one candidate (the scoring every engine is judged by).
int ReferenceScore(const tm::Analysis& q, const std::string& candidate_plain) {
  tm::Analysis c = tm::Analyze(text::EscapeText(candidate_plain));
  int base;
  if (q.keys.empty() || c.keys.empty()) {
    base = q.keys.empty() && c.keys.empty() ? tm::EmptyKeyBaseScore(q, c) : 0;
  } else {
    base = tm::BaseScore(static_cast<int>(q.keys.size()), static_cast<int>(c.keys.size()),
                         tm::SequenceDistance(q.keys, c.keys));
  }
  return std::max(0, base - tm::ComputePenalties(q, c).total());
}

struct EngineResult {
  std::string name;
  Percentiles latency;
  double throughput = 0;  // lookups/s on 2 threads
  int found_best = 0;     // queries whose true best (>= 50) the engine returned
  int with_best = 0;      // queries that have a true best >= 50
  int queries = 0;
  std::map<int, Percentiles> by_type;
};

struct SizeResult {
  size_t size = 0;
  double tmx_mb = 0;
  double import_tus_per_s = 0;
  double import_seconds = 0;  // TMX -> SQLite, one durable transaction
  double index_seconds = 0;   // then making it searchable
  double startup_seconds = 0;
  int64_t startup_rss_kb = 0;
  int64_t index_bytes = 0;
  std::vector<EngineResult> engines;
  std::string pg_note;
};

std::string Pad(std::string s, size_t n) {
  if (s.size() < n) s.append(n - s.size(), ' ');
  return s;
}

std::string Fixed(double v, int digits = 2) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

// ---- PostgreSQL pg_trgm ------------------------------------------------------------------------

class Pg {
 public:
  explicit Pg(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {}
  ~Pg() { PQfinish(conn_); }
  bool ok() const { return PQstatus(conn_) == CONNECTION_OK; }
  std::string error() const { return PQerrorMessage(conn_); }
  bool Exec(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK ||
              PQresultStatus(r) == PGRES_COPY_IN;
    if (!ok) std::cerr << "pg: " << PQerrorMessage(conn_) << " in " << sql.substr(0, 80) << "\n";
    PQclear(r);
    return ok;
  }
  bool Copy(const std::string& table, const std::vector<Pair>& rows) {
    if (!Exec("COPY " + table + "(id, source) FROM STDIN")) return false;
    std::string buf;
    for (size_t i = 0; i < rows.size(); ++i) {
      buf += std::to_string(i + 1);
      buf += '\t';
      for (char c : rows[i].source) {
        if (c == '\\') {
          buf += "\\\\";
        } else if (c == '\n') {
          buf += "\\n";
        } else if (c == '\t') {
          buf += "\\t";
        } else if (c == '\r') {
          buf += "\\r";
        } else {
          buf += c;
        }
      }
      buf += '\n';
      if (buf.size() > (1 << 20)) {
        PQputCopyData(conn_, buf.data(), static_cast<int>(buf.size()));
        buf.clear();
      }
    }
    PQputCopyData(conn_, buf.data(), static_cast<int>(buf.size()));
    PQputCopyEnd(conn_, nullptr);
    PGresult* r = PQgetResult(conn_);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
  }
  // Up to 10 sources by trigram distance among those with similarity >= threshold.
  std::vector<std::string> Query(const std::string& table, const std::string& q) {
    std::string sql =
        "SELECT source FROM " + table + " WHERE source % $1 ORDER BY source <-> $1 LIMIT 10";
    const char* params[] = {q.c_str()};
    PGresult* r = PQexecParams(conn_, sql.c_str(), 1, nullptr, params, nullptr, nullptr, 0);
    std::vector<std::string> out;
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
      for (int i = 0; i < PQntuples(r); ++i) out.emplace_back(PQgetvalue(r, i, 0));
    } else {
      std::cerr << "pg: " << PQerrorMessage(conn_) << "\n";
    }
    PQclear(r);
    return out;
  }

 private:
  PGconn* conn_;
};

// ---- The run -------------------------------------------------------------------------------

struct Options {
  std::string po, work, pg;
  std::vector<size_t> sizes = {100000, 1000000};
  size_t queries = 2000;
  size_t pg_queries = 500;
  bool reuse = false;  // keep the database of an earlier run (lookups only)
  std::string self;
};

// The store in a database an earlier run left (--reuse 1).
std::string ExistingStore(const std::string& db) {
  auto repo = storage::OpenSqlite(db, {});
  return (*(*repo)->tm().ListStores("bench"))[0].id;
}

// A new database in `dir` with one store: the TMX imported as a user would. Returns its id.
std::string ImportStore(const std::string& tmx, const std::string& dir, const std::string& db,
                        SizeResult* res) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto repo = storage::OpenSqlite(db, {});
  IdGenerator ids(verso::Clock::Real(), 1);
  tm::TmService service(repo->get(), &verso::Clock::Real(), &ids);
  (void)service.Load(false);
  std::string store_id = service.CreateStore("bench", "gettext", "en", "es")->record.id;
  auto report = service.ImportTmx("bench", store_id, tmx, {});
  if (!report.ok()) {
    std::cerr << report.status() << "\n";
    std::exit(1);
  }
  res->import_seconds = absl::ToDoubleSeconds(report->write_time);
  res->index_seconds = absl::ToDoubleSeconds(report->index_time);
  res->import_tus_per_s = report->units / res->import_seconds;
  std::cerr << "   imported " << report->inserted << " TUs in " << Fixed(res->import_seconds)
            << " s, indexed in " << Fixed(res->index_seconds) << " s\n";
  return store_id;
}

// Cold start in a fresh process (this program's `startup`): open the database, index every
// store, report time and memory.
void MeasureStartUp(const Options& o, const std::string& db, SizeResult* res) {
  std::string cmd = o.self + " startup " + db;
  FILE* p = popen(cmd.c_str(), "r");
  char line[512] = {0};
  if (p && fgets(line, sizeof(line), p)) {
    std::sscanf(line, "startup_seconds=%lf rss_kb=%ld index_bytes=%ld", &res->startup_seconds,
                &res->startup_rss_kb, &res->index_bytes);
  }
  if (p) pclose(p);
}

// PostgreSQL pg_trgm on the same segments and queries; recall against the scan's `best`.
void MeasurePgTrgm(const Options& o, const std::vector<Pair>& tm, const std::vector<Query>& queries,
                   const std::vector<tm::Analysis>& analyses, const std::vector<int>& best,
                   SizeResult* res) {
  Pg pg(o.pg);
  if (!pg.ok()) {
    res->pg_note = "pg_trgm: cannot connect: " + pg.error();
  } else {
    std::string table = "tm_" + std::to_string(res->size);
    pg.Exec("CREATE EXTENSION IF NOT EXISTS pg_trgm");
    pg.Exec("DROP TABLE IF EXISTS " + table);
    pg.Exec("CREATE TABLE " + table + "(id int PRIMARY KEY, source text NOT NULL)");
    auto t0 = Clock::now();
    pg.Copy(table, tm);
    pg.Exec("CREATE INDEX " + table + "_trgm ON " + table + " USING gin (source gin_trgm_ops)");
    pg.Exec("ANALYZE " + table);
    double build = Ms(Clock::now() - t0) / 1000;
    pg.Exec("SET pg_trgm.similarity_threshold = 0.5");
    // Warm the caches, as verso's index is warm.
    for (size_t i = 0; i < 20 && i < queries.size(); ++i)
      pg.Query(table, queries[queries.size() - 1 - i].text);
    EngineResult pr{"pg_trgm (GIN)"};
    std::vector<double> lat;
    std::map<int, std::vector<double>> lat_by_type;
    size_t m = std::min(o.pg_queries, queries.size());
    for (size_t i = 0; i < m; ++i) {
      auto q0 = Clock::now();
      std::vector<std::string> rows = pg.Query(table, queries[i].text);
      double ms = Ms(Clock::now() - q0);
      lat.push_back(ms);
      lat_by_type[queries[i].type].push_back(ms);
      int b = 0;
      for (const auto& row : rows) b = std::max(b, ReferenceScore(analyses[i], row));
      pr.with_best += best[i] >= 50;
      pr.found_best += best[i] >= 50 && b >= best[i];
    }
    pr.latency = Summarize(lat);
    for (auto& [t, v] : lat_by_type) pr.by_type[t] = Summarize(v);
    pr.queries = static_cast<int>(m);
    res->pg_note = "pg_trgm: load + GIN index " + Fixed(build, 1) + " s; " + std::to_string(m) +
                   " queries (the first of the same list); similarity_threshold 0.5, LIMIT 10";
    res->engines.push_back(pr);
  }
}

// The 15 slowest queries of the index's run, with what the lookup visited (VERSO_BENCH_SLOWEST).
void PrintSlowest(tm::TmService& service, const std::string& store_id,
                  const std::vector<Query>& queries, const std::vector<std::string>& markup,
                  const std::vector<tm::Analysis>& analyses, const std::vector<double>& lat,
                  const std::vector<int>& best, const tm::LookupOptions& lo) {
  std::vector<size_t> order(queries.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return lat[a] > lat[b]; });
  for (size_t k = 0; k < 30 && k < order.size(); ++k) {
    size_t i = order[k];
    auto r = service.Lookup("bench", store_id, markup[i], lo);
    std::cerr << "   slow " << Fixed(lat[i]) << " ms  type=" << queries[i].type
              << " cand=" << r->candidates << " verified=" << r->verified << " best=" << best[i]
              << " got=" << (r->matches.empty() ? -1 : r->matches[0].score) << "/"
              << r->matches.size() << " n=" << analyses[i].keys.size() << "  "
              << queries[i].text.substr(0, 100) << "\n";
  }
}

// VERSO_BENCH_INDEX_ONLY=1: for comparing two builds quickly, index lookups only, five passes,
// no scan and no recall.
void MeasureIndexOnly(tm::TmService& service, const std::string& store_id,
                      const std::vector<Query>& queries, const std::vector<std::string>& markup,
                      const std::vector<tm::Analysis>& analyses, const tm::LookupOptions& lo) {
  // The machine's speed moves by tens of percent from minute to minute: each query's fastest
  // of the passes ("best") is what compares builds.
  std::vector<double> pass_lat, fastest(queries.size(), 1e9);
  for (int pass = 1; pass <= 5; ++pass) {
    pass_lat.clear();
    for (size_t i = 0; i < queries.size(); ++i) {
      auto t0 = Clock::now();
      (void)service.Lookup("bench", store_id, markup[i], lo);
      pass_lat.push_back(Ms(Clock::now() - t0));
      fastest[i] = std::min(fastest[i], pass_lat.back());
    }
    const Percentiles p = Summarize(pass_lat);
    std::cerr << "   pass " << pass << ": p50 " << Fixed(p.p50) << " ms  p99 " << Fixed(p.p99)
              << " ms  max " << Fixed(p.max) << " ms  mean " << Fixed(p.mean) << " ms\n";
  }
  const Percentiles best = Summarize(fastest);
  std::cerr << "   best:   p50 " << Fixed(best.p50) << " ms  p99 " << Fixed(best.p99) << " ms  max "
            << Fixed(best.max) << " ms  mean " << Fixed(best.mean) << " ms\n";
  if (std::getenv("VERSO_BENCH_SLOWEST")) {
    PrintSlowest(service, store_id, queries, markup, analyses, fastest,
                 std::vector<int>(queries.size(), -1), lo);
  }
}

SizeResult RunSize(const Options& o, const Corpus& corpus, size_t n) {
  SizeResult res;
  res.size = n;
  std::cerr << "== " << n << " segments\n";
  std::vector<Pair> tm = GrowTm(corpus, n);
  std::string tmx = o.work + "/tm-" + std::to_string(n) + ".tmx";
  if (!o.reuse || !std::filesystem::exists(tmx)) WriteTmx(tm, tmx);
  res.tmx_mb = static_cast<double>(std::filesystem::file_size(tmx)) / 1e6;
  std::string dir = o.work + "/db-" + std::to_string(n);
  std::string db = dir + "/verso.db";

  const std::string store_id =
      o.reuse && std::filesystem::exists(db) ? ExistingStore(db) : ImportStore(tmx, dir, db, &res);
  if (!o.reuse) MeasureStartUp(o, db, &res);

  auto repo = storage::OpenSqlite(db, {});
  IdGenerator ids(verso::Clock::Real(), 2);
  tm::TmService service(repo->get(), &verso::Clock::Real(), &ids);
  (void)service.Load(true);
  std::vector<Query> queries = MakeQueries(corpus, tm, o.queries);
  std::vector<std::string> markup;
  std::vector<tm::Analysis> analyses;
  for (const auto& q : queries) {
    markup.push_back(text::EscapeText(q.text));
    analyses.push_back(tm::Analyze(markup.back()));
  }

  // Linear scan: the truth, and the baseline.
  EngineResult scan{"linear scan"}, index{"verso index"};
  std::vector<int> best(queries.size(), 0);
  std::vector<double> lat;
  std::map<int, std::vector<double>> lat_by_type;
  int identical_topk = 0;
  tm::LookupOptions lo;
  lo.max_results = 5;
  tm::LookupOptions ex = lo;
  ex.exhaustive = true;
  std::vector<std::vector<std::pair<int, int64_t>>> scan_results(queries.size());
  if (std::getenv("VERSO_BENCH_PROFILE")) {
    // Index lookups only, repeated, for a profiler.
    for (int rep = 0; rep < 10; ++rep) {
      for (size_t i = 0; i < queries.size(); ++i)
        (void)service.Lookup("bench", store_id, markup[i], lo);
    }
    std::exit(0);
  }
  if (std::getenv("VERSO_BENCH_INDEX_ONLY")) {
    MeasureIndexOnly(service, store_id, queries, markup, analyses, lo);
    std::exit(0);
  }
  for (size_t i = 0; i < queries.size(); ++i) {
    auto t0 = Clock::now();
    auto r = service.Lookup("bench", store_id, markup[i], ex);
    double ms = Ms(Clock::now() - t0);
    lat.push_back(ms);
    lat_by_type[queries[i].type].push_back(ms);
    if (!r->matches.empty()) best[i] = r->matches[0].score;
    for (const auto& m : r->matches) scan_results[i].emplace_back(m.score, m.segment.id);
  }
  scan.latency = Summarize(lat);
  for (auto& [t, v] : lat_by_type) scan.by_type[t] = Summarize(v);
  scan.queries = static_cast<int>(queries.size());
  for (int b : best) {
    scan.with_best += b >= 50;
    scan.found_best += b >= 50;
  }

  lat.clear();
  lat_by_type.clear();
  for (size_t i = 0; i < queries.size(); ++i) {
    auto t0 = Clock::now();
    auto r = service.Lookup("bench", store_id, markup[i], lo);
    double ms = Ms(Clock::now() - t0);
    lat.push_back(ms);
    lat_by_type[queries[i].type].push_back(ms);
    int b = r->matches.empty() ? 0 : r->matches[0].score;
    index.with_best += best[i] >= 50;
    index.found_best += best[i] >= 50 && b == best[i];
    std::vector<std::pair<int, int64_t>> got;
    for (const auto& m : r->matches) got.emplace_back(m.score, m.segment.id);
    identical_topk += got == scan_results[i];
  }
  index.latency = Summarize(lat);
  for (auto& [t, v] : lat_by_type) index.by_type[t] = Summarize(v);
  if (std::getenv("VERSO_BENCH_SLOWEST")) {
    PrintSlowest(service, store_id, queries, markup, analyses, lat, best, lo);
  }
  index.queries = static_cast<int>(queries.size());
  std::cerr << "   top-5 identical to the scan for " << identical_topk << "/" << queries.size()
            << " queries\n";

  // Throughput on two threads, for the index and the scan.
  auto throughput = [&](const tm::LookupOptions& options, size_t per_thread) {
    std::atomic<size_t> done{0};
    auto t0 = Clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&, t] {
        for (size_t i = 0; i < per_thread; ++i) {
          size_t k = (i * 2 + static_cast<size_t>(t)) % queries.size();
          (void)service.Lookup("bench", store_id, markup[k], options);
          ++done;
        }
      });
    }
    for (auto& th : threads) th.join();
    return done.load() / (Ms(Clock::now() - t0) / 1000);
  };
  index.throughput = throughput(lo, queries.size());
  scan.throughput = throughput(ex, std::min<size_t>(queries.size() / 2, n >= 1000000 ? 200 : 1000));

  res.engines.push_back(index);
  res.engines.push_back(scan);

  if (!o.pg.empty()) MeasurePgTrgm(o, tm, queries, analyses, best, &res);
  return res;
}

void Print(const std::vector<SizeResult>& results, size_t queries) {
  std::cout << "\nTM lookup benchmark (" << queries
            << " queries: 1/3 exact copies, 1/3 with 1-3 word edits, 1/3 unseen sentences; "
               "max 5 results, min score 50)\n\n";
  std::cout << Pad("segments", 10) << Pad("engine", 16) << Pad("p50 ms", 9) << Pad("p99 ms", 9)
            << Pad("max ms", 9) << Pad("mean ms", 9) << Pad("lookups/s (2 thr)", 19)
            << "recall of the best match (>= 50)\n";
  for (const auto& r : results) {
    for (const auto& e : r.engines) {
      std::cout << Pad(std::to_string(r.size), 10) << Pad(e.name, 16)
                << Pad(Fixed(e.latency.p50), 9) << Pad(Fixed(e.latency.p99), 9)
                << Pad(Fixed(e.latency.max), 9) << Pad(Fixed(e.latency.mean), 9)
                << Pad(e.throughput > 0 ? Fixed(e.throughput, 0) : "-", 19)
                << Fixed(e.with_best ? 100.0 * e.found_best / e.with_best : 100.0, 1) << " % ("
                << e.found_best << "/" << e.with_best << ")\n";
    }
  }
  std::cout << "\nby query type (p50 / p99 ms)\n";
  for (const auto& r : results) {
    for (const auto& e : r.engines) {
      std::cout << Pad(std::to_string(r.size), 10) << Pad(e.name, 16);
      for (const auto& [t, p] : e.by_type) {
        std::cout << kTypeNames[t] << " " << Fixed(p.p50) << " / " << Fixed(p.p99) << "   ";
      }
      std::cout << "\n";
    }
  }
  std::cout << "\n";
  for (const auto& r : results) {
    const EngineResult* idx = nullptr;
    for (const auto& e : r.engines) {
      if (e.name == "verso index") idx = &e;
    }
    for (const auto& e : r.engines) {
      if (idx == nullptr || &e == idx) continue;
      std::cout << r.size << ": verso index vs " << e.name << ": p50 "
                << Fixed(e.latency.p50 / idx->latency.p50, 0) << "x, p99 "
                << Fixed(e.latency.p99 / idx->latency.p99, 0) << "x faster\n";
    }
  }
  std::cout << "\n"
            << Pad("segments", 10) << Pad("TMX MB", 9) << Pad("import s", 10)
            << Pad("import TUs/s", 14) << Pad("+ index s", 11) << Pad("start-up s", 12)
            << Pad("RSS MB", 9) << "index MB\n";
  for (const auto& r : results) {
    std::cout << Pad(std::to_string(r.size), 10) << Pad(Fixed(r.tmx_mb, 0), 9)
              << Pad(Fixed(r.import_seconds), 10) << Pad(Fixed(r.import_tus_per_s, 0), 14)
              << Pad(Fixed(r.index_seconds), 11) << Pad(Fixed(r.startup_seconds), 12)
              << Pad(Fixed(r.startup_rss_kb / 1024.0, 0), 9)
              << Fixed(static_cast<double>(r.index_bytes) / (1 << 20), 0) << "\n";
  }
  std::cout << "import = TMX parsed, validated and written to SQLite in one durable transaction; "
               "+ index = making the imported segments searchable.\n";
  for (const auto& r : results) {
    if (!r.pg_note.empty()) std::cout << r.size << ": " << r.pg_note << "\n";
  }
  std::cout << "start-up = a fresh process opening the database and rebuilding the index from "
               "SQLite (no snapshot); RSS measured in that process after start-up.\n";
}

// Writes a TM of `size` segments as TMX and query files (JSON request bodies, one per line) for
// the API benchmark: exact copies, fuzzy (edited and unseen, as in `run`), and batches of 50.
// A new owner of a store (issue 15): its index rebuilt from storage vs read from a snapshot.
// Imports `size` segments grown from the catalog into DIR/db-snapshot-SIZE (kept for the next
// run), then prints the times, the snapshot's size and the index's memory.
int Snapshot(const std::string& po, const std::string& work, size_t size) {
  const std::string dir = work + "/db-snapshot-" + std::to_string(size);
  const std::string db = dir + "/verso.db";
  IdGenerator ids(verso::Clock::Real(), 4);
  if (!std::filesystem::exists(db)) {
    std::filesystem::create_directories(dir);
    std::vector<Pair> tm = GrowTm(SplitCorpus(ReadCatalog(po)), size);
    const std::string tmx = dir + "/tm.tmx";
    WriteTmx(tm, tmx);
    auto repo = storage::OpenSqlite(db, {});
    tm::TmService service(repo->get(), &verso::Clock::Real(), &ids);
    (void)service.Load(false);
    const std::string id = service.CreateStore("bench", "gettext", "en", "es")->record.id;
    auto report = service.ImportTmx("bench", id, tmx, {});
    if (!report.ok()) {
      std::cerr << report.status() << "\n";
      return 1;
    }
    std::filesystem::remove(tmx);
  }
  const std::string snapshots = dir + "/snapshots";
  std::filesystem::remove_all(snapshots);
  auto repo = storage::OpenSqlite(db, {});
  std::string store;
  double rebuild_ms = 0, write_ms = 0, read_ms = 0;
  size_t segments = 0, index_bytes = 0;
  {
    tm::TmService owner(repo->get(), &verso::Clock::Real(), &ids);
    owner.EnableSnapshots(snapshots);
    (void)owner.Load(false);
    store = owner.StoreIds()[0];
    auto t0 = Clock::now();
    (void)owner.Warm(tm::kAnyTenant, store);
    rebuild_ms = Ms(Clock::now() - t0);
    segments = owner.IndexSizes()[0].segments;
    index_bytes = owner.IndexSizes()[0].bytes;
    t0 = Clock::now();
    if (absl::Status s = owner.WriteSnapshot(store); !s.ok()) {
      std::cerr << s << "\n";
      return 1;
    }
    write_ms = Ms(Clock::now() - t0);
  }
  const double snapshot_mb =
      static_cast<double>(std::filesystem::file_size(snapshots + "/" + store + ".snap")) / 1e6;
  bool from_snapshot = false;
  {
    tm::TmService next(repo->get(), &verso::Clock::Real(), &ids);
    next.EnableSnapshots(snapshots);
    (void)next.Load(false);
    auto t0 = Clock::now();
    (void)next.Warm(tm::kAnyTenant, store);
    read_ms = Ms(Clock::now() - t0);
    from_snapshot = next.IndexSizes()[0].from_snapshot;
  }
  std::printf(
      "new owner of a %zu-segment store: rebuild from storage %.0f ms; from a snapshot %.0f ms "
      "(%s); snapshot %.0f MB written in %.0f ms; index %.0f MB in memory\n",
      segments, rebuild_ms, read_ms, from_snapshot ? "read" : "NOT USED", snapshot_mb, write_ms,
      static_cast<double>(index_bytes) / 1e6);
  return 0;
}

int WriteCorpus(const std::string& po, const std::string& out_dir, size_t size) {
  Corpus corpus = SplitCorpus(ReadCatalog(po));
  std::vector<Pair> tm = GrowTm(corpus, size);
  std::filesystem::create_directories(out_dir);
  WriteTmx(tm, out_dir + "/tm.tmx");
  std::vector<Query> queries = MakeQueries(corpus, tm, 6000);
  std::ofstream exact(out_dir + "/exact.jsonl"), exact5(out_dir + "/exact5.jsonl"),
      fuzzy(out_dir + "/fuzzy.jsonl"), batch(out_dir + "/batch.jsonl");
  std::vector<std::string> batch_items;
  for (const Query& q : queries) {
    std::string src = JsonQuote(q.text);
    if (q.type == 0) {
      exact << "{\"source\":" << src << ",\"text_format\":\"plain\",\"max_results\":1}\n";
      exact5 << "{\"source\":" << src << ",\"text_format\":\"plain\"}\n";
    } else {
      fuzzy << "{\"source\":" << src << ",\"text_format\":\"plain\"}\n";
    }
    batch_items.push_back("{\"source\":" + src + "}");
    if (batch_items.size() == 50) {
      batch << "{\"text_format\":\"plain\",\"queries\":[";
      for (size_t i = 0; i < batch_items.size(); ++i) batch << (i ? "," : "") << batch_items[i];
      batch << "]}\n";
      batch_items.clear();
    }
  }
  std::cerr << "wrote " << tm.size() << " segments and " << queries.size() << " queries to "
            << out_dir << "\n";
  return 0;
}

int Startup(const std::string& db) {
  auto t0 = Clock::now();
  auto repo = storage::OpenSqlite(db, {});
  if (!repo.ok()) return 1;
  IdGenerator ids(verso::Clock::Real(), 3);
  tm::TmService service(repo->get(), &verso::Clock::Real(), &ids);
  auto loaded = service.Load(true);
  if (!loaded.ok()) return 1;
  double secs = Ms(Clock::now() - t0) / 1000;
  int64_t index_bytes = 0;
  auto stores = service.ListStores(tm::kAnyTenant);
  for (const auto& s : *stores) {
    index_bytes += static_cast<int64_t>(service.Stats(tm::kAnyTenant, s.record.id)->index_bytes);
  }
  std::printf("startup_seconds=%f rss_kb=%ld index_bytes=%ld anon_kb=%ld file_kb=%ld\n", secs,
              static_cast<long>(RssKb()), static_cast<long>(index_bytes),
              static_cast<long>(StatusKb("RssAnon")), static_cast<long>(StatusKb("RssFile")));
  return 0;
}

}  // namespace
}  // namespace verso::bench

int main(int argc, char** argv) {
  using namespace verso::bench;
  verso::log::Init(verso::log::Level::kWarn, verso::log::Format::kText);
  if (argc >= 3 && std::string(argv[1]) == "startup") return Startup(argv[2]);
  if (argc >= 5 && std::string(argv[1]) == "snapshot") {
    return Snapshot(argv[2], argv[3], std::stoul(argv[4]));
  }
  if (argc >= 5 && std::string(argv[1]) == "corpus") {
    return WriteCorpus(argv[2], argv[3], std::stoul(argv[4]));
  }
  if (argc < 2 || std::string(argv[1]) != "run") {
    std::cerr << "usage: tm_bench run --po FILE --work DIR [--sizes a,b] [--queries N] [--pg "
                 "CONNINFO] [--pg-queries N]\n";
    return 2;
  }
  Options o;
  o.self = argv[0];
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--po")
      o.po = v;
    else if (k == "--work")
      o.work = v;
    else if (k == "--pg")
      o.pg = v;
    else if (k == "--queries")
      o.queries = std::stoul(v);
    else if (k == "--pg-queries")
      o.pg_queries = std::stoul(v);
    else if (k == "--reuse")
      o.reuse = v == "1";
    else if (k == "--sizes") {
      o.sizes.clear();
      std::stringstream ss(v);
      std::string part;
      while (std::getline(ss, part, ',')) o.sizes.push_back(std::stoul(part));
    } else {
      std::cerr << "unknown option " << k << "\n";
      return 2;
    }
  }
  std::filesystem::create_directories(o.work);
  Corpus corpus = SplitCorpus(ReadCatalog(o.po));
  std::cerr << "corpus: " << corpus.base.size() << " real pairs in the TM, "
            << corpus.heldout.size() << " held out as unseen queries, " << corpus.vocab.size()
            << " words\n";
  std::vector<SizeResult> results;
  for (size_t n : o.sizes) results.push_back(RunSize(o, corpus, n));
  Print(results, o.queries);
  return 0;
}
