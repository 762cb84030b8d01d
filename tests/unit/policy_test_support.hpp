#pragma once
// Shared by the policy unit tests: credentials and snapshots built in
// memory, the way vault::snapshot_builder would leave them.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

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

}  // namespace credproxy::proxy::testing_support
