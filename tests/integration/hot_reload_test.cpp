// Hot reload through the real binary: vault changes made by another process
// (`credproxy cred ...`) are served within one second while requests are in
// flight, none of which fails; a removed credential is refused; SIGHUP still
// reloads; a broken vault file is logged once and the current credentials
// stay in use.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <regex>
#include <mutex>
#include <set>
#include <thread>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/raw_client.hpp"
#include "tests/support/test_store.hpp"

namespace credproxy::test {
namespace {

constexpr auto reload_bound = std::chrono::seconds(1);

class HotReload : public ::testing::Test {
 protected:
  HotReload()
      : proxy_(instance_options().with_credential("k", api_key_doc(value(0), upstream_.authority()))) {}

  static std::string value(int n) { return "hot-value-" + std::to_string(n); }

  void cred(const std::string& verb, const std::string& key, const std::string& document = {}) {
    std::vector<std::string> args = {"cred", verb, "--solution", "default", "--key", key};
    if (!document.empty()) args.insert(args.end(), {"--json", "-"});
    const auto r = proxy_.cli(args, document);
    ASSERT_EQ(r.status.code, 0) << r.err;
  }

  // One request through the proxy on a fresh connection, as a function would send it.
  std::optional<http_response> request(const std::string& key, const std::string& path = "/hot") {
    return raw_exchange(proxy_.proxy_port(), request_text(key, path));
  }
  std::string request_text(const std::string& key, const std::string& path) const {
    return "GET " + upstream_.url(path) + " HTTP/1.1\r\nHost: " + upstream_.authority() +
           "\r\nX-Api-Key: {{cred:" + key + "}}\r\n\r\n";
  }

  // Waits (bounded by `reload_bound` from now) until a request injects `want`.
  bool injected_within_bound(const std::string& want) {
    return wait_until(
        [&] {
          const auto before = upstream_.request_count();
          const auto r = request("k");
          if (!r || r->status != 200 || !upstream_.wait_for_requests(before + 1)) return false;
          return upstream_.requests().back().header("X-Api-Key") == want;
        },
        reload_bound);
  }

  void replace_vault_file(const std::string& bytes) const {
    const auto tmp = proxy_.dir() / "vault.tmp";
    write_file(tmp, bytes);
    ASSERT_EQ(::chmod(tmp.c_str(), 0600), 0);
    std::filesystem::rename(tmp, proxy_.vault_path());
  }

  // A value from the proxy's /metrics (~0 when absent).
  std::uint64_t metric(const std::string& name) const {
    const auto r = raw_exchange(proxy_.health_port(),
                                "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    std::smatch m;
    const std::regex line("(^|\n)" + name + " ([0-9]+)\n");
    if (!r || !std::regex_search(r->body, m, line)) return ~std::uint64_t{0};
    return std::stoull(m[2]);
  }

  fake_upstream upstream_;
  credproxy_instance proxy_;
};

TEST_F(HotReload, CliUpdateIsInjectedWithinASecond) {
  ASSERT_TRUE(injected_within_bound(value(0)));
  cred("update", "k", api_key_doc(value(1), upstream_.authority()));
  EXPECT_TRUE(injected_within_bound(value(1)));
  EXPECT_TRUE(proxy_.wait_for_log(std::regex(R"(vault reloaded \(revision \d+\))")));
}

TEST_F(HotReload, AddedCredentialIsUsableWithinASecond) {
  cred("add", "fresh", api_key_doc(value(7), upstream_.authority()));
  const bool ok = wait_until(
      [&] {
        const auto r = request("fresh");
        return r && r->status == 200;
      },
      reload_bound);
  EXPECT_TRUE(ok);
  ASSERT_TRUE(upstream_.wait_for_requests(1));
  EXPECT_EQ(upstream_.requests().back().header("X-Api-Key"), value(7));
}

TEST_F(HotReload, RemovedCredentialIsRefusedWithinASecond) {
  ASSERT_TRUE(injected_within_bound(value(0)));
  cred("remove", "k");
  std::optional<http_response> last;
  const bool refused = wait_until(
      [&] {
        last = request("k");
        return last && last->status == 403;
      },
      reload_bound);
  ASSERT_TRUE(refused) << (last ? last->status : 0u);
  EXPECT_TRUE(is_proxy_error(*last, 403, "credential_not_found", "k"));
  // Once refused, refused for good: nothing more reaches the upstream.
  const auto reached = upstream_.request_count();
  const auto again = request("k");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, 403u);
  EXPECT_EQ(upstream_.request_count(), reached);
}

// Clients keep requests in flight (slow upstream, keep-alive connections)
// while the vault changes three times; every request succeeds, with the
// value of one vault revision or another, and the last one wins.
TEST_F(HotReload, InFlightRequestsNeverFail) {
  upstream_.set_handler([](const recorded_request&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(15));  // the upstream's own thread: slow, not stuck
    return response_spec();
  });
  constexpr int clients = 4;
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, completed{0};
  std::mutex failure_mutex;
  std::string first_failure;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      // Bounded: at most 400 requests per client even if `stop` never comes.
      for (int round = 0; round < 400 && !stop; ++round) {
        try {
          raw_connection connection(proxy_.proxy_port());  // a few requests per connection
          for (int i = 0; i < 5 && !stop; ++i) {
            connection.send(request_text("k", "/c" + std::to_string(c)));
            const auto r = connection.read_response();
            if (!r || r->status != 200) {
              ++failures;
              std::lock_guard lock(failure_mutex);
              if (first_failure.empty()) first_failure = r ? std::to_string(r->status) + " " + r->body : "no response";
              break;
            }
            ++completed;
          }
        } catch (const std::exception& e) {
          ++failures;
          std::lock_guard lock(failure_mutex);
          if (first_failure.empty()) first_failure = e.what();
        }
      }
    });
  }
  ASSERT_TRUE(wait_until([&] { return completed >= 20; }, std::chrono::seconds(5)));
  for (int n = 1; n <= 3; ++n) {
    cred("update", "k", api_key_doc(value(n), upstream_.authority()));
    const bool seen = wait_until(
        [&] {
          const auto requests = upstream_.requests();
          return !requests.empty() && requests.back().header("X-Api-Key") == value(n);
        },
        reload_bound);
    EXPECT_TRUE(seen) << "revision with " << value(n) << " not served within 1 s";
  }
  const auto settled = completed.load();
  ASSERT_TRUE(wait_until([&] { return completed >= settled + 20; }, std::chrono::seconds(5)));
  stop = true;
  for (auto& t : threads) t.join();

  EXPECT_EQ(failures, 0) << first_failure;
  const std::set<std::string> allowed = {value(0), value(1), value(2), value(3)};
  const auto requests = upstream_.requests();
  for (const auto& r : requests) {
    EXPECT_TRUE(allowed.count(r.header("X-Api-Key").value_or(""))) << r.header("X-Api-Key").value_or("(none)");
    EXPECT_TRUE(no_placeholder_reached(r));
  }
  // Settled: the last requests all carry the last value.
  ASSERT_GE(requests.size(), 10u);
  EXPECT_EQ(requests.back().header("X-Api-Key"), value(3));
}

