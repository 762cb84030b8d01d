#include "tests/support/checks.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <sstream>

namespace credproxy::test {

::testing::AssertionResult is_proxy_error(unsigned status, const header_list& headers, const std::string& body,
                                          unsigned want_status, std::string_view code,
                                          std::optional<std::string_view> key) {
  auto fail = [&](const std::string& why) {
    return ::testing::AssertionFailure() << why << "\n  status: " << status << "\n  body: " << body;
  };
  if (status != want_status) return fail("status is not " + std::to_string(want_status));
  const auto header = find_header(headers, "Credproxy-Error");
  if (!header) return fail("no Credproxy-Error header");
  if (*header != code) return fail("Credproxy-Error is '" + *header + "', want '" + std::string(code) + "'");
  boost::system::error_code ec;
  const auto json = boost::json::parse(body, ec);
  if (ec || !json.is_object()) return fail("body is not a JSON object");
  const auto& o = json.as_object();
  const auto* error = o.if_contains("error");
  if (!error || !error->is_string() || error->as_string() != code) return fail("JSON \"error\" is not the code");
  const auto* message = o.if_contains("message");
  if (!message || !message->is_string() || message->as_string().empty()) return fail("JSON \"message\" missing/empty");
  if (key) {
    const auto* k = o.if_contains("key");
    if (!k || !k->is_string() || k->as_string() != *key) return fail("JSON \"key\" is not '" + std::string(*key) + "'");
  }
  return ::testing::AssertionSuccess();
}

bool has_placeholder(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower.find("{{cred:") != std::string::npos || lower.find("%7b%7bcred") != std::string::npos;
}

::testing::AssertionResult no_placeholder_reached(const recorded_request& request) {
  if (has_placeholder(request.target)) {
    return ::testing::AssertionFailure() << "placeholder in upstream target: " << request.target;
  }
  for (const auto& [name, value] : request.headers) {
    if (has_placeholder(value)) {
      return ::testing::AssertionFailure() << "placeholder in upstream header " << name << ": " << value;
    }
  }
  return ::testing::AssertionSuccess();
}

std::vector<std::string> lines_with(const std::string& log, const std::vector<std::string>& parts) {
  std::vector<std::string> found;
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    bool all = true;
    for (const auto& p : parts) all = all && line.find(p) != std::string::npos;
    if (all) found.push_back(line);
  }
  return found;
}

::testing::AssertionResult upstream_untouched(const fake_upstream& upstream) {
  if (upstream.bytes_received() == 0 && upstream.request_count() == 0) return ::testing::AssertionSuccess();
  auto failure = ::testing::AssertionFailure() << "upstream received " << upstream.bytes_received() << " bytes, "
                                               << upstream.request_count() << " request(s)";
  for (const auto& r : upstream.requests()) failure << "\n  " << r.method << " " << r.target;
  return failure;
}

}  // namespace credproxy::test
