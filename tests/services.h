// The engines scripts/test-services starts for the tests (ctest's `services` fixture): where they
// listen, and fresh databases on them.
#ifndef VERSO_TESTS_SERVICES_H_
#define VERSO_TESTS_SERVICES_H_

#include <string>
#include <string_view>

namespace verso::test {

// A value of the services' environment file (VERSO_TEST_POSTGRES_URL, VERSO_TEST_REDIS_URL, ...);
// "" when the services are not running (the test then fails, naming what to run).
std::string ServiceEnv(std::string_view name);
// A new, empty database on the test PostgreSQL primary; its URL ("" after a failed test
// assertion naming why).
std::string NewPostgresDatabase();
// The same database's URL on the streaming replica.
std::string ReplicaUrl(const std::string& primary_database_url);

// The streaming replica is shared by every test; a test that pauses its replay or asserts on its
// lag holds it alone for its whole body (an exclusive lock on a file beside it), so a parallel
// test cannot resume a replay it paused nor pause one it waits to see caught up.
class ExclusiveReplica {
 public:
  ExclusiveReplica();
  ~ExclusiveReplica();
  ExclusiveReplica(const ExclusiveReplica&) = delete;
  ExclusiveReplica& operator=(const ExclusiveReplica&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace verso::test

#endif  // VERSO_TESTS_SERVICES_H_
