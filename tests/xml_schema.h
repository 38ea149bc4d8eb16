// XSD validation for tests, with xmllint (libxml2-utils) offline through a local XML catalog.
#ifndef VERSO_TESTS_XML_SCHEMA_H_
#define VERSO_TESTS_XML_SCHEMA_H_

#include <string>

namespace verso::test {

// xmllint's complaints about `xml` against the schema `xsd` ("" when it validates).
std::string SchemaErrors(const std::string& xml, const std::string& xsd,
                         const std::string& catalog);

}  // namespace verso::test

#endif  // VERSO_TESTS_XML_SCHEMA_H_
