#pragma once
// Shared by the policy unit tests: credentials and snapshots built in
// memory, the way vault::snapshot_builder would leave them.
#include <gtest/gtest.h>

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "oauth/token_source.hpp"
#include "vault/credential.hpp"

namespace credproxy::proxy::testing_support {

// A credential of `type` bound to `hosts` (host_pattern syntax), no secrets.
inline vault::credential make_credential(std::string key, vault::credential_type type,
                                         std::initializer_list<std::string_view> hosts) {
  vault::credential c;
  c.key = std::move(key);
  c.type = type;
  for (auto host : hosts) {
    vault::host_pattern pattern;
    std::string error;
    EXPECT_TRUE(vault::host_pattern::parse(host, pattern, error)) << error;
    c.hosts.push_back(std::move(pattern));
  }
  return c;
}

inline vault::credential make_api_key(std::string key, std::string_view value,
                                      std::initializer_list<std::string_view> hosts) {
  auto c = make_credential(std::move(key), vault::credential_type::api_key, hosts);
  c.secret_value = secret(value);
  return c;
}

inline vault::credential make_basic(std::string key, std::string_view username, std::string_view password,
                                    std::initializer_list<std::string_view> hosts) {
  auto c = make_credential(std::move(key), vault::credential_type::basic, hosts);
  c.username = std::string(username);
  c.password = secret(password);
  return c;
}

// An `oauth` credential (or, with `alias`, an `oauth_alias` of that
// organization configuration) with its own client of `grant_type`.
inline vault::credential make_oauth(std::string key, std::string grant_type,
                                    std::initializer_list<std::string_view> hosts, std::string alias = {}) {
  auto c = make_credential(std::move(key),
                           alias.empty() ? vault::credential_type::oauth : vault::credential_type::oauth_alias, hosts);
  auto client = std::make_shared<vault::oauth_client>();
  client->client_id = "app";
  client->grant_type = std::move(grant_type);
  c.oauth = std::move(client);
  c.alias = std::move(alias);
  return c;
}

inline void add_credential(vault::snapshot& vault, std::string_view solution, vault::credential c) {
  auto& credentials = vault.solutions[std::string(solution)].credentials;
  const std::string key = c.key;
  credentials.insert_or_assign(key, std::move(c));
}

// Publishes `token` for a slot, as the token source would.
inline void put_token(oauth::token_table& table, const vault::token_owner& owner, std::string_view user,
                      std::string_view token, std::optional<oauth::time_point> expires, std::uint64_t serial) {
  auto cached = std::make_shared<oauth::cached_token>();
  cached->access_token = secret(token);
  cached->expires_at = expires;
  cached->serial = serial;
  table.by_slot[vault::token_slot_id(owner, user)] = std::move(cached);
}

}  // namespace credproxy::proxy::testing_support
