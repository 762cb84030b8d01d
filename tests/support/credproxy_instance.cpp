#include "tests/support/credproxy_instance.hpp"

#include <csignal>

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cstdlib>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include "tests/support/raw_client.hpp"
#include "tests/support/test_store.hpp"

namespace credproxy::test {
namespace {

std::string& registered_binary() {
  static std::string path;
  return path;
}

std::string quoted(const std::filesystem::path& p) { return boost::json::serialize(boost::json::value(p.string())); }

std::string describe(const std::vector<std::string>& args, const run_result& r) {
  std::string text = "credproxy";
  for (const auto& a : args) text += " " + a;
  return text + ": " + r.status.describe() + "\nstdout: " + r.out + "\nstderr: " + r.err;
}

std::optional<std::uint16_t> find_port(const std::string& log, const std::regex& pattern) {
  std::smatch m;
  if (!std::regex_search(log, m, pattern)) return std::nullopt;
  return static_cast<std::uint16_t>(std::stoul(m[1].str()));
}

std::string doc(boost::json::object o, const std::string& host, bool allow_plaintext) {
  o["hosts"] = boost::json::array{boost::json::value(host)};
  o["allowPlaintext"] = allow_plaintext;
  return boost::json::serialize(o);
}

}  // namespace

void set_credproxy_binary(std::string path) { registered_binary() = std::move(path); }

std::string credproxy_binary() {
  if (const char* env = std::getenv("CREDPROXY_BINARY"); env && *env) return env;
  if (registered_binary().empty()) throw std::logic_error("credproxy binary path not registered");
  return registered_binary();
}

credproxy_instance::credproxy_instance(instance_options options) {
  // The postgres run: a test that names no database of its own gets one.
  if (options.postgres_dsn.empty() && postgres_test_store()) options.postgres_dsn = fresh_postgres_test_database();
  config_path_ = dir_ / "credproxy.yaml";
  log_path_ = dir_ / "serve.log";
  launcher_ = options.launcher;
  expect_admin_ = !options.admin_listen.empty();
  expect_health_ = !options.health_listen.empty();
  key_file_ = options.shared_key_file.empty() ? dir_ / "v.key" : options.shared_key_file;
  write_config(options);
  std::vector<std::vector<std::string>> setup;
  if (!options.postgres_dsn.empty() && options.shared_key_file.empty()) setup.push_back({"store", "migrate"});
  if (options.shared_key_file.empty()) setup.push_back({"vault", "init"});
  for (const auto& step : setup) {
    if (auto r = cli(step); r.status.signaled || r.status.code != 0) throw std::runtime_error(describe(step, r));
  }
  for (const auto& c : options.credentials) add_credential(c);
  if (!options.postgres_dsn.empty() && std::filesystem::exists(vault_path()))
    throw std::runtime_error("store.backend postgres, and yet a vault file: " + vault_path().string());
  start();
}

credproxy_instance::~credproxy_instance() {
  try {
    stop();
  } catch (const std::exception& e) {
    std::cerr << "stopping credproxy: " << e.what() << "\n";
  }
  if (::testing::Test::HasFailure()) {
    const std::string text = log();
    constexpr std::size_t tail = 16384;
    std::cerr << "---- credproxy serve log (" << log_path_.string() << ", last " << tail << " bytes) ----\n"
              << (text.size() > tail ? text.substr(text.size() - tail) : text) << "---- end of log ----\n";
  }
}

void credproxy_instance::write_config(const instance_options& options) {
  std::ostringstream yaml;
  yaml << "listen: 127.0.0.1:0\n"
       << "admin_listen: " << quoted(options.admin_listen) << "\n"
       << "health_listen: " << quoted(options.health_listen) << "\n"
       << "workers: " << options.workers << "\n"
       << "default_solution: " << quoted(options.default_solution) << "\n"
       << "vault:\n"
       << "  path: " << quoted(vault_path()) << "\n"
       << "  key_file: " << quoted(key_file_) << "\n";
  if (!options.postgres_dsn.empty())
    yaml << "store:\n  backend: postgres\n  postgres:\n    dsn: " << quoted(options.postgres_dsn) << "\n";
  std::ostringstream upstream;
  if (options.ca_pem) {
    write_file(dir_ / "ca.pem", *options.ca_pem);
    upstream << "  ca_file: " << quoted(dir_ / "ca.pem") << "\n";
  }
  if (options.upgrade_plaintext) {
    upstream << "  upgrade_plaintext: " << (*options.upgrade_plaintext ? "true" : "false") << "\n";
  }
  if (options.response_timeout_ms) upstream << "  response_timeout_ms: " << *options.response_timeout_ms << "\n";
  if (options.connect_timeout_ms) upstream << "  connect_timeout_ms: " << *options.connect_timeout_ms << "\n";
  // An empty `upstream:` would be a null, not a map: only write it when set.
  if (!upstream.str().empty()) yaml << "upstream:\n" << upstream.str();
  if (options.client_header_timeout_ms) {
    yaml << "client:\n  header_timeout_ms: " << *options.client_header_timeout_ms << "\n";
  }
  yaml << "egress:\n  allow_cidrs: " << options.egress_allow << "\n"
       << "log:\n  level: " << options.log_level << "\n";
  if (!options.log_format.empty()) yaml << "  format: " << options.log_format << "\n";
  if (options.adjustable_clock) yaml << "testing:\n  adjustable_clock: true\n";
  yaml << options.extra_yaml;
  write_file(config_path_, yaml.str());
}

run_result credproxy_instance::cli(std::vector<std::string> args, const std::string& stdin_data) const {
  std::vector<std::string> argv = {credproxy_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--config", config_path_.string()});
  return run(argv, stdin_data, std::chrono::seconds(30));
}

void credproxy_instance::add_credential(const credential& cred) const {
  const std::vector<std::string> args = {"cred", "add", "--solution", cred.solution, "--key", cred.key, "--json", "-"};
  if (auto r = cli(args, cred.json); r.status.signaled || r.status.code != 0) {
    throw std::runtime_error(describe(args, r));
  }
}

void credproxy_instance::start() {
  spawn_options options;
  options.argv = launcher_;
  for (const auto& arg : {credproxy_binary(), std::string("serve"), std::string("--config"), config_path_.string()})
    options.argv.push_back(arg);
  options.stdout_path = log_path_;
  options.merge_stderr_into_stdout = true;
  serve_ = std::make_unique<process>(options);

  static const std::regex proxy_re(R"(proxy listening on 127\.0\.0\.1:(\d+))");
  static const std::regex admin_re(R"(admin listening on 127\.0\.0\.1:(\d+))");
  static const std::regex health_re(R"(health listening on 127\.0\.0\.1:(\d+))");
  const auto all_bound = [&] {
    return proxy_port_ != 0 && (admin_port_ != 0 || !expect_admin_) && (health_port_ != 0 || !expect_health_);
  };
  const bool ready = wait_until(
      [&] {
        const std::string text = read_file(log_path_);  // this run's only
        if (auto p = find_port(text, proxy_re)) proxy_port_ = *p;
        if (auto a = find_port(text, admin_re)) admin_port_ = *a;
        if (auto h = find_port(text, health_re)) health_port_ = *h;
        return all_bound() || !serve_->running();
      },
      std::chrono::seconds(10));
  if (!ready || !all_bound()) {
    const std::string why = serve_->running() ? "no 'proxy/admin/health listening on' lines within 10 s"
                                              : "serve exited early";
    stop();
    throw std::runtime_error("credproxy serve did not start (" + why + "); log:\n" + log());
  }
}

std::string credproxy_instance::log() const {
  std::string text;
  for (const auto& earlier : earlier_logs_) text += read_file(earlier);
  return text + read_file(log_path_);
}

const std::string& credproxy_instance::admin_token() {
  if (admin_token_.empty()) {
    const std::vector<std::string> args = {"admin", "token", "create"};
    auto r = cli(args);
    if (r.status.signaled || r.status.code != 0) throw std::runtime_error(describe(args, r));
    admin_token_ = r.out;
    while (!admin_token_.empty() && (admin_token_.back() == '\n' || admin_token_.back() == '\r')) admin_token_.pop_back();
  }
  return admin_token_;
}

bool credproxy_instance::advance_clock(std::chrono::seconds by) {
  const std::string token = admin_token();
  curl_runner direct(0, dir_.path());
  curl_request request;
  request.urls = {"http://127.0.0.1:" + std::to_string(admin_port_) + "/v1/testing/clock"};
  request.args = {"-X", "POST", "-H", "Authorization: Bearer " + token, "-H", "Content-Type: application/json",
                  "--data-binary", R"({"advanceSeconds":)" + std::to_string(by.count()) + "}"};
  // A token created a moment ago is known to serve within one vault poll.
  bool ok = false;
  wait_until(
      [&] {
        auto r = direct.perform(request);
        ok = r.status.code == 0 && r.responses.size() == 1 && r.responses[0].status == 200;
        return ok || (r.responses.size() == 1 && r.responses[0].status != 401);
      },
      std::chrono::seconds(5));
  return ok;
}

void credproxy_instance::restart() {
  stop();
  stopped_.reset();
  earlier_logs_.push_back(log_path_);
  log_path_ = dir_ / ("serve-" + std::to_string(earlier_logs_.size()) + ".log");
  proxy_port_ = 0;
  admin_port_ = 0;
  health_port_ = 0;
  start();
}

bool credproxy_instance::wait_for_log(const std::regex& pattern, std::chrono::milliseconds timeout) const {
  return wait_until([&] { return std::regex_search(log(), pattern); }, timeout);
}

bool credproxy_instance::reload_vault() const {
  const auto count = [this] {
    const auto text = log();
    std::size_t n = 0;
    for (auto at = text.find("vault reloaded"); at != std::string::npos; at = text.find("vault reloaded", at + 1)) ++n;
    return n;
  };
  const auto before = count();
  serve_->send_signal(SIGHUP);
  return wait_until([&] { return count() > before; }, std::chrono::seconds(5));
}

exit_status credproxy_instance::stop() {
  if (!stopped_ && serve_) stopped_ = serve_->stop(std::chrono::seconds(10));
  return stopped_.value_or(exit_status{});
}

std::string api_key_doc(const std::string& secret, const std::string& host, bool allow_plaintext) {
  return doc({{"type", "api_key"}, {"secret", secret}}, host, allow_plaintext);
}

std::string secret_doc(const std::string& secret, const std::string& host, bool allow_plaintext) {
  return doc({{"type", "secret"}, {"secret", secret}}, host, allow_plaintext);
}

std::string basic_doc(const std::string& username, const std::string& password, const std::string& host,
                      bool allow_plaintext) {
  return doc({{"type", "basic"}, {"username", username}, {"password", password}}, host, allow_plaintext);
}

std::string credproxy_instance::metrics_text() const {
  const auto r = raw_exchange(health_port_, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  return r && r->status == 200 ? r->body : std::string();
}

std::uint64_t credproxy_instance::metric(const std::string& name) const {
  const std::string text = metrics_text();
  if (text.empty()) return ~std::uint64_t{0};
  std::smatch m;
  const std::regex line("\n" + name + " ([0-9]+)\n");
  return std::regex_search(text, m, line) ? std::stoull(m[1]) : ~std::uint64_t{0};
}

}  // namespace credproxy::test
