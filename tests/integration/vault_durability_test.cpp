// Vault durability and master keys through the real binary: writers and
// rekeys SIGKILLed at random points (seeded; the seed is printed) leave a
// vault that opens with exactly the old or the new contents and with the
// old or the new key; concurrent writers lose nothing (both on the vault
// file and on PostgreSQL); wrong keys and
// passphrases exit 2 with one line; serve reloads a passphrase vault
// without re-deriving and follows a rekey.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/postgres_client.hpp"
#include "tests/support/postgres_cluster.hpp"

namespace credproxy::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ms = std::chrono::duration<double, std::milli>;

constexpr const char* canary = "CANARY-durability-4c2e";

std::string quoted(const fs::path& p) { return boost::json::serialize(boost::json::value(p.string())); }

std::string counter_doc(int n, const std::string& host = "a.example") {
  return R"({"type":"api_key","secret":")" + std::string(canary) + R"(","hosts":[")" + host +
         R"("],"allowPlaintext":true,"description":"n=)" + std::to_string(n) + R"("})";
}
std::string n_of(int n) { return "n=" + std::to_string(n); }

std::vector<std::string> with_env(std::vector<std::string> extra) {
  auto env = environment_without_proxies();
  std::erase_if(env, [](const std::string& e) {
    return e.starts_with("CREDPROXY_MASTER_KEY=") || e.starts_with("CREDPROXY_PASSPHRASE=") ||
           e.starts_with("CREDPROXY_NEW_PASSPHRASE=");
  });
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

// The store section for a vault_env on `pg`'s database (a YAML mapping at
// the top level, after the vault section).
std::string postgres_store_yaml(const postgres_cluster& pg) {
  return "store:\n  backend: postgres\n  postgres:\n    dsn: " + boost::json::serialize(boost::json::value(pg.socket_dsn())) +
         "\n";
}

std::string describe(const run_result& r) { return r.status.describe() + "; stdout: " + r.out + "; stderr: " + r.err; }

// `store migrate`, then `vault init`: a new vault in the env's database.
bool migrated_and_initialized(const class vault_env& env);

// The runtime-error contract: exit 2 and exactly one line on stderr.
void expect_one_line_error(const run_result& r, const std::string& fragment) {
  EXPECT_FALSE(r.status.signaled) << describe(r);
  EXPECT_EQ(r.status.code, 2) << describe(r);
  EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.find(canary), std::string::npos);
}

// A vault in its own temp dir with its own config; every command runs the
// real binary with `--config`.
class vault_env {
 public:
  explicit vault_env(const std::string& vault_yaml = "") {
    config_ = dir_ / "credproxy.yaml";
    write_file(config_, "vault:\n  path: " + quoted(vault()) + "\n  key_file: " + quoted(key()) + "\n" + vault_yaml);
  }
  fs::path vault() const { return dir_ / "v.vault"; }
  fs::path key() const { return dir_ / "v.key"; }
  fs::path backup() const { return dir_ / "v.vault.bak"; }
  const temp_dir& dir() const { return dir_; }
  const fs::path& config() const { return config_; }

  std::unique_ptr<process> start(std::vector<std::string> args, const std::string& stdin_data = {},
                                 std::optional<std::vector<std::string>> env = std::nullopt) const {
    spawn_options o;
    o.argv = {credproxy_binary()};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.argv.insert(o.argv.end(), {"--config", config_.string()});
    o.stdin_data = stdin_data;
    o.env = env ? std::move(env) : with_env({});
    return std::make_unique<process>(o);
  }
  run_result cli(std::vector<std::string> args, const std::string& stdin_data = {},
                 std::optional<std::vector<std::string>> env = std::nullopt) const {
    auto p = start(std::move(args), stdin_data, std::move(env));
    const auto status = p->wait_for(30s);
    if (!status) throw std::runtime_error("credproxy did not finish within 30 s");
    return {*status, p->captured_stdout(), p->captured_stderr()};
  }

