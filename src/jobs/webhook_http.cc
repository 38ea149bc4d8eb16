// Webhook calls over HTTP with the providers' libcurl client.
#include "jobs/jobs.h"
#include "mt/providers/http.h"

namespace verso::jobs {
namespace {

class HttpWebhookSender : public WebhookSender {
 public:
  absl::StatusOr<int> Post(const std::string& url,
                           const std::vector<std::pair<std::string, std::string>>& headers,
                           const std::string& body, absl::Duration timeout) override {
    mt::providers::HttpRequest req;
    req.url = url;
    req.headers = headers;
    req.body = body;
    req.deadline = absl::Now() + timeout;  // the transport's own deadline: real time
    absl::StatusOr<mt::providers::HttpResponse> resp = mt::providers::Send(req);
    if (!resp.ok()) return resp.status();
    return resp->status;
  }
};

}  // namespace

std::unique_ptr<WebhookSender> NewHttpWebhookSender() {
  return std::make_unique<HttpWebhookSender>();
}

}  // namespace verso::jobs
