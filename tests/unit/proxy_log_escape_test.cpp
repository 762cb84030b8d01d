#include "proxy/log_escape.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "proxy/request_record.hpp"

namespace credproxy::proxy {
namespace {

std::string json_of(std::string_view v) {
  std::string out;
  append_json_string(out, v);
  return out;
}

std::string text_of(std::string_view v) {
  std::string out;
  append_text_value(out, v);
  return out;
}

TEST(LogEscape, EveryByteGivesValidJsonThatReadsBack) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  const std::string encoded = json_of(all);
  boost::system::error_code ec;
  const auto parsed = boost::json::parse(encoded, ec);
  ASSERT_FALSE(ec) << encoded;
  const std::string back(parsed.as_string());
  // ASCII comes back as it was; each byte that is not UTF-8 as U+FFFD.
  EXPECT_EQ(back.substr(0, 128), all.substr(0, 128));
  EXPECT_EQ(back.substr(128), [] {
    std::string r;
    for (int i = 128; i < 256; ++i) r += "\xef\xbf\xbd";
    return r;
  }());
}

TEST(LogEscape, JsonKeepsValidUtf8AndRefusesBrokenSequences) {
  EXPECT_EQ(json_of("caf\xc3\xa9 \xe2\x82\xac"), "\"caf\xc3\xa9 \xe2\x82\xac\"");
  EXPECT_EQ(json_of("\xc0\xaf"), "\"\\ufffd\\ufffd\"") << "overlong";
  EXPECT_EQ(json_of("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"") << "surrogate";
  EXPECT_EQ(json_of("a\"b\\c\n"), R"("a\"b\\c\u000a")");
}

TEST(LogEscape, TextValuesCannotForgeFieldsOrLines) {
  EXPECT_EQ(text_of("/plain/path"), "/plain/path");
  EXPECT_EQ(text_of(""), "\"\"");
  EXPECT_EQ(text_of("a b"), "\"a b\"");
  EXPECT_EQ(text_of("x=1"), "\"x=1\"");
  EXPECT_EQ(text_of("q\"uo\\te"), R"("q\"uo\\te")");
  EXPECT_EQ(text_of("line\nstatus=200 forged"), R"("line\x0astatus=200 forged")");
  EXPECT_EQ(text_of("\xff\x7f"), R"("\xff\x7f")");
}

TEST(LogEscape, UtcTimestampWithMilliseconds) {
  std::string out;
  append_utc_timestamp(out, std::chrono::system_clock::time_point(std::chrono::milliseconds(1764919597123)));
  EXPECT_EQ(out, "2025-12-05T07:26:37.123Z");
}

TEST(AccessLine, TargetKeepsPathAndQueryOnlyAndIsBounded) {
  request_record r;
  r.set_target("http://user:password@example.com:8080/p?q={{cred:k}}");
  EXPECT_EQ(r.target, "/p?q={{cred:k}}");
  r.set_target("http://example.com");
  EXPECT_EQ(r.target, "/");
  r.set_target("/origin?x");
  EXPECT_EQ(r.target, "/origin?x");
  r.set_target("/" + std::string(5000, 'a'));
  EXPECT_EQ(r.target.size(), 2048u + 3);
}

TEST(AccessLine, JsonMembersParseAsAnObject) {
  request_record r;
  r.peer = "127.0.0.1";
  r.method = "GET";
  r.host = "h\"ost";
  r.set_target("/a\"b\\c\x01");
  const std::string members = render_access_line(r, 200, "", true, r.start);
  boost::system::error_code ec;
  const auto parsed = boost::json::parse("{" + members + "}", ec);
  ASSERT_FALSE(ec) << members;
  EXPECT_EQ(parsed.as_object().at("host"), "h\"ost");
  EXPECT_EQ(parsed.as_object().at("target"), "/a\"b\\c\x01");
  EXPECT_EQ(parsed.as_object().at("status"), 200);
}

}  // namespace
}  // namespace credproxy::proxy