  // The counter credential's description, via `cred show --json`.
  std::string description(std::optional<std::vector<std::string>> env = std::nullopt,
                          const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args = {"cred", "show", "--solution", "default", "--key", "counter", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = cli(args, {}, std::move(env));
    if (r.status.signaled || r.status.code != 0) return "(failed: " + r.err + ")";
    return std::string(boost::json::parse(r.out).as_object().at("description").as_string());
  }

  std::size_t slots() const {
    const auto bytes = read_file(vault());
    return bytes.size() > 36 ? static_cast<unsigned char>(bytes[36]) : 0;
  }
  std::size_t temp_files() const {
    std::size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir_.path()))
      n += e.path().filename().string().find(".tmp.") != std::string::npos ? 1 : 0;
    return n;
  }

 private:
  temp_dir dir_;
  fs::path config_;
};

bool migrated_and_initialized(const vault_env& env) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"store", "migrate"}, {"vault", "init"}}) {
    const auto r = env.cli(args);
    const bool ran = !r.status.signaled && r.status.code == 0;
    EXPECT_TRUE(ran) << describe(r);
    if (!ran) return false;
  }
  return true;
}

#define ASSERT_RUNS(expr)                                                        \
  do {                                                                           \
    const auto r_ = (expr);                                                      \
    ASSERT_TRUE(!r_.status.signaled && r_.status.code == 0) << describe(r_);      \
  } while (0)

