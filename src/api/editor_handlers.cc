// The workbench's browser app at /editor: the files `vite build` wrote (web/, built into
// Services::editor_dir by the build), read once when the server starts and answered from memory.
// Only the names found there are served (no path from a request reaches the file system).
#include <filesystem>
#include <map>
#include <memory>

#include "api/http.h"
#include "common/file.h"
#include "common/log.h"
#include "common/strings.h"

namespace verso::api {
namespace {

struct Asset {
  std::string bytes;
  std::string content_type;
};
using Assets = std::map<std::string, Asset, std::less<>>;

constexpr int64_t kMaxAssetBytes = 32 << 20;  // all of them together

std::string TypeOf(const std::filesystem::path& p) {
  const std::string ext = p.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".json") return "application/json";
  return "application/octet-stream";
}

// index.html and assets/* under `dir` ("" or missing: none).
std::shared_ptr<const Assets> Load(const std::string& dir) {
  auto out = std::make_shared<Assets>();
  std::error_code ec;
  if (dir.empty() || !std::filesystem::is_regular_file(dir + "/index.html", ec)) return out;
  int64_t total = 0;
  auto add = [&](const std::filesystem::path& file, const std::string& name) {
    auto bytes = ReadFile(file.string());
    if (!bytes.ok() || total + static_cast<int64_t>(bytes->size()) > kMaxAssetBytes) return;
    total += static_cast<int64_t>(bytes->size());
    (*out)[name] = Asset{std::move(*bytes), TypeOf(file)};
  };
  add(dir + "/index.html", "index.html");
  for (std::filesystem::directory_iterator it(dir + "/assets", ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->is_regular_file(ec)) add(it->path(), it->path().filename().string());
  }
  return out;
}

// Headers of every answer: the app's scripts and styles come from here only, it is never framed
// (clickjacking a post-editor's confirm), and its connections go to this server only.
void Harden(Response* r) {
  r->headers.emplace_back("Content-Security-Policy",
                          "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
                          "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
  r->headers.emplace_back("X-Content-Type-Options", "nosniff");
  r->headers.emplace_back("X-Frame-Options", "DENY");
  r->headers.emplace_back("Referrer-Policy", "same-origin");
}

Response Serve(const Assets& assets, std::string_view name, bool immutable) {
  auto it = assets.find(name);
  if (it == assets.end()) {
    return ErrorResponse(404, "not_found",
                         assets.empty() ? "the workbench is not built here (cmake builds web/ "
                                          "when npm is installed; see docs/workbench.md)"
                                        : StrCat("no file ", Abbreviate(name, 100)));
  }
  Response r;
  r.content_type = it->second.content_type;
  r.body = it->second.bytes;
  // Vite names assets by their content's hash: they never change; the page always revalidates.
  r.headers.emplace_back("Cache-Control",
                         immutable ? "public, max-age=31536000, immutable" : "no-cache");
  Harden(&r);
  return r;
}

}  // namespace

void AddEditorRoutes(Router* router, const Services& s) {
  std::shared_ptr<const Assets> assets = Load(s.editor_dir);
  if (!assets->empty()) {
    log::Info("editor.assets",
              {{"dir", s.editor_dir}, {"files", static_cast<int64_t>(assets->size())}});
  }
  auto page = [assets](Request&) -> absl::StatusOr<Response> {
    return Serve(*assets, "index.html", false);
  };
  auto file = [assets](Request& req) -> absl::StatusOr<Response> {
    return Serve(*assets, req.params.at("file"), true);
  };
  router->Add(
      {.method = "GET", .pattern = "/editor", .exec = Route::Exec::kInline, .handler = page});
  router->Add(
      {.method = "GET", .pattern = "/editor/", .exec = Route::Exec::kInline, .handler = page});
  router->Add({.method = "GET",
               .pattern = "/editor/assets/{file}",
               .exec = Route::Exec::kInline,
               .handler = file});
}

}  // namespace verso::api
