#include "tests/support/fake_idp.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <variant>

#include "tests/support/util.hpp"

namespace credproxy::test {
namespace json = boost::json;

namespace {
using sys_clock = std::chrono::system_clock;
using steady = std::chrono::steady_clock;
using params = std::map<std::string, std::string>;

constexpr std::string_view device_grant = "urn:ietf:params:oauth:grant-type:device_code";
constexpr auto device_lifetime = std::chrono::seconds(600);
constexpr auto device_interval = std::chrono::seconds(1);
// slow_down only below 80% of the interval: a client that waits the interval
// after each answer never trips it, however the scheduler jitters.
constexpr auto slow_down_below = std::chrono::milliseconds(800);
constexpr auto code_lifetime = std::chrono::seconds(600);

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::string base64url(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  std::replace(out.begin(), out.end(), '+', '-');
  std::replace(out.begin(), out.end(), '/', '_');
  return out;
}

// Standard alphabet with padding, as in "Authorization: Basic"; strict.
std::optional<std::string> base64_decode(std::string_view in) {
  if (in.empty() || in.size() % 4 != 0) return std::nullopt;
  const std::size_t pad = in.ends_with("==") ? 2 : in.ends_with("=") ? 1 : 0;
  for (std::size_t i = 0; i < in.size() - pad; ++i) {
    const char c = in[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/') return std::nullopt;
  }
  std::string out(in.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (n < 0) return std::nullopt;
  out.resize(static_cast<std::size_t>(n) - pad);  // EVP_DecodeBlock counts padding as zero bytes
  return out;
}

void random_bytes(unsigned char* out, std::size_t size) {
  if (RAND_bytes(out, static_cast<int>(size)) != 1) throw std::runtime_error("RAND_bytes failed");
}

std::string random_token(std::string_view prefix) {
  unsigned char bytes[24];
  random_bytes(bytes, sizeof bytes);
  return std::string(prefix) + base64url(bytes, sizeof bytes);
}

// RFC 8628 §6.1: consonants only, so no words and nothing to confuse.
std::string new_user_code() {
  static constexpr std::string_view letters = "BCDFGHJKLMNPQRSTVWXZ";
  unsigned char bytes[8];
  random_bytes(bytes, sizeof bytes);
  std::string code;
  for (unsigned char b : bytes) code += letters[b % letters.size()];
  return code;
}

// Users type codes in any case and with the dash some UIs show.
std::string normalize_user_code(std::string_view code) {
  std::string out;
  for (char c : code) {
    if (c != '-' && c != ' ') out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string pkce_s256(std::string_view verifier) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(verifier.data(), verifier.size(), digest, &size, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("EVP_Digest failed");
  }
  return base64url(digest, size);
}

// RFC 7636 §4.1: 43..128 characters of [A-Za-z0-9-._~] (a challenge is checked the same way).
bool pkce_syntax_ok(std::string_view s) {
  if (s.size() < 43 || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == '~';
  });
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded: '+' is a space, %XX a byte. A broken
// escape is an error, not a literal, so sloppy encoders get caught.
std::optional<std::string> form_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// nullopt on a broken escape or a repeated name (RFC 6749 §3.1: parameters
// MUST NOT repeat). Empty values count as omitted, as §3.1 also says.
std::optional<params> parse_form(std::string_view s) {
  params out;
  while (!s.empty()) {
    const auto amp = s.find('&');
    const auto pair = s.substr(0, amp);
    s = amp == std::string_view::npos ? std::string_view{} : s.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto name = form_decode(pair.substr(0, eq));
    auto value = form_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (!name || !value || !out.emplace(std::move(*name), std::move(*value)).second) return std::nullopt;
  }
  std::erase_if(out, [](const auto& p) { return p.second.empty(); });
  return out;
}

std::optional<std::string> get(const params& p, const std::string& name) {
  const auto it = p.find(name);
  if (it == p.end()) return std::nullopt;
  return it->second;
}

std::set<std::string> split_scope(std::string_view scope) {
  std::set<std::string> out;
  std::istringstream in{std::string(scope)};
  for (std::string s; in >> s;) out.insert(s);
  return out;
}

bool is_form(const recorded_request& req) {
  const auto type = req.header("Content-Type");
  if (!type) return false;
  std::string_view media(*type);
  media = media.substr(0, media.find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  return iequals(media, "application/x-www-form-urlencoded");
}

response_spec json_response(unsigned status, const json::object& body) {
  response_spec r;
  // Token answers MUST NOT be cached (RFC 6749 §5.1); errors get the same.
  r.with_status(status)
      .with_header("Content-Type", "application/json")
      .with_header("Cache-Control", "no-store")
      .with_header("Pragma", "no-cache")
      .with_body(json::serialize(body));
  return r;
}

response_spec oauth_error(unsigned status, std::string_view code, std::string_view description = {}) {
  json::object body{{"error", code}};
  if (!description.empty()) body["error_description"] = description;
  return json_response(status, body);
}

response_spec invalid_client(std::string_view description) {
  // RFC 6749 §5.2: 401 with a challenge for the scheme the client may use.
  return oauth_error(401, "invalid_client", description).with_header("WWW-Authenticate", "Basic realm=\"fake-idp\"");
}

response_spec page(unsigned status, std::string text) {
  response_spec r;
  r.with_status(status).with_header("Content-Type", "text/plain").with_body(std::move(text) + "\n");
  return r;
}

// Adds query parameters to a redirect URI that may already have a query.
std::string with_query(const std::string& uri, const std::vector<std::pair<std::string, std::string>>& extra) {
  std::string out = uri;
  char sep = uri.find('?') == std::string::npos ? '?' : '&';
  for (const auto& [name, value] : extra) {
    out += sep + name + "=" + percent_encode_all(value);
    sep = '&';
  }
  return out;
}

struct family {
  std::string client_id;
  std::string scope;
  std::string current_refresh;  // "" = none (client_credentials, or not rotating yet)
  bool revoked = false;
};

struct access_record {
  std::size_t family = 0;
  sys_clock::time_point expires;
  bool revoked = false;
};

struct refresh_record {
  std::size_t family = 0;
  bool retired = false;
  sys_clock::time_point retired_at;  // the IdP's clock, when retired
};

struct auth_code {
  std::string client_id;
  std::string redirect_uri;
  std::string challenge;  // "" = no PKCE
  std::string scope;
  sys_clock::time_point expires;
  bool used = false;
  std::optional<std::size_t> family;  // tokens it produced, revoked if it is replayed
};

struct device_auth {
  std::string client_id;
  std::string user_code;
  std::string scope;
  sys_clock::time_point expires;
  bool approved = false;
  bool used = false;
  std::optional<steady::time_point> last_poll;
};
}  // namespace

struct fake_idp::impl {
  mutable std::mutex mutex_;
  mutable std::condition_variable token_seen_;
  std::string issuer_;
  std::map<std::string, idp_client> clients_;
  std::chrono::seconds lifetime_{3600};
  bool rotate_ = true;
  std::chrono::seconds reuse_window_{0};
  sys_clock::time_point start_ = sys_clock::now();
  std::chrono::seconds offset_{0};
  std::deque<idp_failure> next_failures_;
  std::optional<idp_failure> always_;

  std::vector<family> families_;
  std::map<std::string, access_record> access_;
  std::map<std::string, refresh_record> refresh_;
  std::map<std::string, auth_code> codes_;
  std::map<std::string, device_auth> devices_;  // by device_code
  std::vector<std::string> issued_;

  std::size_t token_requests_ = 0;
  std::map<std::string, std::size_t> by_grant_;
  std::size_t discovery_ = 0;
  std::size_t revocations_ = 0;
  std::size_t reuse_ = 0;
  std::function<void(const std::string&)> token_hook_;

  // Last member: its threads call handle(), so it must stop before the rest goes.
  std::unique_ptr<fake_upstream> server_;

  sys_clock::time_point now() const { return start_ + offset_; }

  bool access_valid(const std::string& token) const {
    const auto it = access_.find(token);
    if (it == access_.end()) return false;
    const auto& rec = it->second;
    return !rec.revoked && !families_[rec.family].revoked && now() < rec.expires;
  }

  std::size_t new_family(const std::string& client_id, const std::string& scope) {
    families_.push_back(family{client_id, scope, "", false});
    return families_.size() - 1;
  }

  std::string new_refresh(std::size_t fam) {
    auto& f = families_[fam];
    if (!f.current_refresh.empty()) {
      auto& old = refresh_[f.current_refresh];
      old.retired = true;
      old.retired_at = now();
    }
    f.current_refresh = random_token("rt-");
    refresh_[f.current_refresh] = refresh_record{fam, false, {}};
    issued_.push_back(f.current_refresh);
    return f.current_refresh;
  }

  // A token answer (RFC 6749 §5.1) for this family.
  response_spec issue(std::size_t fam, bool with_refresh, const std::string& scope) {
    const std::string at = random_token("at-");
    access_[at] = access_record{fam, now() + lifetime_, false};
    issued_.push_back(at);
    json::object body{{"access_token", at}, {"token_type", "Bearer"}, {"expires_in", lifetime_.count()}};
    if (with_refresh) body["refresh_token"] = new_refresh(fam);
    if (!scope.empty()) body["scope"] = scope;
    return json_response(200, body);
  }

  // The answer is decided under the lock; the test's token hook then runs
  // without it (it may call back into fake_idp) before the answer is sent.
  response_spec handle(const recorded_request& req) {
    std::string token_grant;
    std::function<void(const std::string&)> hook;
    response_spec answer;
    {
      std::lock_guard lock(mutex_);
      answer = route(req, token_grant);
      if (!token_grant.empty()) hook = token_hook_;
    }
    if (hook) hook(token_grant);
    return answer;
  }

  // `token_grant`: set to the grant type when this was a token request.
  response_spec route(const recorded_request& req, std::string& token_grant) {
    const auto q = req.target.find('?');
    const std::string path = req.target.substr(0, q);
    const std::string query = q == std::string::npos ? "" : req.target.substr(q + 1);
    if (path == "/.well-known/openid-configuration" || path == "/.well-known/oauth-authorization-server") {
      ++discovery_;
      return req.method == "GET" ? on_discovery() : page(405, "method not allowed");
    }
    if (path == "/token") return on_token(req, token_grant);
    if (path == "/revoke") return on_revoke(req);
    if (path == "/device") return on_device(req);
    if (path == "/authorize") return req.method == "GET" ? on_authorize(query) : page(405, "method not allowed");
    if (path == "/device/verify") return req.method == "GET" ? on_verify(query) : page(405, "method not allowed");
    return page(404, "not found");
  }

  response_spec on_discovery() const {
    json::object doc{
        {"issuer", issuer_},
        {"authorization_endpoint", issuer_ + "/authorize"},
        {"token_endpoint", issuer_ + "/token"},
        {"revocation_endpoint", issuer_ + "/revoke"},
        {"device_authorization_endpoint", issuer_ + "/device"},
        {"response_types_supported", json::array{"code"}},
        {"grant_types_supported",
         json::array{"authorization_code", "refresh_token", "client_credentials", device_grant}},
        {"code_challenge_methods_supported", json::array{"S256"}},
        {"token_endpoint_auth_methods_supported", json::array{"client_secret_basic", "client_secret_post", "none"}},
        {"revocation_endpoint_auth_methods_supported",
         json::array{"client_secret_basic", "client_secret_post", "none"}},
    };
    return json_response(200, doc);
  }

  // RFC 6749 §2.3.1, enforced per client: only the method it registered;
  // a public client identifies itself with client_id and nothing else.
  std::variant<const idp_client*, response_spec> authenticate(const recorded_request& req, const params& form) const {
    std::optional<std::string> basic_id, basic_secret;
    if (const auto header = req.header("Authorization")) {
      if (!istarts_with(*header, "Basic ")) return invalid_client("unsupported Authorization scheme");
      const auto decoded = base64_decode(std::string_view(*header).substr(6));
      const auto colon = decoded ? decoded->find(':') : std::string::npos;
      if (colon == std::string::npos) return invalid_client("malformed Basic credentials");
      // The id and secret are form-urlencoded inside Basic (RFC 6749 §2.3.1).
      basic_id = form_decode(decoded->substr(0, colon));
      basic_secret = form_decode(decoded->substr(colon + 1));
      if (!basic_id || !basic_secret) return invalid_client("malformed Basic credentials");
    }
    const auto form_id = get(form, "client_id");
    const auto form_secret = get(form, "client_secret");
    if (basic_id && form_secret) {
      return oauth_error(400, "invalid_request", "more than one client authentication method");
    }
    if (basic_id && form_id && *form_id != *basic_id) return invalid_client("client_id differs from Basic user");
    const std::string id = basic_id ? *basic_id : form_id.value_or("");
    const auto it = clients_.find(id);
    if (it == clients_.end()) return invalid_client("unknown client");
    const idp_client& client = it->second;
    if (client.secret.empty()) {
      if (basic_id || form_secret) return invalid_client("public client must not authenticate");
      return &client;
    }
    if (client.auth_method == "client_secret_basic") {
      if (!basic_id || *basic_secret != client.secret) return invalid_client("client_secret_basic required");
      return &client;
    }
    if (client.auth_method == "client_secret_post") {
      if (basic_id || !form_secret || *form_secret != client.secret) {
        return invalid_client("client_secret_post required");
      }
      return &client;
    }
    return invalid_client("client auth method not supported");
  }

  std::optional<response_spec> injected_failure() {
    std::optional<idp_failure> f;
    if (!next_failures_.empty()) {
      f = next_failures_.front();
      next_failures_.pop_front();
    } else {
      f = always_;
    }
    if (!f) return std::nullopt;
    switch (f->what) {
      case idp_failure::kind::http_500:
        return oauth_error(500, "server_error");
      case idp_failure::kind::http_429: {
        response_spec r = oauth_error(429, "temporarily_unavailable");
        if (f->retry_after_s > 0) r.with_header("Retry-After", std::to_string(f->retry_after_s));
        return r;
      }
      case idp_failure::kind::hang:
        return response_spec{}.silent();
      case idp_failure::kind::invalid_grant:
        return oauth_error(400, "invalid_grant");
      case idp_failure::kind::malformed:
        return response_spec{}
            .with_header("Content-Type", "application/json")
            .with_header("Cache-Control", "no-store")
            .with_body("<html><body>502 Bad Gateway</body></html>");
    }
    return std::nullopt;
  }

  response_spec on_token(const recorded_request& req, std::string& grant_out) {
    const auto form = parse_form(req.body);
    const std::string grant = form ? get(*form, "grant_type").value_or("") : "";
    grant_out = grant.empty() ? "(none)" : grant;
    ++token_requests_;
    ++by_grant_[grant];
    token_seen_.notify_all();
    if (auto failure = injected_failure()) return *failure;

    if (req.method != "POST") return oauth_error(405, "invalid_request", "POST required");
    if (!is_form(req)) return oauth_error(400, "invalid_request", "application/x-www-form-urlencoded required");
    if (!form) return oauth_error(400, "invalid_request", "malformed or repeated parameters");
    auto auth = authenticate(req, *form);
    if (auto* error = std::get_if<response_spec>(&auth)) return *error;
    const idp_client& client = *std::get<const idp_client*>(auth);

    if (grant.empty()) return oauth_error(400, "invalid_request", "grant_type missing");
    if (grant == "client_credentials") return client_credentials(client, *form);
    if (grant == "refresh_token") return refresh(client, *form);
    if (grant == "authorization_code") return exchange_code(client, *form);
    if (grant == device_grant) return poll_device(client, *form);
    return oauth_error(400, "unsupported_grant_type");
  }

  response_spec client_credentials(const idp_client& client, const params& form) {
    if (client.secret.empty()) return oauth_error(400, "unauthorized_client", "public clients cannot");
    const std::string scope = get(form, "scope").value_or("");
    return issue(new_family(client.id, scope), false, scope);
  }

  response_spec refresh(const idp_client& client, const params& form) {
    const auto token = get(form, "refresh_token");
    if (!token) return oauth_error(400, "invalid_request", "refresh_token missing");
    const auto it = refresh_.find(*token);
    if (it == refresh_.end()) return oauth_error(400, "invalid_grant", "unknown refresh token");
    family& fam = families_[it->second.family];
    if (fam.client_id != client.id) return oauth_error(400, "invalid_grant", "refresh token of another client");
    const bool in_window =
        it->second.retired && reuse_window_.count() > 0 && now() - it->second.retired_at <= reuse_window_;
    if (it->second.retired && !in_window) {
      // RFC 9700 §4.14.2: a replayed rotated token means one copy leaked;
      // which holder is legitimate is unknown, so the whole family goes.
      ++reuse_;
      fam.revoked = true;
      return oauth_error(400, "invalid_grant", "refresh token reused; family revoked");
    }
    if (fam.revoked) return oauth_error(400, "invalid_grant", "refresh token revoked");
    std::string scope = fam.scope;
    if (const auto asked = get(form, "scope")) {
      const auto granted = split_scope(fam.scope);
      for (const auto& s : split_scope(*asked)) {
        if (!granted.contains(s)) return oauth_error(400, "invalid_scope", "scope exceeds the original grant");
      }
      scope = *asked;
    }
    return issue(it->second.family, rotate_, scope);
  }

  response_spec exchange_code(const idp_client& client, const params& form) {
    const auto code = get(form, "code");
    if (!code) return oauth_error(400, "invalid_request", "code missing");
    const auto it = codes_.find(*code);
    if (it == codes_.end()) return oauth_error(400, "invalid_grant", "unknown code");
    auth_code& c = it->second;
    if (c.client_id != client.id) return oauth_error(400, "invalid_grant", "code of another client");
    if (c.used) {
      // RFC 6749 §4.1.2: a replayed code revokes what it produced.
      if (c.family) families_[*c.family].revoked = true;
      return oauth_error(400, "invalid_grant", "code already used");
    }
    c.used = true;  // any attempt consumes it, as real providers do
    if (now() >= c.expires) return oauth_error(400, "invalid_grant", "code expired");
    if (get(form, "redirect_uri") != c.redirect_uri) return oauth_error(400, "invalid_grant", "redirect_uri mismatch");
    const auto verifier = get(form, "code_verifier");
    if (c.challenge.empty()) {
      // RFC 9700 §2.1.1: a verifier without a challenge is a PKCE downgrade.
      if (verifier) return oauth_error(400, "invalid_grant", "code_verifier without code_challenge");
    } else if (!verifier || !pkce_syntax_ok(*verifier) || pkce_s256(*verifier) != c.challenge) {
      return oauth_error(400, "invalid_grant", "PKCE verification failed");
    }
    c.family = new_family(client.id, c.scope);
    return issue(*c.family, true, c.scope);
  }

  response_spec poll_device(const idp_client& client, const params& form) {
    const auto code = get(form, "device_code");
    if (!code) return oauth_error(400, "invalid_request", "device_code missing");
    const auto it = devices_.find(*code);
    if (it == devices_.end()) return oauth_error(400, "invalid_grant", "unknown device_code");
    device_auth& d = it->second;
    if (d.client_id != client.id) return oauth_error(400, "invalid_grant", "device_code of another client");
    if (d.used) return oauth_error(400, "invalid_grant", "device_code already used");
    if (now() >= d.expires) return oauth_error(400, "expired_token");
    if (!d.approved) {
      // Only pending polls are rate-checked, by real time: approval is
      // answered at once, so tests need not wait an interval.
      const auto t = steady::now();
      const bool too_fast = d.last_poll && t - *d.last_poll < slow_down_below;
      d.last_poll = t;
      return oauth_error(400, too_fast ? "slow_down" : "authorization_pending");
    }
    d.used = true;
    return issue(new_family(client.id, d.scope), true, d.scope);
  }

  response_spec on_device(const recorded_request& req) {
    if (req.method != "POST") return oauth_error(405, "invalid_request", "POST required");
    if (!is_form(req)) return oauth_error(400, "invalid_request", "application/x-www-form-urlencoded required");
    const auto form = parse_form(req.body);
    if (!form) return oauth_error(400, "invalid_request", "malformed or repeated parameters");
    auto auth = authenticate(req, *form);
    if (auto* error = std::get_if<response_spec>(&auth)) return *error;
    const idp_client& client = *std::get<const idp_client*>(auth);
    const std::string device_code = random_token("dc-");
    const std::string user_code = new_user_code();
    devices_[device_code] =
        device_auth{client.id, user_code, get(*form, "scope").value_or(""), now() + device_lifetime, false, false, {}};
    const std::string verify_uri = issuer_ + "/device/verify";
    return json_response(200, json::object{
                                  {"device_code", device_code},
                                  {"user_code", user_code},
                                  {"verification_uri", verify_uri},
                                  {"verification_uri_complete", verify_uri + "?user_code=" + user_code},
                                  {"expires_in", device_lifetime.count()},
                                  {"interval", device_interval.count()},
                              });
  }

  bool approve(const std::string& user_code) {
    const std::string wanted = normalize_user_code(user_code);
    for (auto& [code, d] : devices_) {
      if (d.user_code == wanted && !d.used && now() < d.expires) {
        d.approved = true;
        return true;
      }
    }
    return false;
  }

  response_spec on_verify(const std::string& query) {
    const auto q = parse_form(query);
    const auto user_code = q ? get(*q, "user_code") : std::nullopt;
    if (!user_code || !approve(*user_code)) return page(400, "unknown or expired user_code");
    return page(200, "device approved");
  }

  response_spec on_authorize(const std::string& query) {
    const auto q = parse_form(query);
    if (!q) return page(400, "malformed or repeated parameters");
    const auto client_id = get(*q, "client_id");
    if (!client_id || !clients_.contains(*client_id)) return page(400, "unknown client");
    // Never redirect to a URI we cannot trust (RFC 6749 §4.1.2.1).
    const auto redirect_uri = get(*q, "redirect_uri");
    if (!redirect_uri || redirect_uri->find('#') != std::string::npos) return page(400, "invalid redirect_uri");
    const auto state = get(*q, "state");
    const auto redirect = [&](std::vector<std::pair<std::string, std::string>> extra) {
      if (state) extra.emplace_back("state", *state);
      response_spec r;
      r.with_status(302).with_header("Location", with_query(*redirect_uri, extra)).with_body("");
      return r;
    };
    const auto fail = [&](std::string code) { return redirect({{"error", std::move(code)}}); };

    const auto response_type = get(*q, "response_type");
    if (!response_type) return fail("invalid_request");
    if (*response_type != "code") return fail("unsupported_response_type");
    const auto challenge = get(*q, "code_challenge");
    const auto method = get(*q, "code_challenge_method");
    if (method && !challenge) return fail("invalid_request");
    // Only S256; an absent method means "plain" (RFC 7636 §4.3), refused too.
    if (challenge && (method != "S256" || !pkce_syntax_ok(*challenge))) return fail("invalid_request");

    const std::string code = random_token("code-");
    codes_[code] = auth_code{*client_id, *redirect_uri, challenge.value_or(""), get(*q, "scope").value_or(""),
                             now() + code_lifetime, false, std::nullopt};
    return redirect({{"code", code}});
  }

  response_spec on_revoke(const recorded_request& req) {
    ++revocations_;
    if (req.method != "POST") return oauth_error(405, "invalid_request", "POST required");
    if (!is_form(req)) return oauth_error(400, "invalid_request", "application/x-www-form-urlencoded required");
    const auto form = parse_form(req.body);
    if (!form) return oauth_error(400, "invalid_request", "malformed or repeated parameters");
    auto auth = authenticate(req, *form);
    if (auto* error = std::get_if<response_spec>(&auth)) return *error;
    const idp_client& client = *std::get<const idp_client*>(auth);
    const auto token = get(*form, "token");
    if (!token) return oauth_error(400, "invalid_request", "token missing");
    // Another client's token is left alone; the answer is 200 either way (RFC 7009 §2.2).
    if (const auto rt = refresh_.find(*token); rt != refresh_.end()) {
      family& fam = families_[rt->second.family];
      if (fam.client_id == client.id) fam.revoked = true;
    } else if (const auto at = access_.find(*token); at != access_.end()) {
      if (families_[at->second.family].client_id == client.id) at->second.revoked = true;
    }
    response_spec r;
    r.with_status(200).with_header("Cache-Control", "no-store").with_body("");
    return r;
  }
};

fake_idp::fake_idp(const test_ca* ca) : impl_(std::make_shared<impl>()) {
  impl_->server_ = std::make_unique<fake_upstream>(fake_upstream::kind::https, ca);
  impl_->issuer_ = impl_->server_->url("");
  // A raw pointer: the server is the impl's own member and stops first.
  impl_->server_->set_handler([self = impl_.get()](const recorded_request& req) { return self->handle(req); });
}

// Stops the server now; resource_handler() copies may keep the token state alive.
fake_idp::~fake_idp() { impl_->server_.reset(); }

std::string fake_idp::issuer() const { return impl_->issuer_; }
std::string fake_idp::url(const std::string& path) const { return impl_->issuer_ + path; }
std::uint16_t fake_idp::port() const { return impl_->server_->port(); }

void fake_idp::add_client(idp_client client) {
  std::lock_guard lock(impl_->mutex_);
  const std::string id = client.id;
  impl_->clients_[id] = std::move(client);
}

void fake_idp::set_token_lifetime(std::chrono::seconds lifetime) {
  std::lock_guard lock(impl_->mutex_);
  impl_->lifetime_ = lifetime;
}

void fake_idp::set_reuse_window(std::chrono::seconds window) {
  std::lock_guard lock(impl_->mutex_);
  impl_->reuse_window_ = window;
}

void fake_idp::set_rotate_refresh_tokens(bool rotate) {
  std::lock_guard lock(impl_->mutex_);
  impl_->rotate_ = rotate;
}

std::chrono::system_clock::time_point fake_idp::now() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->now();
}

void fake_idp::advance(std::chrono::seconds by) {
  std::lock_guard lock(impl_->mutex_);
  impl_->offset_ += by;
}

void fake_idp::fail_next(std::size_t count, idp_failure failure) {
  std::lock_guard lock(impl_->mutex_);
  impl_->next_failures_.insert(impl_->next_failures_.end(), count, failure);
}

void fake_idp::fail_always(idp_failure failure) {
  std::lock_guard lock(impl_->mutex_);
  impl_->always_ = failure;
}

void fake_idp::clear_failures() {
  std::lock_guard lock(impl_->mutex_);
  impl_->next_failures_.clear();
  impl_->always_.reset();
}

void fake_idp::on_token_answered(std::function<void(const std::string& grant_type)> hook) {
  std::lock_guard lock(impl_->mutex_);
  impl_->token_hook_ = std::move(hook);
}

std::string fake_idp::issue_refresh_token(const std::string& client_id, const std::string& scope) {
  std::lock_guard lock(impl_->mutex_);
  return impl_->new_refresh(impl_->new_family(client_id, scope));
}

bool fake_idp::access_token_valid(const std::string& token) const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->access_valid(token);
}

void fake_idp::revoke_all_access_tokens() {
  std::lock_guard lock(impl_->mutex_);
  for (auto& [token, rec] : impl_->access_) rec.revoked = true;
}

std::function<response_spec(const recorded_request&)> fake_idp::resource_handler() const {
  return [self = impl_](const recorded_request& req) {
    const auto auth = req.header("Authorization");
    bool ok = false;
    if (auth && istarts_with(*auth, "Bearer ")) {
      std::lock_guard lock(self->mutex_);
      ok = self->access_valid(auth->substr(7));
    }
    response_spec r;
    if (ok) return r.with_status(200).with_header("Content-Type", "text/plain").with_body("resource-ok");
    return r.with_status(401)
        .with_header("WWW-Authenticate", "Bearer error=\"invalid_token\"")
        .with_header("Content-Type", "text/plain")
        .with_body("bad-token");
  };
}

bool fake_idp::approve_device(const std::string& user_code) {
  std::lock_guard lock(impl_->mutex_);
  return impl_->approve(user_code);
}

std::size_t fake_idp::token_requests() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->token_requests_;
}

std::size_t fake_idp::token_requests(const std::string& grant_type) const {
  std::lock_guard lock(impl_->mutex_);
  const auto it = impl_->by_grant_.find(grant_type);
  return it == impl_->by_grant_.end() ? 0 : it->second;
}

std::size_t fake_idp::discovery_requests() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->discovery_;
}

std::size_t fake_idp::revocation_requests() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->revocations_;
}

std::size_t fake_idp::reuse_detections() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->reuse_;
}

bool fake_idp::wait_for_token_requests(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex_);
  return impl_->token_seen_.wait_for(lock, timeout, [&] { return impl_->token_requests_ >= n; });
}

std::vector<std::string> fake_idp::issued_tokens() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->issued_;
}

std::vector<recorded_request> fake_idp::requests() const { return impl_->server_->requests(); }

}  // namespace credproxy::test
