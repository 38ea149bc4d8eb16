// Private to qe/: the feature extractor behind the builtin scorer.
#ifndef VERSO_QE_QE_INTERNAL_H_
#define VERSO_QE_QE_INTERNAL_H_

#include <string>
#include <string_view>
#include <vector>

#include "qa/qa.h"
#include "qe/qe.h"

namespace verso::qe {

// What lies behind some features, for the reasons.
struct Details {
  qa::Counts counts;
  std::vector<std::string> copied;      // source words copied untranslated
  std::vector<std::string> misspelled;  // target words not in the dictionary
  bool has_dictionary = false;
};

std::vector<Feature> ComputeFeatures(const Input& input, const std::string& hunspell_dir,
                                     Details* details = nullptr);

// models/qe-builtin.json as compiled in.
const char* EmbeddedModel();
// models/qe-calibration.json as compiled in.
const char* EmbeddedCalibration();

// True when hunspell has a dictionary for the language in `dir`.
bool HasDictionary(const std::string& dir, std::string_view lang);

}  // namespace verso::qe

#endif  // VERSO_QE_QE_INTERNAL_H_
