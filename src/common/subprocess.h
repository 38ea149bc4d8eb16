// Child processes that verso keeps running and talks to over pipes (e.g. Apertium pipelines).
//
// A Subprocess is one program, or a chain of programs piped into each other like a shell
// pipeline, started in its own process group, with stdin (of the first) and stdout (of the
// last) connected to pipes owned by the parent, stderr sent to /dev/null, and no other
// descriptor inherited. Destroying it kills the whole group (SIGKILL) and reaps every process.
// Without a shell in between, a stage that dies closes its pipes at once: the parent sees the
// end of the output instead of waiting on a shell that still holds it open. Writing to a child that
// died raises no SIGPIPE: callers must ignore SIGPIPE process-wide (IgnoreSigpipe) and see EPIPE
// instead.
//
// Not thread-safe: one owner at a time (except Write and Read, see there).
#ifndef VERSO_COMMON_SUBPROCESS_H_
#define VERSO_COMMON_SUBPROCESS_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace verso {

class Subprocess {
 public:
  // Starts argv[0] (searched in PATH) with `env_overrides` ("NAME=value") added to the
  // environment. Fails with Unavailable when the program cannot be started.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(
      const std::vector<std::string>& argv, const std::vector<std::string>& env_overrides = {});
  // Starts `stages` as a pipeline: stage i's stdout is stage i+1's stdin.
  static absl::StatusOr<std::unique_ptr<Subprocess>> StartChain(
      const std::vector<std::vector<std::string>>& stages,
      const std::vector<std::string>& env_overrides = {});
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // The process group (the first stage's pid).
  int pid() const { return pgid_; }

  // Writes `input` to the child's stdin while reading its stdout, until `delimiters` bytes
  // equal to `delimiter` have been read (the output, delimiters included, is appended to
  // *output) or until `deadline`. DeadlineExceeded on time-out; Unavailable when the child
  // closed its end or died. After an error the child's state is unknown: destroy it.
  absl::Status Exchange(std::string_view input, char delimiter, int delimiters, absl::Time deadline,
                        std::string* output);
  // Writes `input`, closes stdin and reads stdout to its end; then reaps the child. For
  // one-shot programs. Errors as for Exchange; a non-zero exit status is Unavailable too.
  absl::Status RunToEnd(std::string_view input, absl::Time deadline, std::string* output);

  // Streaming use, for a child that several segments travel through at once: one thread may
  // Write while another Reads. Write blocks until all of `data` is in the pipe; Unavailable
  // when the child closed its end (it died or was killed).
  absl::Status Write(std::string_view data);
  // Blocks until the child writes something, appends it to *buffer and returns its size; 0 at
  // the end of its output.
  absl::StatusOr<size_t> Read(std::string* buffer);

  // False once any of its processes has exited (it is reaped then).
  bool Alive();

  // Sends `signal` to the child's process group.
  void Signal(int signal);

 private:
  Subprocess() = default;
  absl::Status Pump(std::string_view input, bool close_after_input, char delimiter, int delimiters,
                    absl::Time deadline, std::string* output);
  void KillAndReap();

  int pgid_ = -1;
  std::vector<int> pids_;  // not yet reaped
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
};

// Makes writes to closed pipes and sockets fail with EPIPE instead of killing the process.
void IgnoreSigpipe();

}  // namespace verso

#endif  // VERSO_COMMON_SUBPROCESS_H_
