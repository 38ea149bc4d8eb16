#include <fcntl.h>
#include <libxml/tree.h>
#include <libxml/xmlreader.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <ostream>

#include "absl/time/time.h"
#include "common/status.h"
#include "common/strings.h"
#include "formats/formats.h"
#include "formats/xml_internal.h"
#include "text/text.h"

namespace verso::formats {
namespace {

std::vector<XmlAttribute> Attributes(const xmlNode* node) {
  std::vector<XmlAttribute> out;
  for (const xmlAttr* a = node->properties; a != nullptr; a = a->next) {
    out.push_back({AttrName(a), AttrValue(a)});
  }
  return out;
}

std::string TakeLang(std::vector<XmlAttribute>* attrs) {
  std::string lang;
  for (auto it = attrs->begin(); it != attrs->end();) {
    if (it->name == "xml:lang" || it->name == "lang") {
      if (lang.empty() || it->name == "xml:lang") lang = it->value;
      it = attrs->erase(it);
    } else {
      ++it;
    }
  }
  return lang;
}

absl::Status ReadPropOrNote(const xmlNode* n, std::vector<TmxProp>* props,
                            std::vector<TmxNote>* notes) {
  std::vector<XmlAttribute> attrs = Attributes(n);
  std::string lang = TakeLang(&attrs);
  if (Is(n, "prop")) {
    TmxProp p;
    for (const auto& a : attrs) {
      if (a.name == "type") p.type = a.value;
    }
    if (p.type.empty()) {
      return absl::InvalidArgumentError(
          StrCat("line ", xmlGetLineNo(n), ": <prop> has no type attribute"));
    }
    p.value = NodeText(n);
    p.lang = lang;
    props->push_back(std::move(p));
  } else {
    notes->push_back({NodeText(n), lang});
  }
  return absl::OkStatus();
}

absl::Status SerializeInline(const xmlNode* node, std::string* out) {
  for (const xmlNode* n = node->children; n != nullptr; n = n->next) {
    switch (n->type) {
      case XML_TEXT_NODE:
      case XML_CDATA_SECTION_NODE:
        // Tagged text escapes only &, < and > (a CR stays a raw CR).
        out->append(text::EscapeText(Name(n->content)));
        break;
      case XML_ELEMENT_NODE: {
        StrAppend(out, "<", Name(n->name));
        for (const xmlAttr* a = n->properties; a != nullptr; a = a->next) {
          StrAppend(out, " ", AttrName(a), "=\"", XmlEscape(AttrValue(a), true), "\"");
        }
        if (n->children == nullptr) {
          out->append("/>");
        } else {
          out->push_back('>');
          absl::Status s = SerializeInline(n, out);
          if (!s.ok()) return s;
          StrAppend(out, "</", Name(n->name), ">");
        }
        break;
      }
      case XML_ENTITY_REF_NODE:
        return absl::InvalidArgumentError(
            StrCat("line ", xmlGetLineNo(n), ": entity reference &", Name(n->name),
                   "; is not allowed (TMX documents use only the predefined entities)"));
      default:
        break;  // comments, processing instructions
    }
  }
  return absl::OkStatus();
}

class LibxmlTmxReader : public TmxReader {
 public:
  LibxmlTmxReader(xmlTextReaderPtr reader, std::string name, int64_t total)
      : reader_(reader), name_(std::move(name)), total_(total) {
    xmlTextReaderSetStructuredErrorHandler(reader_, &LibxmlTmxReader::OnError, this);
  }
  ~LibxmlTmxReader() override { xmlFreeTextReader(reader_); }

