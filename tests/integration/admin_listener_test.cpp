// The admin listener under hostile clients, through the real binary: the
// token is checked on the head before any body byte is read (no 100
// Continue for a stranger), the listener has its own connection cap, and
// a head that never completes is cut off by the header deadline.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/raw_client.hpp"
#include "tests/support/util.hpp"

namespace credproxy::test {
namespace {

// A credential write announcing a body it never sends (yet).
std::string announced_put(std::string_view extra_headers) {
  return "PUT /v1/solutions/default/credentials/k HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         "Content-Length: 1000000\r\n" + std::string(extra_headers) + "\r\n";
}

TEST(AdminListener, AStrangerIsRefusedOnTheHeadWithoutA100Continue) {
  credproxy_instance proxy{instance_options()};
  for (const std::string extra : {"Expect: 100-continue\r\n", "", "Authorization: Bearer cpa_wrong\r\n"}) {
    SCOPED_TRACE(extra);
    raw_connection c(proxy.admin_port());
    c.send(announced_put(extra));
    std::string bytes;
    ASSERT_TRUE(c.wait_closed(std::chrono::seconds(5), &bytes)) << "the listener waited for the body: " << bytes;
    EXPECT_EQ(bytes.rfind("HTTP/1.1 401", 0), 0u) << bytes;
    EXPECT_EQ(bytes.find("100 Continue"), std::string::npos) << bytes;
    EXPECT_NE(bytes.find("Credproxy-Error: "), std::string::npos) << bytes;
  }
}

TEST(AdminListener, TheAdminTokenStillGetsA100ContinueAndItsBodyRead) {
  credproxy_instance proxy{instance_options()};
  const std::string token = proxy.admin_token();
  ASSERT_TRUE(wait_until(
      [&] {
        const auto r = raw_exchange(proxy.admin_port(), "GET /v1/org/oauth HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                                                            token + "\r\nConnection: close\r\n\r\n");
        return r && r->status == 200;
      },
      std::chrono::seconds(2)))
      << "the new admin token was not accepted";
  const std::string body = R"({"type":"secret","secret":"s3","hosts":["127.0.0.1:9"]})";
  raw_connection c(proxy.admin_port());
  c.send("PUT /v1/solutions/default/credentials/k HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
         "\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n");
  ASSERT_TRUE(c.wait_for("100 Continue", std::chrono::seconds(5)));
  c.send(body);
  const auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_LT(r->status, 300u) << r->body;
}

TEST(AdminListener, StrangersAnnouncingBigBodiesCostNoMemory) {
  credproxy_instance proxy{instance_options()};
  const auto before = vm_rss_bytes(proxy.pid());
  std::vector<std::unique_ptr<raw_connection>> strangers;
  for (int i = 0; i < 60; ++i) {
    strangers.push_back(std::make_unique<raw_connection>(proxy.admin_port()));
    strangers.back()->send(announced_put("Expect: 100-continue\r\n") + std::string(64 * 1024, 'x'));
  }
  for (auto& c : strangers) EXPECT_TRUE(c->wait_closed(std::chrono::seconds(5)));
  const auto after = vm_rss_bytes(proxy.pid());
  EXPECT_LT(after, before + 8 * 1024 * 1024) << "RSS grew from " << before << " to " << after;
}

TEST(AdminListener, ConnectionsOverTheCapAreAnswered503AndTheListenerRecovers) {
  credproxy_instance proxy{instance_options()};
  std::vector<std::unique_ptr<raw_connection>> held;
  for (int i = 0; i < 64; ++i) held.push_back(std::make_unique<raw_connection>(proxy.admin_port()));
  // The listener accepts in order: the 65th finds all 64 sessions open.
  const auto over = raw_exchange(proxy.admin_port(), "GET /v1/org/oauth HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(over);
  EXPECT_TRUE(is_proxy_error(*over, 503, "admin_busy"));
  held.clear();
  const bool recovered = wait_until(
      [&] {
        const auto r = raw_exchange(proxy.admin_port(), "GET /v1/org/oauth HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        return r && r->status == 401;  // answered (no token), not refused for the cap
      },
      std::chrono::seconds(5));
  EXPECT_TRUE(recovered);
}

TEST(AdminListener, AHeadThatNeverEndsIsCutOffByTheHeaderDeadline) {
  credproxy_instance proxy{instance_options().with_client_header_timeout_ms(300)};
  raw_connection c(proxy.admin_port());
  c.send("GET /v1/org/oauth HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  EXPECT_TRUE(c.wait_closed(std::chrono::seconds(5)));
}

}  // namespace
}  // namespace credproxy::test
