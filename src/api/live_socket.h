// The WebSocket of GET /v1/jobs/{id}/live (internal to the api area: server.cc hands an accepted
// upgrade here). Boost.Beast's websocket is confined to live_socket.cc.
#ifndef VERSO_API_LIVE_SOCKET_H_
#define VERSO_API_LIVE_SOCKET_H_

#include <utility>  // Boost 1.74's Asio coroutines need it first with g++ 12

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>

#include "api/http.h"

namespace verso::live {
class Hub;
}

namespace verso::api {

struct LiveSocketOptions {
  size_t max_message_bytes = 4096;  // a client's message (lock, unlock, ping) is small
  size_t max_queued = 4096;         // messages waiting for a slow client; more closes it
  double messages_per_second = 20;  // a client's, with a burst of 50; more closes it
};

// Accepts the upgrade on `stream` and relays between the client and `hub` until either side
// closes (or the server shuts down and cancels `stream`).
boost::asio::awaitable<void> ServeLive(
    boost::beast::tcp_stream& stream,
    const boost::beast::http::request<boost::beast::http::empty_body>& request, live::Hub* hub,
    const Response::Upgrade& upgrade, LiveSocketOptions options);

}  // namespace verso::api

#endif  // VERSO_API_LIVE_SOCKET_H_
