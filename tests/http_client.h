// A small blocking HTTP/1.1 client over POSIX sockets, for tests that must control the bytes on
// the wire (slow clients, oversized heads, partial uploads).
#ifndef VERSO_TESTS_HTTP_CLIENT_H_
#define VERSO_TESTS_HTTP_CLIENT_H_

#include <map>
#include <string>
#include <vector>

namespace verso::test {

struct HttpResponse {
  int status = 0;                              // 0: no response (connection closed or failed)
  std::map<std::string, std::string> headers;  // names lower-case
  std::string body;
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class HttpConnection {
 public:
  HttpConnection(const std::string& host, int port);
  ~HttpConnection();
  bool connected() const { return fd_ >= 0; }

  // Sends raw bytes; false when the peer is gone.
  bool Send(const std::string& bytes);
  // Reads one response (Content-Length bodies); status 0 if the connection closed first.
  // Interim 100 Continue responses are skipped unless `interim` is set.
  HttpResponse Read(bool interim = false);
  // Waits until the peer closes the connection (true) or `timeout_ms` passes (false).
  bool WaitClosed(int timeout_ms);

  HttpResponse Request(const std::string& method, const std::string& target,
                       const std::string& body = "",
                       const std::vector<std::pair<std::string, std::string>>& headers = {});

 private:
  int fd_ = -1;
  std::string buffer_;
};

// One request on a fresh connection.
HttpResponse Fetch(int port, const std::string& method, const std::string& target,
                   const std::string& body = "",
                   const std::vector<std::pair<std::string, std::string>>& headers = {});

}  // namespace verso::test

#endif  // VERSO_TESTS_HTTP_CLIENT_H_
