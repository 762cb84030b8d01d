// Faults through the real binary: an origin that resets or stalls mid-body,
// a client dribbling its head, thousands of idle clients, a descriptor
// limit, and a full disk while saving the vault. Each ends in a clear error
// or an aborted connection, never a body that looks complete, and the
// proxy keeps serving everyone else.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <memory>
#include <regex>
#include <vector>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/process.hpp"
#include "tests/support/raw_client.hpp"
#include "tests/support/scripted_origin.hpp"
#include "tests/support/util.hpp"

namespace credproxy::test {
namespace {

const std::string canary = "CANARY-faults-5d2e77";
const std::string declared_body = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + std::string(1000, 'a');

std::string get_from(const std::string& authority, const std::string& path) {
  return "GET http://" + authority + path + " HTTP/1.1\r\nHost: " + authority +
         "\r\nX-Api-Key: {{cred:faults.key}}\r\n\r\n";
}

// Another client, served while the fault is going on.
void expect_others_served(const credproxy_instance& proxy) {
  fake_upstream healthy;
  const auto r = raw_exchange(proxy.proxy_port(), "GET " + healthy.url("/fine") + " HTTP/1.1\r\nHost: " +
                                                       healthy.authority() + "\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
}

TEST(Faults, AnOriginResettingMidBodyAbortsTheClient) {
  scripted_origin origin({origin_step::write(declared_body), origin_step::wait_gate(), origin_step::reset()});
  credproxy_instance proxy{instance_options().with_credential("faults.key", api_key_doc(canary, origin.authority()))};
  raw_connection c(proxy.proxy_port());
  c.send(get_from(origin.authority(), "/reset"));
  ASSERT_TRUE(c.wait_for(std::string(1000, 'a'), std::chrono::seconds(5)));
  origin.open_gate();
  std::string bytes;
  ASSERT_TRUE(c.wait_closed(std::chrono::seconds(5), &bytes)) << "the client was left waiting";
  EXPECT_LT(bytes.size(), 100000u) << "more than the origin sent";
  EXPECT_TRUE(proxy.wait_for_log(std::regex("status=200 .*error=incomplete_response")));
  expect_others_served(proxy);
}

TEST(Faults, AnOriginStallingMidBodyIsCutOffByTheIdleTimeout) {
  scripted_origin origin({origin_step::write(declared_body), origin_step::wait_gate()});
  credproxy_instance proxy{instance_options()
                               .with_credential("faults.key", api_key_doc(canary, origin.authority()))
                               .with_yaml("upstream:\n  idle_timeout_ms: 400\n")};
  raw_connection c(proxy.proxy_port());
  c.send(get_from(origin.authority(), "/stall"));
  ASSERT_TRUE(c.wait_for(std::string(1000, 'a'), std::chrono::seconds(5)));
  expect_others_served(proxy);  // during the stall
  std::string bytes;
  EXPECT_TRUE(c.wait_closed(std::chrono::seconds(5), &bytes)) << "a stalled body held the client";
  EXPECT_TRUE(proxy.wait_for_log(std::regex("error=incomplete_response")));
}

TEST(Faults, AClientDribblingItsHeadIsCutOffByTheHeadDeadline) {
  credproxy_instance proxy{instance_options().with_client_header_timeout_ms(500)};
  raw_connection c(proxy.proxy_port());
  const auto start = std::chrono::steady_clock::now();
  bool closed = false;
  c.send("GET http://127.0.0.1:9/ HTTP/1.1\r\nHost: 127.0.0.1:9\r\nX-Slow: ");
  // A byte every 50 ms keeps the connection busy, never idle: only a
  // deadline for the whole head ends it. Bounded: 200 bytes, 10 s.
  for (int i = 0; i < 200 && !closed; ++i) {
    try {
      c.send("x");
    } catch (const std::exception&) {
      closed = true;
    }
    if (!closed) closed = c.wait_closed(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(closed);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  expect_others_served(proxy);
}

void raise_our_descriptor_limit() {
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  limit.rlim_cur = limit.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
}

TEST(Faults, ThousandsOfIdleClientsLeaveServiceIntact) {
  raise_our_descriptor_limit();
  credproxy_instance proxy{instance_options()};
  std::vector<std::unique_ptr<raw_connection>> idle;
  for (int i = 0; i < 3000; ++i) idle.push_back(std::make_unique<raw_connection>(proxy.proxy_port()));
  expect_others_served(proxy);
  EXPECT_TRUE(wait_until([&] { return proxy.metric("credproxy_connections_active") >= 3000; }, std::chrono::seconds(5)));
  idle.clear();
  EXPECT_TRUE(wait_until([&] { return proxy.metric("credproxy_connections_active") == 0; }, std::chrono::seconds(5)))
      << proxy.metric("credproxy_connections_active") << " still counted";
}

TEST(Faults, UnderALowDescriptorLimitClientsOverTheFittedCapAreRefused) {
  auto options = instance_options();
  options.launcher = {"prlimit", "--nofile=400:400", "--"};
  credproxy_instance proxy{options};
  ASSERT_TRUE(proxy.wait_for_log(std::regex("serving at most 86 client connections with 100 idle")));
  std::vector<std::unique_ptr<raw_connection>> clients;
  for (int i = 0; i < 86; ++i) clients.push_back(std::make_unique<raw_connection>(proxy.proxy_port()));
  ASSERT_TRUE(wait_until([&] { return proxy.metric("credproxy_connections_active") == 86; }, std::chrono::seconds(5)));
  raw_connection over(proxy.proxy_port());
  EXPECT_TRUE(over.wait_closed(std::chrono::seconds(5))) << "a client over the cap was left hanging";
  // The held connections still work, upstream connections included.
  fake_upstream upstream;
  for (int i = 0; i < 86; i += 17) {
    clients[i]->send("GET " + upstream.url("/held") + " HTTP/1.1\r\nHost: " + upstream.authority() + "\r\n\r\n");
    const auto r = clients[i]->read_response();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->status, 200u);
  }
}

// As nginx's worker_rlimit_nofile: the soft limit goes up to the hard one
// at start, the figure is logged, and the connection cap follows it.
TEST(Faults, TheSoftDescriptorLimitIsRaisedToTheHardOne) {
  auto options = instance_options();
  options.launcher = {"prlimit", "--nofile=400:2000", "--"};
  credproxy_instance proxy{options};
  EXPECT_TRUE(proxy.wait_for_log(std::regex("open files: at most 2000 \\(RLIMIT_NOFILE")));
  // 2000 descriptors: 500 idle upstream (a quarter), 128 reserved, two per client.
  EXPECT_TRUE(proxy.wait_for_log(std::regex("serving at most 686 client connections with 500 idle")));
}

TEST(Faults, AFullDiskWhileSavingTheVaultChangesNothing) {
  fake_upstream upstream;
  credproxy_instance proxy{instance_options().with_credential("faults.key", api_key_doc(canary, upstream.authority()))};
  // The file-size limit makes the write fail the way a full disk does; the
  // signal it raises is ignored so the CLI sees the error itself.
  const std::string doc = api_key_doc("CANARY-never-saved-" + std::string(8192, 'z'), upstream.authority());
  const auto r = run({"bash", "-c", "trap '' XFSZ; exec prlimit --fsize=2048:2048 -- \"$0\" \"$@\"", credproxy_binary(),
                      "cred", "add", "--solution", "default", "--key", "faults.big", "--json", "-", "--config",
                      proxy.config_path().string()},
                     doc);
  EXPECT_NE(r.status.code, 0);
  EXPECT_NE(r.err.find("cannot write"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("CANARY-never-saved"), std::string::npos);
  const auto list = proxy.cli({"cred", "list", "--solution", "default"});
  EXPECT_NE(list.out.find("faults.key"), std::string::npos) << list.out;
  EXPECT_EQ(list.out.find("faults.big"), std::string::npos) << list.out;
  const auto served = raw_exchange(proxy.proxy_port(), get_from(upstream.authority(), "/after"));
  ASSERT_TRUE(served);
  EXPECT_EQ(served->status, 200u);
  ASSERT_TRUE(upstream.wait_for_requests(1));
  EXPECT_EQ(upstream.requests()[0].header("X-Api-Key"), canary);
}

}  // namespace
}  // namespace credproxy::test
