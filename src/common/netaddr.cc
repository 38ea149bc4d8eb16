#include "common/netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "common/strings.h"

namespace verso {
namespace {

IpAddress V4(uint32_t host_order) {
  IpAddress a;
  a.bytes[0] = static_cast<uint8_t>(host_order >> 24);
  a.bytes[1] = static_cast<uint8_t>(host_order >> 16);
  a.bytes[2] = static_cast<uint8_t>(host_order >> 8);
  a.bytes[3] = static_cast<uint8_t>(host_order);
  return a;
}

bool InV4(const IpAddress& a, uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3, int prefix) {
  IpNetwork n;
  n.base.bytes = {b0, b1, b2, b3};
  n.prefix = prefix;
  return n.Contains(a);
}

bool PublicV4(const IpAddress& a) {
  return !(InV4(a, 0, 0, 0, 0, 8) ||        // "this network"
           InV4(a, 10, 0, 0, 0, 8) ||       // private
           InV4(a, 100, 64, 0, 0, 10) ||    // carrier-grade NAT
           InV4(a, 127, 0, 0, 0, 8) ||      // loopback
           InV4(a, 169, 254, 0, 0, 16) ||   // link-local, cloud metadata
           InV4(a, 172, 16, 0, 0, 12) ||    // private
           InV4(a, 192, 0, 0, 0, 24) ||     // IETF protocol assignments
           InV4(a, 192, 0, 2, 0, 24) ||     // documentation
           InV4(a, 192, 88, 99, 0, 24) ||   // 6to4 relays
           InV4(a, 192, 168, 0, 0, 16) ||   // private
           InV4(a, 198, 18, 0, 0, 15) ||    // benchmarking
           InV4(a, 198, 51, 100, 0, 24) ||  // documentation
           InV4(a, 203, 0, 113, 0, 24) ||   // documentation
           InV4(a, 224, 0, 0, 0, 4) ||      // multicast
           InV4(a, 240, 0, 0, 0, 4));       // reserved, broadcast
}

IpAddress Embedded(const IpAddress& a, size_t offset) {
  IpAddress v4;
  std::memcpy(v4.bytes.data(), a.bytes.data() + offset, 4);
  return v4;
}

bool InV6(const IpAddress& a, std::string_view network) {
  auto n = ParseIpNetwork(network);
  return n.ok() && n->Contains(a);
}

}  // namespace

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof(buf));
  return buf;
}

std::optional<IpAddress> ParseIpAddress(std::string_view s) {
  if (s.empty() || s.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string z(s);
  IpAddress a;
  if (inet_pton(AF_INET, z.c_str(), a.bytes.data()) == 1) return a;
  if (inet_pton(AF_INET6, z.c_str(), a.bytes.data()) == 1) {
    a.v6 = true;
    return a;
  }
  return std::nullopt;
}

std::optional<IpAddress> ParseLegacyIpv4(std::string_view s) {
  if (s.empty() || s.size() > 64) return std::nullopt;
  const std::string z(s);
  in_addr addr{};
  if (inet_aton(z.c_str(), &addr) == 0) return std::nullopt;
  return V4(ntohl(addr.s_addr));
}

std::optional<IpAddress> FromSockaddr(const sockaddr* address) {
  if (address == nullptr) return std::nullopt;
  IpAddress a;
  if (address->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    std::memcpy(a.bytes.data(), &in->sin_addr, 4);
    return a;
  }
  if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    std::memcpy(a.bytes.data(), &in6->sin6_addr, 16);
    a.v6 = true;
    return a;
  }
  return std::nullopt;
}

bool IpNetwork::Contains(const IpAddress& a) const {
  if (a.v6 != base.v6) return false;
  int bits = prefix;
  for (size_t i = 0; bits > 0; ++i, bits -= 8) {
    const uint8_t mask = bits >= 8 ? 0xFF : static_cast<uint8_t>(0xFF << (8 - bits));
    if ((a.bytes[i] & mask) != (base.bytes[i] & mask)) return false;
  }
  return true;
}

