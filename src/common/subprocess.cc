#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "common/status.h"
#include "common/strings.h"

extern char** environ;

namespace verso {
namespace {

absl::Status Errno(std::string_view what) {
  return absl::UnavailableError(StrCat(what, ": ", std::strerror(errno)));
}

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

}  // namespace

void IgnoreSigpipe() { std::signal(SIGPIPE, SIG_IGN); }

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(
    const std::vector<std::string>& argv, const std::vector<std::string>& env_overrides) {
  return StartChain({argv}, env_overrides);
}

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::StartChain(
    const std::vector<std::vector<std::string>>& stages,
    const std::vector<std::string>& env_overrides) {
  if (stages.empty()) return absl::InvalidArgumentError("no program to start");
  for (const auto& argv : stages) {
    if (argv.empty()) return absl::InvalidArgumentError("no program to start");
  }
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    bool overridden = false;
    for (const auto& o : env_overrides) {
      size_t eq = o.find('=');
      if (entry.substr(0, entry.find('=')) == std::string_view(o).substr(0, eq)) overridden = true;
    }
    if (!overridden) env_strings.emplace_back(entry);
  }
  for (const auto& o : env_overrides) env_strings.push_back(o);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  auto p = std::unique_ptr<Subprocess>(new Subprocess());
  int first_in[2];
  if (pipe2(first_in, O_CLOEXEC) != 0) return Errno("pipe");
  p->stdin_fd_ = first_in[1];
  int next_stdin = first_in[0];  // the read end the next stage gets
  for (size_t i = 0; i < stages.size(); ++i) {
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) {
      close(next_stdin);
      return Errno("pipe");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, next_stdin, STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    // Sockets and files of the server must not live on in children (a listening socket held
    // by an Apertium stage would keep the port busy after verso exits).
    posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setpgroup(&attr, p->pgid_ > 0 ? p->pgid_ : 0);
    // The server blocks SIGINT/SIGTERM in its threads and ignores SIGPIPE; children must
    // start with default signal handling or a broken pipeline would not die.
    sigset_t empty, defaults;
    sigemptyset(&empty);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    std::vector<char*> args;
    for (const auto& a : stages[i]) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    close(next_stdin);
    close(out[1]);
    if (rc != 0) {
      close(out[0]);
      errno = rc;
      return Errno(StrCat("starting ", stages[i][0]));  // the destructor kills the others
    }
    if (p->pgid_ < 0) p->pgid_ = pid;
    p->pids_.push_back(pid);
    next_stdin = out[0];
  }
  p->stdout_fd_ = next_stdin;
  SetNonBlocking(p->stdin_fd_);
  SetNonBlocking(p->stdout_fd_);
  return p;
}

Subprocess::~Subprocess() {
  if (stdin_fd_ >= 0) close(stdin_fd_);
  if (stdout_fd_ >= 0) close(stdout_fd_);
  KillAndReap();
}

void Subprocess::Signal(int signal) {
  if (pgid_ > 0 && !pids_.empty()) kill(-pgid_, signal);
}

bool Subprocess::Alive() {
  bool alive = true;
  for (auto it = pids_.begin(); it != pids_.end();) {
    int status = 0;
    if (waitpid(*it, &status, WNOHANG) == *it) {
      alive = false;
      it = pids_.erase(it);
    } else {
      ++it;
    }
  }
  return alive && !pids_.empty();
}

void Subprocess::KillAndReap() {
  if (pgid_ <= 0 || pids_.empty()) return;
  kill(-pgid_, SIGKILL);
  for (int pid : pids_) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  pids_.clear();
}

absl::Status Subprocess::Exchange(std::string_view input, char delimiter, int delimiters,
                                  absl::Time deadline, std::string* output) {
  return Pump(input, /*close_after_input=*/false, delimiter, delimiters, deadline, output);
}

