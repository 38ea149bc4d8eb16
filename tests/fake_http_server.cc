#include "tests/fake_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <nlohmann/json.hpp>

namespace verso::test {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 429:
      return "Too Many Requests";
    case 456:
      return "Quota Exceeded";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 529:
      return "Overloaded";
    default:
      return "Status";
  }
}

}  // namespace

FakeHttpServer::FakeHttpServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  listen(listen_fd_, 128);
  socklen_t len = sizeof(addr);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

FakeHttpServer::~FakeHttpServer() {
  stopping_ = true;
  shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  close(listen_fd_);
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : fds_) shutdown(fd, SHUT_RDWR);
    threads.swap(connections_);
  }
  for (auto& t : threads) t.join();
}

std::vector<FakeRequest> FakeHttpServer::requests() {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

int FakeHttpServer::request_count() {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(requests_.size());
}

void FakeHttpServer::AcceptLoop() {
  while (!stopping_) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_) return;
      continue;
    }
    std::lock_guard<std::mutex> lock(mu_);
    fds_.push_back(fd);
    connections_.emplace_back([this, fd] { Serve(fd); });
  }
}

void FakeHttpServer::Serve(int fd) {
  std::string buffer;
  char chunk[65536];
  while (!stopping_) {
    size_t head_end;
    while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = read(fd, chunk, sizeof(chunk));
      if (n <= 0) {
        close(fd);
        return;
      }
      buffer.append(chunk, static_cast<size_t>(n));
    }
    FakeRequest req;
    std::string head = buffer.substr(0, head_end);
    size_t line_end = head.find("\r\n");
    std::string line = head.substr(0, line_end);
    size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
    req.method = line.substr(0, sp1);
    req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t end = head.find("\r\n", pos);
      if (end == std::string::npos) end = head.size();
      std::string h = head.substr(pos, end - pos);
      size_t colon = h.find(':');
      if (colon != std::string::npos) {
        std::string value = h.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        req.headers[Lower(h.substr(0, colon))] = value;
      }
      pos = end + 2;
    }
    size_t length =
        req.headers.count("content-length") ? std::stoul(req.headers["content-length"]) : 0;
    buffer.erase(0, head_end + 4);
    while (buffer.size() < length) {
      ssize_t n = read(fd, chunk, sizeof(chunk));
      if (n <= 0) {
        close(fd);
        return;
      }
      buffer.append(chunk, static_cast<size_t>(n));
    }
    req.body = buffer.substr(0, length);
    buffer.erase(0, length);
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(req);
    }
    FakeResponse resp = handler_(req);
    if (resp.hang) {
      while (!stopping_) {
        pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) > 0) {
          ssize_t n = read(fd, chunk, sizeof(chunk));
          if (n <= 0) break;  // the client gave up
        }
      }
      close(fd);
      return;
    }
    std::string out =
        "HTTP/1.1 " + std::to_string(resp.status) + " " + Reason(resp.status) + "\r\n";
    for (const auto& [k, v] : resp.headers) out += k + ": " + v + "\r\n";
    out += "Content-Length: " + std::to_string(resp.body.size()) + "\r\n\r\n" + resp.body;
    size_t sent = 0;
    while (sent < out.size()) {
      ssize_t n = send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        close(fd);
        return;
      }
      sent += static_cast<size_t>(n);
    }
  }
  close(fd);
}

using json = nlohmann::json;

FakeResponse ChatCompletion(const FakeRequest& r, const std::string& key,
                            const FakeResponse* error) {
  if (error != nullptr) return *error;
  FakeResponse res;
  if (r.Header("authorization") != "Bearer " + key) {
    res.status = 401;
    res.body = json{{"error",
                     {{"message", "Incorrect API key provided."},
                      {"type", "invalid_request_error"},
                      {"param", nullptr},
                      {"code", "invalid_api_key"}}}}
                   .dump();
    return res;
  }
  json body = json::parse(r.body);
  json prompt = json::parse(body["messages"][1]["content"].get<std::string>());
  json out = json::array();
  for (const auto& s : prompt["segments"]) out.push_back("[es] " + s.get<std::string>());
  res.body =
      json{{"id", "chatcmpl-1"},
           {"object", "chat.completion"},
           {"model", body["model"]},
           {"choices",
            {{{"index", 0},
              {"message", {{"role", "assistant"}, {"content", json{{"translations", out}}.dump()}}},
              {"finish_reason", "stop"}}}}}
          .dump();
  return res;
}

}  // namespace verso::test
