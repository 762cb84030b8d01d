// The environment `credproxy run` builds for its child from ours.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "cli/run_environment.hpp"

namespace credproxy::cli {
namespace {

// NAME -> value, and the order of names, of the built environment.
struct built {
  std::map<std::string, std::string> values;
  std::vector<std::string> names;
  std::vector<std::string> removed;
};

built build(const std::vector<std::string_view>& inherited, run_settings settings) {
  const auto env = build_run_environment(inherited, settings);
  built out;
  out.removed = env.removed_no_proxy;
  for (const auto& e : env.entries) {
    const std::string text(e.data(), e.size());
    const auto eq = text.find('=');
    EXPECT_EQ(out.values.count(text.substr(0, eq)), 0u) << "set twice: " << text;
    out.values[text.substr(0, eq)] = text.substr(eq + 1);
    out.names.push_back(text.substr(0, eq));
  }
  return out;
}

run_settings settings() {
  run_settings s;
  s.proxy_url = "http://team:tok@127.0.0.1:8080";
  s.ca_bundle_file = "/tmp/x/ca-bundle.pem";
  s.credproxy_ca_file = "/tmp/x/credproxy-ca.pem";
  bound_host h;
  h.host = "127.0.0.1";
  h.ports = {8443};
  s.bound = {h};
  s.withheld = {"CREDPROXY_PROXY_TOKEN", "CREDPROXY_MASTER_KEY"};
  return s;
}

TEST(RunEnvironment, SetsProxyTrustAndNodeVariables) {
  const auto env = build({"PATH=/usr/bin", "HOME=/root"}, settings());
  for (const char* name : {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"})
    EXPECT_EQ(env.values.at(name), "http://team:tok@127.0.0.1:8080") << name;
  for (const char* name : {"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"})
    EXPECT_EQ(env.values.at(name), "/tmp/x/ca-bundle.pem") << name;
  EXPECT_EQ(env.values.at("NODE_EXTRA_CA_CERTS"), "/tmp/x/credproxy-ca.pem");
  EXPECT_EQ(env.values.at("NODE_USE_ENV_PROXY"), "1");
  EXPECT_EQ(env.values.at("PATH"), "/usr/bin");
  EXPECT_EQ(env.values.at("HOME"), "/root");
  EXPECT_EQ(env.names.front(), "PATH") << "inherited entries keep their order, ours follow";
}

TEST(RunEnvironment, ReplacesInheritedProxyAndTrustVariables) {
  const auto env = build({"HTTPS_PROXY=http://elsewhere:3128", "http_proxy=http://elsewhere:3128",
                          "SSL_CERT_FILE=/old.pem", "NODE_EXTRA_CA_CERTS=/old.pem", "NODE_USE_ENV_PROXY=0"},
                         settings());
  EXPECT_EQ(env.values.at("HTTPS_PROXY"), "http://team:tok@127.0.0.1:8080");
  EXPECT_EQ(env.values.at("http_proxy"), "http://team:tok@127.0.0.1:8080");
  EXPECT_EQ(env.values.at("SSL_CERT_FILE"), "/tmp/x/ca-bundle.pem");
  EXPECT_EQ(env.values.at("NODE_EXTRA_CA_CERTS"), "/tmp/x/credproxy-ca.pem");
  EXPECT_EQ(env.values.at("NODE_USE_ENV_PROXY"), "1");
}

TEST(RunEnvironment, WithholdsCredproxysOwnSecrets) {
  const auto env = build({"CREDPROXY_PROXY_TOKEN=cpt_x", "CREDPROXY_MASTER_KEY=00ff", "CREDPROXY_CONFIG=/c.yaml"},
                         settings());
  EXPECT_EQ(env.values.count("CREDPROXY_PROXY_TOKEN"), 0u);
  EXPECT_EQ(env.values.count("CREDPROXY_MASTER_KEY"), 0u);
  EXPECT_EQ(env.values.at("CREDPROXY_CONFIG"), "/c.yaml");
}

TEST(RunEnvironment, FiltersBothNoProxyForms) {
  const auto env = build({"NO_PROXY=127.0.0.1,localhost,internal.example", "no_proxy=127.0.0.0/8,corp"}, settings());
  EXPECT_EQ(env.values.at("NO_PROXY"), "localhost,internal.example");
  EXPECT_EQ(env.values.at("no_proxy"), "corp");
  EXPECT_EQ(env.removed, (std::vector<std::string>{"127.0.0.1", "127.0.0.0/8"}));
}

TEST(RunEnvironment, ANoProxyLeftEmptyIsDroppedAndRemovalsAreListedOnce) {
  const auto env = build({"NO_PROXY=127.0.0.1", "no_proxy=127.0.0.1"}, settings());
  EXPECT_EQ(env.values.count("NO_PROXY"), 0u);
  EXPECT_EQ(env.values.count("no_proxy"), 0u);
  EXPECT_EQ(env.removed, std::vector<std::string>{"127.0.0.1"});
}

TEST(RunEnvironment, NoProxyWithoutCoveringEntriesIsUntouched) {
  const auto env = build({"NO_PROXY=localhost,.corp"}, settings());
  EXPECT_EQ(env.values.at("NO_PROXY"), "localhost,.corp");
  EXPECT_TRUE(env.removed.empty());
}

TEST(RunEnvironment, KeepsValuesWithEqualsSignsAndSkipsMalformedEntries) {
  const auto env = build({"OPTS=a=b=c", "garbage-without-equals", "EMPTY="}, settings());
  EXPECT_EQ(env.values.at("OPTS"), "a=b=c");
  EXPECT_EQ(env.values.at("EMPTY"), "");
  EXPECT_EQ(std::count(env.names.begin(), env.names.end(), "garbage-without-equals"), 0);
}

}  // namespace
}  // namespace credproxy::cli
