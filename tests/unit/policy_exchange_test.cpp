// The request path's pure decisions: heads as values, where a request goes,
// the forward plan, the response filter and the one retry rule.
#include <gtest/gtest.h>

#include "proxy/policy/exchange.hpp"
#include "proxy/policy/response_plan.hpp"
#include "proxy/policy/retry.hpp"
#include "tests/unit/policy_test_support.hpp"

namespace credproxy::proxy {
namespace {

using namespace testing_support;

request_head head_of(std::string_view text) {
  auto parsed = parse_request_head(text, head_limits{});
  EXPECT_EQ(parsed.result, head_parse<request_head>::state::complete) << parsed.error.message;
  return std::move(parsed.head);
}

TEST(MessageHead, RequestHeadIsCopiedOutAndParsedInPlace) {
  std::string input = "POST http://a.example/x HTTP/1.1\r\nHost: a.example\r\nContent-Length: 3\r\n\r\nabcNEXT";
  auto parsed = parse_request_head(input, head_limits{});
  ASSERT_EQ(parsed.result, head_parse<request_head>::state::complete);
  EXPECT_EQ(parsed.consumed, input.find("abc"));
  input.assign(input.size(), 'z');  // the head must not refer to the input any more
  const request_head& head = parsed.head;
  EXPECT_EQ(head.method, "POST");
  EXPECT_EQ(head.target, "http://a.example/x");
  EXPECT_EQ(head.body, body_framing::length);
  EXPECT_EQ(head.content_length, 3u);
  ASSERT_EQ(head.fields.size(), 2u);
  EXPECT_EQ(head.fields[0].value, "a.example");
  request_head moved = std::move(parsed.head);
  EXPECT_EQ(moved.fields[0].value, "a.example") << "views survive a move";
}

TEST(MessageHead, IncompleteHeadNeedsMoreAndOversizedOneFails) {
  EXPECT_EQ(parse_request_head("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r", head_limits{}).result,
            head_parse<request_head>::state::need_more);
  const auto big = parse_request_head(std::string(100, 'x'), head_limits{64, 10});
  EXPECT_EQ(big.result, head_parse<request_head>::state::failed);
  EXPECT_EQ(big.error.code, error_code::request_header_too_large);
}

TEST(MessageHead, SmugglingShapesAreRefused) {
  for (const char* text : {
           "GET http://a/ HTTP/1.1\nHost: a\n\n",
           "POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
           "POST http://a/ HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
           "GET http://a/ HTTP/1.1\r\nHost: a\r\nX: 1\r\n folded\r\n\r\n",
       }) {
    const auto parsed = parse_request_head(text, head_limits{});
    EXPECT_EQ(parsed.result, head_parse<request_head>::state::failed) << text;
    EXPECT_EQ(parsed.error.code, error_code::bad_request) << text;
  }
}

TEST(MessageHead, ResponseFramingFollowsTheRequestMethodAndStatus) {
  const std::string with_length = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
  EXPECT_EQ(parse_response_head(with_length, head_limits{}, false).head.body, body_framing::length);
  EXPECT_EQ(parse_response_head(with_length, head_limits{}, true).head.body, body_framing::none);
  EXPECT_EQ(parse_response_head("HTTP/1.1 204 No Content\r\n\r\n", head_limits{}, false).head.body, body_framing::none);
  EXPECT_EQ(parse_response_head("HTTP/1.1 200 OK\r\n\r\n", head_limits{}, false).head.body, body_framing::until_eof);
}

TEST(ResolveOrigin, AbsoluteFormOutsideTunnels) {
  const auto head = head_of("GET https://API.example.com:8443/p?q=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto origin = std::get<request_origin>(resolve_origin(head, nullptr));
  EXPECT_EQ(origin.scheme, "https");
  EXPECT_EQ(origin.host, "api.example.com");
  EXPECT_EQ(origin.port, 8443);
  EXPECT_EQ(origin.path_and_query, "/p?q=1");
  const auto origin_form = head_of("GET /p HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(std::get<proxy_error>(resolve_origin(origin_form, nullptr)).code, error_code::bad_request);
}

TEST(ResolveOrigin, InsideATunnelHostMustNameTheAuthority) {
  const tunnel_authority tunnel{"api.example.com", 443, true};
  const auto head = head_of("GET /p HTTP/1.1\r\nHost: API.example.com\r\n\r\n");  // the origin's path views into it
  const auto ok = std::get<request_origin>(resolve_origin(head, &tunnel));
  EXPECT_EQ(ok.scheme, "https");
  EXPECT_EQ(ok.host, "api.example.com");
  EXPECT_EQ(ok.path_and_query, "/p");
  EXPECT_TRUE(std::holds_alternative<request_origin>(
      resolve_origin(head_of("GET /p HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n"), &tunnel)));
  const auto other = resolve_origin(head_of("GET /p HTTP/1.1\r\nHost: evil.example\r\n\r\n"), &tunnel);
  EXPECT_EQ(std::get<proxy_error>(other).code, error_code::misdirected_request);
  const auto port = resolve_origin(head_of("GET /p HTTP/1.1\r\nHost: api.example.com:8443\r\n\r\n"), &tunnel);
  EXPECT_EQ(std::get<proxy_error>(port).code, error_code::misdirected_request);
  const auto absolute = resolve_origin(head_of("GET https://evil.example/ HTTP/1.1\r\nHost: api.example.com\r\n\r\n"), &tunnel);
  EXPECT_EQ(std::get<proxy_error>(absolute).code, error_code::misdirected_request);
  const auto none = resolve_origin(head_of("GET /p HTTP/1.1\r\n\r\n"), &tunnel);
  EXPECT_EQ(std::get<proxy_error>(none).code, error_code::bad_request);
}

vault::snapshot snapshot_with_key() {
  vault::snapshot snap;
  add_credential(snap, "s", make_api_key("k", "secret-value", {"api.example.com"}));
  return snap;
}

TEST(Decide, RendersTheHeadWithoutHopByHopFields) {
  const auto head = head_of(
      "GET https://api.example.com/p HTTP/1.1\r\nHost: api.example.com\r\nX-Key: {{cred:k}}\r\nConnection: keep-alive, "
      "X-Drop\r\nX-Drop: 1\r\nProxy-Authorization: Basic eA==\r\nExpect: 100-continue\r\nCredproxy-User: u\r\n\r\n");
  const auto origin = std::get<request_origin>(resolve_origin(head, nullptr));
  const auto snap = snapshot_with_key();
  auto result = decide(head, origin, snap, "s", token_view{}, exchange_settings{});
  const auto& plan = std::get<forward_plan>(result);
  EXPECT_EQ(std::string(plan.head.c_str()),
            "GET /p HTTP/1.1\r\nHost: api.example.com\r\nX-Key: secret-value\r\n");
  EXPECT_EQ(plan.keys_used, std::vector<std::string>{"k"});
  EXPECT_TRUE(plan.idempotent);
  wiping_string finished = plan.head;
  finish_request_head(finished, body_framing::chunked, 0, false);
  EXPECT_TRUE(std::string(finished.c_str()).ends_with("Transfer-Encoding: chunked\r\n\r\n"));
}

TEST(Decide, TraceWithAPlaceholderIsRefused) {
  const auto head = head_of("TRACE https://api.example.com/ HTTP/1.1\r\nHost: a\r\nX-Key: {{cred:k}}\r\n\r\n");
  const auto origin = std::get<request_origin>(resolve_origin(head, nullptr));
  const auto snap = snapshot_with_key();
  const auto result = decide(head, origin, snap, "s", token_view{}, exchange_settings{});
  EXPECT_EQ(std::get<proxy_error>(result).code, error_code::method_not_allowed);
}

TEST(Decide, DuplicatedUserIsABadRequest) {
  const auto head = head_of("GET https://api.example.com/ HTTP/1.1\r\nHost: a\r\nCredproxy-User: a\r\nCredproxy-User: b\r\n\r\n");
  const auto origin = std::get<request_origin>(resolve_origin(head, nullptr));
  const auto snap = snapshot_with_key();
  const auto result = decide(head, origin, snap, "s", token_view{}, exchange_settings{});
  EXPECT_EQ(std::get<proxy_error>(result).code, error_code::bad_request);
}

response_head response_of(std::string_view text, bool head_request = false) {
  auto parsed = parse_response_head(text, head_limits{}, head_request);
  EXPECT_EQ(parsed.result, head_parse<response_head>::state::complete);
  return std::move(parsed.head);
}

TEST(ResponsePlan, DropsHopByHopAndForgedProxyErrors) {
  const auto head = response_of(
      "HTTP/1.1 200 OK\r\nConnection: X-Hop\r\nX-Hop: 1\r\nCredproxy-Error: credential_not_found\r\nX-Keep: "
      "2\r\nContent-Length: 4\r\n\r\n");
  const auto plan = plan_response(head, client_side{});
  EXPECT_EQ(plan.head, "HTTP/1.1 200 OK\r\nX-Keep: 2\r\nContent-Length: 4\r\n\r\n");
  EXPECT_EQ(plan.mode, relay_mode::length);
  EXPECT_TRUE(plan.client_keep_alive);
  EXPECT_TRUE(plan.upstream_reusable);
}

TEST(ResponsePlan, ChunkedIsRechunkedForHttp11AndDechunkedForHttp10) {
  const auto head = response_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(plan_response(head, client_side{}).mode, relay_mode::chunked);
  client_side old_client;
  old_client.version = 10;
  const auto plan = plan_response(head, old_client);
  EXPECT_EQ(plan.mode, relay_mode::chunked_to_eof);
  EXPECT_FALSE(plan.client_keep_alive);
  EXPECT_NE(plan.head.find("Connection: close"), std::string::npos);
}

TEST(ResponsePlan, AnIncompleteRequestClosesBothSides) {
  const auto head = response_of("HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n");
  client_side early;
  early.request_complete = false;
  const auto plan = plan_response(head, early);
  EXPECT_FALSE(plan.client_keep_alive);
  EXPECT_FALSE(plan.upstream_reusable);
}

attempt_report stale_pooled() {
  attempt_report r;
  r.result = attempt_report::outcome::no_response;
  r.reused_connection = true;
  r.idempotent = true;
  r.body_resendable = true;
  r.retries_left = 1;
  return r;
}

TEST(RetryRule, StalePooledConnectionIsRetriedOnlyWhenEverythingAllowsIt) {
  EXPECT_EQ(decide_next(stale_pooled()), next_step::retry_on_fresh_connection);
  auto fresh = stale_pooled();
  fresh.reused_connection = false;
  EXPECT_EQ(decide_next(fresh), next_step::fail);
  auto post = stale_pooled();
  post.idempotent = false;
  EXPECT_EQ(decide_next(post), next_step::fail);
  auto streamed = stale_pooled();
  streamed.body_resendable = false;
  EXPECT_EQ(decide_next(streamed), next_step::fail);
  auto timed_out = stale_pooled();
  timed_out.timed_out = true;
  EXPECT_EQ(decide_next(timed_out), next_step::fail);
  auto answered = stale_pooled();
  answered.response_bytes_received = true;
  EXPECT_EQ(decide_next(answered), next_step::fail);
  auto spent = stale_pooled();
  spent.retries_left = 0;
  EXPECT_EQ(decide_next(spent), next_step::fail);
}

TEST(RetryRule, RejectedTokenIsReplayedOrRefreshed) {
  attempt_report r;
  r.result = attempt_report::outcome::responded;
  EXPECT_EQ(decide_next(r), next_step::relay);
  r.token_rejected = true;
  r.body_resendable = true;
  r.request_body_complete = true;
  r.replays_left = 1;
  EXPECT_EQ(decide_next(r), next_step::replay_with_new_token);
  r.replays_left = 0;
  EXPECT_EQ(decide_next(r), next_step::refresh_then_relay);
  r.replays_left = 1;
  r.body_resendable = false;
  EXPECT_EQ(decide_next(r), next_step::refresh_then_relay);
  attempt_report refused;
  refused.result = attempt_report::outcome::connect_failed;
  EXPECT_EQ(decide_next(refused), next_step::fail);
}

}  // namespace
}  // namespace credproxy::proxy

namespace credproxy::proxy {
namespace {

using namespace testing_support;

struct body_fixture {
  vault::snapshot snap;
  forward_plan plan;
  body_fixture() {
    auto key = make_api_key("b", "body-secret", {"api.example.com"});  // https only
    key.body_types = {"application/json"};
    add_credential(snap, "s", std::move(key));
    plan.upstream = {"http", "api.example.com", 80};
    plan.content_type = "application/json";
  }
};

TEST(DecideBody, ABodyCredentialWithoutAllowPlaintextMovesTheRequestToTls) {
  body_fixture f;
  const auto result = decide_body(R"({"t":"{{cred:b}}"})", f.plan, f.snap, "s", token_view{}, exchange_settings{});
  const auto& decision = std::get<body_decision>(result);
  EXPECT_EQ(decision.upstream, (upstream_target{"https", "api.example.com", 443}));
  EXPECT_EQ(decision.body.view(), R"({"t":"body-secret"})");
}

TEST(DecideBody, WithoutUpgradesItIsRefused) {
  body_fixture f;
  exchange_settings strict;
  strict.inject.upgrade_plaintext = false;
  const auto result = decide_body(R"({"t":"{{cred:b}}"})", f.plan, f.snap, "s", token_view{}, strict);
  EXPECT_EQ(std::get<proxy_error>(result).code, error_code::plaintext_not_allowed);
}

TEST(DecideBody, HeadCredentialsMustBeBoundWhereTheBodyMovesTheRequest) {
  body_fixture f;
  auto plain_only = make_api_key("h", "head-secret", {"http://api.example.com"});
  plain_only.allow_plaintext = true;
  add_credential(f.snap, "s", std::move(plain_only));
  f.plan.keys_used = {"h"};
  const auto result = decide_body(R"({"t":"{{cred:b}}"})", f.plan, f.snap, "s", token_view{}, exchange_settings{});
  EXPECT_EQ(std::get<proxy_error>(result).code, error_code::host_not_allowed);
  EXPECT_EQ(std::get<proxy_error>(result).key, "h");
}

TEST(DecideBody, TraceWhoseBodyMayCarryPlaceholdersIsRefused) {
  body_fixture f;
  const auto head = head_of("TRACE https://api.example.com/ HTTP/1.1\r\nHost: api.example.com\r\n"
                            "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n");
  const auto origin = std::get<request_origin>(resolve_origin(head, nullptr));
  const auto result = decide(head, origin, f.snap, "s", token_view{}, exchange_settings{});
  EXPECT_EQ(std::get<proxy_error>(result).code, error_code::method_not_allowed);
}

TEST(DecideBody, NoPlaceholderLeavesTheBodyAndTheUpstreamAlone) {
  body_fixture f;
  const auto result = decide_body(R"({"t":"plain"})", f.plan, f.snap, "s", token_view{}, exchange_settings{});
  const auto& decision = std::get<body_decision>(result);
  EXPECT_FALSE(decision.changed);
  EXPECT_EQ(decision.upstream, f.plan.upstream);
}

}  // namespace
}  // namespace credproxy::proxy
