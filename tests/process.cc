#include "tests/process.h"

#include <fstream>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

extern char** environ;

namespace verso::test {
namespace {

std::vector<char*> CStrings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// In a child just forked: it dies with the test process (a crash, or ctest killing it at its
// timeout) instead of living on holding ctest's output pipe, which made ctest wait out the whole
// timeout. PR_SET_PDEATHSIG fires when the forking *thread* exits: start children from the test's
// own thread (every test does).
void DieWithParent(pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);  // the parent died before the line above
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// The environment of a child: this process's, then `env`; a verso run on a data directory that
// a PostgreSQL-backed test made (TestDir with TEST_VERSO_BACKEND=postgres) gets that
// directory's database as VERSO_STORAGE_URL, unless `env` names one.
std::vector<std::string> ChildEnv(const std::vector<std::string>& argv,
                                  const std::vector<std::string>& env) {
  std::vector<std::string> full_env;
  for (char** e = environ; *e != nullptr; ++e) full_env.emplace_back(*e);
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] != "--data-dir") continue;
    std::ifstream in(argv[i + 1] + "/.storage_url");
    std::string url;
    if (std::getline(in, url) && !url.empty()) full_env.push_back("VERSO_STORAGE_URL=" + url);
  }
  for (const auto& e : env) full_env.push_back(e);
  return full_env;
}

}  // namespace

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

RunResult Run(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  int out_pipe[2], err_pipe[2];
  if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0) std::abort();
  const std::vector<std::string> full_env = ChildEnv(argv, env);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    DieWithParent(parent);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    // Nothing else goes to the child: a daemon it starts (pg_ctl's postmaster, redis-server)
    // would otherwise keep a copy of the pipes open, and the read below would never end.
    close_range(3, ~0U, 0);
    auto args = CStrings(argv);
    auto envp = CStrings(full_env);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  RunResult r;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
      }
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = DecodeStatus(status);
  return r;
}

Child::Child(const std::vector<std::string>& argv, const std::vector<std::string>& env,
             const std::string& stderr_path) {
  int p[2];
  if (pipe(p) != 0) std::abort();
  const std::vector<std::string> full_env = ChildEnv(argv, env);
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    DieWithParent(parent);
    dup2(p[1], 1);
    if (!stderr_path.empty()) {
      int fd = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) dup2(fd, 2);
    }
    close_range(3, ~0U, 0);  // as in Run
    auto args = CStrings(argv);
    auto envp = CStrings(full_env);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  close(p[1]);
  fd_ = p[0];
}

Child::~Child() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    Wait();
  }
  if (fd_ >= 0) close(fd_);
}

bool Child::ReadLine(std::string* line) {
  while (true) {
    size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      *line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return true;
    }
    char buf[4096];
    ssize_t n = read(fd_, buf, sizeof(buf));
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

void Child::Kill(int signal) {
  if (pid_ > 0) kill(pid_, signal);
}

int Child::Wait() {
  if (pid_ <= 0) return -1;
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return DecodeStatus(status);
}

std::unique_ptr<Child> StartRedis(int port, const std::string& dir) {
  auto redis = std::make_unique<Child>(
      std::vector<std::string>{"/usr/bin/redis-server", "--port", std::to_string(port), "--bind",
                               "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir},
      std::vector<std::string>{}, dir + "/redis.log");
  for (int i = 0; i < 100; ++i) {
    if (Run({"/usr/bin/redis-cli", "-p", std::to_string(port), "ping"}).out == "PONG\n") {
      return redis;
    }
    usleep(50'000);
  }
  return nullptr;
}

}  // namespace verso::test
