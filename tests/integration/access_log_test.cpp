// The access log through the real binary: one line per request with every
// field (text and JSON layouts), X-Request-Id kept or made and sent on,
// the caller's target logged with its placeholders while the secret never
// appears, and a burst of bad requests costing a bounded number of lines.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <regex>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/raw_client.hpp"

namespace credproxy::test {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> log_lines(const std::string& log) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < log.size()) {
    auto end = log.find('\n', start);
    if (end == std::string::npos) end = log.size();
    if (end > start) out.push_back(log.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// Access lines (text layout) that contain every part.
std::vector<std::string> access_lines(const credproxy_instance& proxy, const std::vector<std::string>& parts) {
  auto with = parts;
  with.insert(with.begin(), " info request client=");
  return lines_with(proxy.log(), with);
}

std::string absolute_request(const fake_upstream& upstream, const std::string& method, const std::string& path,
                             const std::string& extra_fields, const std::string& body = {}) {
  std::string r = method + " http://" + upstream.authority() + path + " HTTP/1.1\r\nHost: " + upstream.authority() +
                  "\r\n" + extra_fields;
  if (!body.empty()) r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return r + "\r\n" + body;
}

class AccessLog : public ::testing::Test {
 protected:
  void SetUp() override { upstream_.respond_with(response_spec().with_body("0123456789")); }

  instance_options options() const {
    return instance_options().with_credential("acme.api", api_key_doc(secret_, upstream_.authority()));
  }

  fake_upstream upstream_;
  const std::string secret_ = "canary-" + random_hex(12);
};

TEST_F(AccessLog, TextLineCarriesEveryFieldAndNeverTheRenderedTarget) {
  credproxy_instance proxy(options().with_log_level("info"));
  raw_connection client(proxy.proxy_port());
  client.send(absolute_request(upstream_, "POST", "/q?token={{cred:acme.api}}", "X-Request-Id: trace-42.a:b_c\r\n",
                               "hello"));
  auto first = client.read_response();
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200u);
  client.send(absolute_request(upstream_, "GET", "/again", ""));
  ASSERT_TRUE(client.read_response());
  ASSERT_TRUE(upstream_.wait_for_requests(2));
  EXPECT_EQ(upstream_.requests()[0].target, "/q?token=" + secret_) << "the secret was injected into the target";

  const std::string port = std::to_string(upstream_.port());
  const std::regex first_line(
      R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info request client=127\.0\.0\.1 solution=default method=POST )"
      R"(scheme=http host=127\.0\.0\.1 port=)" + port +
      R"( target="/q\?token=\{\{cred:acme\.api\}\}" status=200 bytes_in=5 bytes_out=10 duration_ms=[0-9.]+ )"
      R"(upstream=new request_id=trace-42\.a:b_c keys=acme\.api error=-$)");
  const std::regex second_line(R"( method=GET .* target=/again status=200 bytes_in=0 bytes_out=10 .*upstream=reused )"
                               R"(request_id=[0-9a-f]{32} keys=- error=-$)");
  ASSERT_TRUE(wait_until(
      [&] {
        const auto lines = log_lines(proxy.log());
        const auto has = [&](const std::regex& re) {
          return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return std::regex_search(l, re); });
        };
        return has(first_line) && has(second_line);
      },
      5s))
      << proxy.log();
  proxy.stop();
  EXPECT_EQ(proxy.log().find(secret_), std::string::npos) << "the secret reached the log";
}

TEST_F(AccessLog, RequestIdIsKeptOrMadeAndAlwaysForwardedOnce) {
  credproxy_instance proxy(options());
  // Kept: a sane id the caller sent.
  ASSERT_TRUE(raw_exchange(proxy.proxy_port(), absolute_request(upstream_, "GET", "/kept", "X-Request-Id: abc-123\r\n")));
  // Made: none sent, or one that is not sane (it could be a placeholder).
  ASSERT_TRUE(raw_exchange(proxy.proxy_port(), absolute_request(upstream_, "GET", "/made", "")));
  ASSERT_TRUE(raw_exchange(proxy.proxy_port(),
                           absolute_request(upstream_, "GET", "/insane", "X-Request-Id: {{cred:acme.api}}\r\n")));
  ASSERT_TRUE(upstream_.wait_for_requests(3));
  const auto seen = upstream_.requests();
  ASSERT_EQ(seen[0].header_count("X-Request-Id"), 1u);
  EXPECT_EQ(seen[0].header("X-Request-Id"), "abc-123");
  const std::regex generated("[0-9a-f]{32}");
  for (std::size_t i = 1; i < 3; ++i) {
    ASSERT_EQ(seen[i].header_count("X-Request-Id"), 1u) << seen[i].target;
    EXPECT_TRUE(std::regex_match(*seen[i].header("X-Request-Id"), generated)) << *seen[i].header("X-Request-Id");
  }
  EXPECT_NE(seen[1].header("X-Request-Id"), seen[2].header("X-Request-Id"));
  EXPECT_EQ(seen[2].header("X-Request-Id")->find(secret_), std::string::npos);
  EXPECT_TRUE(proxy.wait_for_log(std::regex("target=/made .*request_id=" + *seen[1].header("X-Request-Id"))));
  EXPECT_TRUE(proxy.wait_for_log(std::regex("target=/kept .*request_id=abc-123 ")));
}

