// Upstream 401s, bounded per slot (token_service): the first 401 to a token
// forces one refresh, however young the token (it may have been revoked right
// after it was issued); 401s within the window after that forced refresh are
// passed on, so an upstream that always refuses costs at most one token
// request per slot and window. Time moves by the injected clock.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include <spdlog/sinks/null_sink.h>

#include "oauth/token_service.hpp"
#include "vault/credential_ops.hpp"
#include "vault/store.hpp"

#include "tests/unit/oauth_test_server.hpp"
#include "tests/unit/vault_test_support.hpp"

namespace credproxy::oauth {
namespace {

using namespace std::chrono_literals;
using testing_support::canned_response;
using testing_support::seen_request;
using testing_support::loopback_connector;
using testing_support::test_server;

class manual_clock final : public clock {
 public:
  time_point now() const noexcept override { return now_.load(); }
  void advance(std::chrono::seconds by) { now_.store(now_.load() + by); }

 private:
  std::atomic<time_point> now_{std::chrono::system_clock::from_time_t(1'800'000'000)};
};

class ForcedRefresh : public ::testing::Test {
 protected:
  void SetUp() override {
    vault::init_vault(dir_.path / "v.vault", dir_.path / "v.key");
    store_ = std::make_unique<vault::vault_store>(dir_.path / "v.vault", dir_.path / "v.key");
    vault::add_credential(*store_, "s", "svc",
                          R"({"type":"oauth","clientId":"app","grantType":"client_credentials",
                              "allowHttpEndpoints":true,"hosts":["api.example.com"],
                              "serviceConfiguration":{"tokenEndpoint":")" + idp_.url("/token") + R"("}})");
    service_settings settings;
    settings.client.connector = &loopback_connector();
    settings.client.allow_http_loopback = true;
    settings.client.timeout = 2000ms;
    service_ = std::make_unique<token_service>(*store_, clock_, settings,
                                               std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::null_sink_mt>()));
    const auto snap = store_->snapshot();
    service_->adopt(*snap);
    client_ = snap->find("s", "svc")->oauth;
  }
  void TearDown() override {
    if (service_) service_->stop();
  }

  // Asks for a token (rejected_serial: the upstream 401'd that one) and
  // waits for the answer; returns the serial in the table afterwards.
  std::uint64_t ask(std::uint64_t rejected_serial = 0) {
    token_request request{owner_, "", "svc", client_, rejected_serial};
    std::promise<token_outcome> answer;
    service_->request(std::move(request), [&](token_outcome o) { answer.set_value(std::move(o)); });
    auto future = answer.get_future();
    EXPECT_EQ(future.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(future.get().result, token_outcome::status::ready);
    const auto* token = service_->current()->find(vault::token_slot_id(owner_, ""));
    return token != nullptr ? token->serial : 0;
  }
  std::size_t token_requests() const { return idp_.requests().size(); }

  vault::testing_support::temp_dir dir_;
  std::unique_ptr<vault::vault_store> store_;  // after init_vault: it reads the key
  std::atomic<int> issued_{0};
  test_server idp_{[this](const seen_request&) {
    return canned_response{200, {{"Content-Type", "application/json"}},
                           R"({"access_token":"at-)" + std::to_string(++issued_) +
                               R"(","token_type":"Bearer","expires_in":3600})"};
  }};
  manual_clock clock_;
  std::unique_ptr<token_service> service_;
  std::shared_ptr<const vault::oauth_client> client_;
  vault::token_owner owner_ = vault::token_owner::credential("s", "svc");
};

TEST_F(ForcedRefresh, TheFirst401ToEvenAFreshTokenForcesOneRefresh) {
  const auto first = ask();
  ASSERT_NE(first, 0u);
  ASSERT_EQ(token_requests(), 1u);
  // Rejected the moment it was issued (revoked, say): a new token, at once.
  const auto second = ask(first);
  EXPECT_NE(second, first);
  EXPECT_EQ(token_requests(), 2u);
  // A late 401 to the replaced token needs no fetch: the new one is there.
  EXPECT_EQ(ask(first), second);
  EXPECT_EQ(token_requests(), 2u);
}

TEST_F(ForcedRefresh, LaterRejectionsWithinTheWindowArePassedOn) {
  const auto first = ask();
  const auto second = ask(first);
  ASSERT_EQ(token_requests(), 2u);
  const auto* token = service_->current()->find(vault::token_slot_id(owner_, ""));
  ASSERT_NE(token, nullptr);
  EXPECT_FALSE(token->refresh_on_401_at(clock_.now()));  // what the proxy checks before replaying

  // An upstream that always refuses: 100 rejections, no further token request.
  for (int i = 0; i < 100; ++i) EXPECT_EQ(ask(second), second);
  EXPECT_EQ(token_requests(), 2u);

  // The window passed: one more forced refresh, then passed on again.
  clock_.advance(cached_token::forced_refresh_window + 1s);
  EXPECT_TRUE(service_->current()->find(vault::token_slot_id(owner_, ""))->refresh_on_401_at(clock_.now()));
  const auto third = ask(second);
  EXPECT_NE(third, second);
  EXPECT_EQ(token_requests(), 3u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(ask(third), third);
  EXPECT_EQ(token_requests(), 3u);
}

}  // namespace
}  // namespace credproxy::oauth
