#include "tests/services.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>

#include "tests/process.h"

namespace verso::test {
namespace {

std::string ServicesDir() {
  const char* dir = std::getenv("TEST_VERSO_SERVICES_DIR");
  if (dir != nullptr && *dir != '\0') return dir;
#ifdef VERSO_TEST_SERVICES_DIR
  return VERSO_TEST_SERVICES_DIR;
#else
  return "/tmp/verso-services-" + std::to_string(getuid());
#endif
}

// postgresql://user:pw@host:port/DB -> the same URL naming `db`.
std::string WithDatabase(const std::string& url, const std::string& db) {
  const size_t slash = url.rfind('/');
  return url.substr(0, slash + 1) + db;
}

}  // namespace

std::string ServiceEnv(std::string_view name) {
  std::ifstream in(ServicesDir() + "/env");
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
        line[name.size()] == '=') {
      return line.substr(name.size() + 1);
    }
  }
  ADD_FAILURE() << name << " is not in " << ServicesDir()
                << "/env: run the tests through ctest (its fixture starts PostgreSQL and Redis) "
                   "or `scripts/test-services start DIR` with TEST_VERSO_SERVICES_DIR=DIR";
  return "";
}

std::string NewPostgresDatabase() {
  static std::atomic<int> n{0};
  const std::string admin = ServiceEnv("VERSO_TEST_POSTGRES_URL");
  if (admin.empty()) return "";
  const std::string db =
      "t_" + std::to_string(getpid()) + "_" + std::to_string(n++) + "_" + std::to_string(rand());
  RunResult r = Run({"/usr/bin/psql", admin, "-qXc", "CREATE DATABASE " + db});
  if (r.exit_code != 0) {
    ADD_FAILURE() << "CREATE DATABASE " << db << " failed: " << r.err;
    return "";
  }
  return WithDatabase(admin, db);
}

std::string ReplicaUrl(const std::string& primary_database_url) {
  const std::string replica = ServiceEnv("VERSO_TEST_POSTGRES_REPLICA_URL");
  if (replica.empty()) return "";
  return WithDatabase(replica, primary_database_url.substr(primary_database_url.rfind('/') + 1));
}

ExclusiveReplica::ExclusiveReplica() {
  const std::string path = ServicesDir() + "/replica.lock";
  fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0 || flock(fd_, LOCK_EX) != 0) ADD_FAILURE() << "cannot lock " << path;
}

ExclusiveReplica::~ExclusiveReplica() {
  if (fd_ >= 0) close(fd_);  // releases the lock
}

}  // namespace verso::test