std::uint64_t crash_seed() {
  if (const char* s = std::getenv("CREDPROXY_CRASH_SEED"); s && *s) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Times `count` complete runs of `run` (ms) and returns the median.
template <class F>
double calibrate(int count, F&& run) {
  std::vector<double> times;
  for (int i = 0; i < count; ++i) {
    const auto t0 = clock::now();
    run();
    times.push_back(ms(clock::now() - t0).count());
  }
  return median(times);
}

// SIGKILLs `cred update` writers at random points of their run and checks
// after each that the store holds exactly the old or the new document.
// `file_store`: also the file's own guarantees (a whole backup, temp files
// cleaned up). Runs for about `budget_ms` worth of writes.
void kill_writers_and_check(const vault_env& env, bool file_store, double budget_ms) {
  ASSERT_RUNS(env.cli({"cred", "add", "--solution", "default", "--key", "counter", "--json", "-"}, counter_doc(0)));
  const std::vector<std::string> update = {"cred", "update", "--solution", "default", "--key", "counter", "--json", "-"};

  int committed = 0;
  const double write_ms = calibrate(5, [&] { ASSERT_RUNS(env.cli(update, counter_doc(++committed))); });
  ASSERT_EQ(env.description(), n_of(committed));

  const auto seed = crash_seed();
  std::mt19937_64 rng(seed);
  // Kills spread from process start to a little past a typical write.
  std::uniform_int_distribution<long> delay_us(0, static_cast<long>(write_ms * 1200));
  std::cout << "[ crash    ] seed " << seed << " (CREDPROXY_CRASH_SEED=" << seed << " repeats it); uncontended write "
            << write_ms << " ms\n";
  ::testing::Test::RecordProperty("crash_seed", std::to_string(seed));

  // As many kills as fit in the budget on this build (sanitizers make each
  // process start several times slower), between 60 and 220.
  const int writes = std::clamp(static_cast<int>(budget_ms / (write_ms * 2.5)), 60, 220);
  int completed = 0, killed_old = 0, killed_new = 0;
  const auto started = clock::now();
  for (int i = 0; i < writes; ++i) {
    ASSERT_LT(clock::now() - started, 150s) << "crash test too slow after " << i << " writes";
    const int next = committed + 1;
    auto writer = env.start(update, counter_doc(next));
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
    writer->send_signal(SIGKILL);
    const auto status = writer->wait_for(10s);
    ASSERT_TRUE(status) << "writer survived SIGKILL";

    const std::string seen = env.description();
    ASSERT_TRUE(seen == n_of(committed) || seen == n_of(next))
        << "write " << i << " (seed " << seed << "): expected " << n_of(committed) << " or " << n_of(next) << ", got "
        << seen;
    if (!status->signaled) {
      ASSERT_EQ(status->code, 0) << "write " << i << ": " << writer->captured_stderr();
      ASSERT_EQ(seen, n_of(next));
      ++completed;
    } else {
      ++(seen == n_of(next) ? killed_new : killed_old);
    }
    if (seen == n_of(next)) committed = next;
    if (file_store && i % 20 == 0) {
      // The backup is always a whole, decryptable version too.
      const auto previous = env.description(std::nullopt, {"--vault", env.backup().string()});
      ASSERT_TRUE(previous == n_of(committed) || previous == n_of(committed - 1)) << previous;
    }
  }
  const double elapsed = ms(clock::now() - started).count() / 1000;
  // Killed writers' temp files are removed by the next writer.
  if (file_store) {
    EXPECT_LE(env.temp_files(), 2u);
  }
  std::cout << "[ crash    ] " << writes << " writes in " << elapsed << " s: " << completed << " completed before the kill, "
            << killed_old << " killed before the commit (old contents), " << killed_new
            << " killed after the commit (new contents); final " << n_of(committed) << "\n";
  ::testing::Test::RecordProperty("killed_before_commit", killed_old);
  ::testing::Test::RecordProperty("killed_after_commit", killed_new);
  EXPECT_GT(killed_old + killed_new, writes / 4) << "too few kills landed inside a writer";
}

TEST(VaultDurability, KilledWritersLeaveExactlyTheOldOrTheNewVault) {
  vault_env env;
  ASSERT_RUNS(env.cli({"vault", "init"}));
  kill_writers_and_check(env, true, 30000.0);
}

// The same on PostgreSQL: a writer killed mid-transaction is rolled back
// by the server when its connection drops.
TEST(VaultDurability, KilledWritersOnPostgresLeaveExactlyTheOldOrTheNewContents) {
  CREDPROXY_SKIP_WITHOUT_POSTGRES();
  postgres_cluster pg;
  vault_env env(postgres_store_yaml(pg));
  ASSERT_TRUE(migrated_and_initialized(env));
  kill_writers_and_check(env, false, 15000.0);
}

// SIGKILLs `vault rekey` at random points: whatever the key file holds
// afterwards opens the store with its contents unchanged. `slots` counts
// the key slots the store holds now (1, or 2 while a rekey is unfinished).
void kill_rekeys_and_check(const vault_env& env, const std::function<std::size_t()>& slots_now, bool file_store) {
  ASSERT_RUNS(env.cli({"cred", "add", "--solution", "default", "--key", "counter", "--json", "-"}, counter_doc(7)));
  const double rekey_ms = calibrate(3, [&] { ASSERT_RUNS(env.cli({"vault", "rekey"})); });

  const auto seed = crash_seed();
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<long> delay_us(0, static_cast<long>(rekey_ms * 1200));
  std::cout << "[ crash    ] rekey seed " << seed << "; uncontended rekey " << rekey_ms << " ms\n";

  // Each kill costs a rekey's start and a full open of the store: fewer of
  // them on a slow (sanitized, loaded) build, between 20 and 40.
  const int rekeys = std::clamp(static_cast<int>(30000.0 / (rekey_ms * 2.5)), 20, 40);
  int completed = 0, untouched = 0, two_slots_old_key = 0, two_slots_new_key = 0, finished = 0;
  const auto started = clock::now();
  for (int i = 0; i < rekeys; ++i) {
    ASSERT_LT(clock::now() - started, 150s);
    const std::string old_key = read_file(env.key());
    auto rekey = env.start({"vault", "rekey"});
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
    rekey->send_signal(SIGKILL);
    const auto status = rekey->wait_for(10s);
    ASSERT_TRUE(status);
    // Whatever the key file holds now opens the vault, with the contents unchanged.
    ASSERT_EQ(env.description(), n_of(7)) << "rekey " << i << " (seed " << seed << ")";
    const bool key_changed = read_file(env.key()) != old_key;
    const auto slots = slots_now();
    ASSERT_TRUE(slots == 1 || slots == 2);
    if (!status->signaled) {
      ++completed;
    } else if (slots == 2) {
      ++(key_changed ? two_slots_new_key : two_slots_old_key);
    } else {
      ++(key_changed ? finished : untouched);
    }
  }
  ASSERT_RUNS(env.cli({"vault", "rekey"}));  // a rekey after any interruption ends with one slot
  EXPECT_EQ(slots_now(), 1u);
  EXPECT_EQ(env.description(), n_of(7));
  if (file_store) {
    EXPECT_LE(env.temp_files(), 2u);
  }
  std::cout << "[ crash    ] " << rekeys << " rekeys: " << completed << " completed, killed with: " << untouched
            << " vault untouched, " << two_slots_old_key << " two slots + old key file, " << two_slots_new_key
            << " two slots + new key file, " << finished << " one new slot\n";
}

TEST(VaultDurability, KilledRekeysLeaveAVaultTheKeyFileOpens) {
  vault_env env;
  ASSERT_RUNS(env.cli({"vault", "init"}));
  kill_rekeys_and_check(env, [&env] { return env.slots(); }, true);
}

// On PostgreSQL the envelope row is re-sealed with both keys in the
// transaction that re-seals the rows; the old slot goes only after the new
// key file is written.
TEST(VaultDurability, KilledRekeysOnPostgresLeaveAStoreTheKeyFileOpens) {
  CREDPROXY_SKIP_WITHOUT_POSTGRES();
  postgres_cluster pg;
  vault_env env(postgres_store_yaml(pg));
  ASSERT_TRUE(migrated_and_initialized(env));
  // The envelope is a vault file with empty contents: the slot count is
  // its byte 36, as in the file.
  const auto slots = [&pg]() -> std::size_t {
    const auto r = pg_exec(pg.socket_dsn(), "SELECT get_byte(sealed, 36) FROM credproxy_envelope");
    return r.ok ? std::stoul(r.value()) : 0;
  };
  kill_rekeys_and_check(env, slots, false);
}

TEST(VaultDurability, KilledEnvironmentRekeysOpenWithTheOldOrThePrintedKey) {
  vault_env env("  key_source: env\n");
  // A fixed old key: this test is about the new one.
  std::string current = "5f" + std::string(62, '3');
  ASSERT_RUNS(env.cli({"vault", "init"}, {}, with_env({"CREDPROXY_MASTER_KEY=" + current})));
  ASSERT_RUNS(env.cli({"cred", "add", "--solution", "default", "--key", "counter", "--json", "-"}, counter_doc(3),
                      with_env({"CREDPROXY_MASTER_KEY=" + current})));
  EXPECT_FALSE(fs::exists(env.key()));

  const double rekey_ms = calibrate(2, [&] {
    const auto r = env.cli({"vault", "rekey"}, {}, with_env({"CREDPROXY_MASTER_KEY=" + current}));
    ASSERT_RUNS(r);
    current = r.out.substr(0, 64);
  });
  const auto seed = crash_seed();
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<long> delay_us(0, static_cast<long>(rekey_ms * 1200));
  int old_opens = 0, printed_opens = 0;
  for (int i = 0; i < 20; ++i) {
    auto rekey = env.start({"vault", "rekey"}, {}, with_env({"CREDPROXY_MASTER_KEY=" + current}));
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
    rekey->send_signal(SIGKILL);
    ASSERT_TRUE(rekey->wait_for(10s));
    const std::string printed = rekey->captured_stdout();
    if (env.description(with_env({"CREDPROXY_MASTER_KEY=" + current})) == n_of(3)) {
      ++old_opens;
      continue;
    }
    // Only once the new key is out may the old one stop working.
    ASSERT_EQ(printed.size(), 65u) << "rekey " << i << " (seed " << seed << "): old key refused, nothing printed";
    current = printed.substr(0, 64);
    ASSERT_EQ(env.description(with_env({"CREDPROXY_MASTER_KEY=" + current})), n_of(3));
    ++printed_opens;
  }
  std::cout << "[ crash    ] env rekey seed " << seed << ": " << old_opens << " kills left the old key working, "
            << printed_opens << " needed the printed key\n";
}

// Two writers adding credentials at once, `per_writer` each: every one of
// them is there afterwards.
void concurrent_writers_lose_nothing(const vault_env& env, int per_writer) {
  std::atomic<int> failures{0};
  std::string first_failure;
  std::mutex failure_mutex;
  const auto writer = [&](int w) {
    for (int i = 0; i < per_writer; ++i) {
      const auto r = env.cli({"cred", "add", "--solution", "default", "--key",
                              "w" + std::to_string(w) + ".k" + std::to_string(i), "--json", "-"},
                             counter_doc(i));
      if (r.status.signaled || r.status.code != 0) {
        if (failures++ == 0) {
          std::lock_guard lock(failure_mutex);
          first_failure = describe(r);
        }
      }
    }
  };
  const auto started = clock::now();
  std::thread a(writer, 0), b(writer, 1);
  a.join();
  b.join();
  const double elapsed = ms(clock::now() - started).count() / 1000;
  ASSERT_EQ(failures.load(), 0) << first_failure;

  const auto r = env.cli({"cred", "list", "--json"});
  ASSERT_RUNS(r);
  const auto list = boost::json::parse(r.out).as_array();
  std::set<std::string> keys;
  for (const auto& item : list) keys.insert(std::string(item.as_object().at("key").as_string()));
  EXPECT_EQ(keys.size(), 2u * per_writer);
  for (int w = 0; w < 2; ++w)
    for (int i = 0; i < per_writer; ++i)
      EXPECT_TRUE(keys.count("w" + std::to_string(w) + ".k" + std::to_string(i))) << w << "." << i;
  std::cout << "[ concur   ] 2 writers x " << per_writer << " adds in " << elapsed << " s, " << keys.size()
            << " credentials present\n";
}

TEST(VaultDurability, ConcurrentWritersLoseNothing) {
  vault_env env;
  ASSERT_RUNS(env.cli({"vault", "init"}));
  concurrent_writers_lose_nothing(env, 100);
}

// On PostgreSQL the writers' transactions serialize on the document row.
TEST(VaultDurability, ConcurrentWritersOnPostgresLoseNothing) {
  CREDPROXY_SKIP_WITHOUT_POSTGRES();
  postgres_cluster pg;
  vault_env env(postgres_store_yaml(pg));
  ASSERT_TRUE(migrated_and_initialized(env));
  concurrent_writers_lose_nothing(env, 40);
}

// ---- key sources through the binary -------------------------------------------

TEST(VaultKeys, WrongKeyFileExitsTwoWithOneLine) {
  vault_env env;
  ASSERT_RUNS(env.cli({"vault", "init"}));
  ASSERT_RUNS(env.cli({"cred", "add", "--solution", "default", "--key", "counter", "--json", "-"}, counter_doc(1)));
  write_file(env.key(), std::string(64, 'a') + "\n");
  ::chmod(env.key().c_str(), 0600);
  expect_one_line_error(env.cli({"cred", "list"}), "cannot decrypt: wrong master key (key file " + env.key().string());
  ::chmod(env.vault().c_str(), 0644);
  expect_one_line_error(env.cli({"cred", "list"}), "chmod 600 " + env.vault().string());
}

TEST(VaultKeys, PassphraseVault) {
  vault_env env;
  const auto pass = env.dir() / "pass";
  write_file(env.config(), "vault:\n  path: " + quoted(env.vault()) + "\n  key_source: passphrase\n  passphrase_file: " +
                               quoted(pass) + "\n");
  write_file(pass, "correct horse battery staple\n");
  ::chmod(pass.c_str(), 0600);
  ASSERT_RUNS(env.cli({"vault", "init"}));
  EXPECT_FALSE(fs::exists(env.key()));
  ASSERT_RUNS(env.cli({"cred", "add", "--solution", "default", "--key", "counter", "--json", "-"}, counter_doc(1)));
  EXPECT_EQ(env.description(), n_of(1));

  write_file(pass, "wrong horse battery staple\n");
  const auto wrong = env.cli({"cred", "list"});
  expect_one_line_error(wrong, "cannot decrypt: wrong passphrase (passphrase file " + pass.string());
  EXPECT_EQ(wrong.err.find("horse"), std::string::npos);

  // Rekey to a new passphrase given in a file: the configured file takes it.
  write_file(pass, "correct horse battery staple\n");
  const auto next = env.dir() / "next";
  write_file(next, "a new and longer passphrase\n");
  ::chmod(next.c_str(), 0600);
  ASSERT_RUNS(env.cli({"vault", "rekey", "--new-passphrase-file", next.string()}));
  EXPECT_EQ(read_file(pass), "a new and longer passphrase\n");
  EXPECT_EQ(env.description(), n_of(1));
  EXPECT_EQ(env.slots(), 1u);

  // From the environment instead of a file.
  write_file(env.config(), "vault:\n  path: " + quoted(env.vault()) + "\n  key_source: passphrase\n");
  EXPECT_EQ(env.description(with_env({"CREDPROXY_PASSPHRASE=a new and longer passphrase"})), n_of(1));
  expect_one_line_error(env.cli({"cred", "list"}), "environment variable CREDPROXY_PASSPHRASE is not set");
}

TEST(VaultKeys, EnvironmentKeyAndRekeyToIt) {
  vault_env env;
  ASSERT_RUNS(env.cli({"vault", "init"}));
  ASSERT_RUNS(env.cli({"cred", "add", "--solution", "default", "--key", "counter", "--json", "-"}, counter_doc(2)));

  // Switch from the key file to an environment key: printed once, alone.
  const auto r = env.cli({"vault", "rekey", "--to", "env"});
  ASSERT_RUNS(r);
  ASSERT_TRUE(std::regex_match(r.out, std::regex("[0-9a-f]{64}\n"))) << r.out;
  EXPECT_NE(r.err.find("put it in environment variable CREDPROXY_MASTER_KEY"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(r.out.substr(0, 64)), std::string::npos);
  expect_one_line_error(env.cli({"cred", "list"}), "wrong master key");  // the old key file

  write_file(env.config(), "vault:\n  path: " + quoted(env.vault()) + "\n  key_source: env\n");
  EXPECT_EQ(env.description(with_env({"CREDPROXY_MASTER_KEY=" + r.out.substr(0, 64)})), n_of(2));
  expect_one_line_error(env.cli({"cred", "list"}), "environment variable CREDPROXY_MASTER_KEY is not set");
  expect_one_line_error(env.cli({"cred", "list"}, {}, with_env({"CREDPROXY_MASTER_KEY=" + std::string(64, 'b')})),
                        "cannot decrypt: wrong master key (environment variable CREDPROXY_MASTER_KEY");
  expect_one_line_error(env.cli({"cred", "list"}, {}, with_env({"CREDPROXY_MASTER_KEY=xyz"})),
                        "environment variable CREDPROXY_MASTER_KEY: expected 64 hex digits");

  // A new vault needs the variable, and says how to make one.
  vault_env fresh("  key_source: env\n");
  expect_one_line_error(fresh.cli({"vault", "init"}), "openssl rand -hex 32");
  EXPECT_FALSE(fs::exists(fresh.vault()));
}

// What a rekey refuses, and how it says so: nothing is changed.
TEST(VaultKeys, RekeyRefusalsSayWhatToDo) {
  vault_env env;
  ASSERT_RUNS(env.cli({"vault", "init"}));
  ASSERT_RUNS(env.cli({"cred", "add", "--solution", "default", "--key", "counter", "--json", "-"}, counter_doc(3)));
  const std::string key_before = read_file(env.key());

  const auto wrong_flag = env.cli({"vault", "rekey", "--new-passphrase-file", "x"});
  EXPECT_EQ(wrong_flag.status.code, 1) << describe(wrong_flag);  // a usage error
  EXPECT_NE(wrong_flag.err.find("applies only when the new key is a passphrase"), std::string::npos);
  expect_one_line_error(env.cli({"vault", "rekey", "--to", "passphrase"}, {}, with_env({})),
                        "no new passphrase: give it with --new-passphrase-file FILE or in environment variable "
                        "CREDPROXY_NEW_PASSPHRASE");

  // Switching to a key file where one already exists would lose that file.
  const auto env_key = env.cli({"vault", "rekey", "--to", "env"});
  ASSERT_RUNS(env_key);
  write_file(env.config(), "vault:\n  path: " + quoted(env.vault()) + "\n  key_file: " + quoted(env.key()) +
                               "\n  key_source: env\n");
  const auto key_env = with_env({"CREDPROXY_MASTER_KEY=" + env_key.out.substr(0, 64)});
  expect_one_line_error(env.cli({"vault", "rekey", "--to", "file"}, {}, key_env),
                        "key file " + env.key().string() + " already exists; refusing to overwrite it");
  EXPECT_EQ(read_file(env.key()), key_before);
  EXPECT_EQ(env.description(key_env), n_of(3));
}

// `serve` with a passphrase keeps one store: reloads do not run scrypt
// again (timings printed), and a rekey of the passphrase file is picked up.
TEST(VaultKeys, ServeReloadsAPassphraseVaultAndFollowsARekey) {
  fake_upstream upstream;
  vault_env env;
  const auto pass = env.dir() / "pass";
  write_file(env.config(), "listen: 127.0.0.1:0\nadmin_listen: 127.0.0.1:0\nhealth_listen: 127.0.0.1:0\nworkers: 1\n"
                           "vault:\n  path: " + quoted(env.vault()) + "\n  key_source: passphrase\n  passphrase_file: " +
                               quoted(pass) + "\negress:\n  allow_cidrs: [127.0.0.0/8]\nlog:\n  level: info\n");
  write_file(pass, "correct horse battery staple\n");
  ::chmod(pass.c_str(), 0600);
  ASSERT_RUNS(env.cli({"vault", "init"}));
  ASSERT_RUNS(env.cli({"cred", "add", "--solution", "default", "--key", "counter", "--json", "-"},
                      counter_doc(1, upstream.authority())));

  spawn_options o;
  o.argv = {credproxy_binary(), "serve", "--config", env.config().string()};
  o.stdout_path = env.dir() / "serve.log";
  o.merge_stderr_into_stdout = true;
  o.env = with_env({});
  process serve(o);
  const auto log = [&] { return read_file(env.dir() / "serve.log"); };
  const auto count = [&](const std::string& what) {
    const auto text = log();
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  std::uint16_t port = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        const auto text = log();
        std::smatch m;
        if (std::regex_search(text, m, std::regex(R"(proxy listening on 127\.0\.0\.1:(\d+))")))
          port = static_cast<std::uint16_t>(std::stoul(m[1].str()));
        return port != 0 || !serve.running();
      },
      15s))
      << log();
  ASSERT_TRUE(serve.running()) << log();
  curl_runner curl(port, env.dir().path());
  const auto inject = [&] {
    const auto before = upstream.request_count();
    const auto r = curl.get(upstream.url("/q"), {"-H", "X-Api-Key: {{cred:counter}}"});
    ASSERT_EQ(r.status.code, 0) << r.err;
    ASSERT_EQ(r.only().status, 200u) << log();
    ASSERT_TRUE(upstream.wait_for_requests(before + 1));
    EXPECT_EQ(upstream.requests().back().header("X-Api-Key"), canary);
  };
  inject();

  const auto reload = [&] {
    const auto before = count("vault reloaded") + count("vault reload failed");
    const auto t0 = clock::now();
    serve.send_signal(SIGHUP);
    EXPECT_TRUE(wait_until([&] { return count("vault reloaded") + count("vault reload failed") > before; }, 10s));
    return ms(clock::now() - t0).count();
  };
  std::vector<double> reloads;
  for (int i = 0; i < 5; ++i) reloads.push_back(reload());

  const auto next = env.dir() / "next";
  write_file(next, "a new and longer passphrase\n");
  ::chmod(next.c_str(), 0600);
  ASSERT_RUNS(env.cli({"vault", "rekey", "--new-passphrase-file", next.string()}));
  const double after_rekey = reload();
  EXPECT_EQ(count("vault reload failed"), 0u) << log();
  inject();
  serve.stop(10s);
  EXPECT_EQ(log().find(canary), std::string::npos);
  EXPECT_EQ(log().find("horse"), std::string::npos);
  std::cout << "[ reload   ] passphrase vault: median reload " << median(reloads)
            << " ms (key cached), first reload after a rekey " << after_rekey
            << " ms (old passphrase tried on the new salt, then the re-read one: two scrypt runs, once)\n";
}

}  // namespace
}  // namespace credproxy::test
