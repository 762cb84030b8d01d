#pragma once
// Shared by the admin unit tests: a real vault in a temp dir behind the
// API, an admin token, a snapshot holder kept current by a vault_watcher,
// and reply helpers that check the SPEC §4 error shape and that no canary
// ever appears in a reply.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>

#include <boost/json.hpp>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include "admin/api.hpp"
#include "admin/vault_watcher.hpp"
#include "vault/snapshot_holder.hpp"
#include "vault/store.hpp"
#include "vault/token_ops.hpp"

#include "tests/unit/vault_ops_support.hpp"

namespace credproxy::admin::testing_support {

// A logger whose lines the test can read.
struct captured_log {
  std::shared_ptr<std::ostringstream> out = std::make_shared<std::ostringstream>();
  std::shared_ptr<spdlog::logger> logger = [this] {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*out);
    auto log = std::make_shared<spdlog::logger>("test", sink);
    log->set_pattern("%l %v");
    log->set_level(spdlog::level::debug);
    return log;
  }();
  std::string text() const { return out->str(); }
  std::size_t count(std::string_view needle) const {
    const auto all = text();
    std::size_t n = 0;
    for (auto pos = all.find(needle); pos != std::string::npos; pos = all.find(needle, pos + 1)) ++n;
    return n;
  }
};

inline std::string text(const proxy::admin_reply& r) { return std::string(r.body.data(), r.body.size()); }
inline boost::json::value json(const proxy::admin_reply& r) { return boost::json::parse(text(r)); }
inline std::string header(const proxy::admin_reply& r, std::string_view name) {
  for (const auto& [n, v] : r.headers)
    if (n == name) return v;
  return "(absent)";
}
inline std::string message(const proxy::admin_reply& r) { return std::string(json(r).at("message").as_string()); }

// SPEC §4: Credproxy-Error (error_code), {"error": code, "message": text}.
inline void expect_error(const proxy::admin_reply& r, unsigned status, std::string_view code) {
  EXPECT_EQ(r.status, status) << text(r);
  EXPECT_EQ(r.error_code, code);
  const auto body = json(r);
  EXPECT_EQ(std::string(body.at("error").as_string()), code);
  EXPECT_TRUE(body.at("message").is_string());
  EXPECT_FALSE(body.at("message").as_string().empty());
}

class api_fixture : public ::testing::Test {
 protected:
  void SetUp() override {
    vault::init_vault(vault_path(), key_path());
    store_ = std::make_unique<vault::vault_store>(vault_path(), key_path());
    token_ = std::string(vault::create_admin_token(*store_, "tests").token.view());
    holder_.publish(store_->snapshot());
    watcher_ = std::make_unique<vault_watcher>(*store_, holder_, log_.logger);
    api_context context;
    context.store = store_.get();
    context.snapshot = [this] { return holder_.load(); };
    context.after_write = [this] {
      ++after_writes_;
      watcher_->poll();
    };
    context.log = log_.logger;
    api_ = std::make_unique<api>(std::move(context));
  }

  std::filesystem::path vault_path() const { return dir_.path / "credproxy.vault"; }
  std::filesystem::path key_path() const { return dir_.path / "credproxy.key"; }
  const vault::vault_store& store() const { return *store_; }
  std::string bearer() const { return "Bearer " + token_; }

  proxy::admin_reply send(std::string method, std::string target, std::string_view body = {},
                          std::optional<std::string> authorization = std::nullopt,
                          std::string content_type = "application/json") {
    proxy::admin_request request;
    request.method = std::move(method);
    request.target = std::move(target);
    const auto auth = authorization.value_or(bearer());
    request.authorization.assign(auth.data(), auth.size());
    if (!body.empty()) request.content_type = std::move(content_type);
    request.body.assign(body.data(), body.size());
    auto reply = api_->handle(request);
    // No secret of any kind, in any reply, ever.
    EXPECT_THAT(text(reply), ::testing::Not(::testing::HasSubstr("CANARY"))) << request.target;
    for (const auto& [name, value] : reply.headers) EXPECT_THAT(value, ::testing::Not(::testing::HasSubstr("CANARY")));
    EXPECT_THAT(log_.text(), ::testing::Not(::testing::HasSubstr("CANARY")));
    if (!reply.body.empty()) {
      boost::system::error_code ec;
      boost::json::parse(text(reply), ec);
      EXPECT_FALSE(ec) << "reply body is not JSON: " << text(reply);
    }
    return reply;
  }

  // Flips one ciphertext byte (a different one each time: flipping the
  // same twice would repair it) and replaces the file by rename, as
  // writers do: the GCM tag no longer matches.
  void corrupt_vault() {
    std::string bytes;
    {
      std::ifstream in(vault_path(), std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    bytes[bytes.size() / 2 + corruptions_++] ^= 0x40;
    replace_vault(bytes);
  }

  // A new 0600 file renamed over the vault, as writers do.
  void replace_vault(const std::string& bytes) const {
    const auto tmp = dir_.path / "replace.tmp";
    std::ofstream(tmp, std::ios::binary | std::ios::trunc) << bytes;
    std::filesystem::permissions(tmp, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    std::filesystem::rename(tmp, vault_path());
  }

  vault::testing_support::temp_dir dir_;
  captured_log log_;
  std::unique_ptr<vault::vault_store> store_;
  vault::snapshot_holder holder_{nullptr};
  std::unique_ptr<vault_watcher> watcher_;
  std::unique_ptr<api> api_;
  std::string token_;
  int after_writes_ = 0;
  std::size_t corruptions_ = 0;
};

}  // namespace credproxy::admin::testing_support
