// `verso serve` as a child process for integration tests: a temporary data directory, keys made
// with the real CLI, the real binary listening on 127.0.0.1 on a free port.
#ifndef VERSO_TESTS_VERSO_SERVER_H_
#define VERSO_TESTS_VERSO_SERVER_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tests/http_client.h"
#include "tests/process.h"

namespace verso::test {

// Whether this run's servers keep their records in PostgreSQL (TEST_VERSO_BACKEND=postgres, set by
// ctest for the pg. copy of the integration tests) instead of SQLite.
bool PostgresBackend();

// A fresh, empty directory under the test temp dir, named after `prefix` and `name`. On the
// PostgreSQL backend, also a fresh database that every verso run on the directory uses.
std::string TestDir(const std::string& prefix, const std::string& name);

// `verso keys create`: the new key, or "" (with a test failure).
std::string CreateKey(const std::string& dir, const std::string& tenant, const std::string& scopes);

struct ServerOptions {
  std::vector<std::string> settings;  // --set key=value
  std::vector<std::string> env;       // extra environment ("KEY=value")
  std::string log_level = "warn";
  std::string stderr_path;              // where its log goes (empty: the test's stderr)
  std::vector<std::string> serve_args;  // after `serve --listen 127.0.0.1:0` (e.g. --roles api)
};

class VersoServer {
 public:
  // Starts the server and waits until it listens and /readyz answers 200; port() is 0 if it
  // did not start.
  VersoServer(const std::string& dir, const ServerOptions& options);
  int port() const { return port_; }
  void Signal(int sig) { child_->Kill(sig); }
  int Wait() { return child_->Wait(); }

 private:
  std::unique_ptr<Child> child_;
  int port_ = 0;
};

// A test with a `verso serve` of its own: a fresh data directory named after `prefix` and the
// test, the server's log (at info) in dir_/server.log, the server stopped with SIGTERM (it must
// exit 0) and the directory removed at the end. Subclasses create their keys in SetUp after
// calling this SetUp.
class ServerTest : public ::testing::Test {
 protected:
  explicit ServerTest(std::string prefix) : prefix_(std::move(prefix)) {}
  void SetUp() override;
  void TearDown() override;
  // Starts the server with `settings` (--set key=value, plus no rate limit and one Apertium
  // pipeline) and `env`; fails the test with the log when it does not start.
  void Start(std::vector<std::string> settings = {}, std::vector<std::string> env = {});

  using Headers = std::vector<std::pair<std::string, std::string>>;
  // A request to this test's server: `key` (unless empty) as "Authorization: Bearer", a
  // non-empty body with Content-Type `type`. Every fixture's helpers go through it.
  HttpResponse Send(const std::string& method, const std::string& path, const std::string& key,
                    const std::string& body = "", const std::string& type = "application/json",
                    Headers headers = {}) const;

  std::string dir_, log_;
  std::unique_ptr<VersoServer> server_;

 private:
  std::string prefix_;
};

}  // namespace verso::test

#endif  // VERSO_TESTS_VERSO_SERVER_H_
