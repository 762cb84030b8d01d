#pragma once
// A fresh vault driven only through the management commands of the real
// binary (no serve): its own temp dir, config and key, and `run` to call
// `credproxy ARGS... --config CFG` with stdin. On the postgres run
// (tests/support/test_store.hpp) the vault is a fresh database instead of
// the file: `store migrate`, then `vault init`.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "tests/support/credproxy_instance.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_store.hpp"
#include "tests/support/util.hpp"

namespace credproxy::test {

class cli_vault {
 public:
  cli_vault() {
    std::string yaml =
        "vault:\n  path: " + quoted(dir_ / "v.vault") + "\n  key_file: " + quoted(dir_ / "v.key") + "\n";
    std::vector<std::vector<std::string>> setup = {{"vault", "init"}};
    if (postgres_test_store()) {
      yaml += "store:\n  backend: postgres\n  postgres:\n    dsn: " + quoted(fresh_postgres_test_database()) + "\n";
      setup.insert(setup.begin(), {"store", "migrate"});
    }
    write_file(config_path(), yaml);
    for (const auto& step : setup) {
      const auto r = run(step);
      if (r.status.signaled || r.status.code != 0) ADD_FAILURE() << join(step) << ": " << r.err;
    }
    // The postgres run must really be one: no vault file on the side.
    if (postgres_test_store() && std::filesystem::exists(dir_ / "v.vault"))
      ADD_FAILURE() << "a vault file on the postgres run";
  }

  std::filesystem::path config_path() const { return dir_ / "credproxy.yaml"; }
  const temp_dir& dir() const { return dir_; }

  run_result run(std::vector<std::string> args, const std::string& stdin_data = {}) const {
    std::vector<std::string> argv = {credproxy_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--config", config_path().string()});
    return credproxy::test::run(argv, stdin_data, std::chrono::seconds(30));
  }

  // Runs and expects exit code 0; returns stdout.
  std::string ok(std::vector<std::string> args, const std::string& stdin_data = {}) const {
    const auto r = run(args, stdin_data);
    EXPECT_FALSE(r.status.signaled) << r.status.describe();
    EXPECT_EQ(r.status.code, 0) << join(args) << "\nstderr: " << r.err;
    return r.out;
  }

  // Runs and expects exit code `code` (2: runtime, 1: usage); returns stderr.
  std::string fails(std::vector<std::string> args, const std::string& stdin_data = {}, int code = 2) const {
    const auto r = run(args, stdin_data);
    EXPECT_FALSE(r.status.signaled) << r.status.describe();
    EXPECT_EQ(r.status.code, code) << join(args) << "\nstdout: " << r.out << "\nstderr: " << r.err;
    return r.err;
  }

  boost::json::value json(std::vector<std::string> args) const {
    const auto out = ok(args);
    boost::system::error_code ec;
    auto v = boost::json::parse(out, ec);
    EXPECT_FALSE(ec) << join(args) << " printed no JSON: " << out;
    return v;
  }

 private:
  static std::string quoted(const std::filesystem::path& p) { return boost::json::serialize(boost::json::value(p.string())); }
  static std::string join(const std::vector<std::string>& args) {
    std::string out = "credproxy";
    for (const auto& a : args) out += " " + a;
    return out;
  }

  temp_dir dir_;
};

}  // namespace credproxy::test
