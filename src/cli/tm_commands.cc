#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "absl/time/time.h"
#include "api/json.h"
#include "cli/cli.h"
#include "common/json.h"
#include "common/status.h"
#include "common/strings.h"
#include "text/text.h"
#include "tm/tm.h"

namespace verso::cli {
namespace {

using json = api::Json;

using api::ReportJson;
using api::SegmentJson;
using api::StoreJson;

std::string WithCommas(int64_t n) {
  std::string digits = StrCat(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return n < 0 ? "-" + out : out;
}

// Shared state of one command's options.
struct Common {
  std::string tenant = std::string(tm::kAnyTenant);
  bool json = false;
};

void AddCommon(CLI::App* cmd, Common* c) {
  cmd->add_option("--tenant", c->tenant, "Act as this tenant (default: any tenant, as admin)");
  cmd->add_flag("--json", c->json, "Print JSON instead of text");
}

// Runs `body` as the command; prints errors and sets the exit code.
void Run(Environment* env, int* exit_code,
         const std::function<absl::Status(tm::TmService&)>& body) {
  auto service = env->Tm();
  absl::Status s = service.ok() ? body(**service) : service.status();
  if (!s.ok()) {
    env->err() << "verso: error: " << s.message() << "\n";
    *exit_code = 1;
  }
}

// What the user reads: plain text unless --markup asked for tagged text.
std::string Shown(const std::string& markup, bool as_markup) {
  return as_markup ? markup : text::PlainText(markup);
}

// Text the user typed is plain text unless --markup says it is tagged text already.
std::string AsMarkup(const std::string& text, bool markup) {
  return markup ? text : text::EscapeText(text);
}

void PrintHighlighted(std::ostream& out, std::string_view text,
                      const std::vector<std::pair<uint32_t, uint32_t>>& ranges, bool tty) {
  size_t pos = 0;
  for (const auto& [b, e] : ranges) {
    out << text.substr(pos, b - pos) << (tty ? "\033[1;33m" : "[") << text.substr(b, e - b)
        << (tty ? "\033[0m" : "]");
    pos = e;
  }
  out << text.substr(pos);
}

// `verso tm segments STORE`: a store's segments, a page at a time.
void AddSegmentsCommand(CLI::App* tm, Environment* env, int* exit_code) {
  auto* cmd = tm->add_subcommand("segments", "List a store's segments, oldest first");
  auto common = std::make_shared<Common>();
  auto store = std::make_shared<std::string>();
  auto limit = std::make_shared<int>(100);
  auto after = std::make_shared<int64_t>(0);
  cmd->add_option("store", *store, "Store id")->required();
  cmd->add_option("--limit", *limit, "Most segments (1-1000)")->default_val(100);
  cmd->add_option("--after", *after, "Only segments with a greater id (the next page)");
  AddCommon(cmd, common.get());
  cmd->callback([=] {
    Run(env, exit_code, [&](tm::TmService& s) -> absl::Status {
      bool more = false;
      VERSO_ASSIGN_OR_RETURN(auto segments,
                             s.ListSegments(common->tenant, *store, *after, *limit, &more));
      if (common->json) {
        json arr = json::array();
        for (const auto& seg : segments) arr.push_back(SegmentJson(seg, true));
        env->out() << DumpJson(json{{"segments", arr},
                                    {"next_after", more ? json(segments.back().id) : json()}},
                               2)
                   << "\n";
        return absl::OkStatus();
      }
      for (const auto& seg : segments) {
        env->out() << "#" << seg.id << "  " << text::PlainText(seg.source) << "\n        "
                   << text::PlainText(seg.target) << "\n";
      }
      if (more) env->out() << "more: --after " << segments.back().id << "\n";
      return absl::OkStatus();
    });
  });
}

// `verso tm create`.
void AddCreateCommand(CLI::App* tm, Environment* env, int* exit_code) {
  auto* cmd = tm->add_subcommand("create", "Create a TM store");
  auto common = std::make_shared<Common>();
  auto name = std::make_shared<std::string>();
  auto source = std::make_shared<std::string>();
  auto target = std::make_shared<std::string>();
  cmd->add_option("--name", *name, "Store name")->required();
  cmd->add_option("--source", *source, "Source language (BCP 47, e.g. en-US)")->required();
  cmd->add_option("--target", *target, "Target language (BCP 47, e.g. es-ES)")->required();
  cmd->add_option("--tenant", common->tenant, "Owning tenant")->default_val("default");
  cmd->add_flag("--json", common->json, "Print JSON");
  cmd->callback([=] {
    Run(env, exit_code, [&](tm::TmService& s) -> absl::Status {
      auto store = s.CreateStore(common->tenant, *name, *source, *target);
      if (!store.ok()) return store.status();
      VERSO_RETURN_IF_ERROR(
          env->Audit(store->record.tenant, "tm create", StrCat("id=", store->record.id)));
      if (common->json) {
        env->out() << DumpJson(StoreJson(*store), 2) << "\n";
      } else {
        env->out() << "Created TM store " << store->record.id << " \"" << store->record.name
                   << "\" (" << store->record.source_lang << " -> " << store->record.target_lang
                   << ", tenant " << store->record.tenant << ")\n";
      }
      return absl::OkStatus();
    });
  });
}

// `verso tm list`.
void AddListCommand(CLI::App* tm, Environment* env, int* exit_code) {
  auto* cmd = tm->add_subcommand("list", "List TM stores");
  auto common = std::make_shared<Common>();
  AddCommon(cmd, common.get());
  cmd->callback([=] {
    Run(env, exit_code, [&](tm::TmService& s) -> absl::Status {
      auto stores = s.ListStores(common->tenant);
      if (!stores.ok()) return stores.status();
      if (common->json) {
        json arr = json::array();
        for (const auto& st : *stores) arr.push_back(StoreJson(st));
        env->out() << DumpJson(arr, 2) << "\n";
        return absl::OkStatus();
      }
      env->out() << std::left << std::setw(30) << "ID" << std::setw(14) << "TENANT" << std::setw(18)
                 << "PAIR" << std::setw(12) << "SEGMENTS"
                 << "NAME\n";
      for (const auto& st : *stores) {
        env->out() << std::setw(30) << st.record.id << std::setw(14) << st.record.tenant
                   << std::setw(18) << (st.record.source_lang + " -> " + st.record.target_lang)
                   << std::setw(12) << WithCommas(st.segment_count) << st.record.name << "\n";
      }
      return absl::OkStatus();
    });
  });
}

// `verso tm delete`.
void AddDeleteCommand(CLI::App* tm, Environment* env, int* exit_code) {
  auto* cmd = tm->add_subcommand("delete", "Delete a TM store and all its segments");
  auto common = std::make_shared<Common>();
  auto store = std::make_shared<std::string>();
  cmd->add_option("store", *store, "Store id")->required();
  AddCommon(cmd, common.get());
  cmd->callback([=] {
    Run(env, exit_code, [&](tm::TmService& s) -> absl::Status {
      absl::Status st = s.DeleteStore(common->tenant, *store);
      if (st.ok()) st = env->Audit(common->tenant, "tm delete", StrCat("store=", *store));
      if (st.ok() && !common->json) env->out() << "Deleted TM store " << *store << "\n";
      if (st.ok() && common->json) env->out() << DumpJson(json{{"deleted", *store}}) << "\n";
      return st;
    });
  });
}

// `verso tm add`.
void AddAddCommand(CLI::App* tm, Environment* env, int* exit_code) {
  auto* cmd = tm->add_subcommand("add", "Add one segment");
  auto common = std::make_shared<Common>();
  auto store = std::make_shared<std::string>();
  auto source = std::make_shared<std::string>();
  auto target = std::make_shared<std::string>();
  auto context = std::make_shared<std::string>();
  auto user = std::make_shared<std::string>(DefaultUser());
  auto markup = std::make_shared<bool>(false);
  cmd->add_option("store", *store, "Store id")->required();
  cmd->add_option("--source", *source, "Source text")->required();
  cmd->add_option("--target", *target, "Target text")->required();
  cmd->add_option("--context-key", *context, "Context key (resource id, msgctxt)");
  cmd->add_option("--user", *user, "Creator (default: $USER)");
  cmd->add_flag("--markup", *markup, "Texts are tagged text (inline codes as XML elements)");
  AddCommon(cmd, common.get());
  cmd->callback([=] {
    Run(env, exit_code, [&](tm::TmService& s) -> absl::Status {
      tm::SegmentRecord r;
      r.source = AsMarkup(*source, *markup);
      r.target = AsMarkup(*target, *markup);
      r.context.key = *context;
      auto added = s.AddSegments(common->tenant, *store, {r}, *user);
      if (!added.ok()) return added.status();
      VERSO_RETURN_IF_ERROR(
          env->Audit(common->tenant, "tm add", StrCat("store=", *store, " id=", (*added)[0].id)));
      if (common->json) {
        env->out() << DumpJson(SegmentJson((*added)[0], !*markup)) << "\n";
      } else {
        env->out() << "Added segment " << (*added)[0].id << "\n";
      }
      env->out().flush();
      return absl::OkStatus();
    });
  });
}

// `verso tm import`.
void AddImportCommand(CLI::App* tm, Environment* env, int* exit_code) {
  auto* cmd = tm->add_subcommand("import", "Import a TMX (or gettext PO) file into a store");
  auto common = std::make_shared<Common>();
  auto store = std::make_shared<std::string>();
  auto file = std::make_shared<std::string>();
  auto strict = std::make_shared<bool>(false);
  auto user = std::make_shared<std::string>(DefaultUser());
  cmd->add_option("store", *store, "Store id")->required();
  cmd->add_option("file", *file, "File to import (.tmx, .po)")->required();
  cmd->add_flag("--strict", *strict, "Import nothing if any unit is invalid");
  cmd->add_option("--user", *user, "Creator of units that name none (default: $USER)");
  AddCommon(cmd, common.get());
  cmd->callback([=] {
    Run(env, exit_code, [&](tm::TmService& s) -> absl::Status {
      tm::ImportOptions options;
      options.strict = *strict;
      options.user = *user;
      absl::Time start = absl::Now();
      if (env->stderr_is_tty() && !common->json) {
        options.progress = [env, start](int64_t read, int64_t total, int64_t units) {
          double secs = std::max(1e-6, absl::ToDoubleSeconds(absl::Now() - start));
          int pct = total > 0 ? static_cast<int>(100.0 * static_cast<double>(read) / total) : 0;
          int bar = pct / 5;
          env->err() << "\r[" << std::string(bar, '#') << std::string(20 - bar, '.') << "] "
                     << std::setw(3) << pct << "%  " << WithCommas(units) << " units  "
                     << WithCommas(static_cast<int64_t>(units / secs)) << " units/s" << std::flush;
        };
      }
      bool po = file->size() > 3 && file->substr(file->size() - 3) == ".po";
      auto report = po ? s.ImportPo(common->tenant, *store, *file, options)
                       : s.ImportTmx(common->tenant, *store, *file, options);
      if (options.progress) env->err() << "\n";
      if (!report.ok()) return report.status();
      VERSO_RETURN_IF_ERROR(
          env->Audit(common->tenant, "tm import", StrCat("store=", *store, " file=", *file)));
      double secs = absl::ToDoubleSeconds(absl::Now() - start);
      if (report->skipped > 0) {  // partial: said on stderr and in the exit status
        env->err() << "verso: warning: " << WithCommas(report->skipped) << " of "
                   << WithCommas(report->units) << " units were skipped (exit status 3)\n";
        *exit_code = 3;
      }
      if (common->json) {
        json j = ReportJson(*report);
        j["seconds"] = secs;
        env->out() << DumpJson(j, 2) << "\n";
        return absl::OkStatus();
      }
      env->out() << "Imported " << *file << " into " << *store << ": " << WithCommas(report->units)
                 << " units, " << WithCommas(report->inserted) << " new, "
                 << WithCommas(report->merged) << " merged, " << WithCommas(report->skipped)
                 << " skipped (" << std::fixed << std::setprecision(2) << secs << " s, "
                 << WithCommas(static_cast<int64_t>(report->units / std::max(secs, 1e-6)))
                 << " units/s)\n";
      size_t shown = 0;
      for (const auto& sk : report->skipped_units) {
        if (shown++ == 20) {
          env->out() << "  ... and " << WithCommas(report->skipped - 20) << " more skipped\n";
          break;
        }
        env->out() << "  skipped line " << sk.line << ": " << sk.reason << "\n";
      }
      return absl::OkStatus();
    });
  });
}

// `verso tm export`.
void AddExportCommand(CLI::App* tm, Environment* env, int* exit_code) {
  auto* cmd = tm->add_subcommand("export", "Export a store as TMX 1.4b");
  auto common = std::make_shared<Common>();
  auto store = std::make_shared<std::string>();
  auto file = std::make_shared<std::string>();
  cmd->add_option("store", *store, "Store id")->required();
  cmd->add_option("file", *file, "Output file, or - for stdout")->required();
  AddCommon(cmd, common.get());
  cmd->callback([=] {
    Run(env, exit_code, [&](tm::TmService& s) -> absl::Status {
      std::ofstream file_out;
      std::ostream* out = &env->out();
      std::string tmp;
      if (*file != "-") {
        // Write to a temporary name and rename, so a failed export leaves no partial file.
        tmp = *file + ".partial";
        file_out.open(tmp, std::ios::binary | std::ios::trunc);
        if (!file_out) return absl::UnavailableError(StrCat(*file, ": cannot be written"));
        out = &file_out;
      }
      auto units = s.ExportTmx(common->tenant, *store, out);
      if (!units.ok()) {
        if (!tmp.empty()) std::remove(tmp.c_str());
        return units.status();
      }
      if (!tmp.empty()) {
        file_out.close();
        if (!file_out || std::rename(tmp.c_str(), file->c_str()) != 0) {
          std::remove(tmp.c_str());
          return absl::UnavailableError(StrCat(*file, ": cannot be written"));
        }
        if (common->json) {
          env->out() << DumpJson(json{{"units", *units}, {"file", *file}}) << "\n";
        } else {
          env->out() << "Exported " << WithCommas(*units) << " units to " << *file << "\n";
        }
      }
      return absl::OkStatus();
    });
  });
}

// `verso tm lookup`.
void AddLookupCommand(CLI::App* tm, Environment* env, int* exit_code) {
  auto* cmd = tm->add_subcommand("lookup", "Find TM matches for a source text");
  auto common = std::make_shared<Common>();
  auto store = std::make_shared<std::string>();
  auto text = std::make_shared<std::string>();
  auto opts = std::make_shared<tm::LookupOptions>();
  auto markup = std::make_shared<bool>(false);
  cmd->add_option("store", *store, "Store id")->required();
  cmd->add_option("text", *text, "Source text")->required();
  cmd->add_option("--min-score", opts->min_score, "Lowest score to return (1-101)")
      ->default_val(50);
  cmd->add_option("--max", opts->max_results, "Most matches to return (1-100)")->default_val(5);
  cmd->add_option("--context-key", opts->context.key, "Context key, for 101% matches");
  cmd->add_flag("--exhaustive", opts->exhaustive, "Score every segment (no index)");
  cmd->add_flag("--markup", *markup, "The text is tagged text");
  AddCommon(cmd, common.get());
  cmd->callback([=] {
    Run(env, exit_code, [&](tm::TmService& s) -> absl::Status {
      auto warm = s.Warm(common->tenant, *store);
      if (!warm.ok()) return warm.status();
      absl::Time start = absl::Now();
      auto result = s.Lookup(common->tenant, *store, AsMarkup(*text, *markup), *opts);
      double ms = absl::ToDoubleMilliseconds(absl::Now() - start);
      if (!result.ok()) return result.status();
      if (common->json) {
        json arr = json::array();
        for (const auto& m : result->matches) {
          json pen = json::object();
          for (const auto& [k, v] : m.penalties) pen[k] = v;
          arr.push_back({{"score", m.score},
                         {"band", tm::BandName(m.band)},
                         {"base_score", m.base_score},
                         {"penalties", pen},
                         {"context_match", m.context_match},
                         {"segment", SegmentJson(m.segment, !*markup)}});
        }
        env->out() << DumpJson(json{{"matches", arr},
                                    {"candidates", result->candidates},
                                    {"verified", result->verified}},
                               2)
                   << "\n";
        return absl::OkStatus();
      }
      if (result->matches.empty()) {
        env->out() << "No match at or above " << opts->min_score << "%.\n";
      }
      for (const auto& m : result->matches) {
        env->out() << std::right << std::setw(4) << m.score << "%  " << std::left << std::setw(9)
                   << tm::BandName(m.band) << Shown(m.segment.source, *markup) << "\n"
                   << std::string(15, ' ') << "-> " << Shown(m.segment.target, *markup) << "\n";
        if (!m.penalties.empty()) {
          env->out() << std::string(15, ' ') << "(base " << m.base_score;
          for (const auto& [k, v] : m.penalties) env->out() << ", " << k << " -" << v;
          env->out() << ")\n";
        }
      }
      env->out() << std::fixed << std::setprecision(2) << "(lookup " << ms << " ms, "
                 << WithCommas(result->candidates) << " candidates";
      if (warm->took > absl::ZeroDuration()) {
        env->out() << (warm->from_snapshot ? "; index read from its snapshot in "
                                           : "; index built in ")
                   << std::setprecision(0) << absl::ToDoubleMilliseconds(warm->took) << " ms";
      }
      env->out() << ")\n";
      return absl::OkStatus();
    });
  });
}

// `verso tm concordance`.
void AddConcordanceCommand(CLI::App* tm, Environment* env, int* exit_code) {
  auto* cmd = tm->add_subcommand("concordance", "Search a word or phrase in a store");
  auto common = std::make_shared<Common>();
  auto store = std::make_shared<std::string>();
  auto phrase = std::make_shared<std::string>();
  auto opts = std::make_shared<tm::ConcordanceOptions>();
  auto in = std::make_shared<std::string>("source");
  cmd->add_option("store", *store, "Store id")->required();
  cmd->add_option("phrase", *phrase, "Word or phrase")->required();
  cmd->add_option("--in", *in, "Where to search: source, target or both")
      ->check(CLI::IsMember({"source", "target", "both"}));
  cmd->add_option("--limit", opts->limit, "Most results (1-1000)")->default_val(20);
  auto match = std::make_shared<std::string>("words");
  cmd->add_option("--match", *match,
                  "words (whole words), prefix (\"fil\" finds \"file\") or substring")
      ->check(CLI::IsMember({"words", "prefix", "substring"}));
  auto cursor = std::make_shared<std::string>();
  cmd->add_option("--cursor", *cursor, "The next page: next_cursor of the previous --json");
  AddCommon(cmd, common.get());
  cmd->callback([=] {
    Run(env, exit_code, [&](tm::TmService& s) -> absl::Status {
      opts->source = *in != "target";
      opts->target = *in != "source";
      VERSO_ASSIGN_OR_RETURN(opts->match, api::ParseConcordanceMatch(*match, "--match"));
      if (!cursor->empty()) VERSO_RETURN_IF_ERROR(api::ApplyConcordanceCursor(*cursor, opts.get()));
      auto result = s.Concordance(common->tenant, *store, text::EscapeText(*phrase), *opts);
      if (!result.ok()) return result.status();
      if (common->json) {
        env->out() << DumpJson(api::ConcordanceJson(*result, true), 2) << "\n";
        return absl::OkStatus();
      }
      for (const auto& m : result->matches) {
        const std::string& hit = m.in_source ? m.segment.source : m.segment.target;
        const std::string& other = m.in_source ? m.segment.target : m.segment.source;
        env->out() << "#" << m.segment.id << "  ";
        PrintHighlighted(env->out(), hit, m.ranges, env->stdout_is_tty());
        env->out() << "\n        " << other << "\n";
      }
      env->out() << (result->total_exact ? "" : "at most ") << WithCommas(result->total)
                 << " found";
      if (result->total > static_cast<int>(result->matches.size())) {
        env->out() << ", " << result->matches.size() << " shown";
      }
      env->out() << "\n";
      return absl::OkStatus();
    });
  });
}

// `verso tm stats`.
void AddStatsCommand(CLI::App* tm, Environment* env, int* exit_code) {
  auto* cmd = tm->add_subcommand("stats", "Show a store's size and index");
  auto common = std::make_shared<Common>();
  auto store = std::make_shared<std::string>();
  cmd->add_option("store", *store, "Store id")->required();
  AddCommon(cmd, common.get());
  cmd->callback([=] {
    Run(env, exit_code, [&](tm::TmService& s) -> absl::Status {
      auto st = s.Stats(common->tenant, *store);
      if (!st.ok()) return st.status();
      if (common->json) {
        json j = StoreJson(st->info);
        j["index_bytes"] = st->index_bytes;
        j["vocabulary"] = st->vocabulary;
        j["postings"] = st->postings;
        env->out() << DumpJson(j, 2) << "\n";
        return absl::OkStatus();
      }
      env->out() << "store        " << st->info.record.id << " \"" << st->info.record.name << "\"\n"
                 << "tenant       " << st->info.record.tenant << "\n"
                 << "pair         " << st->info.record.source_lang << " -> "
                 << st->info.record.target_lang << "\n"
                 << "segments     " << WithCommas(st->info.segment_count) << "\n"
                 << "vocabulary   " << WithCommas(static_cast<int64_t>(st->vocabulary))
                 << " words\n"
                 << "postings     " << WithCommas(static_cast<int64_t>(st->postings)) << "\n"
                 << "index memory " << std::fixed << std::setprecision(1)
                 << static_cast<double>(st->index_bytes) / (1024.0 * 1024.0) << " MiB\n"
                 << "created      " << Rfc3339(st->info.record.created_at) << "\n";
      return absl::OkStatus();
    });
  });
}

}  // namespace

// Who writes, when a command is not told (--user): the login name, as desktop CAT tools record
// their user; "cli" when the environment has none that is a plain name.
std::string DefaultUser() {
  for (const char* var : {"USER", "LOGNAME"}) {
    const char* v = std::getenv(var);
    if (v == nullptr) continue;
    std::string_view name(v);
    const bool plain =
        !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        });
    if (plain) return std::string(name);
  }
  return "cli";
}

void AddTmCommands(CLI::App* app, Environment* env, int* exit_code) {
  CLI::App* tm = app->add_subcommand("tm", "Translation memories: stores, import/export, lookup");
  tm->require_subcommand(1);

  AddCreateCommand(tm, env, exit_code);
  AddListCommand(tm, env, exit_code);
  AddDeleteCommand(tm, env, exit_code);
  AddAddCommand(tm, env, exit_code);
  AddImportCommand(tm, env, exit_code);
  AddExportCommand(tm, env, exit_code);
  AddLookupCommand(tm, env, exit_code);
  AddConcordanceCommand(tm, env, exit_code);
  AddSegmentsCommand(tm, env, exit_code);
  AddStatsCommand(tm, env, exit_code);
  AddTmShardCommands(tm, env, exit_code);
}

}  // namespace verso::cli
