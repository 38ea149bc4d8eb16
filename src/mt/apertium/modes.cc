#include "mt/apertium/modes.h"

#include <algorithm>
#include <filesystem>

#include "absl/time/clock.h"
#include "common/status.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "text/text.h"

namespace verso::mt::apertium {
namespace {

// "cat_valencia" -> "ca-valencia", "pt_BR" -> "pt-BR"; empty when not a language tag.
std::string ModeLanguage(std::string_view code) {
  auto tag = text::CanonicalLanguageTag(code);
  if (!tag.ok()) return "";
  return *tag;
}

// Shell words of one pipeline stage: the mode files use single quotes around paths only.
absl::StatusOr<std::vector<std::string>> ShellWords(std::string_view s) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\'') {
      size_t end = s.find('\'', i + 1);
      if (end == std::string_view::npos) return absl::InvalidArgumentError("unclosed quote");
      word.append(s.substr(i + 1, end - i - 1));
      in_word = true;
      i = end;
    } else if (c == '"') {
      size_t end = s.find('"', i + 1);
      if (end == std::string_view::npos) return absl::InvalidArgumentError("unclosed quote");
      word.append(s.substr(i + 1, end - i - 1));
      in_word = true;
      i = end;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(word);
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(word);
  return words;
}

std::string Basename(const std::string& program) {
  size_t slash = program.rfind('/');
  return slash == std::string::npos ? program : program.substr(slash + 1);
}

}  // namespace

absl::StatusOr<std::vector<ModeInfo>> DiscoverModes(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::NotFoundError(
        StrCat("no Apertium modes directory at ", dir, " (install apertium and a language pair)"));
  }
  std::vector<ModeInfo> modes;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".mode") continue;
    std::string name = entry.path().stem().string();
    // "spa-cat_valencia": source and target split at the first '-' ("eco-es-fr" and other
    // three-part names are not translation pairs of two languages and are skipped).
    std::vector<std::string_view> parts = Split(name, '-');
    if (parts.size() != 2) continue;
    ModeInfo m;
    m.name = name;
    m.path = entry.path().string();
    m.source = ModeLanguage(parts[0]);
    m.target = ModeLanguage(parts[1]);
    if (m.source.empty() || m.target.empty()) continue;
    modes.push_back(std::move(m));
  }
  std::sort(modes.begin(), modes.end(),
            [](const ModeInfo& a, const ModeInfo& b) { return a.name < b.name; });
  return modes;
}

absl::StatusOr<std::vector<Step>> PlanPipeline(const std::string& command) {
  std::vector<Step> steps;
  for (std::string_view stage_text : Split(command, '|')) {
    VERSO_ASSIGN_OR_RETURN(std::vector<std::string> words, ShellWords(stage_text));
    std::vector<std::string> argv;
    for (auto& w : words) {
      if (w == "$1") {
        argv.push_back("-n");  // generation without unknown-word marks, as `apertium -u`
      } else if (w == "$2") {
        // the tagger option of `apertium -a`: not used
      } else {
        argv.push_back(std::move(w));
      }
    }
    if (argv.empty()) return absl::InvalidArgumentError("empty stage in the mode");
    std::string program = Basename(argv[0]);
    bool hmm_tagger = false;
    bool stateful = program == "cg-proc" || program == "apertium-anaphora";
    if (program == "apertium-tagger") {
      // Options like -g, -z, -gx; an HMM tagger is -g without -x (perceptron), -w (sliding
      // window) or -u (unigram).
      bool g = false, other_model = false, other_option = false;
      for (size_t i = 1; i + 1 < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (a.size() < 2 || a[0] != '-' || a[1] == '-') {
          other_option = true;
          continue;
        }
        for (char c : a.substr(1)) {
          if (c == 'g')
            g = true;
          else if (c == 'x' || c == 'w' || c == 'u')
            other_model = true;
          else if (c != 'z')
            other_option = true;
        }
      }
      hmm_tagger = g && !other_model && !other_option;
      stateful = !hmm_tagger;
    }
    if (hmm_tagger) {
      steps.push_back(Step{Step::Kind::kHmmTagger, {argv}, argv.back()});
    } else if (stateful) {
      // Run once per segment: without -z, reading the segment to the end of its input.
      std::vector<std::string> one_shot;
      for (auto& a : argv) {
        if (a != "-z") one_shot.push_back(a);
      }
      steps.push_back(Step{Step::Kind::kOneShot, {one_shot}, ""});
    } else if (!steps.empty() && steps.back().kind == Step::Kind::kWarmChain) {
      steps.back().stages.push_back(argv);
    } else {
      steps.push_back(Step{Step::Kind::kWarmChain, {argv}, ""});
    }
  }
  if (steps.empty()) return absl::InvalidArgumentError("the mode has no stages");
  return steps;
}

absl::StatusOr<std::string> NullFlushCommand(const std::string& mode_path) {
  VERSO_ASSIGN_OR_RETURN(auto p, Subprocess::Start({"apertium-wblank-mode", "-z", mode_path}));
  std::string out;
  VERSO_RETURN_IF_ERROR(p->RunToEnd("", absl::Now() + absl::Seconds(30), &out));
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  if (out.empty()) return absl::InvalidArgumentError(StrCat("empty mode ", mode_path));
  return out;
}

}  // namespace verso::mt::apertium
