#include "cli/first_start.hpp"


#include <algorithm>

namespace credproxy::cli {

namespace {

// Would 127.0.0.1 pass the egress policy? Then the loopback hint is noise.
bool loopback_allowed(const config::config& cfg) {
  unsigned char address[4] = {127, 0, 0, 1};
  return std::any_of(cfg.egress_allow.begin(), cfg.egress_allow.end(),
                     [&address](const config::cidr& range) { return config::cidr_contains(range, address, 4); });
}

std::string shell_quoted(const std::string& text) {
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

std::vector<std::string> first_start_steps(const config::config& cfg, const std::string& config_file,
                                           const std::string& proxy) {
  const std::string cli = "credproxy" + (config_file.empty() ? std::string() : " --config " + shell_quoted(config_file));
  const std::string solution = cfg.default_solution.empty() ? "SOLUTION" : cfg.default_solution;
  std::vector<std::string> steps;
  steps.push_back("new vault: next steps");
  steps.push_back("  1. add a credential (the document comes from stdin or a file, never from argv):");
  steps.push_back("     echo '{\"type\":\"api_key\",\"secret\":\"YOUR-SECRET\",\"hosts\":[\"api.example.com\"]}' | " + cli +
                  " cred add --solution " + solution + " --key example.token --json -");
  steps.push_back("  2. point the function at the proxy: HTTP_PROXY=http://" + proxy + " HTTPS_PROXY=http://" + proxy +
                  ", and write {{cred:example.token}} where the secret belongs");
  if (cfg.default_solution.empty())
    steps.push_back("     (no default_solution: clients authenticate with a token from: " + cli + " solution token create " +
                    solution + ")");
  if (cfg.connect.intercept != config::connect_config::intercept_mode::none)
    steps.push_back("  3. HTTPS callers trust credproxy's CA: " + cli +
                    " ca export --out credproxy-ca.pem (curl --cacert, SSL_CERT_FILE, NODE_EXTRA_CA_CERTS)");
  if (!loopback_allowed(cfg))
    steps.push_back("  local test upstreams on 127.0.0.1 are refused (egress_denied) until a config file allows them: "
                    "egress.allow_cidrs: [127.0.0.0/8]");
  return steps;
}

}  // namespace credproxy::cli