  absl::StatusOr<TmxHeader> ReadHeader() override {
    // <tmx>
    VERSO_RETURN_IF_ERROR(NextElement());
    if (Name(xmlTextReaderConstLocalName(reader_)) != "tmx") {
      return Error(StrCat("the document element is <", Name(xmlTextReaderConstLocalName(reader_)),
                          ">, not <tmx>: this is not a TMX document"));
    }
    // <header>
    VERSO_RETURN_IF_ERROR(NextElement());
    if (Name(xmlTextReaderConstLocalName(reader_)) != "header") {
      return Error("<tmx> must start with <header>");
    }
    xmlNode* node = xmlTextReaderExpand(reader_);
    if (node == nullptr) return Error("cannot read <header>");
    int64_t header_line = xmlGetLineNo(node);
    TmxHeader header;
    header.attributes = Attributes(node);
    for (const xmlNode* n = node->children; n != nullptr; n = n->next) {
      if (Is(n, "prop") || Is(n, "note")) {
        absl::Status s = ReadPropOrNote(n, &header.props, &header.notes);
        if (!s.ok()) return absl::InvalidArgumentError(StrCat(name_, ": ", s.message()));
      }
    }
    if (header.Attribute("srclang").empty()) {
      return absl::InvalidArgumentError(
          StrCat(name_, ": line ", header_line, ": <header> has no srclang attribute"));
    }
    if (xmlTextReaderNext(reader_) < 0) return Error("cannot read past <header>");
    // <body>
    while (true) {
      int type = xmlTextReaderNodeType(reader_);
      if (type == XML_READER_TYPE_ELEMENT) {
        if (Name(xmlTextReaderConstLocalName(reader_)) != "body") {
          return Error(
              StrCat("expected <body>, found <", Name(xmlTextReaderConstLocalName(reader_)), ">"));
        }
        body_empty_ = xmlTextReaderIsEmptyElement(reader_) == 1;
        break;
      }
      if (type == XML_READER_TYPE_END_ELEMENT) return Error("<tmx> has no <body>");
      int rc = xmlTextReaderRead(reader_);
      if (rc <= 0) return rc == 0 ? Error("<tmx> has no <body>") : Error("malformed XML");
    }
    in_body_ = true;
    return header;
  }

  absl::StatusOr<bool> Next(TmxUnit* unit) override { return Advance(unit); }
  absl::StatusOr<bool> Skip() override { return Advance(nullptr); }

  int64_t BytesRead() const override { return xmlTextReaderByteConsumed(reader_); }
  int64_t BytesTotal() const override { return total_; }

 private:
  // The next <tu>, converted into `unit` unless it is null.
  absl::StatusOr<bool> Advance(TmxUnit* unit) {
    if (!in_body_) return absl::FailedPreconditionError("ReadHeader must come first");
    if (body_empty_ || finished_) return Finish();
    while (true) {
      if (!pending_) {
        int rc = xmlTextReaderRead(reader_);
        if (rc < 0) return Error("malformed XML");
        if (rc == 0) return Error("the document ends inside <body>");
      }
      pending_ = false;
      int type = xmlTextReaderNodeType(reader_);
      if (type == XML_READER_TYPE_END_ELEMENT) {
        // </body>
        finished_ = true;
        return Finish();
      }
      if (type != XML_READER_TYPE_ELEMENT) continue;
      std::string_view local = Name(xmlTextReaderConstLocalName(reader_));
      if (local != "tu") return Error(StrCat("unexpected <", local, "> in <body>"));
      if (unit == nullptr) {  // skipping: the parser still reads every byte of the subtree
        int rc = xmlTextReaderNext(reader_);
        if (rc < 0) return Error("malformed XML");
        pending_ = rc == 1;
        return true;
      }
      *unit = TmxUnit{};
      xmlNode* node = xmlTextReaderExpand(reader_);
      if (node == nullptr) return Error("malformed XML");
      unit->line = xmlGetLineNo(node);
      absl::Status s = ConvertUnit(node, unit);
      // Step over the unit's subtree (the reader frees it) onto the node after </tu>, which the
      // next call handles before reading further.
      int rc = xmlTextReaderNext(reader_);
      if (rc < 0) return Error("malformed XML");
      pending_ = rc == 1;
      if (!s.ok()) unit->problem = std::string(s.message());
      return true;
    }
  }

  absl::StatusOr<bool> Finish() {
    // Read to the end so that trailing garbage is reported.
    while (true) {
      int rc = xmlTextReaderRead(reader_);
      if (rc == 0) return false;
      if (rc < 0) return Error("malformed XML");
    }
  }

  absl::Status NextElement() {
    while (true) {
      int rc = xmlTextReaderRead(reader_);
      if (rc < 0) return Error("malformed XML");
      if (rc == 0) return Error("unexpected end of document");
      if (xmlTextReaderNodeType(reader_) == XML_READER_TYPE_ELEMENT) return absl::OkStatus();
    }
  }

