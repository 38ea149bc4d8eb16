#include "tests/xml_schema.h"

#include <stdlib.h>
#include <unistd.h>

#include "tests/process.h"

namespace verso::test {

std::string SchemaErrors(const std::string& xml, const std::string& xsd,
                         const std::string& catalog) {
  char path[] = "/tmp/verso-xml-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return "mkstemp failed";
  const bool written = write(fd, xml.data(), xml.size()) == static_cast<ssize_t>(xml.size());
  close(fd);
  if (!written) {
    unlink(path);
    return "write failed";
  }
  RunResult r = Run({"/usr/bin/xmllint", "--noout", "--nonet", "--schema", xsd, path},
                    {"XML_CATALOG_FILES=" + catalog});
  unlink(path);
  return r.exit_code == 0 ? "" : r.err;
}

}  // namespace verso::test
