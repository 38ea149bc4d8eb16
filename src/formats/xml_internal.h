// libxml2 helpers shared by the XML formats' readers (private to formats/).
#ifndef VERSO_FORMATS_XML_INTERNAL_H_
#define VERSO_FORMATS_XML_INTERNAL_H_

#include <libxml/tree.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/strings.h"

namespace verso::formats {

inline std::string_view Name(const xmlChar* s) {
  return s ? std::string_view(reinterpret_cast<const char*>(s)) : std::string_view();
}

// "prefix:name" for a namespaced attribute.
inline std::string AttrName(const xmlAttr* attr) {
  std::string name(Name(attr->name));
  if (attr->ns != nullptr && attr->ns->prefix != nullptr) {
    return StrCat(Name(attr->ns->prefix), ":", name);
  }
  return name;
}

inline std::string AttrValue(const xmlAttr* attr) {
  xmlChar* v = xmlNodeListGetString(attr->doc, attr->children, 1);
  std::string out(Name(v));
  xmlFree(v);
  return out;
}

// The text content of a node and its descendants.
inline std::string NodeText(const xmlNode* node) {
  xmlChar* v = xmlNodeGetContent(node);
  std::string out(Name(v));
  xmlFree(v);
  return out;
}

struct XmlDocFree {
  void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};
using XmlDocPtr = std::unique_ptr<xmlDoc, XmlDocFree>;

// Parses a whole document with libxml2: no network, no DTD loaded, no entity expanded.
// Malformed XML fails with InvalidArgument naming `name`, line and column, and so does a
// document that declares entities (billion laughs, external entities). (xml_scan.cc)
absl::StatusOr<XmlDocPtr> ParseXml(std::string_view data, const std::string& name);

// An element with this local name.
inline bool Is(const xmlNode* n, std::string_view name) {
  return n->type == XML_ELEMENT_NODE && Name(n->name) == name;
}

}  // namespace verso::formats

#endif  // VERSO_FORMATS_XML_INTERNAL_H_
