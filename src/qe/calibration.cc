// The calibration table (see qe.h): models/qe-calibration.json, compiled in.
#include <nlohmann/json.hpp>

#include "common/json.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"
#include "qe/qe.h"
#include "qe/qe_internal.h"
#include "text/text.h"

namespace verso::qe {

using Json = nlohmann::json;

absl::StatusOr<std::vector<Calibration>> ParseCalibrations(std::string_view text) {
  VERSO_ASSIGN_OR_RETURN(Json doc, ParseJson(text));
  if (!doc.is_object() || !doc.contains("entries") || !doc["entries"].is_array()) {
    return absl::InvalidArgumentError("calibration: an object with an \"entries\" array expected");
  }
  std::vector<Calibration> out;
  for (size_t i = 0; i < doc["entries"].size(); ++i) {
    const Json& e = doc["entries"][i];
    try {
      Calibration c;
      c.scorer = e.at("scorer").get<std::string>();
      c.engine = e.at("engine").get<std::string>();
      c.source_lang = e.at("source_lang").get<std::string>();
      c.target_lang = e.at("target_lang").get<std::string>();
      c.data = e.at("data").get<std::string>();
      c.segments = e.at("segments").get<int>();
      c.pearson = e.at("pearson").get<double>();
      c.good_chrf = e.at("good_chrf").get<double>();
      c.base_rate = e.at("base_rate").get<double>();
      c.min_precision = e.at("min_precision").get<double>();
      c.threshold = e.at("threshold").is_null() ? -1 : e.at("threshold").get<double>();
      c.precision = e.at("precision").is_null() ? 0 : e.at("precision").get<double>();
      c.approved = e.at("approved").get<int>();
      out.push_back(std::move(c));
    } catch (const Json::exception& x) {
      return absl::InvalidArgumentError(StrCat("calibration: entries[", i, "]: ", x.what()));
    }
  }
  return out;
}

Json CalibrationToJson(const Calibration& c) {
  return Json{{"scorer", c.scorer},
              {"engine", c.engine},
              {"source_lang", c.source_lang},
              {"target_lang", c.target_lang},
              {"data", c.data},
              {"segments", c.segments},
              {"pearson", c.pearson},
              {"good_chrf", c.good_chrf},
              {"base_rate", c.base_rate},
              {"min_precision", c.min_precision},
              {"threshold", c.calibrated() ? Json(c.threshold) : Json(nullptr)},
              {"precision", c.calibrated() ? Json(c.precision) : Json(nullptr)},
              {"approved", c.approved}};
}

const std::vector<Calibration>& Calibrations() {
  static const std::vector<Calibration>* table = [] {
    auto parsed = ParseCalibrations(EmbeddedCalibration());
    if (!parsed.ok()) {
      // The file is checked by a test; a broken one calibrates nothing.
      log::Error("qe.calibration", {{"error", std::string(parsed.status().message())}});
      return new std::vector<Calibration>();
    }
    return new std::vector<Calibration>(std::move(*parsed));
  }();
  return *table;
}

const Calibration* FindCalibration(std::string_view scorer, std::string_view engine,
                                   std::string_view source_lang, std::string_view target_lang) {
  if (engine.empty()) return nullptr;
  const std::string source = text::PrimaryLanguage(source_lang);
  const std::string target = text::PrimaryLanguage(target_lang);
  for (const Calibration& c : Calibrations()) {
    if (c.scorer == scorer && c.engine == engine && c.source_lang == source &&
        c.target_lang == target) {
      return &c;
    }
  }
  return nullptr;
}

}  // namespace verso::qe
