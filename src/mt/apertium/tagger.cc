// The only translation unit that includes libapertium's tagger headers (they put
// `using namespace std` in the global namespace).
#include "mt/apertium/tagger.h"
#include "absl/synchronization/mutex.h"

#include <apertium/file_morpho_stream.h>
#include <apertium/hmm.h>
#include <apertium/tagger_word.h>
#include <stdio_ext.h>
#include <sys/mman.h>
#include <unicode/ustdio.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <fstream>
#include <iterator>
#include <mutex>
#include <set>

#include "common/status.h"
#include "common/strings.h"

namespace verso::mt::apertium {
namespace {

// Guards libapertium's process-wide TaggerWord state (see the header).
absl::Mutex& TaggerLock() {
  static absl::Mutex* mu = new absl::Mutex();
  return *mu;
}

// libapertium reads the tagger's input one character at a time and calls feof() before each,
// and in a process with threads every feof() takes the FILE's lock: a fifth of the tagger's time
// in a profile of /v1/translate at 8 connections. The stream is only read under TaggerLock(), so
// it can do without: its FILE is private to the InputFile inside FileMorphoStream, and is named
// here through an explicit instantiation (where access checks do not apply; a renamed member
// fails to compile rather than misbehave).
template <typename Tag, typename Tag::Type kMember>
struct Expose {
  friend typename Tag::Type Member(Tag) { return kMember; }
};
struct MorphoInput {
  using Type = InputFile FileMorphoStream::*;
  friend Type Member(MorphoInput);
};
struct InputFileStream {
  using Type = FILE* InputFile::*;
  friend Type Member(InputFileStream);
};
template struct Expose<MorphoInput, &FileMorphoStream::input>;
template struct Expose<InputFileStream, &InputFile::infile>;

void ReadWithoutLocking(FileMorphoStream& morpho) {
  FILE* f = (morpho.*Member(MorphoInput{})).*Member(InputFileStream{});
  if (f != nullptr) __fsetlocking(f, FSETLOCKING_BYCALLER);
}

}  // namespace

struct HmmTagger::State {
  std::string serialised;  // the .prob file, to rebuild the model if tagging ever changed it
  std::unique_ptr<HMM> hmm;
  int classes = 0;            // ambiguity classes after loading
  std::set<TTag> open_class;  // the open word classes as loaded
  int input_fd = -1;          // a memory file the tagger reads each segment from
  std::string input_path;
  // Reads the memory file, rewound for each segment. Building one costs more than tagging a
  // sentence (it compiles the tag patterns), so it is kept while the model stays.
  std::unique_ptr<FileMorphoStream> morpho;
  ~State() {
    if (input_fd >= 0) close(input_fd);
  }
};

HmmTagger::HmmTagger(std::unique_ptr<State> state) : state_(std::move(state)) {}
HmmTagger::~HmmTagger() = default;

namespace {

absl::StatusOr<std::unique_ptr<HMM>> Deserialise(const std::string& bytes) {
  FILE* f = fmemopen(const_cast<char*>(bytes.data()), bytes.size(), "rb");
  if (f == nullptr) return absl::InternalError("fmemopen failed");
  auto hmm = std::make_unique<HMM>();
  try {
    hmm->deserialise(f);
  } catch (const std::exception& e) {
    fclose(f);
    return absl::InvalidArgumentError(StrCat("bad tagger data: ", e.what()));
  }
  fclose(f);
  return hmm;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HmmTagger>> HmmTagger::Load(const std::string& prob_path) {
  std::ifstream in(prob_path, std::ios::binary);
  if (!in) return absl::NotFoundError(StrCat("cannot read tagger data ", prob_path));
  auto state = std::make_unique<State>();
  state->serialised.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  absl::MutexLock lock(&TaggerLock());
  auto hmm = Deserialise(state->serialised);
  if (!hmm.ok()) return Annotate(hmm.status(), prob_path);
  state->hmm = std::move(*hmm);
  state->classes = state->hmm->get_tagger_data().getOutput().size();
  state->open_class = state->hmm->get_tagger_data().getOpenClass();
  state->input_fd = memfd_create("verso-tagger", MFD_CLOEXEC);
  if (state->input_fd < 0) return absl::InternalError("memfd_create failed");
  state->input_path = StrCat("/proc/self/fd/", state->input_fd);
  return std::unique_ptr<HmmTagger>(new HmmTagger(std::move(state)));
}

absl::StatusOr<std::string> HmmTagger::Tag(std::string_view analysed) {
  absl::MutexLock lock(&TaggerLock());
  State& s = *state_;
  // FileMorphoStream reads from a path; each call opens the memory file afresh at offset 0.
  if (ftruncate(s.input_fd, 0) != 0 || pwrite(s.input_fd, analysed.data(), analysed.size(), 0) !=
                                           static_cast<ssize_t>(analysed.size())) {
    return absl::InternalError("writing the tagger input failed");
  }
  char* out_buffer = nullptr;
  size_t out_size = 0;
  FILE* out = open_memstream(&out_buffer, &out_size);
  if (out == nullptr) return absl::InternalError("open_memstream failed");
  UFILE* uout = u_finit(out, nullptr, "UTF-8");
  absl::Status status;
  try {
    TaggerWord::setArrayTags(s.hmm->getArrayTags());
    if (s.morpho == nullptr) {
      s.morpho = std::make_unique<FileMorphoStream>(s.input_path.c_str(), false,
                                                    &s.hmm->get_tagger_data());
      ReadWithoutLocking(*s.morpho);
    } else {
      s.morpho->rewind();  // a whole segment was read to its end: nothing is left buffered
    }
    s.hmm->tagger(*s.morpho, uout);
  } catch (const std::exception& e) {
    status = absl::InternalError(StrCat("the tagger failed: ", e.what()));
    s.morpho.reset();
  }
  u_fclose(uout);
  fclose(out);
  std::string result(out_buffer, out_size);
  free(out_buffer);
  // Tagging changes the model: an unknown word narrows the open word classes (FLORES eng-spa
  // line 256 does; every later "signed" then comes out as a participle), and an unseen ambiguity
  // class would be added. Start the next segment from the model as loaded: with the open
  // classes put back the model serialises byte for byte as the file it came from.
  TaggerData& data = s.hmm->get_tagger_data();
  if (data.getOpenClass() != s.open_class) data.getOpenClass() = s.open_class;
  if (data.getOutput().size() != s.classes) {
    s.morpho.reset();  // it points into the model
    auto fresh = Deserialise(s.serialised);
    if (!fresh.ok()) return fresh.status();
    s.hmm = std::move(*fresh);
  }
  if (!status.ok()) return status;
  return result;
}

}  // namespace verso::mt::apertium
