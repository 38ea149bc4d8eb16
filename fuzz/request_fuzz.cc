// libFuzzer target: what reads a request body at the edge (api/json.h, api/http.h): a JSON
// object with its fields read the way the handlers read them (Fields, segments, contexts,
// properties, notes, text formats, cursors), an x-www-form-urlencoded body, a multipart/form-data
// body with the Content-Type header on the input's first line.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/http.h"
#include "api/json.h"

namespace {

using verso::api::Json;

// Reads every member of `object` as the handlers may: each type, and as a segment and a context.
void ReadFields(const Json& object, int depth) {
  verso::api::Fields f(object, "body.");
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::string& k = it.key();
    std::string s;
    int64_t i = 0;
    double d = 0;
    bool b = false;
    verso::api::Fields one(object, "body.");
    (void)one.String(k.c_str(), &s, false);
    (void)one.Int(k.c_str(), &i, false);
    (void)one.Number(k.c_str(), &d, false);
    (void)one.Bool(k.c_str(), &b, false);
    if (it->is_string()) {
      (void)verso::api::ParseText(*it, k, /*plain=*/true);
      (void)verso::api::ParseText(*it, k, /*plain=*/false);
      (void)verso::api::ParseTextFormat(it->get<std::string>());
      (void)verso::api::DecodeCursor(it->get<std::string>());
    }
    if (it->is_object() && depth < 4) ReadFields(*it, depth + 1);
    if (it->is_array()) {
      for (const Json& e : *it) {
        if (e.is_object() && depth < 4) ReadFields(e, depth + 1);
      }
    }
  }
  (void)f.Finish();
  (void)verso::api::ParseSegment(object, "body.", /*plain=*/false);
  (void)verso::api::ParseSegment(object, "body.", /*plain=*/true);
  (void)verso::api::ParseContext(object, "body.");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto object = verso::api::ParseObject(in);
  if (object.ok()) ReadFields(*object, 0);
  (void)verso::api::ParseFormPairs(in);
  const size_t eol = in.find('\n');
  if (eol != std::string_view::npos) {
    (void)verso::api::ParseMultipart(in.substr(eol + 1), in.substr(0, eol));
  }
  return 0;
}
