// Running verso and helper programs from tests: fork/exec with captured output.
#ifndef VERSO_TESTS_PROCESS_H_
#define VERSO_TESTS_PROCESS_H_

#include <memory>
#include <string>
#include <vector>

namespace verso::test {

struct RunResult {
  int exit_code = -1;  // or 128 + signal
  std::string out;
  std::string err;
};

// A TCP port on 127.0.0.1 that nobody listens on now (the kernel's choice).
int FreePort();

// Runs `argv` to completion with extra environment variables ("KEY=value").
RunResult Run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});

// A child process whose stdout is read line by line.
class Child {
 public:
  // `env`: extra environment variables ("KEY=value"); `stderr_path`: where its stderr goes
  // (empty: inherited).
  explicit Child(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                 const std::string& stderr_path = "");
  ~Child();
  // Next stdout line without the newline; false at end of output.
  bool ReadLine(std::string* line);
  void Kill(int signal);
  // Waits for exit; returns the exit code, or 128 + signal.
  int Wait();

 private:
  int pid_ = -1;
  int fd_ = -1;
  std::string buffer_;
};

// A redis-server of the caller's own on 127.0.0.1:`port` (no persistence, files in `dir`), once
// it answers PING; nullptr when it did not start within 5 s. Killing it disturbs no other test.
std::unique_ptr<Child> StartRedis(int port, const std::string& dir);

}  // namespace verso::test

#endif  // VERSO_TESTS_PROCESS_H_