absl::Status Subprocess::RunToEnd(std::string_view input, absl::Time deadline,
                                  std::string* output) {
  VERSO_RETURN_IF_ERROR(Pump(input, /*close_after_input=*/true, '\0', -1, deadline, output));
  absl::Status result;
  for (int pid : pids_) {
    int status = 0;
    pid_t r;
    while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
    }
    if (r == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;
    if (result.ok()) {
      result = absl::UnavailableError(WIFSIGNALED(status)
                                          ? StrCat("killed by signal ", WTERMSIG(status))
                                          : StrCat("exited with status ", WEXITSTATUS(status)));
    }
  }
  pids_.clear();
  return result;
}

// One poll loop for both directions: a child that writes while it reads would deadlock a
// write-everything-then-read caller as soon as both pipe buffers fill.
absl::Status Subprocess::Write(std::string_view data) {
  size_t written = 0;
  while (written < data.size()) {
    if (stdin_fd_ < 0) return absl::UnavailableError("the process's input is closed");
    pollfd p = {stdin_fd_, POLLOUT, 0};
    if (poll(&p, 1, -1) < 0) {
      if (errno == EINTR) continue;
      return Errno("poll");
    }
    ssize_t w = write(stdin_fd_, data.data() + written, data.size() - written);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return Errno("writing to the process");  // EPIPE: it died
    }
    written += static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> Subprocess::Read(std::string* buffer) {
  char chunk[65536];
  while (true) {
    if (stdout_fd_ < 0) return 0;
    pollfd p = {stdout_fd_, POLLIN, 0};
    if (poll(&p, 1, -1) < 0) {
      if (errno == EINTR) continue;
      return Errno("poll");
    }
    ssize_t got = read(stdout_fd_, chunk, sizeof(chunk));
    if (got < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return Errno("reading from the process");
    }
    buffer->append(chunk, static_cast<size_t>(got));
    return static_cast<size_t>(got);
  }
}

absl::Status Subprocess::Pump(std::string_view input, bool close_after_input, char delimiter,
                              int delimiters, absl::Time deadline, std::string* output) {
  if (stdout_fd_ < 0) return absl::UnavailableError("the process has ended");
  size_t written = 0;
  int seen = 0;
  char buffer[65536];
  if (input.empty() && close_after_input && stdin_fd_ >= 0) {
    close(stdin_fd_);
    stdin_fd_ = -1;
  }
  while (true) {
    if (delimiters >= 0 && seen >= delimiters) return absl::OkStatus();
    pollfd fds[2];
    int n = 0;
    bool want_write = written < input.size() && stdin_fd_ >= 0;
    if (want_write) fds[n++] = {stdin_fd_, POLLOUT, 0};
    fds[n++] = {stdout_fd_, POLLIN, 0};
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return absl::DeadlineExceededError("the process timed out");
    int timeout_ms =
        static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 60000));
    int r = poll(fds, n, timeout_ms);
    if (r < 0) {
      if (errno == EINTR) continue;
      return Errno("poll");
    }
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == stdin_fd_) {
        ssize_t w = write(stdin_fd_, input.data() + written, input.size() - written);
        if (w < 0) {
          if (errno == EAGAIN || errno == EINTR) continue;
          return Errno("writing to the process");  // EPIPE: it died
        }
        written += static_cast<size_t>(w);
        if (written == input.size() && close_after_input) {
          close(stdin_fd_);
          stdin_fd_ = -1;
        }
      } else {
        ssize_t got = read(stdout_fd_, buffer, sizeof(buffer));
        if (got < 0) {
          if (errno == EAGAIN || errno == EINTR) continue;
          return Errno("reading from the process");
        }
        if (got == 0) {
          close(stdout_fd_);
          stdout_fd_ = -1;
          if (delimiters < 0) return absl::OkStatus();
          return absl::UnavailableError("the process ended its output");
        }
        if (delimiters >= 0) {
          for (ssize_t k = 0; k < got; ++k) seen += buffer[k] == delimiter;
        }
        output->append(buffer, static_cast<size_t>(got));
      }
    }
  }
}

}  // namespace verso
