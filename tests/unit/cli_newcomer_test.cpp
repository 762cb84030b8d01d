// The newcomer's path: subcommand typo suggestions and the next steps a
// first start prints.
#include <gtest/gtest.h>

#include "cli/command_suggestion.hpp"
#include "cli/first_start.hpp"

namespace credproxy::cli {
namespace {

const std::vector<std::string> top = {"serve", "vault", "cred", "org", "solution", "admin", "oauth", "ca", "run"};

TEST(CommandSuggestion, EditDistanceCountsTranspositionsAsOne) {
  EXPECT_EQ(edit_distance("cred", "cred"), 0u);
  EXPECT_EQ(edit_distance("crde", "cred"), 1u);
  EXPECT_EQ(edit_distance("crd", "cred"), 1u);
  EXPECT_EQ(edit_distance("", "ca"), 2u);
}

TEST(CommandSuggestion, SuggestsTheClosestCommand) {
  EXPECT_EQ(closest_name("crd", top), "cred");
  EXPECT_EQ(closest_name("creds", top), "cred");
  EXPECT_EQ(closest_name("solutoin", top), "solution");
  EXPECT_EQ(closest_name("serv", top), "serve");
  EXPECT_EQ(closest_name("sol", top), "solution") << "a prefix of one command";
}

TEST(CommandSuggestion, NothingWhenNothingIsClose) {
  EXPECT_EQ(closest_name("kubernetes", top), std::nullopt);
  EXPECT_EQ(closest_name("o", top), std::nullopt) << "ambiguous: org, oauth";
  EXPECT_EQ(closest_name("", top), std::nullopt);
}

TEST(FirstStart, StepsNameTheCommandTheAddressAndLoopback) {
  config::config cfg;
  const auto steps = first_start_steps(cfg, "my dir/c.yaml", "127.0.0.1:18080");
  std::string all;
  for (const auto& line : steps) all += line + "\n";
  EXPECT_NE(all.find("credproxy --config 'my dir/c.yaml' cred add --solution default --key example.token --json -"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("HTTP_PROXY=http://127.0.0.1:18080 HTTPS_PROXY=http://127.0.0.1:18080"), std::string::npos) << all;
  EXPECT_NE(all.find("ca export --out credproxy-ca.pem"), std::string::npos) << all;
  EXPECT_NE(all.find("egress.allow_cidrs: [127.0.0.0/8]"), std::string::npos) << all;
}

TEST(FirstStart, NoLoopbackHintWhenLoopbackIsAllowed) {
  config::config cfg;
  cfg.egress_allow.push_back(*config::parse_cidr("127.0.0.0/8"));
  cfg.default_solution.clear();
  std::string all;
  for (const auto& line : first_start_steps(cfg, "", "127.0.0.1:8080")) all += line + "\n";
  EXPECT_EQ(all.find("allow_cidrs"), std::string::npos) << all;
  EXPECT_NE(all.find("credproxy solution token create SOLUTION"), std::string::npos) << all;
  EXPECT_EQ(all.find("--config"), std::string::npos) << all;
}

}  // namespace
}  // namespace credproxy::cli