absl::StatusOr<IpNetwork> ParseIpNetwork(std::string_view s) {
  s = StripAsciiWhitespace(s);
  const size_t slash = s.find('/');
  auto address = ParseIpAddress(s.substr(0, slash));
  auto bad = [&] {
    return absl::InvalidArgumentError(
        StrCat("\"", Abbreviate(s, 64), "\" is not an IP address or network (10.0.0.0/8)"));
  };
  if (!address) return bad();
  IpNetwork n;
  n.base = *address;
  const int max = address->v6 ? 128 : 32;
  n.prefix = max;
  if (slash != std::string_view::npos) {
    int64_t prefix = -1;
    if (!ParseInt64(s.substr(slash + 1), &prefix) || prefix < 0 || prefix > max) return bad();
    n.prefix = static_cast<int>(prefix);
  }
  return n;
}

bool IsPublicAddress(const IpAddress& a) {
  if (!a.v6) return PublicV4(a);
  static constexpr std::array<uint8_t, 12> kMapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  if (std::equal(kMapped.begin(), kMapped.end(), a.bytes.begin())) {
    return PublicV4(Embedded(a, 12));  // ::ffff:a.b.c.d
  }
  if (InV6(a, "64:ff9b::/96")) return PublicV4(Embedded(a, 12));  // NAT64
  if (InV6(a, "2002::/16")) return PublicV4(Embedded(a, 2));      // 6to4
  return !(InV6(a, "::/96") ||           // unspecified, loopback, IPv4-compatible
           InV6(a, "64:ff9b:1::/48") ||  // local NAT64
           InV6(a, "100::/64") ||        // discard
           InV6(a, "2001::/23") ||       // IETF protocol assignments (Teredo among them)
           InV6(a, "2001:db8::/32") ||   // documentation
           InV6(a, "fc00::/7") ||        // unique local
           InV6(a, "fe80::/10") ||       // link-local
           InV6(a, "fec0::/10") ||       // site-local (deprecated)
           InV6(a, "ff00::/8"));         // multicast
}

absl::StatusOr<AddressPolicy> AddressPolicy::Parse(std::string_view comma_separated) {
  std::vector<IpNetwork> allow;
  for (std::string_view part : Split(comma_separated, ',')) {
    if (StripAsciiWhitespace(part).empty()) continue;
    auto n = ParseIpNetwork(part);
    if (!n.ok()) return n.status();
    allow.push_back(*n);
  }
  return AddressPolicy(std::move(allow));
}

bool AddressPolicy::Allows(const IpAddress& a) const {
  if (IsPublicAddress(a)) return true;
  for (const IpNetwork& n : allow_) {
    if (n.Contains(a)) return true;
  }
  return false;
}

absl::StatusOr<HttpUrl> CheckHttpUrl(std::string_view field, std::string_view url,
                                     const AddressPolicy& policy) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(StrCat(field, ": ", why));
  };
  if (url.size() > 2048) return bad("longer than 2048 bytes");
  for (unsigned char c : url) {
    if (c <= 0x20 || c >= 0x7F) {
      return bad("only printable ASCII (percent-encode anything else; no spaces)");
    }
  }
  HttpUrl out;
  if (url.starts_with("http://")) {
    out.scheme = "http";
  } else if (url.starts_with("https://")) {
    out.scheme = "https";
  } else {
    return bad("must be an http:// or https:// URL");
  }
  std::string_view rest = url.substr(out.scheme.size() + 3);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) {
    return bad("credentials in the URL are not accepted (the receiver checks the signature)");
  }
  std::string_view host = authority, port;
  if (authority.starts_with("[")) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("an IPv6 address needs its closing ']'");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return bad("unexpected text after ']'");
    if (!after.empty()) port = after.substr(1);
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return bad("no host");
  if (!port.empty()) {
    int64_t p = 0;
    if (!ParseInt64(port, &p) || p < 1 || p > 65535) return bad("the port must be 1 to 65535");
    out.port = static_cast<int>(p);
  }
  out.host = std::string(host);
  std::optional<IpAddress> literal = ParseIpAddress(host);
  if (!literal) literal = ParseLegacyIpv4(host);
  if (!literal && (AsciiLower(host) == "localhost" || AsciiLower(host).ends_with(".localhost"))) {
    literal = ParseIpAddress("127.0.0.1");
  }
  if (literal && !policy.Allows(*literal)) {
    return bad(StrCat("the address ", literal->ToString(),
                      " is not a public one (private, loopback, link-local and reserved "
                      "addresses are refused unless the operator allows them)"));
  }
  return out;
}

}  // namespace verso
