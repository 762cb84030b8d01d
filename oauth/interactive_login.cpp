#include "oauth/interactive_login.hpp"

#include <algorithm>
#include <array>
#include <thread>

#include <boost/url/parse.hpp>

#include "oauth/loopback_redirect.hpp"
#include "oauth/wire_format.hpp"

namespace credproxy::oauth {

namespace {

using steady = std::chrono::steady_clock;

void append_query(std::string& url, std::string_view name, std::string_view value) {
  secure_chars pair;
  append_form_field(pair, name, value);
  url += url.find('?') == std::string::npos ? '?' : '&';
  url.append(pair.data(), pair.size());
}

bool reserved_authorization_parameter(std::string_view name) {
  static constexpr std::array<std::string_view, 7> names = {
      "response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method"};
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string seconds_text(std::chrono::seconds s) { return std::to_string(s.count()) + " s"; }

// Sleeps `interval`, but never past `deadline`; false when the deadline came first.
bool sleep_until_next_poll(std::chrono::seconds interval, steady::time_point deadline) {
  const auto wake = steady::now() + interval;
  std::this_thread::sleep_until(std::min(wake, deadline));
  return wake < deadline;
}

}  // namespace

redirect_plan plan_redirect(const std::string& redirect_url) {
  redirect_plan plan;
  const auto parsed = boost::urls::parse_absolute_uri(redirect_url);
  if (!parsed || parsed->scheme_id() != boost::urls::scheme::http || parsed->has_userinfo()) return plan;
  const auto& u = *parsed;
  std::string bind;
  if (u.host_type() == boost::urls::host_type::ipv4 && u.host_address() == "127.0.0.1") {
    bind = "127.0.0.1";
  } else if (u.host_type() == boost::urls::host_type::ipv6 && u.host_address() == "::1") {
    bind = "::1";
  } else if (u.host_type() == boost::urls::host_type::name && u.host_name() == "localhost") {
    bind = "127.0.0.1";
  } else {
    return plan;
  }
  plan.bind_address = bind;
  plan.host = std::string(u.encoded_host());
  plan.port = u.has_port() ? u.port_number() : 0;
  plan.path = u.path().empty() ? std::string("/") : u.path();
  plan.from_document = true;
  return plan;
}

std::string redirect_uri_for(const redirect_plan& plan, std::uint16_t actual_port) {
  return "http://" + plan.host + ":" + std::to_string(actual_port) + plan.path;
}

std::string authorization_url(const vault::oauth_client& client, const std::string& authorization_endpoint,
                              const std::string& redirect_uri, std::string_view state,
                              std::string_view code_challenge) {
  std::string url = authorization_endpoint;
  append_query(url, "response_type", "code");
  append_query(url, "client_id", client.client_id);
  append_query(url, "redirect_uri", redirect_uri);
  std::string scope;
  for (const auto& s : client.scopes) scope += (scope.empty() ? "" : " ") + s;
  if (!scope.empty()) append_query(url, "scope", scope);
  append_query(url, "state", state);
  if (!code_challenge.empty()) {
    append_query(url, "code_challenge", code_challenge);
    append_query(url, "code_challenge_method", "S256");
  }
  for (const auto& [name, value] : client.additional_parameters)
    if (!reserved_authorization_parameter(name)) append_query(url, name, value);
  return url;
}

vault::oauth_token_set login_with_browser(const vault::oauth_client& client, const login_settings& settings) {
  const auto& endpoints = settings.endpoints;
  if (endpoints.authorization_endpoint.empty())
    throw login_error("the provider has no authorization endpoint: sign in with --device instead");
  std::string why;
  if (!endpoint_url_allowed(endpoints.authorization_endpoint, client.allow_http_endpoints, why))
    throw login_error("authorization endpoint " + why);

  const auto plan = plan_redirect(client.redirect_url);
  std::unique_ptr<loopback_redirect> listener;
  try {
    listener = std::make_unique<loopback_redirect>(plan.bind_address, plan.port, plan.path);
  } catch (const std::runtime_error& e) {
    throw login_error(std::string("cannot receive the sign-in redirect: ") + e.what());
  }
  const auto redirect_uri = redirect_uri_for(plan, listener->port());
  if (!plan.from_document && !client.redirect_url.empty())
    settings.note("redirectUrl " + display_url(client.redirect_url) + " is not a loopback http:// URL; using " +
                  redirect_uri + " instead (RFC 8252 §7.3: the provider must allow any port on it)");

  const auto state = make_code_verifier();
  const auto verifier = client.use_pkce ? make_code_verifier() : secret();
  const auto challenge = client.use_pkce ? code_challenge_s256(verifier) : std::string();
  settings.show("Open this URL to sign in: " +
                authorization_url(client, endpoints.authorization_endpoint, redirect_uri, state.view(), challenge));

  auto outcome = listener->wait(state, settings.wait);
  listener.reset();
  switch (outcome.result) {
    case redirect_outcome::status::timed_out:
      throw login_error("no sign-in response arrived within " + seconds_text(settings.wait));
    case redirect_outcome::status::error:
      throw login_error("the provider refused the sign-in: " + outcome.error);
    case redirect_outcome::status::code:
      break;
  }
  const auto response = exchange_authorization_code(client, endpoints.token_endpoint, outcome.code, verifier,
                                                    redirect_uri, std::chrono::system_clock::now(), settings.options);
  if (response.result != token_response::status::ok)
    throw login_error("the token endpoint did not accept the authorization code: " + response.detail);
  return response.tokens;
}

vault::oauth_token_set login_with_device(const vault::oauth_client& client, const login_settings& settings) {
  const auto& endpoints = settings.endpoints;
  if (endpoints.device_authorization_endpoint.empty())
    throw login_error("the provider has no device authorization endpoint (RFC 8628)");
  const auto started = steady::now();
  auto device = start_device_authorization(client, endpoints.device_authorization_endpoint, settings.options);
  if (!device.ok) throw login_error(device.error);

  settings.show("To sign in, visit " + device.verification_uri + " and enter the code " + device.user_code);
  if (!device.verification_uri_complete.empty())
    settings.show("(or open " + device.verification_uri_complete + ")");

  const auto limit = std::min(std::chrono::duration_cast<std::chrono::seconds>(device.expires_in), settings.wait);
  const auto deadline = started + limit;
  auto interval = device.interval;
  bool told_unavailable = false;
  while (sleep_until_next_poll(interval, deadline)) {
    auto response =
        poll_device_token(client, endpoints.token_endpoint, device.device_code, std::chrono::system_clock::now(),
                          settings.options);
    using status = token_response::status;
    switch (response.result) {
      case status::ok:
        return std::move(response.tokens);
      case status::authorization_pending:
        break;
      case status::slow_down:
        interval += std::chrono::seconds(5);  // RFC 8628 §3.5
        break;
      case status::retry_later:
        if (response.retry_after) interval = std::max(interval, *response.retry_after);
        if (!told_unavailable) settings.note("the token endpoint did not answer (" + response.detail + "); still waiting");
        told_unavailable = true;
        break;
      case status::access_denied:
        throw login_error("the sign-in was denied");
      case status::expired_token:
        throw login_error("the device code expired before the sign-in completed");
      case status::invalid_grant:
      case status::rejected:
        throw login_error("the token endpoint refused the device sign-in: " + response.detail);
    }
  }
  throw login_error("the sign-in did not complete within " + seconds_text(limit));
}

}  // namespace credproxy::oauth
