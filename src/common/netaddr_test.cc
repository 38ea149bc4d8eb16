#include "common/netaddr.h"

#include <gtest/gtest.h>

#include "common/strings.h"

namespace verso {
namespace {

bool Public(const char* s) {
  auto a = ParseIpAddress(s);
  EXPECT_TRUE(a.has_value()) << s;
  return a && IsPublicAddress(*a);
}

TEST(NetAddrTest, PublicAddressesAreTheInternetOnly) {
  for (const char* ok : {"8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111",
                         "2a00:1450:4001:80b::200e", "::ffff:8.8.8.8", "64:ff9b::808:808"}) {
    EXPECT_TRUE(Public(ok)) << ok;
  }
  for (const char* bad : {"127.0.0.1",
                          "127.255.255.254",
                          "10.0.0.1",
                          "172.16.5.4",
                          "172.31.255.255",
                          "192.168.1.1",
                          "169.254.169.254",
                          "100.64.0.1",
                          "0.0.0.0",
                          "224.0.0.1",
                          "255.255.255.255",
                          "198.18.0.1",
                          "192.0.2.10",
                          "::1",
                          "::",
                          "fe80::1",
                          "fd00::1",
                          "fc00::5",
                          "ff02::1",
                          "2001:db8::1",
                          "::ffff:127.0.0.1",
                          "::ffff:169.254.169.254",
                          "64:ff9b::7f00:1",
                          "2002:7f00:1::1",
                          "2001::1",
                          "::127.0.0.1"}) {
    EXPECT_FALSE(Public(bad)) << bad;
  }
  EXPECT_TRUE(Public("172.15.0.1"));  // just outside 172.16/12
}

TEST(NetAddrTest, OldIpv4FormsAreWhatResolversMakeOfThem) {
  for (const char* s : {"2130706433", "0x7f000001", "0177.0.0.1", "127.1", "0x7f.1"}) {
    auto a = ParseLegacyIpv4(s);
    ASSERT_TRUE(a.has_value()) << s;
    EXPECT_EQ(a->ToString(), "127.0.0.1") << s;
  }
  EXPECT_FALSE(ParseLegacyIpv4("example.com").has_value());
  EXPECT_FALSE(ParseIpAddress("2130706433").has_value());  // strict form only
}

TEST(NetAddrTest, NetworksAndTheAllowList) {
  auto n = ParseIpNetwork("10.1.0.0/16");
  ASSERT_TRUE(n.ok());
  EXPECT_TRUE(n->Contains(*ParseIpAddress("10.1.200.3")));
  EXPECT_FALSE(n->Contains(*ParseIpAddress("10.2.0.1")));
  EXPECT_FALSE(n->Contains(*ParseIpAddress("::ffff:10.1.0.1")));  // families do not mix
  EXPECT_FALSE(ParseIpNetwork("10.1.0.0/33").ok());
  EXPECT_FALSE(ParseIpNetwork("example.com").ok());
  auto policy = AddressPolicy::Parse("10.1.0.0/16, ::1");
  ASSERT_TRUE(policy.ok());
  EXPECT_TRUE(policy->Allows(*ParseIpAddress("10.1.2.3")));
  EXPECT_TRUE(policy->Allows(*ParseIpAddress("::1")));
  EXPECT_TRUE(policy->Allows(*ParseIpAddress("8.8.8.8")));
  EXPECT_FALSE(policy->Allows(*ParseIpAddress("127.0.0.1")));
  EXPECT_EQ(AddressPolicy::Parse("10.0.0.0/8,nope").status().message(),
            "\"nope\" is not an IP address or network (10.0.0.0/8)");
}

// The receivers the hostile tenant named, refused at submission with the reason.
TEST(NetAddrTest, WebhookUrlsNamingInternalAddressesAreRefused) {
  const AddressPolicy public_only;
  for (const char* url : {"http://127.0.0.1:8080/x", "http://[::1]/x", "http://localhost:9/",
                          "http://LOCALHOST/", "http://api.localhost/", "http://0x7f000001/",
                          "http://2130706433/", "http://169.254.169.254/latest/meta-data/",
                          "http://[::ffff:127.0.0.1]/", "http://10.0.0.1/", "http://0/"}) {
    auto u = CheckHttpUrl("webhook_url", url, public_only);
    ASSERT_FALSE(u.ok()) << url;
    EXPECT_TRUE(ToStd(u.status().message()).find("is not a public one") != std::string::npos)
        << url << ": " << u.status().message();
  }
  EXPECT_EQ(CheckHttpUrl("webhook_url", "https://user:pw@hooks.example.com/x", public_only)
                .status()
                .message(),
            "webhook_url: credentials in the URL are not accepted (the receiver checks the "
            "signature)");
  EXPECT_FALSE(CheckHttpUrl("webhook_url", "ftp://example.com/", public_only).ok());
  EXPECT_FALSE(CheckHttpUrl("webhook_url", "http://example.com/\xff", public_only).ok());
  EXPECT_FALSE(CheckHttpUrl("webhook_url", "http://exa mple.com/", public_only).ok());
  EXPECT_FALSE(CheckHttpUrl("webhook_url", "http://example.com:0/", public_only).ok());
  EXPECT_FALSE(CheckHttpUrl("webhook_url", "http://:80/", public_only).ok());
  auto ok = CheckHttpUrl("webhook_url", "https://hooks.example.com:8443/in?x=1", public_only);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->host, "hooks.example.com");
  EXPECT_EQ(ok->port, 8443);
  // The operator's allow-list opens an internal receiver.
  EXPECT_TRUE(
      CheckHttpUrl("webhook_url", "http://127.0.0.1:9/", *AddressPolicy::Parse("127.0.0.1")).ok());
}

}  // namespace
}  // namespace verso
