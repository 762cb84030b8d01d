#include "cli/run_environment.hpp"

#include <algorithm>

#include "cli/no_proxy_filter.hpp"

namespace credproxy::cli {
namespace {

bool contains(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

wiping_string entry(std::string_view name, std::string_view value) {
  wiping_string out;
  out.reserve(name.size() + 1 + value.size());
  out.append(name.begin(), name.end());
  out.push_back('=');
  out.append(value.begin(), value.end());
  return out;
}

// NO_PROXY or no_proxy: the entry to keep (empty when nothing is left),
// noting what was removed.
wiping_string filtered_entry(std::string_view name, std::string_view value, const run_settings& settings,
                             std::vector<std::string>& removed) {
  auto filtered = filter_no_proxy(value, settings.bound);
  for (auto& r : filtered.removed) {
    if (!contains(removed, r)) removed.push_back(std::move(r));
  }
  return filtered.value.empty() ? wiping_string() : entry(name, filtered.value);
}

}  // namespace

const std::vector<std::string>& replaced_variables() {
  static const std::vector<std::string> names = {
      "HTTP_PROXY",  "HTTPS_PROXY",    "http_proxy",          "https_proxy",       "SSL_CERT_FILE",
      "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "NODE_USE_ENV_PROXY"};
  return names;
}

run_environment build_run_environment(const std::vector<std::string_view>& inherited, const run_settings& settings) {
  run_environment out;
  for (const auto& item : inherited) {
    const auto equals = item.find('=');
    if (equals == std::string_view::npos) continue;  // not NAME=value: nothing a client reads
    const auto name = item.substr(0, equals);
    if (contains(replaced_variables(), name) || contains(settings.withheld, name)) continue;
    if (name == "NO_PROXY" || name == "no_proxy") {
      auto kept = filtered_entry(name, item.substr(equals + 1), settings, out.removed_no_proxy);
      if (!kept.empty()) out.entries.push_back(std::move(kept));
      continue;
    }
    out.entries.push_back(entry(name, item.substr(equals + 1)));
  }
  for (const char* name : {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"})
    out.entries.push_back(entry(name, settings.proxy_url));
  for (const char* name : {"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"})
    out.entries.push_back(entry(name, settings.ca_bundle_file));
  out.entries.push_back(entry("NODE_EXTRA_CA_CERTS", settings.credproxy_ca_file));
  out.entries.push_back(entry("NODE_USE_ENV_PROXY", "1"));
  return out;
}

}  // namespace credproxy::cli
