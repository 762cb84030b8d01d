#include <gtest/gtest.h>

#include <openssl/evp.h>

#include <string>
#include <vector>

#include "proxy/policy/proxy_auth.hpp"
#include "vault/access_token.hpp"

namespace credproxy::proxy {
namespace {

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

class proxy_auth_test : public ::testing::Test {
 protected:
  proxy_auth_test() {
    token_a_ = vault::generate_access_token(vault::token_kind::proxy);
    snap_.solutions["alpha"].proxy_tokens[token_a_.id] = token_a_.digest;
    snap_.solutions["beta"];  // exists, has no tokens
  }

  std::variant<std::string_view, proxy_error> resolve(std::vector<std::string> values, bool loopback = false,
                                                      std::string_view default_solution = "default") {
    values_ = std::move(values);
    fields_.clear();
    for (const auto& v : values_) fields_.push_back({http::field::proxy_authorization, "Proxy-Authorization", v});
    return resolve_solution(fields_, snap_, client_identity{default_solution, loopback});
  }

  std::string basic(std::string_view solution, std::string_view token) {
    return "Basic " + base64(std::string(solution) + ":" + std::string(token));
  }

  static std::string_view solution_of(const std::variant<std::string_view, proxy_error>& r) {
    return std::holds_alternative<std::string_view>(r) ? std::get<std::string_view>(r) : "<error>";
  }
  static std::string error_of(const std::variant<std::string_view, proxy_error>& r) {
    if (const auto* e = std::get_if<proxy_error>(&r)) {
      EXPECT_EQ(e->code, error_code::proxy_auth_required);
      return e->message;
    }
    return "<ok>";
  }

  vault::snapshot snap_;
  vault::new_access_token token_a_;
  std::vector<std::string> values_;
  std::vector<parsed_field> fields_;
};

TEST_F(proxy_auth_test, valid_basic_token_selects_its_solution) {
  EXPECT_EQ(solution_of(resolve({basic("alpha", token_a_.text.view())})), "alpha");
  // The scheme is case-insensitive (RFC 9110 §11.1).
  EXPECT_EQ(solution_of(resolve({"bAsIc " + base64("alpha:" + std::string(token_a_.text.view()))})), "alpha");
}

TEST_F(proxy_auth_test, no_header_uses_default_solution_only_on_loopback) {
  EXPECT_EQ(solution_of(resolve({}, true)), "default");
  EXPECT_NE(error_of(resolve({}, false)), "<ok>");
  EXPECT_NE(error_of(resolve({}, true, "")), "<ok>");
}

TEST_F(proxy_auth_test, wrong_header_is_refused_even_on_loopback) {
  EXPECT_NE(error_of(resolve({basic("alpha", "cpt_000000000000_wrong")}, true)), "<ok>");
}

TEST_F(proxy_auth_test, token_of_one_solution_does_not_open_another) {
  const auto other = error_of(resolve({basic("beta", token_a_.text.view())}));
  const auto unknown = error_of(resolve({basic("nosuch", token_a_.text.view())}));
  // Same words whether the solution exists or not: nothing to probe.
  EXPECT_EQ(other, unknown);
  EXPECT_NE(other, "<ok>");
}

TEST_F(proxy_auth_test, tampered_token_is_refused) {
  std::string t(token_a_.text.view());
  t.back() = t.back() == 'A' ? 'B' : 'A';
  EXPECT_NE(error_of(resolve({basic("alpha", t)})), "<ok>");
}

TEST_F(proxy_auth_test, malformed_headers_are_refused_without_echoing_them) {
  const std::string tok(token_a_.text.view());
  for (const std::string& v : {std::string("Bearer ") + tok, std::string("Basic"), std::string("Basic !!!!"),
                               "Basic " + base64("alpha" + tok), "Basic " + base64("alpha:" + tok).substr(1),
                               "Basic " + std::string(600, 'A')}) {
    const auto message = error_of(resolve({v}));
    EXPECT_NE(message, "<ok>") << v;
    EXPECT_EQ(message.find(tok), std::string::npos);
  }
}

TEST_F(proxy_auth_test, two_headers_are_refused) {
  const auto b = basic("alpha", token_a_.text.view());
  EXPECT_NE(error_of(resolve({b, b})), "<ok>");
}

}  // namespace
}  // namespace credproxy::proxy
