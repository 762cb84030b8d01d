// The hosts a solution's credentials are bound to, read from a snapshot:
// only that solution's, each entry with the ports a client may use.
#include <gtest/gtest.h>

#include <algorithm>

#include "cli/bound_hosts.hpp"

namespace credproxy::cli {
namespace {

vault::host_pattern pattern(std::string_view text) {
  vault::host_pattern p;
  std::string error;
  EXPECT_TRUE(vault::host_pattern::parse(text, p, error)) << error;
  return p;
}

vault::snapshot snapshot_with(std::string_view solution, std::string key, std::vector<std::string_view> hosts) {
  vault::snapshot snap;
  vault::credential c;
  c.key = key;
  for (auto h : hosts) c.hosts.push_back(pattern(h));
  snap.solutions[std::string(solution)].credentials[key] = std::move(c);
  return snap;
}

TEST(BoundHosts, EveryEntryOfTheSolutionsCredentials) {
  auto snap = snapshot_with("a", "k1", {"api.example.com", "*.corp.example", "127.0.0.1:8443", "https://[::1]:9"});
  snap.solutions["a"].credentials["k2"].hosts.push_back(pattern("second.example"));
  snap.solutions["b"].credentials["k3"].hosts.push_back(pattern("other-tenant.example"));
  auto hosts = bound_hosts(snap, "a");
  ASSERT_EQ(hosts.size(), 5u);
  std::sort(hosts.begin(), hosts.end(), [](const bound_host& x, const bound_host& y) { return x.host < y.host; });
  EXPECT_EQ(hosts[0].host, "127.0.0.1");
  EXPECT_EQ(hosts[0].ports, std::vector<std::uint16_t>{8443});
  EXPECT_EQ(hosts[1].host, "::1");
  EXPECT_EQ(hosts[1].ports, std::vector<std::uint16_t>{9});
  EXPECT_EQ(hosts[2].host, "api.example.com");
  EXPECT_FALSE(hosts[2].wildcard);
  EXPECT_EQ(hosts[2].ports, (std::vector<std::uint16_t>{443, 80}));
  EXPECT_EQ(hosts[3].host, "corp.example");
  EXPECT_TRUE(hosts[3].wildcard);
  EXPECT_EQ(hosts[4].host, "second.example");
}

TEST(BoundHosts, AnUnknownSolutionHasNone) {
  const auto snap = snapshot_with("a", "k", {"api.example.com"});
  EXPECT_TRUE(bound_hosts(snap, "b").empty());
  EXPECT_TRUE(bound_hosts(vault::snapshot{}, "a").empty());
}

}  // namespace
}  // namespace credproxy::cli
