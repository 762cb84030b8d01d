// upstream.proxy and its credentials file (issue 10 item 11).
#include <gtest/gtest.h>

#include "config/config.hpp"

#include "tests/unit/config_test_support.hpp"

namespace credproxy::config {
namespace {

using testing_support::error_of;

TEST(ConfigUpstreamProxy, AcceptsNamesLiteralsAndDefaultPort) {
  auto cfg = load_config_text("upstream:\n  proxy: http://proxy.corp.example:3128\n", "c.yaml");
  ASSERT_TRUE(cfg.upstream_proxy);
  EXPECT_EQ(cfg.upstream_proxy->host, "proxy.corp.example");
  EXPECT_EQ(cfg.upstream_proxy->port, 3128);
  EXPECT_TRUE(cfg.upstream_proxy->credentials_file.empty());
  cfg = load_config_text("upstream:\n  proxy: \"http://[::1]:8888/\"\n", "c.yaml");
  ASSERT_TRUE(cfg.upstream_proxy);
  EXPECT_EQ(cfg.upstream_proxy->host, "::1");
  EXPECT_EQ(cfg.upstream_proxy->port, 8888);
  cfg = load_config_text("upstream:\n  proxy: http://10.0.0.1\n", "c.yaml");
  EXPECT_EQ(cfg.upstream_proxy->port, 80);
  cfg = load_config_text("upstream:\n  proxy: \"\"\n", "c.yaml");
  EXPECT_FALSE(cfg.upstream_proxy);
}

TEST(ConfigUpstreamProxy, CredentialsInTheUrlAreRefusedWithoutEchoingThem) {
  const auto error = error_of("upstream:\n  proxy: http://user:hunter2@proxy:3128\n");
  EXPECT_EQ(error, "credproxy.yaml:2: upstream.proxy: must not hold credentials: put \"user:password\" in "
                   "upstream.proxy_credentials_file");
  EXPECT_EQ(error.find("hunter2"), std::string::npos);
}

TEST(ConfigUpstreamProxy, MalformedUrlsNameTheProblem) {
  EXPECT_EQ(error_of("upstream:\n  proxy: https://proxy:3128\n"),
            "credproxy.yaml:2: upstream.proxy: must be an http://host:port URL (the proxy is reached over plain "
            "HTTP; TLS to each host runs inside it)");
  EXPECT_EQ(error_of("upstream:\n  proxy: http://proxy:99999\n"),
            "credproxy.yaml:2: upstream.proxy: port must be a number from 1 to 65535");
  EXPECT_EQ(error_of("upstream:\n  proxy: \"http://proxy:\"\n"),
            "credproxy.yaml:2: upstream.proxy: port must be a number from 1 to 65535");
  EXPECT_EQ(error_of("upstream:\n  proxy: http://\n"), "credproxy.yaml:2: upstream.proxy: must name a host: http://host:port");
  EXPECT_EQ(error_of("upstream:\n  proxy: http://pro_xy/path\n"),
            "credproxy.yaml:2: upstream.proxy: must name a host: http://host:port");
}

TEST(ConfigUpstreamProxy, CredentialsFileNeedsAProxyAndMustBeReadable) {
  EXPECT_EQ(error_of("upstream:\n  proxy_credentials_file: /etc/hostname\n"),
            "credproxy.yaml:2: upstream.proxy_credentials_file: is set but upstream.proxy is not");
  EXPECT_EQ(error_of("upstream:\n  proxy_credentials_file: /nonexistent/cred\n  proxy: http://p:1\n"),
            "credproxy.yaml:2: upstream.proxy_credentials_file: cannot read \"/nonexistent/cred\": No such file or "
            "directory");
}

}  // namespace
}  // namespace credproxy::config
