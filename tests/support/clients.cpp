#include "tests/support/clients.hpp"

#include <unistd.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <stdexcept>

namespace credproxy::test {
namespace {

// Debian's interpreter, which has python3-requests; a pyenv python3 earlier
// in PATH would not.
constexpr const char* debian_python = "/usr/bin/python3";

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Variables that would change where a client connects or what it trusts:
// a developer's own settings must never leak into a test.
bool is_proxy_or_ca_variable(const std::string& entry) {
  static const std::vector<std::string> names = {
      "http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy", "ssl_cert_file", "ssl_cert_dir",
      "requests_ca_bundle", "curl_ca_bundle", "node_extra_ca_certs", "node_use_env_proxy", "node_tls_reject_unauthorized",
      "node_options"};
  const std::string name = lower(entry.substr(0, entry.find('=')));
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string script(client_kind kind) {
  switch (kind) {
    case client_kind::python_requests: return "python_requests_client.py";
    case client_kind::python_urllib: return "python_urllib_client.py";
    case client_kind::node_undici: return "node_undici_client.mjs";
  }
  throw std::logic_error("unknown client kind");
}

bool is_python(client_kind kind) { return kind != client_kind::node_undici; }

// Runs a short probe; false when it cannot start or fails.
bool probe(const std::vector<std::string>& argv, std::string* out = nullptr) {
  try {
    const run_result r = run(argv, {}, std::chrono::seconds(20));
    if (out) *out = r.out;
    return !r.status.signaled && r.status.code == 0;
  } catch (const std::exception&) {
    return false;
  }
}

// Empty when usable, else why not.
std::string missing_runtime(client_kind kind) {
  const std::string install = " (deploy/install-deps.sh installs it; `make test` runs that)";
  if (!std::filesystem::exists(clients_dir() / script(kind))) {
    return (clients_dir() / script(kind)).string() + " not found (set CREDPROXY_CLIENTS_DIR?)";
  }
  if (is_python(kind)) {
    if (::access(debian_python, X_OK) != 0) return std::string(debian_python) + " not found" + install;
    if (kind == client_kind::python_requests && !probe({debian_python, "-c", "import requests"})) {
      return "Debian's python3-requests is not installed for /usr/bin/python3" + install;
    }
    return {};
  }
  std::string version;
  if (!probe({"node", "--version"}, &version)) return "node is not on PATH" + install;
  if (!std::filesystem::exists(clients_dir() / "node_modules" / "undici" / "package.json")) {
    return "undici is not installed in " + (clients_dir() / "node_modules").string() + install;
  }
  // Loaded by path: the probe's working directory is not tests/clients.
  if (!probe({"node", "-e", "require(process.argv[1])", (clients_dir() / "node_modules" / "undici").string()})) {
    return "node " + version.substr(0, version.find('\n')) + " cannot load undici (it needs Node >= 20.18.1)";
  }
  return {};
}

// One JSON line -> response; false when it is not a JSON object.
bool parse_line(const std::string& line, client_response& out) {
  boost::system::error_code ec;
  const auto value = boost::json::parse(line, ec);
  if (ec || !value.is_object()) return false;
  const auto& obj = value.as_object();
  if (const auto* e = obj.if_contains("error")) {
    out.error = e->is_string() ? std::string(e->as_string()) : boost::json::serialize(*e);
    if (out.error.empty()) out.error = "(empty error)";
    return true;
  }
  const auto* status = obj.if_contains("status");
  if (!status || !status->is_int64()) return false;
  out.status = static_cast<unsigned>(status->as_int64());
  if (const auto* headers = obj.if_contains("headers"); headers && headers->is_object()) {
    for (const auto& [name, v] : headers->as_object()) {
      out.headers[lower(name)] = v.is_string() ? std::string(v.as_string()) : boost::json::serialize(v);
    }
  }
  if (const auto* body = obj.if_contains("body"); body && body->is_string()) out.body = body->as_string();
  return true;
}

}  // namespace

std::vector<client_kind> all_client_kinds() {
  return {client_kind::python_requests, client_kind::python_urllib, client_kind::node_undici};
}

std::string client_name(client_kind kind) {
  switch (kind) {
    case client_kind::python_requests: return "python_requests";
    case client_kind::python_urllib: return "python_urllib";
    case client_kind::node_undici: return "node_undici";
  }
  throw std::logic_error("unknown client kind");
}

std::string client_ca_variable(client_kind kind) {
  switch (kind) {
    case client_kind::python_requests: return "REQUESTS_CA_BUNDLE";
    case client_kind::python_urllib: return "SSL_CERT_FILE";
    case client_kind::node_undici: return "NODE_EXTRA_CA_CERTS";
  }
  throw std::logic_error("unknown client kind");
}

std::filesystem::path clients_dir() {
  if (const char* dir = std::getenv("CREDPROXY_CLIENTS_DIR"); dir && *dir) return dir;
  return CREDPROXY_CLIENTS_SOURCE_DIR;  // tests/clients/ of this source tree (tests/CMakeLists.txt)
}

bool client_available(client_kind kind, std::string* skip_reason) {
  static std::mutex mutex;
  static std::map<client_kind, std::string> checked;  // kind -> "" (usable) or why not
  std::lock_guard lock(mutex);
  auto it = checked.find(kind);
  if (it == checked.end()) it = checked.emplace(kind, missing_runtime(kind)).first;
  if (skip_reason && !it->second.empty()) *skip_reason = client_name(kind) + " client unavailable: " + it->second;
  return it->second.empty();
}

std::optional<std::string> client_response::header(std::string_view name) const {
  const auto it = headers.find(lower(name));
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

bool client_result::all_ok() const {
  return !status.signaled && status.code == 0 && unparsed.empty() &&
         std::all_of(responses.begin(), responses.end(), [](const client_response& r) { return r.ok(); });
}

std::string client_result::describe() const {
  std::ostringstream out;
  out << status.describe() << ", " << responses.size() << " response line(s)";
  for (const auto& r : responses) {
    if (!r.ok()) out << "\n  error: " << r.error;
  }
  for (const auto& line : unparsed) out << "\n  unparsed: " << line;
  if (!err.empty()) out << "\n  stderr: " << err;
  return out.str();
}

std::vector<std::string> client_argv(client_kind kind, const client_request& request) {
  std::vector<std::string> argv = request.launcher;
  argv.insert(argv.end(), {is_python(kind) ? debian_python : "node", (clients_dir() / script(kind)).string()});
  for (const auto& url : request.urls) argv.insert(argv.end(), {"--url", url});
  for (const auto& header : request.headers) argv.insert(argv.end(), {"--header", header});
  if (!request.method.empty()) argv.insert(argv.end(), {"--method", request.method});
  if (request.data) argv.insert(argv.end(), {"--data", *request.data});
  if (!request.content_type.empty()) argv.insert(argv.end(), {"--content-type", request.content_type});
  argv.insert(argv.end(), {"--count", std::to_string(request.count), "--parallel", std::to_string(request.parallel),
                           "--timeout", std::to_string(request.request_timeout.count())});
  return argv;
}

std::vector<std::string> client_env(client_kind kind, const client_environment& env) {
  std::vector<std::string> out;
  for (auto& entry : environment_without_proxies()) {
    if (!is_proxy_or_ca_variable(entry)) out.push_back(std::move(entry));
  }
  if (!env.proxy_url.empty()) {
    for (const char* name : {"HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"}) {
      out.push_back(std::string(name) + "=" + env.proxy_url);
    }
  }
  if (!env.ca_file.empty()) out.push_back(client_ca_variable(kind) + "=" + env.ca_file.string());
  out.insert(out.end(), env.extra.begin(), env.extra.end());
  return out;
}

client_result run_client(client_kind kind, const client_environment& env, const client_request& request) {
  spawn_options options;
  options.argv = client_argv(kind, request);
  options.env = client_env(kind, env);
  process child(options);
  const auto status = child.wait_for(std::chrono::duration_cast<std::chrono::milliseconds>(request.run_timeout));
  if (!status) {
    throw std::runtime_error(client_name(kind) + " client did not finish within " +
                             std::to_string(request.run_timeout.count()) + " s; stderr: " + child.captured_stderr());
  }
  client_result result;
  result.status = *status;
  result.err = child.captured_stderr();
  std::istringstream lines(child.captured_stdout());
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    client_response response;
    if (parse_line(line, response)) {
      result.responses.push_back(std::move(response));
    } else {
      result.unparsed.push_back(line);
    }
  }
  return result;
}

}  // namespace credproxy::test
