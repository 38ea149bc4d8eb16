// A local HTTP/1.1 server for tests that stand in for paid providers (OpenAI, DeepL, ...): the
// test's handler answers each request with the provider's real status codes, headers and
// bodies. Binds 127.0.0.1 on a free port; keeps connections alive; one thread per connection.
#ifndef VERSO_TESTS_FAKE_HTTP_SERVER_H_
#define VERSO_TESTS_FAKE_HTTP_SERVER_H_

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace verso::test {

struct FakeRequest {
  std::string method;
  std::string target;                          // path and query
  std::map<std::string, std::string> headers;  // names lower-case
  std::string body;
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct FakeResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers = {{"Content-Type", "application/json"}};
  std::string body;
  bool hang = false;  // never answer (until the server stops)
};

class FakeHttpServer {
 public:
  using Handler = std::function<FakeResponse(const FakeRequest&)>;
  explicit FakeHttpServer(Handler handler);
  ~FakeHttpServer();

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Requests received so far (thread-safe copy).
  std::vector<FakeRequest> requests();
  int request_count();

 private:
  void AcceptLoop();
  void Serve(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> connections_;
  std::vector<int> fds_;
  std::vector<FakeRequest> requests_;
};

// OpenAI's Chat Completions as verso's adapter calls them: translates each segment of the prompt
// as "[es] " + segment; 401 with OpenAI's error body unless the bearer token is `key`; `error`
// (when set) answers every request instead.
FakeResponse ChatCompletion(const FakeRequest& r, const std::string& key,
                            const FakeResponse* error = nullptr);

}  // namespace verso::test

#endif  // VERSO_TESTS_FAKE_HTTP_SERVER_H_
