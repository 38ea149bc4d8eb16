// Apertium's stream format on the way in and out of a pipeline.
//
// `apertium -u PAIR` runs `apertium-destxt` before the mode's pipeline and `apertium-retxt`
// after it. Destxt() and Retxt() do exactly what those do (the
// tests compare them with the real programs), so that a segment translated by verso comes out
// as `echo SEGMENT | apertium -u PAIR` would translate it.
//
// Inline codes and placeholders become superblanks, which every Apertium stage passes through
// in order and untouched; DecodeSegment puts the codes back.
#ifndef VERSO_MT_APERTIUM_FORMAT_H_
#define VERSO_MT_APERTIUM_FORMAT_H_

#include <string>
#include <string_view>
#include <vector>

namespace verso::mt::apertium {

// `apertium-destxt`: escapes, superblanks for runs of blanks, ".[]" at each end of sentence
// (paragraph breaks and the end of the text).
std::string Destxt(std::string_view plain);
// `apertium-retxt`: superblank contents and escaped characters back to plain text, the
// end-of-sentence marks removed.
std::string Retxt(std::string_view stream);

struct EncodedSegment {
  std::string stream;              // pipeline input (without the null flush)
  std::vector<std::string> codes;  // markup of each inline code / placeholder, by index
};

// Markup (text/text.h) + "\n" -> pipeline input. Codes and placeholders become superblanks
// holding their index; text is deformatted as by Destxt().
EncodedSegment EncodeSegment(std::string_view markup);
// Pipeline output -> markup: text is escaped, code superblanks are replaced by the codes, the
// trailing newline that EncodeSegment added is removed. A code the pipeline lost (none is
// known to) is appended at the end rather than dropped.
std::string DecodeSegment(std::string_view stream, const std::vector<std::string>& codes);

// Surface forms of the lexical units that the morphological analyser did not know
// (`^word/*word$` in lt-proc's output), in order, without duplicates.
std::vector<std::string> UnknownWords(std::string_view analysed);

}  // namespace verso::mt::apertium

#endif  // VERSO_MT_APERTIUM_FORMAT_H_
