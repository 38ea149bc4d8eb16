// See xml_scan.h.
#include "formats/xml_scan.h"

#include <libxml/parser.h>
#include <libxml/xmlreader.h>

#include <utility>

#include "common/status.h"
#include "common/strings.h"
#include "formats/xml_internal.h"
#include "text/text.h"

namespace verso::formats {
namespace {

void OnReaderError(void* out, xmlErrorPtr error) {
  auto* first = static_cast<std::string*>(out);
  if (error == nullptr || error->level == XML_ERR_WARNING || !first->empty()) return;
  std::string msg = error->message != nullptr ? error->message : "malformed XML";
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  *first = StrCat("line ", error->line, ", column ", error->int2, ": ", msg);
}

// libxml2 decides well-formedness (names, nesting, attribute uniqueness, characters), streaming:
// a file of hundreds of megabytes is checked without building its tree.
absl::Status CheckWellFormed(std::string_view data, const std::string& name) {
  const int options = XML_PARSE_NONET | XML_PARSE_COMPACT | XML_PARSE_BIG_LINES |
                      XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
  xmlTextReaderPtr reader = xmlReaderForMemory(data.data(), static_cast<int>(data.size()),
                                               name.c_str(), nullptr, options);
  if (reader == nullptr) return absl::ResourceExhaustedError("libxml2: out of memory");
  std::string error;
  xmlTextReaderSetStructuredErrorHandler(reader, &OnReaderError, &error);
  absl::Status s;
  bool prolog_checked = false;
  int rc = 0;
  // Once asked for, the reader's document is the caller's to free (libxml2's
  // xmlTextReaderCurrentDoc): freed below, or every document read would leak (found by
  // scripts/fuzz; fuzz/regressions/xliff/leak-empty-xliff22).
  xmlDocPtr doc = nullptr;
  while (s.ok() && (rc = xmlTextReaderRead(reader)) == 1) {
    if (prolog_checked || xmlTextReaderNodeType(reader) != XML_READER_TYPE_ELEMENT) continue;
    // The first element: the declaration and any DTD are behind us.
    prolog_checked = true;
    doc = xmlTextReaderCurrentDoc(reader);
    if (doc != nullptr && doc->intSubset != nullptr && doc->intSubset->entities != nullptr) {
      s = absl::InvalidArgumentError(
          StrCat(name, ": the document declares entities; they are refused"));
    } else if (const xmlChar* enc = xmlTextReaderConstEncoding(reader); enc != nullptr) {
      const std::string lower = AsciiLower(Name(enc));
      if (lower != "utf-8" && lower != "utf8" && lower != "us-ascii" && lower != "ascii") {
        s = absl::InvalidArgumentError(StrCat(name, ": the document is in ", Name(enc),
                                              "; verso reads this format in UTF-8 only"));
      }
    }
  }
  xmlFreeTextReader(reader);
  if (doc != nullptr) xmlFreeDoc(doc);
  if (!s.ok()) return s;
  if (rc < 0 || !error.empty()) {
    return absl::InvalidArgumentError(
        StrCat(name, ": ", error.empty() ? std::string("malformed XML") : error));
  }
  return absl::OkStatus();
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

class Scanner {
 public:
  Scanner(std::string_view s, XmlTree* tree, int max_depth)
      : s_(s), tree_(tree), max_depth_(max_depth) {}

  absl::Status Run() {
    if (s_.starts_with("\xEF\xBB\xBF")) i_ = 3;
    scopes_.push_back({{"xml", std::string(kXmlNamespace)}});
    while (i_ < s_.size()) {
      if (s_[i_] != '<') {
        size_t end = s_.find('<', i_);
        if (end == std::string_view::npos) end = s_.size();
        VERSO_RETURN_IF_ERROR(Text(i_, end, /*cdata=*/false));
        i_ = end;
      } else if (Starts("<?")) {
        Skip("?>");
      } else if (Starts("<!--")) {
        Skip("-->");
      } else if (Starts("<![CDATA[")) {
        size_t end = s_.find("]]>", i_);
        if (end == std::string_view::npos) end = s_.size();
        VERSO_RETURN_IF_ERROR(Text(i_, end + 3, /*cdata=*/true));
        i_ = end + 3;
      } else if (Starts("<!")) {
        Doctype();
      } else if (Starts("</")) {
        size_t end = s_.find('>', i_);
        if (open_.empty() || end == std::string_view::npos) return Bad("an unexpected end tag");
        XmlNode& n = tree_->nodes[static_cast<size_t>(open_.back())];
        n.end_begin = i_;
        n.end = end + 1;
        open_.pop_back();
        scopes_.pop_back();
        i_ = end + 1;
      } else {
        VERSO_RETURN_IF_ERROR(StartTag());
      }
    }
    if (!open_.empty() || tree_->root < 0) return Bad("the document is incomplete");
    return absl::OkStatus();
  }

 private:
  bool Starts(std::string_view p) const { return s_.substr(i_, p.size()) == p; }
  void Skip(std::string_view close) {
    size_t end = s_.find(close, i_);
    i_ = end == std::string_view::npos ? s_.size() : end + close.size();
  }
  void Doctype() {
    char quote = 0;
    int brackets = 0;
    for (++i_; i_ < s_.size(); ++i_) {
      char c = s_[i_];
      if (quote) {
        if (c == quote) quote = 0;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '[') {
        ++brackets;
      } else if (c == ']') {
        --brackets;
      } else if (c == '>' && brackets == 0) {
        ++i_;
        return;
      }
    }
  }
  void Position(size_t at, int64_t* line, int64_t* column) {
    for (; counted_ < at; ++counted_) {
      if (s_[counted_] == '\n') {
        ++line_;
        line_start_ = counted_ + 1;
      }
    }
    *line = line_;
    *column = static_cast<int64_t>(at - line_start_) + 1;
  }
  absl::Status Bad(std::string_view what) {
    int64_t line, column;
    Position(i_, &line, &column);
    return absl::InvalidArgumentError(
        StrCat(tree_->name, ": line ", line, ", column ", column, ": ", what));
  }
  // Decodes character data (entity and character references) into *out.
  absl::Status Decode(std::string_view raw, std::string* out) {
    for (size_t k = 0; k < raw.size(); ++k) {
      if (raw[k] != '&') {
        out->push_back(raw[k]);
        continue;
      }
      const size_t len = text::DecodeXmlReference(raw, k, out);
      if (len == 0) return Bad("a reference that is not a predefined entity or a character");
      k += len - 1;
    }
    return absl::OkStatus();
  }
  absl::Status Text(size_t begin, size_t end, bool cdata) {
    if (open_.empty()) return absl::OkStatus();  // white space around the root
    XmlNode n;
    n.begin = begin;
    n.end = end;
    n.parent = open_.back();
    Position(begin, &n.line, &n.column);
    if (cdata) {
      n.text = std::string(s_.substr(begin + 9, end - begin - 12));
    } else {
      VERSO_RETURN_IF_ERROR(Decode(s_.substr(begin, end - begin), &n.text));
    }
    Add(std::move(n));
    return absl::OkStatus();
  }
  void Add(XmlNode&& n) {
    const int index = static_cast<int>(tree_->nodes.size());
    if (n.parent >= 0) tree_->nodes[static_cast<size_t>(n.parent)].children.push_back(index);
    tree_->nodes.push_back(std::move(n));
  }
  std::string_view ReadName() {
    size_t start = i_;
    while (i_ < s_.size() && !IsSpace(s_[i_]) && s_[i_] != '>' && s_[i_] != '/' && s_[i_] != '=')
      ++i_;
    return s_.substr(start, i_ - start);
  }
  void SkipSpace() {
    while (i_ < s_.size() && IsSpace(s_[i_])) ++i_;
  }
  std::string Resolve(std::string_view prefix) const {
    for (auto scope = scopes_.rbegin(); scope != scopes_.rend(); ++scope) {
      for (const auto& [p, uri] : *scope) {
        if (p == prefix) return uri;
      }
    }
    return "";
  }
  static void Split(std::string_view qname, std::string* prefix, std::string* local) {
    size_t colon = qname.find(':');
    if (colon == std::string_view::npos) {
      prefix->clear();
      *local = std::string(qname);
    } else {
      *prefix = std::string(qname.substr(0, colon));
      *local = std::string(qname.substr(colon + 1));
    }
  }
  absl::Status StartTag() {
    if (open_.empty() && tree_->root >= 0) return Bad("a second document element");
    if (static_cast<int>(open_.size()) >= max_depth_) {
      return Bad(StrCat("elements nested deeper than ", max_depth_));
    }
    XmlNode n;
    n.element = true;
    n.begin = i_;
    n.parent = open_.empty() ? -1 : open_.back();
    Position(i_, &n.line, &n.column);
    ++i_;
    std::string_view qname = ReadName();
    Split(qname, &n.prefix, &n.local);
    std::vector<std::pair<std::string, std::string>> scope;
    std::vector<std::pair<std::string, std::string>> raw;  // qname, decoded value
    while (true) {
      SkipSpace();
      if (i_ >= s_.size()) return Bad("an unterminated start tag");
      if (s_[i_] == '>' || Starts("/>")) break;
      std::string attr_name(ReadName());
      SkipSpace();
      if (i_ >= s_.size() || s_[i_] != '=') return Bad("an attribute without a value");
      ++i_;
      SkipSpace();
      if (i_ >= s_.size() || (s_[i_] != '"' && s_[i_] != '\'')) return Bad("an unquoted value");
      const char quote = s_[i_++];
      size_t close = s_.find(quote, i_);
      if (close == std::string_view::npos) return Bad("an unterminated attribute value");
      // Attribute value normalization: literal white space characters become spaces.
      std::string literal(s_.substr(i_, close - i_));
      for (char& c : literal) {
        if (c == '\t' || c == '\n' || c == '\r') c = ' ';
      }
      std::string value;
      VERSO_RETURN_IF_ERROR(Decode(literal, &value));
      i_ = close + 1;
      if (attr_name == "xmlns") {
        scope.emplace_back("", value);
      } else if (attr_name.starts_with("xmlns:")) {
        scope.emplace_back(attr_name.substr(6), value);
      } else {
        raw.emplace_back(std::move(attr_name), std::move(value));
      }
    }
    scopes_.push_back(std::move(scope));
    n.ns = Resolve(n.prefix);
    for (auto& [qn, value] : raw) {
      XmlAttr a;
      Split(qn, &a.prefix, &a.local);
      if (!a.prefix.empty()) a.ns = Resolve(a.prefix);
      a.value = std::move(value);
      n.attrs.push_back(std::move(a));
    }
    const bool empty = Starts("/>");
    i_ += empty ? 2 : 1;
    n.start_end = i_;
    const int index = static_cast<int>(tree_->nodes.size());
    if (tree_->root < 0) tree_->root = index;
    if (empty) {
      n.self_closing = true;
      n.end_begin = n.end = i_;
      scopes_.pop_back();
    }
    Add(std::move(n));
    if (!empty) open_.push_back(index);
    return absl::OkStatus();
  }

  std::string_view s_;
  XmlTree* tree_;
  int max_depth_;
  size_t i_ = 0;
  std::vector<int> open_;
  std::vector<std::vector<std::pair<std::string, std::string>>> scopes_;
  size_t counted_ = 0, line_start_ = 0;
  int64_t line_ = 1;
};

}  // namespace

absl::StatusOr<XmlDocPtr> ParseXml(std::string_view data, const std::string& name) {
  xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
  if (ctxt == nullptr) return absl::ResourceExhaustedError("libxml2: out of memory");
  const int options = XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_COMPACT |
                      XML_PARSE_BIG_LINES | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
  XmlDocPtr doc(xmlCtxtReadMemory(ctxt, data.data(), static_cast<int>(data.size()), name.c_str(),
                                  nullptr, options));
  if (doc == nullptr) {
    const xmlError* e = xmlCtxtGetLastError(ctxt);
    std::string msg = (e != nullptr && e->message != nullptr) ? e->message : "malformed XML";
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    absl::Status s = absl::InvalidArgumentError(
        e != nullptr ? StrCat(name, ": line ", e->line, ", column ", e->int2, ": ", msg)
                     : StrCat(name, ": ", msg));
    xmlFreeParserCtxt(ctxt);
    return s;
  }
  xmlFreeParserCtxt(ctxt);
  if (doc->intSubset != nullptr && doc->intSubset->entities != nullptr) {
    return absl::InvalidArgumentError(
        StrCat(name, ": the document declares entities; they are refused"));
  }
  return doc;
}

const XmlAttr* XmlNode::Attr(std::string_view ns, std::string_view local) const {
  for (const XmlAttr& a : attrs) {
    if (a.local == local && a.ns == ns) return &a;
  }
  return nullptr;
}

std::string_view XmlNode::Get(std::string_view local, std::string_view missing) const {
  const XmlAttr* a = Attr("", local);
  return a ? std::string_view(a->value) : missing;
}

absl::Status XmlTree::Error(const XmlNode& at, std::string_view what) const {
  return absl::InvalidArgumentError(
      StrCat(name, ": line ", at.line, ", column ", at.column, ": ", what));
}

absl::StatusOr<XmlTree> ScanXml(std::string_view data, const std::string& name, size_t max_bytes,
                                int max_depth) {
  if (data.size() > max_bytes) {
    return absl::InvalidArgumentError(
        StrCat(name, ": larger than ", max_bytes >> 20, " MiB, the limit for this format"));
  }
  if (data.starts_with("\xFE\xFF") || data.starts_with("\xFF\xFE")) {
    return absl::InvalidArgumentError(
        StrCat(name, ": the document is in UTF-16; verso reads this format in UTF-8 only"));
  }
  VERSO_RETURN_IF_ERROR(CheckWellFormed(data, name));
  XmlTree tree;
  tree.data = data;
  tree.name = name;
  Scanner scanner(data, &tree, max_depth);
  VERSO_RETURN_IF_ERROR(scanner.Run());
  return tree;
}

}  // namespace verso::formats
