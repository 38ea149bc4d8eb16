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

}  // namespace verso::test

#endif  // VERSO_TESTS_SERVICES_H_