TEST_F(AccessLog, ErrorRepliesAndLinesCarryTheRequestId) {
  credproxy_instance proxy(options());
  const auto r = raw_exchange(proxy.proxy_port(),
                              absolute_request(upstream_, "GET", "/x", "X-Request-Id: err-7\r\nX-K: {{cred:nope}}\r\n"));
  ASSERT_TRUE(r);
  EXPECT_TRUE(is_proxy_error(*r, 403, "credential_not_found", "nope"));
  EXPECT_EQ(r->header("X-Request-Id"), "err-7");
  EXPECT_TRUE(proxy.wait_for_log(std::regex(R"(status=403 .*request_id=err-7 keys=nope error=credential_not_found)")));
}

TEST_F(AccessLog, ConnectTunnelsGetALineWithTheirSolution) {
  credproxy_instance proxy(options());
  fake_upstream other;
  const auto r = proxy.curl().get(other.url("/t"), {"--proxytunnel"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  const std::regex line("solution=default method=CONNECT scheme=- host=127\\.0\\.0\\.1 port=" +
                        std::to_string(other.port()) + " .*status=200 bytes_in=[1-9][0-9]* bytes_out=[1-9]");
  EXPECT_TRUE(proxy.wait_for_log(line)) << proxy.log();
}

TEST_F(AccessLog, JsonLinesParseAndEscapeHostileValues) {
  credproxy_instance proxy(options().with_log_format("json"));
  // Quotes, backslashes, a byte that is not UTF-8 and an escaped NUL in the
  // target; a request id with a quote (not sane: replaced).
  const std::string hostile_path = "/a\"b\\c\xff%00?k={{cred:acme.api}}";
  const auto r = raw_exchange(proxy.proxy_port(), absolute_request(upstream_, "GET", hostile_path,
                                                                   "X-Request-Id: a\"b\\c\r\n"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200u) << r->body;
  // A malformed request: a line of its own too.
  ASSERT_TRUE(raw_exchange(proxy.proxy_port(), "GET /\x01 HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(wait_until([&] { return proxy.log().find("\"error\":\"bad_request\"") != std::string::npos; }, 5s));
  proxy.stop();

  const std::regex rfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  std::size_t requests = 0;
  for (const auto& line : log_lines(proxy.log())) {
    boost::system::error_code ec;
    const auto parsed = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << "not JSON: " << line;
    ASSERT_TRUE(parsed.is_object()) << line;
    const auto& o = parsed.as_object();
    ASSERT_TRUE(o.contains("time") && o.contains("level")) << line;
    EXPECT_TRUE(std::regex_match(std::string(o.at("time").as_string()), rfc3339)) << line;
    if (!o.contains("event") || o.at("event") != "request") {
      EXPECT_TRUE(o.contains("msg")) << line;
      continue;
    }
    ++requests;
    if (o.at("status").as_int64() != 200) continue;
    EXPECT_EQ(o.at("target"), "/a\"b\\c\xef\xbf\xbd%00?k={{cred:acme.api}}") << line;
    EXPECT_EQ(o.at("client"), "127.0.0.1");
    EXPECT_EQ(o.at("solution"), "default");
    EXPECT_EQ(o.at("method"), "GET");
    EXPECT_EQ(o.at("scheme"), "http");
    EXPECT_EQ(o.at("host"), "127.0.0.1");
    EXPECT_EQ(o.at("port").as_int64(), upstream_.port());
    EXPECT_EQ(o.at("bytes_out").as_int64(), 10);
    EXPECT_EQ(o.at("upstream"), "new");
    EXPECT_EQ(o.at("keys"), "acme.api");
    EXPECT_EQ(o.at("error"), "");
    EXPECT_TRUE(std::regex_match(std::string(o.at("request_id").as_string()), std::regex("[0-9a-f]{32}")));
    EXPECT_TRUE(o.at("duration_ms").is_double() || o.at("duration_ms").is_int64());
  }
  EXPECT_EQ(requests, 2u);
  EXPECT_EQ(proxy.log().find(secret_), std::string::npos) << "the secret reached the log";
}

// One local client sending malformed requests as fast as it can: a few
// lines a second and a count, not a line per request.
TEST_F(AccessLog, RepeatedErrorsAreRateLimitedWithCounts) {
  credproxy_instance proxy(options().with_log_level("info"));
  constexpr int burst = 400;
  int answered = 0;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < burst; ++i) {
    const auto r = raw_exchange(proxy.proxy_port(), "BROKEN\r\n\r\n", 2s);
    answered += (r && r->status == 400) ? 1 : 0;
  }
  const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(answered, burst) << "every request is still answered";
  // The count: on the next line of the same client and code, or on a line
  // of its own once the window is over.
  ASSERT_TRUE(proxy.wait_for_log(std::regex(R"(repeated=\d+ repeated_seconds=|repeated \d+ times in the last)"), 5s))
      << proxy.log();
  const auto lines = access_lines(proxy, {"error=bad_request"});
  // Per worker (2): error_burst (5) lines per second, plus one per
  // window that carries the count. Scaled by the time taken, not a fixed
  // share of the burst: a sanitized build on a loaded machine is slow.
  const auto bound = static_cast<std::size_t>(2 * 6 * (took + 2));
  EXPECT_LE(lines.size(), bound) << lines.size() << " lines for " << burst << " requests in " << took << " s";
  EXPECT_LT(lines.size(), static_cast<std::size_t>(burst)) << "a line per request";
  EXPECT_GT(proxy.metric("credproxy_log_lines_suppressed_total"), 0u);
  // Every request is still counted.
  const std::string metrics = proxy.metrics_text();
  EXPECT_NE(metrics.find("credproxy_errors_total{code=\"bad_request\"} " + std::to_string(burst)), std::string::npos)
      << metrics;
}

}  // namespace
}  // namespace credproxy::test
