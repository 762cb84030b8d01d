#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/policy/injector.hpp"
#include "proxy/policy/placeholder.hpp"

namespace credproxy::proxy {
namespace {

placeholder_matches scan_ok(std::string_view text, scan_scope scope = scan_scope::target) {
  placeholder_matches out;
  std::string error;
  EXPECT_TRUE(scan_placeholders(text, scope, out, error)) << text << ": " << error;
  return out;
}

std::string scan_error(std::string_view text, scan_scope scope = scan_scope::target) {
  placeholder_matches out;
  std::string error;
  EXPECT_FALSE(scan_placeholders(text, scope, out, error)) << text;
  return error;
}

TEST(PlaceholderScan, RawForm) {
  const std::string text = "Bearer {{cred:jigx.finnhub.token}} tail";
  auto m = scan_ok(text, scan_scope::header_value);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].offset, 7u);
  EXPECT_EQ(text.substr(m[0].offset, m[0].length), "{{cred:jigx.finnhub.token}}");
  EXPECT_EQ(m[0].name, "jigx.finnhub.token");
  EXPECT_EQ(m[0].form, placeholder_form::raw);
}

TEST(PlaceholderScan, PercentEncodedAnyHexCase) {
  for (std::string_view open : {"%7B%7Bcred:", "%7b%7bcred:", "%7B%7bcred%3A", "%7b%7Bcred%3a"}) {
    for (std::string_view close : {"%7D%7D", "%7d%7d", "%7D%7d"}) {
      const std::string text = "/q?token=" + std::string(open) + "k_1-x" + std::string(close) + "&a=b";
      auto m = scan_ok(text);
      ASSERT_EQ(m.size(), 1u) << text;
      EXPECT_EQ(m[0].offset, 9u);
      EXPECT_EQ(m[0].length, open.size() + 5 + close.size());
      EXPECT_EQ(m[0].name, "k_1-x");
      EXPECT_EQ(m[0].form, placeholder_form::percent_encoded);
    }
  }
}

TEST(PlaceholderScan, PercentFormOnlyInTarget) {
  EXPECT_TRUE(scan_ok("%7B%7Bcred:k%7D%7D", scan_scope::header_value).empty());
}

TEST(PlaceholderScan, MultipleAndAdjacent) {
  const std::string text = "{{cred:a}}{{cred:b.c}}%7B%7Bcred:d%7D%7D-{{cred:a}}";
  auto m = scan_ok(text);
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0].name, "a");
  EXPECT_EQ(m[1].name, "b.c");
  EXPECT_EQ(m[1].offset, 10u);
  EXPECT_EQ(m[2].name, "d");
  EXPECT_EQ(m[2].form, placeholder_form::percent_encoded);
  EXPECT_EQ(m[3].name, "a");
  EXPECT_EQ(m[3].offset + m[3].length, text.size());
}

TEST(PlaceholderScan, OtherBracesAreLeftAlone) {
  EXPECT_TRUE(scan_ok("{{other}} {{ cred:x }} {{Cred:x}} {cred:x} %7B%7Bother%7D%7D %7B%7BCRED:x%7D%7D").empty());
  auto m = scan_ok("{{{cred:x}}}");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].offset, 1u);
  EXPECT_EQ(m[0].name, "x");
}

TEST(PlaceholderScan, Malformed) {
  for (std::string_view bad : {"{{cred:", "{{cred:}}", "{{cred:abc", "{{cred:abc}", "{{cred:a b}}", "{{cred:a/b}}",
                               "{{cred:a}x}", "{{cred:a%7D%7D", "%7B%7Bcred:a}}", "%7B%7Bcred:a", "%7B%7Bcred%3A%7D%7D",
                               "{{cred:ok}} {{cred:bad"}) {
    EXPECT_FALSE(scan_error(bad).empty()) << bad;
  }
  EXPECT_FALSE(scan_error("{{cred:a\r\n}}", scan_scope::header_value).empty());
}

TEST(PlaceholderScan, KeyLengthLimit) {
  const std::string ok(128, 'k');
  EXPECT_EQ(scan_ok("{{cred:" + ok + "}}").at(0).name, ok);
  const std::string too_long(129, 'k');
  EXPECT_NE(scan_error("{{cred:" + too_long + "}}").find("128"), std::string::npos);
}

TEST(PlaceholderScan, ErrorQuotesNothingFromInput) {
  const std::string err = scan_error("{{cred:CANARYKEY SECRETTEXT");
  EXPECT_EQ(err.find("CANARY"), std::string::npos);
  EXPECT_EQ(err.find("SECRET"), std::string::npos);
}

TEST(PlaceholderSplit, FieldSuffixes) {
  std::string_view key;
  placeholder_field field{};
  ASSERT_TRUE(split_field("soap.basic.password", key, field));
  EXPECT_EQ(key, "soap.basic");
  EXPECT_EQ(field, placeholder_field::password);
  ASSERT_TRUE(split_field("x.username", key, field));
  EXPECT_EQ(field, placeholder_field::username);
  ASSERT_TRUE(split_field("x.secret", key, field));
  EXPECT_EQ(field, placeholder_field::secret);
  ASSERT_TRUE(split_field("jigx.finnhub.token", key, field));
  EXPECT_EQ(key, "jigx.finnhub");
  EXPECT_EQ(field, placeholder_field::token);

  EXPECT_FALSE(split_field("token", key, field));
  EXPECT_FALSE(split_field(".token", key, field));
  EXPECT_FALSE(split_field("xtoken", key, field));
  EXPECT_FALSE(split_field("a.tokens", key, field));
  EXPECT_FALSE(split_field("a.Token", key, field));
}

TEST(MayContainPlaceholder, CheapPrecheck) {
  EXPECT_FALSE(may_contain_placeholder(""));
  EXPECT_FALSE(may_contain_placeholder("/plain/path?a=%20b&c=%7B"));
  EXPECT_FALSE(may_contain_placeholder("{{other}}"));
  EXPECT_TRUE(may_contain_placeholder("x {{cred:k}}"));
  EXPECT_TRUE(may_contain_placeholder("/a?%7b%7Bcred%3ak%7d%7d"));
  EXPECT_TRUE(may_contain_placeholder("%7B%7Bcred:"));
  // Never a false negative for anything the scanner would find.
  for (std::string_view t : {"{{cred:a}}", "%7B%7Bcred:a%7D%7D", "%7b%7bcred%3Aa%7d%7d"}) {
    EXPECT_FALSE(scan_ok(t).empty());
    EXPECT_TRUE(may_contain_placeholder(t)) << t;
  }
}

}  // namespace
}  // namespace credproxy::proxy
