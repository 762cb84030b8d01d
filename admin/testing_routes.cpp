// POST /v1/testing/clock: moves the proxy's token clock forward, so
// integration tests exercise expiry, proactive refresh and backoff without
// sleeping. Exists only with the test-only `testing.adjustable_clock: true`;
// otherwise the route answers 404 like any unknown one.
#include <boost/json/parse.hpp>

#include "admin/route_support.hpp"

namespace credproxy::admin {

namespace {

proxy::admin_reply advance_clock(const call& c) {
  if (!c.context.advance_clock) throw api_error(error_code::not_found, "no such route (testing.adjustable_clock is off)");
  boost::system::error_code ec;
  const auto body = boost::json::parse(body_of(c), ec);
  const auto* seconds = !ec && body.is_object() ? body.get_object().if_contains("advanceSeconds") : nullptr;
  if (seconds == nullptr || !seconds->is_int64() || seconds->get_int64() < 0 || seconds->get_int64() > 10 * 365 * 86400)
    throw api_error(error_code::bad_request, R"(expected {"advanceSeconds": N} with 0 <= N <= 315360000)");
  const std::string now = c.context.advance_clock(std::chrono::seconds(seconds->get_int64()));
  return json_reply(200, {{"now", now}});
}

}  // namespace

std::vector<route> testing_routes() { return {{"POST", {"v1", "testing", "clock"}, advance_clock}}; }

}  // namespace credproxy::admin
