// A byte-exact view of a well-formed XML document (private to formats/): every element and
// text node with the byte range it was read from, so that a writer can replace one element's
// content and keep every other byte of the file. libxml2 checks well-formedness first (no DTD
// loaded, no network, no entities but the predefined ones and character references); this
// scanner then only has to find the ranges.
#ifndef VERSO_FORMATS_XML_SCAN_H_
#define VERSO_FORMATS_XML_SCAN_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace verso::formats {

inline constexpr std::string_view kXmlNamespace = "http://www.w3.org/XML/1998/namespace";

struct XmlAttr {
  std::string prefix;  // as written ("" for none)
  std::string local;
  std::string ns;     // resolved namespace URI ("" for an unprefixed attribute)
  std::string value;  // decoded
};

struct XmlNode {
  bool element = false;  // else character data (text and CDATA, decoded into `text`)
  std::string prefix;
  std::string local;
  std::string ns;
  std::vector<XmlAttr> attrs;  // namespace declarations left out
  std::vector<int> children;   // indexes into XmlTree::nodes
  int parent = -1;
  // Elements: [begin, start_end) is the start tag, [end_begin, end) the end tag; an empty
  // element <a/> has start_end == end_begin == end. Text: [begin, end) is the raw text.
  size_t begin = 0, start_end = 0, end_begin = 0, end = 0;
  bool self_closing = false;
  std::string text;
  int64_t line = 0;
  int64_t column = 0;

  const XmlAttr* Attr(std::string_view ns, std::string_view local) const;
  // The value of an unprefixed attribute, or `missing`.
  std::string_view Get(std::string_view local, std::string_view missing = "") const;
  bool Has(std::string_view local) const { return Attr("", local) != nullptr; }
};

struct XmlTree {
  std::vector<XmlNode> nodes;
  int root = -1;
  std::string_view data;  // the document (must outlive the tree)
  std::string name;

  const XmlNode& operator[](int i) const { return nodes[static_cast<size_t>(i)]; }
  // "name: line L, column C: what" (InvalidArgument) for a node.
  absl::Status Error(const XmlNode& at, std::string_view what) const;
};

// Reads a UTF-8 document (a declaration naming another encoding is refused). Fails with
// InvalidArgument naming `name`, line and column for malformed XML, a declared entity, a
// document larger than `max_bytes` or nested deeper than `max_depth`.
absl::StatusOr<XmlTree> ScanXml(std::string_view data, const std::string& name, size_t max_bytes,
                                int max_depth);

}  // namespace verso::formats

#endif  // VERSO_FORMATS_XML_SCAN_H_
