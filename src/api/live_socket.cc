// A job's WebSocket: the client's messages go to the hub (Hub::Receive); the hub's messages for
// this client wait in a bounded queue that a writer coroutine drains. Both coroutines run on the
// connection's single-threaded io_context; the hub calls Send from any thread, so Send queues
// under a mutex and posts the wake-up to that io_context.
#include "api/live_socket.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <mutex>

#include "common/log.h"
#include "live/live.h"

namespace verso::api {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using Socket = websocket::stream<beast::tcp_stream&>;

// How often an idle writer wakes to end expired locks (Hub::Sweep).
constexpr auto kSweepEvery = std::chrono::seconds(5);

class SocketPeer : public live::Peer, public std::enable_shared_from_this<SocketPeer> {
 public:
  SocketPeer(net::any_io_executor executor, size_t max_queued)
      : executor_(executor), wake_(executor), max_queued_(max_queued) {}

  void Send(std::string message) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return;
      if (queue_.size() >= max_queued_) {
        overflow_ = true;
      } else {
        queue_.push_back(std::move(message));
      }
    }
    net::post(executor_, [self = shared_from_this()] { self->wake_.cancel(); });
  }

  // The connection's thread only.
  void Close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
    }
    wake_.cancel();
  }

  // Closes the socket with a policy error, once (the reader and the writer may both want to;
  // both run on the connection's thread).
  net::awaitable<void> CloseWith(Socket& ws, const char* reason) {
    if (closing_) co_return;
    closing_ = true;
    boost::system::error_code ec;
    co_await ws.async_close(websocket::close_reason(websocket::close_code::policy_error, reason),
                            net::redirect_error(net::use_awaitable, ec));
  }

  // Sends what the hub queued until Close(); a client that cannot keep up is closed.
  net::awaitable<void> Write(Socket& ws, live::Hub* hub) {
    for (;;) {
      std::deque<std::string> batch;
      bool overflow = false, closed = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        batch.swap(queue_);
        overflow = overflow_;
        closed = closed_;
      }
      if (closed) co_return;
      boost::system::error_code ec;
      if (overflow) {
        co_await CloseWith(ws, "too slow: reconnect");
        co_return;
      }
      if (batch.empty()) {
        wake_.expires_after(kSweepEvery);
        co_await wake_.async_wait(net::redirect_error(net::use_awaitable, ec));
        if (!ec) hub->Sweep();  // woke by time, not by a message
        continue;
      }
      for (const std::string& m : batch) {
        co_await ws.async_write(net::buffer(m), net::redirect_error(net::use_awaitable, ec));
        if (ec) co_return;
      }
    }
  }

 private:
  net::any_io_executor executor_;
  net::steady_timer wake_;  // the connection's thread only
  const size_t max_queued_;
  std::mutex mu_;
  std::deque<std::string> queue_;  // GUARDED_BY(mu_)
  bool overflow_ = false;          // GUARDED_BY(mu_)
  bool closed_ = false;            // GUARDED_BY(mu_)
  bool closing_ = false;           // the connection's thread only
};

// A token bucket per connection: a client flooding the hub is closed.
class MessageBudget {
 public:
  explicit MessageBudget(double rate) : rate_(rate) {}
  bool Take() {
    const auto now = std::chrono::steady_clock::now();
    tokens_ =
        std::min(kBurst, tokens_ + rate_ * std::chrono::duration<double>(now - last_).count());
    last_ = now;
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

 private:
  static constexpr double kBurst = 50;
  const double rate_;
  double tokens_ = kBurst;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

}  // namespace

net::awaitable<void> ServeLive(beast::tcp_stream& stream,
                               const beast::http::request<beast::http::empty_body>& request,
                               live::Hub* hub, const Response::Upgrade& upgrade,
                               LiveSocketOptions options) {
  stream.expires_never();  // the WebSocket keeps its own timeouts (and pings an idle client)
  Socket ws(stream);
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ws.read_message_max(options.max_message_bytes);
  ws.text(true);
  boost::system::error_code ec;
  co_await ws.async_accept(request, net::redirect_error(net::use_awaitable, ec));
  if (ec) co_return;
  auto executor = co_await net::this_coro::executor;
  auto peer = std::make_shared<SocketPeer>(executor, options.max_queued);
  const int64_t id =
      hub->Join(upgrade.job_id, live::Editor{upgrade.editor_id, upgrade.editor_name}, peer.get());
  if (id == 0) {
    co_await ws.async_close(
        websocket::close_reason(websocket::close_code::try_again_later, "too many on this job"),
        net::redirect_error(net::use_awaitable, ec));
    co_return;
  }
  bool writer_done = false;
  net::steady_timer writer_ended(executor, net::steady_timer::time_point::max());
  net::co_spawn(executor, peer->Write(ws, hub), [&](std::exception_ptr) {
    writer_done = true;
    writer_ended.cancel();
  });
  beast::flat_buffer buffer;
  MessageBudget budget(options.messages_per_second);
  for (;;) {
    co_await ws.async_read(buffer, net::redirect_error(net::use_awaitable, ec));
    if (ec) break;
    if (!budget.Take()) {
      log::Info("live.flood", {{"job", upgrade.job_id}, {"editor", upgrade.editor_id}});
      // Beast lets a close go out while the writer's write is pending (one of each at a time).
      co_await peer->CloseWith(ws, "too many messages");
      break;
    }
    if (ws.got_text()) hub->Receive(id, beast::buffers_to_string(buffer.data()));
    buffer.consume(buffer.size());
  }
  hub->Leave(id);  // no Send after this
  peer->Close();
  stream.cancel();  // a write waiting for a client that stopped reading
  while (!writer_done) {
    co_await writer_ended.async_wait(net::redirect_error(net::use_awaitable, ec));
  }
}

}  // namespace verso::api
