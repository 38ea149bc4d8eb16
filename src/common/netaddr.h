// IP addresses, networks and the policy of which addresses verso may call on a tenant's behalf
// (webhooks): a URL a tenant gives must not reach the machine's own services, the cloud's
// metadata endpoint or the private network behind it.
#ifndef VERSO_COMMON_NETADDR_H_
#define VERSO_COMMON_NETADDR_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

struct sockaddr;

namespace verso {

struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // IPv4: the first 4
  std::string ToString() const;
  bool operator==(const IpAddress&) const = default;
};

// "192.0.2.1" or "2001:db8::1" (no brackets), strictly as written (inet_pton).
std::optional<IpAddress> ParseIpAddress(std::string_view s);
// What a resolver makes of a host name that is an IPv4 address in one of the old forms
// (inet_aton: "2130706433", "0x7f000001", "0177.1", "127.1"), or nullopt.
std::optional<IpAddress> ParseLegacyIpv4(std::string_view s);
// The address of a socket address (AF_INET or AF_INET6), or nullopt.
std::optional<IpAddress> FromSockaddr(const sockaddr* address);

struct IpNetwork {
  IpAddress base;
  int prefix = 0;  // bits
  bool Contains(const IpAddress& a) const;
};
// "10.0.0.0/8", "fd00::/8", or one address ("127.0.0.1" = /32). InvalidArgument naming it.
absl::StatusOr<IpNetwork> ParseIpNetwork(std::string_view s);

// Whether `a` is an address of the public internet: not loopback, private (RFC 1918, ULA),
// link-local (the cloud metadata service 169.254.169.254 among them), carrier-grade NAT,
// multicast, reserved or documentation ranges; IPv4 inside IPv6 (mapped, NAT64, 6to4) is judged
// by the IPv4 address.
bool IsPublicAddress(const IpAddress& a);

// Public addresses, plus the operator's allow-list (for receivers inside the network).
class AddressPolicy {
 public:
  AddressPolicy() = default;
  explicit AddressPolicy(std::vector<IpNetwork> allow) : allow_(std::move(allow)) {}
  // "127.0.0.1/32, 10.1.0.0/16" -> a policy; InvalidArgument naming a bad entry.
  static absl::StatusOr<AddressPolicy> Parse(std::string_view comma_separated);
  bool Allows(const IpAddress& a) const;

 private:
  std::vector<IpNetwork> allow_;
};

struct HttpUrl {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets
  int port = 0;        // 0: the scheme's
};
// An http(s) URL as a tenant may give one: ASCII, at most 2048 bytes, no credentials
// ("user:pw@"), a host. InvalidArgument naming `field` otherwise. When the host is an IP address
// in any form, `policy` must allow it.
absl::StatusOr<HttpUrl> CheckHttpUrl(std::string_view field, std::string_view url,
                                     const AddressPolicy& policy);

}  // namespace verso

#endif  // VERSO_COMMON_NETADDR_H_
