#pragma once
// Assertions the integration tests share, as gtest predicates so a failure
// says what was received instead of just "false".
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/fake_upstream.hpp"

namespace credproxy::test {

// The proxy's own error shape (SPEC §4): `want_status`, header
// `Credproxy-Error: code`, JSON body {"error": code, "message": non-empty
// string, "key": key (checked when given)}.
::testing::AssertionResult is_proxy_error(unsigned status, const header_list& headers, const std::string& body,
                                          unsigned want_status, std::string_view code,
                                          std::optional<std::string_view> key = std::nullopt);

template <typename Response>
::testing::AssertionResult is_proxy_error(const Response& r, unsigned want_status, std::string_view code,
                                          std::optional<std::string_view> key = std::nullopt) {
  return is_proxy_error(r.status, r.headers, r.body, want_status, code, key);
}

// True when the text holds a placeholder in any form the proxy recognizes
// ("{{cred:" or percent-encoded "%7B%7Bcred:", any case).
bool has_placeholder(std::string_view text);

// Fails when the request's target or any header carries a placeholder.
::testing::AssertionResult no_placeholder_reached(const recorded_request& request);

// Lines of `log` that contain every one of `parts`.
std::vector<std::string> lines_with(const std::string& log, const std::vector<std::string>& parts);

// Fails when anything at all reached the upstream.
::testing::AssertionResult upstream_untouched(const fake_upstream& upstream);

}  // namespace credproxy::test
