// Webhook calls over HTTP with the providers' libcurl client.
#include "jobs/jobs.h"
#include "net/http_client.h"

namespace verso::jobs {
namespace {

class HttpWebhookSender : public WebhookSender {
 public:
  explicit HttpWebhookSender(AddressPolicy addresses) : addresses_(std::move(addresses)) {}

  absl::StatusOr<int> Post(const std::string& url,
                           const std::vector<std::pair<std::string, std::string>>& headers,
                           const std::string& body, absl::Duration timeout) override {
    net::HttpRequest req;
    req.url = url;
    req.headers = headers;
    req.body = body;
    req.deadline = absl::Now() + timeout;  // the transport's own deadline: real time
    req.addresses = &addresses_;
    req.accept_encoding = false;
    req.max_response_bytes = 64 << 10;  // only the status matters
    absl::StatusOr<net::HttpResponse> resp = net::Send(req);
    if (!resp.ok()) return resp.status();
    return resp->status;
  }

 private:
  const AddressPolicy addresses_;
};

}  // namespace

std::unique_ptr<WebhookSender> NewHttpWebhookSender(AddressPolicy addresses) {
  return std::make_unique<HttpWebhookSender>(std::move(addresses));
}

}  // namespace verso::jobs