TEST_F(HotReload, SighupStillReloads) {
  ASSERT_TRUE(proxy_.reload_vault());  // SIGHUP, then "vault reloaded" in the log
  cred("update", "k", api_key_doc(value(2), upstream_.authority()));
  ASSERT_TRUE(proxy_.reload_vault());
  const auto r = request("k");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200u);
  ASSERT_TRUE(upstream_.wait_for_requests(1));
  EXPECT_EQ(upstream_.requests().back().header("X-Api-Key"), value(2));
}

TEST_F(HotReload, BrokenVaultIsLoggedOnceAndTheCurrentCredentialsStay) {
  CREDPROXY_FILE_STORE_ONLY("it writes a corrupt vault file over the good one");
  ASSERT_TRUE(injected_within_bound(value(0)));
  const auto good = read_file(proxy_.vault_path());
  auto broken = good;
  broken[broken.size() / 2] ^= 0x40;
  replace_vault_file(broken);
  ASSERT_TRUE(proxy_.wait_for_log(std::regex("vault reload failed"), reload_bound));

  // Several poll intervals pass while requests keep being served.
  const auto until = clock::now() + std::chrono::milliseconds(1200);
  while (clock::now() < until) {
    const auto r = request("k");
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->status, 200u) << r->body;
  }
  EXPECT_EQ(lines_with(proxy_.log(), {"vault reload failed"}).size(), 1u) << proxy_.log();
  EXPECT_EQ(upstream_.requests().back().header("X-Api-Key"), value(0));

  // Repaired: back to normal, and writers work again.
  replace_vault_file(good);
  cred("update", "k", api_key_doc(value(4), upstream_.authority()));
  EXPECT_TRUE(injected_within_bound(value(4)));
  EXPECT_EQ(lines_with(proxy_.log(), {"vault reload failed"}).size(), 1u);
}

// A FIFO put at the vault path must not stop hot reload: the watcher refuses
// it without blocking in open(2), requests keep being served with the
// current credentials, /metrics says the vault is stale, and a good vault
// renamed over the FIFO is picked up as usual.
TEST_F(HotReload, AFifoAtTheVaultPathIsShownAsStaleAndRecovers) {
  CREDPROXY_FILE_STORE_ONLY("it puts a FIFO at the vault file's path");
  ASSERT_TRUE(injected_within_bound(value(0)));
  ASSERT_EQ(metric("credproxy_vault_stale"), 0u);
  const auto good = read_file(proxy_.vault_path());
  const auto aside = proxy_.dir() / "vault.aside";
  std::filesystem::rename(proxy_.vault_path(), aside);
  ASSERT_EQ(::mkfifo(proxy_.vault_path().c_str(), 0600), 0);
  // Whatever happens, the FIFO must not keep a blocked reader (and so the
  // proxy's shutdown) waiting after the test.
  struct unblock {
    std::filesystem::path fifo;
    ~unblock() {
      struct stat st {};
      if (::stat(fifo.c_str(), &st) != 0 || !S_ISFIFO(st.st_mode)) return;
      const int w = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (w >= 0) ::close(w);
    }
  } unblock_on_exit{proxy_.vault_path()};

  EXPECT_TRUE(proxy_.wait_for_log(std::regex("vault reload failed.*not a regular file \\(a FIFO\\)"), reload_bound))
      << proxy_.log();
  EXPECT_TRUE(wait_until([&] { return metric("credproxy_vault_stale") == 1; }, reload_bound));
  EXPECT_GE(metric("credproxy_vault_reload_failures_total"), 1u);
  const auto r = request("k");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200u) << r->body;

  // A good vault renamed over the FIFO: reloaded, no longer stale, and
  // writers work again.
  replace_vault_file(good);
  EXPECT_TRUE(wait_until([&] { return metric("credproxy_vault_stale") == 0; }, reload_bound));
  cred("update", "k", api_key_doc(value(5), upstream_.authority()));
  EXPECT_TRUE(injected_within_bound(value(5)));
}

}  // namespace
}  // namespace credproxy::test
