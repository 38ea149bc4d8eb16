#include "tests/verso_server.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/file.h"

#include "tests/http_client.h"
#include "tests/services.h"

namespace verso::test {

bool PostgresBackend() {
  const char* backend = std::getenv("TEST_VERSO_BACKEND");
  return backend != nullptr && std::string_view(backend) == "postgres";
}

// The last lines of a server's log (a crash's stack, written by main.cc's handler).
std::string LogTail(const std::string& path) {
  std::string log = ReadFile(path).value_or("(no log)");
  constexpr size_t kTail = 8000;
  return log.size() > kTail ? "..." + log.substr(log.size() - kTail) : log;
}

std::string TestDir(const std::string& prefix, const std::string& name) {
  std::string dir =
      ::testing::TempDir() + "/" + prefix + "_" + std::to_string(getpid()) + "_" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  if (PostgresBackend()) {
    // The directory keeps uploads and secrets; the records go to a new PostgreSQL database,
    // which every verso run on the directory uses (tests/process.cc), migrated here as an
    // operator would.
    const std::string url = NewPostgresDatabase();
    if (!url.empty()) {
      std::ofstream(dir + "/.storage_url") << url << "\n";
      RunResult migrated = Run({VERSO_BINARY, "--data-dir", dir, "migrate"});
      EXPECT_EQ(migrated.exit_code, 0) << migrated.err;
    }
  }
  return dir;
}

std::string CreateKey(const std::string& dir, const std::string& tenant,
                      const std::string& scopes) {
  auto r = Run(
      {VERSO_BINARY, "--data-dir", dir, "keys", "create", "--tenant", tenant, "--scopes", scopes});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string key = r.out;
  while (!key.empty() && key.back() == '\n') key.pop_back();
  return key;
}

VersoServer::VersoServer(const std::string& dir, const ServerOptions& options) {
  std::vector<std::string> argv = {VERSO_BINARY, "--data-dir", dir, "--log-level",
                                   options.log_level};
  for (const auto& s : options.settings) {
    argv.push_back("--set");
    argv.push_back(s);
  }
  argv.insert(argv.end(), {"serve", "--listen", "127.0.0.1:0"});
  argv.insert(argv.end(), options.serve_args.begin(), options.serve_args.end());
  child_ = std::make_unique<Child>(argv, options.env, options.stderr_path);
  std::string line;
  while (port_ == 0 && child_->ReadLine(&line)) {
    size_t at = line.find("listening on http://127.0.0.1:");
    if (at != std::string::npos) port_ = std::atoi(line.c_str() + at + 30);
  }
  // Wait until the indexes are loaded.
  for (int i = 0; i < 500 && port_ > 0; ++i) {
    if (Fetch(port_, "GET", "/readyz").status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void ServerTest::SetUp() {
  dir_ = TestDir(prefix_, ::testing::UnitTest::GetInstance()->current_test_info()->name());
  log_ = dir_ + "/server.log";
}

void ServerTest::TearDown() {
  if (server_ != nullptr) {
    server_->Signal(SIGTERM);
    const int status = server_->Wait();
    EXPECT_EQ(status, 0) << "the server's log ends:\n" << LogTail(log_);
  }
  std::filesystem::remove_all(dir_);
}

void ServerTest::Start(std::vector<std::string> settings, std::vector<std::string> env) {
  settings.insert(settings.end(), {"rate_limit.rps=0", "mt.apertium.pipelines=1"});
  server_ = std::make_unique<VersoServer>(
      dir_,
      ServerOptions{
          .settings = settings, .env = std::move(env), .log_level = "info", .stderr_path = log_});
  ASSERT_GT(server_->port(), 0) << ReadFile(log_).value_or("");
}

HttpResponse ServerTest::Send(const std::string& method, const std::string& path,
                              const std::string& key, const std::string& body,
                              const std::string& type, Headers headers) const {
  if (!key.empty()) headers.emplace_back("Authorization", "Bearer " + key);
  if (!body.empty()) headers.emplace_back("Content-Type", type);
  return Fetch(server_->port(), method, path, body, headers);
}

}  // namespace verso::test
