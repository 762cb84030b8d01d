// invalid_grant is final only once the token row, read again, still holds
// the refresh token the provider refused (issue 13: "invalid_grant re-reads
// the row before declaring that a login is needed"). A writer that slipped
// past the slot's fence (a holder whose lock the database released when
// its connection dropped) may have stored a newer set meanwhile; then the
// newer refresh token gets one more fenced try instead of a login.
#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include <spdlog/sinks/null_sink.h>

#include "oauth/token_service.hpp"
#include "vault/credential_ops.hpp"
#include "vault/file_backend.hpp"
#include "vault/oauth_token_store.hpp"
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

class fixed_clock final : public clock {
 public:
  time_point now() const noexcept override { return std::chrono::system_clock::from_time_t(1'800'000'000); }
};

// The file backend, plus a writer that runs right after the first token
// slot transaction ends: the one that got past the fence.
class racing_backend final : public vault::store_backend {
 public:
  racing_backend(std::shared_ptr<vault::store_backend> inner, std::function<void()> after_first_slot_write)
      : inner_(std::move(inner)), race_(std::move(after_first_slot_write)) {}
  std::string name() const override { return inner_->name(); }
  vault::loaded_vault load() const override { return inner_->load(); }
  bool modify_if(const std::function<bool(vault::vault_contents&)>& change) const override {
    return inner_->modify_if(change);
  }
  bool modify_token_slot(const vault::token_owner& owner, std::string_view user,
                         const std::function<bool(vault::vault_contents&)>& change) const override {
    const bool wrote = inner_->modify_token_slot(owner, user, change);
    if (race_) std::exchange(race_, nullptr)();
    return wrote;
  }
  void rekey(vault::master_key key, const std::function<void()>& commit) const override { inner_->rekey(std::move(key), commit); }
  vault::store_fingerprint fingerprint() const noexcept override { return inner_->fingerprint(); }
  void set_read_only(bool on) override { inner_->set_read_only(on); }
  bool read_only() const noexcept override { return inner_->read_only(); }

 private:
  std::shared_ptr<vault::store_backend> inner_;
  mutable std::function<void()> race_;
};

class InvalidGrantRecheck : public ::testing::Test {
 protected:
  // The provider knows refresh token "rt-new" only; "rt-old" is dead.
  canned_response answer(const seen_request& r) {
    if (r.body.find("refresh_token=rt-new") != std::string::npos)
      return {200, {{"Content-Type", "application/json"}},
              R"({"access_token":"at-from-new","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-newer"})"};
    return {400, {{"Content-Type", "application/json"}}, R"({"error":"invalid_grant"})"};
  }

  void SetUp() override {
    const auto vault_path = dir_.path / "v.vault";
    vault::init_vault(vault_path, dir_.path / "v.key");
    file_store_ = std::make_unique<vault::vault_store>(vault_path, dir_.path / "v.key");
    vault::add_credential(*file_store_, "s", "svc",
                          R"({"type":"oauth","clientId":"app","grantType":"authorization_code","refreshToken":"rt-old",
                              "allowHttpEndpoints":true,"hosts":["api.example.com"],
                              "serviceConfiguration":{"tokenEndpoint":")" + idp_.url("/token") + R"(",
                                "authorizationEndpoint":"http://127.0.0.1:1/authorize"}})");
  }
  void TearDown() override {
    if (service_) service_->stop();
  }

  // The token service over `store`; asks once for the slot's token.
  token_outcome ask(const vault::vault_store& store) {
    service_settings settings;
    settings.client.connector = &loopback_connector();
    settings.client.allow_http_loopback = true;
    settings.client.timeout = 2000ms;
    service_ = std::make_unique<token_service>(store, clock_, settings,
                                               std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::null_sink_mt>()));
    const auto snap = store.snapshot();
    service_->adopt(*snap);
    token_request request{owner_, "", "svc", snap->find("s", "svc")->oauth, 0};
    std::promise<token_outcome> answer;
    service_->request(std::move(request), [&](token_outcome o) { answer.set_value(std::move(o)); });
    auto future = answer.get_future();
    EXPECT_EQ(future.wait_for(5s), std::future_status::ready);
    return future.get();
  }

  // What the writer past the fence stores: an expired access token with a
  // refresh token the provider knows.
  void store_newer_set() {
    vault::oauth_token_set newer;
    newer.access_token = secret(std::string("at-expired"));
    newer.expires_at = clock_.now() - 1s;
    newer.refresh_token = secret(std::string("rt-new"));
    newer.obtained_at = clock_.now();
    file_store_->modify_if([&](vault::vault_contents& contents) {
      vault::store_oauth_tokens(contents, owner_, "", newer);
      return true;
    });
  }

  vault::testing_support::temp_dir dir_;
  std::unique_ptr<vault::vault_store> file_store_;
  test_server idp_{[this](const seen_request& r) { return answer(r); }};
  fixed_clock clock_;
  std::unique_ptr<token_service> service_;
  vault::token_owner owner_ = vault::token_owner::credential("s", "svc");
};

TEST_F(InvalidGrantRecheck, ANewerRefreshTokenStoredMeanwhileIsTriedInsteadOfALogin) {
  vault::key_source key;
  key.key_file = dir_.path / "v.key";
  auto inner = std::make_shared<vault::file_backend>(dir_.path / "v.vault", key);
  const vault::vault_store store(std::make_shared<racing_backend>(inner, [this] { store_newer_set(); }));
  const auto outcome = ask(store);
  ASSERT_EQ(outcome.result, token_outcome::status::ready) << outcome.message;
  const auto requests = idp_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_NE(requests[0].body.find("refresh_token=rt-old"), std::string::npos);
  EXPECT_NE(requests[1].body.find("refresh_token=rt-new"), std::string::npos);
  const auto stored = vault::load_oauth_tokens(file_store_->read(), owner_, "");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->refresh_token.view(), "rt-newer");  // the rotated result is what the row holds now
}

TEST_F(InvalidGrantRecheck, TheSameRefreshTokenStillStoredMeansALoginIsNeeded) {
  const auto outcome = ask(*file_store_);
  EXPECT_EQ(outcome.result, token_outcome::status::missing);
  EXPECT_NE(outcome.message.find("credproxy oauth login"), std::string::npos) << outcome.message;
  EXPECT_EQ(idp_.requests().size(), 1u);  // refused once, never presented again
}

}  // namespace
}  // namespace credproxy::oauth