  absl::Status ConvertUnit(const xmlNode* node, TmxUnit* unit) {
    unit->attributes = Attributes(node);
    for (const xmlNode* n = node->children; n != nullptr; n = n->next) {
      if (n->type != XML_ELEMENT_NODE) continue;
      if (Is(n, "prop") || Is(n, "note")) {
        VERSO_RETURN_IF_ERROR(ReadPropOrNote(n, &unit->props, &unit->notes));
      } else if (Is(n, "tuv")) {
        TmxVariant v;
        v.line = xmlGetLineNo(n);
        v.attributes = Attributes(n);
        v.lang = TakeLang(&v.attributes);
        bool has_seg = false;
        for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
          if (c->type != XML_ELEMENT_NODE) continue;
          if (Is(c, "prop") || Is(c, "note")) {
            VERSO_RETURN_IF_ERROR(ReadPropOrNote(c, &v.props, &v.notes));
          } else if (Is(c, "seg")) {
            if (has_seg) {
              return absl::InvalidArgumentError(
                  StrCat("line ", xmlGetLineNo(c), ": <tuv> has more than one <seg>"));
            }
            has_seg = true;
            VERSO_RETURN_IF_ERROR(SerializeInline(c, &v.segment));
          } else {
            return absl::InvalidArgumentError(
                StrCat("line ", xmlGetLineNo(c), ": unexpected <", Name(c->name), "> in <tuv>"));
          }
        }
        if (!has_seg) {
          return absl::InvalidArgumentError(StrCat("line ", v.line, ": <tuv> has no <seg>"));
        }
        unit->variants.push_back(std::move(v));
      } else {
        return absl::InvalidArgumentError(
            StrCat("line ", xmlGetLineNo(n), ": unexpected <", Name(n->name), "> in <tu>"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Error(std::string_view what) {
    if (!error_.empty()) return absl::InvalidArgumentError(StrCat(name_, ": ", error_));
    return absl::InvalidArgumentError(
        StrCat(name_, ": line ", xmlTextReaderGetParserLineNumber(reader_), ", column ",
               xmlTextReaderGetParserColumnNumber(reader_), ": ", what));
  }

  static void OnError(void* self, xmlErrorPtr error) {
    auto* r = static_cast<LibxmlTmxReader*>(self);
    if (error == nullptr || error->level == XML_ERR_WARNING || !r->error_.empty()) return;
    std::string msg = error->message ? error->message : "XML error";
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    r->error_ = StrCat("line ", error->line, ", column ", error->int2, ": ", msg);
  }

  xmlTextReaderPtr reader_;
  std::string name_;
  int64_t total_;
  std::string error_;
  bool in_body_ = false;
  bool body_empty_ = false;
  bool finished_ = false;
  bool pending_ = false;
};

constexpr int kParseOptions =
    XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_COMPACT | XML_PARSE_BIG_LINES;

}  // namespace

std::string TmxHeader::Attribute(std::string_view name) const {
  for (const auto& a : attributes) {
    if (a.name == name) return a.value;
  }
  return {};
}

absl::StatusOr<std::unique_ptr<TmxReader>> TmxReader::OpenFile(const std::string& path,
                                                               std::string name) {
  if (name.empty()) name = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    if (fd >= 0) ::close(fd);
    return absl::NotFoundError(StrCat(name, ": no such file"));
  }
  char head[kSignatureBytes] = {};
  const ssize_t n = ::pread(fd, head, sizeof(head), 0);
  if (absl::Status c = RefuseCompressed(std::string_view(head, n > 0 ? n : 0), name); !c.ok()) {
    ::close(fd);
    return c;
  }
  // Through read callbacks, not xmlReaderForFile: libxml2 gunzips files it opens itself.
  auto* owned = new int(fd);
  xmlTextReaderPtr r = xmlReaderForIO(
      [](void* ctx, char* buffer, int len) -> int {
        ssize_t got;
        do {
          got = ::read(*static_cast<int*>(ctx), buffer, static_cast<size_t>(len));
        } while (got < 0 && errno == EINTR);
        return static_cast<int>(got);
      },
      [](void* ctx) -> int {
        const int rc = ::close(*static_cast<int*>(ctx));
        delete static_cast<int*>(ctx);
        return rc;
      },
      owned, name.c_str(), nullptr, kParseOptions);
  if (r == nullptr) return absl::InvalidArgumentError(StrCat(name, ": cannot be read"));
  return std::unique_ptr<TmxReader>(new LibxmlTmxReader(r, std::move(name), st.st_size));
}

absl::StatusOr<std::unique_ptr<TmxReader>> TmxReader::OpenMemory(std::string_view data,
                                                                 std::string name) {
  VERSO_RETURN_IF_ERROR(RefuseCompressed(data.substr(0, kSignatureBytes), name));
  xmlTextReaderPtr r = xmlReaderForMemory(data.data(), static_cast<int>(data.size()), name.c_str(),
                                          nullptr, kParseOptions);
  if (r == nullptr) return absl::InvalidArgumentError(StrCat(name, ": cannot be read"));
  return std::unique_ptr<TmxReader>(
      new LibxmlTmxReader(r, std::move(name), static_cast<int64_t>(data.size())));
}

std::string XmlEscape(std::string_view s, bool attribute) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        if (attribute) {
          out += "&quot;";
        } else {
          out.push_back(c);
        }
        break;
      case '\n':
      case '\t':
      case '\r':
        if (attribute) {
          StrAppend(&out, "&#", static_cast<int>(c), ";");
        } else if (c == '\r') {
          out += "&#13;";  // a raw CR would be normalized away by the next reader
        } else {
          out.push_back(c);
        }
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

absl::StatusOr<int64_t> ParseTmxDate(std::string_view s) {
  auto bad = [&] {
    return absl::InvalidArgumentError(
        StrCat("\"", s, "\" is not a TMX date (YYYYMMDDThhmmssZ, UTC)"));
  };
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return bad();
  auto num = [&](size_t pos, size_t len, int* out) {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
  };
  int y, mo, d, h, mi, se;
  if (!num(0, 4, &y) || !num(4, 2, &mo) || !num(6, 2, &d) || !num(9, 2, &h) || !num(11, 2, &mi) ||
      !num(13, 2, &se)) {
    return bad();
  }
  absl::CivilSecond cs(y, mo, d, h, mi, se);
  // CivilSecond normalizes out-of-range fields (month 13 -> next January); refuse those.
  if (cs.year() != y || cs.month() != mo || cs.day() != d || cs.hour() != h || cs.minute() != mi ||
      cs.second() != se) {
    return bad();
  }
  return absl::ToUnixSeconds(absl::FromCivil(cs, absl::UTCTimeZone()));
}

std::string FormatTmxDate(int64_t unix_seconds) {
  return absl::FormatTime("%Y%m%dT%H%M%SZ", absl::FromUnixSeconds(unix_seconds),
                          absl::UTCTimeZone());
}

namespace {

void WriteAttributes(std::ostream& out, const std::vector<XmlAttribute>& attrs) {
  for (const auto& a : attrs) out << ' ' << a.name << "=\"" << XmlEscape(a.value, true) << '"';
}

void WritePropsNotes(std::ostream& out, const std::vector<TmxProp>& props,
                     const std::vector<TmxNote>& notes, std::string_view indent) {
  for (const auto& n : notes) {
    out << indent << "<note";
    if (!n.lang.empty()) out << " xml:lang=\"" << XmlEscape(n.lang, true) << '"';
    out << '>' << XmlEscape(n.text, false) << "</note>\n";
  }
  for (const auto& p : props) {
    out << indent << "<prop type=\"" << XmlEscape(p.type, true) << '"';
    if (!p.lang.empty()) out << " xml:lang=\"" << XmlEscape(p.lang, true) << '"';
    out << '>' << XmlEscape(p.value, false) << "</prop>\n";
  }
}

}  // namespace

void TmxWriter::WriteHeader(const TmxHeader& header) {
  std::ostream& out = *out_;
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<!DOCTYPE tmx SYSTEM \"tmx14.dtd\">\n"
         "<tmx version=\"1.4\">\n"
         " <header";
  WriteAttributes(out, header.attributes);
  if (header.props.empty() && header.notes.empty()) {
    out << "/>\n";
  } else {
    out << ">\n";
    WritePropsNotes(out, header.props, header.notes, "  ");
    out << " </header>\n";
  }
  out << " <body>\n";
}

void TmxWriter::WriteUnit(const TmxUnit& unit) {
  std::ostream& out = *out_;
  out << "  <tu";
  WriteAttributes(out, unit.attributes);
  out << ">\n";
  WritePropsNotes(out, unit.props, unit.notes, "   ");
  for (const auto& v : unit.variants) {
    out << "   <tuv xml:lang=\"" << XmlEscape(v.lang, true) << '"';
    WriteAttributes(out, v.attributes);
    out << ">\n";
    WritePropsNotes(out, v.props, v.notes, "    ");
    // The segment is tagged text, which is already XML content; only a raw CR needs a
    // reference, or the next reader would normalize it to LF.
    out << "    <seg>";
    for (char c : v.segment) {
      if (c == '\r') {
        out << "&#13;";
      } else {
        out << c;
      }
    }
    out << "</seg>\n   </tuv>\n";
  }
  out << "  </tu>\n";
}

bool TmxWriter::Finish() {
  *out_ << " </body>\n</tmx>\n";
  out_->flush();
  return out_->good();
}

}  // namespace verso::formats
