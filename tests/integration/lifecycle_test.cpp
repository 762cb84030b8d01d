// Shutdown under load (issue 10 item 12): on SIGTERM serve stops accepting,
// serves what the kernel had already queued, finishes requests in flight,
// answers requests that arrive on keep-alive connections during the drain
// with Connection: close, then closes idle connections and exits 0. A
// request a client managed to send is never left without an answer.
#include <signal.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/raw_client.hpp"

namespace credproxy::test {
namespace {

struct load_counts {
  std::atomic<std::uint64_t> sent{0};      // requests written completely
  std::atomic<std::uint64_t> answered{0};  // complete responses read
  std::atomic<std::uint64_t> lost{0};      // written, then no complete response
  std::atomic<std::uint64_t> refused{0};   // connections refused (nothing sent)
};

bool says_close(const http_response& r) {
  const auto value = r.header("Connection");
  return value && value->find("close") != std::string::npos;
}

// One keep-alive client: requests back to back until the proxy has closed
// its port, or `deadline` (the loop is bounded either way).
void keep_loading(std::uint16_t port, const std::string& request, load_counts& counts,
                  std::chrono::steady_clock::time_point deadline) {
  while (std::chrono::steady_clock::now() < deadline) {
    std::unique_ptr<raw_connection> connection;
    try {
      connection = std::make_unique<raw_connection>(port);
    } catch (const std::exception&) {
      ++counts.refused;
      return;  // the port is closed: serve is gone
    }
    for (bool open = true; open && std::chrono::steady_clock::now() < deadline;) {
      try {
        connection->send(request);
      } catch (const std::exception&) {
        break;  // closed before the request went out: nothing was lost
      }
      ++counts.sent;
      const auto response = connection->read_response(std::chrono::seconds(10));
      if (!response || response->status != 200) {
        ++counts.lost;
        return;
      }
      ++counts.answered;
      open = !says_close(*response);
    }
  }
}

// `origin` answers /slow with a chunked body the test feeds (a response
// still in flight when the signal comes) and anything else at once.
std::shared_ptr<chunk_feed> serve_slow_path_as_stream(fake_upstream& origin) {
  auto slow = std::make_shared<chunk_feed>();
  origin.set_handler([slow](const recorded_request& r) {
    if (r.target == "/slow") return response_spec().with_feed(slow);
    return response_spec().with_body("fast");
  });
  return slow;
}

TEST(Lifecycle, SigtermUnderLoadLosesNoRequest) {
  fake_upstream origin;
  const auto slow = serve_slow_path_as_stream(origin);
  credproxy_instance proxy(instance_options().with_credential("k", api_key_doc("v", origin.authority())));
  const std::string request = "GET " + origin.url("/fast") + " HTTP/1.1\r\nHost: " + origin.authority() +
                              "\r\nX-Api-Key: {{cred:k}}\r\n\r\n";
  // A request in flight when the signal comes: its body is still streaming.
  raw_connection in_flight(proxy.proxy_port());
  in_flight.send("GET " + origin.url("/slow") + " HTTP/1.1\r\nHost: " + origin.authority() + "\r\n\r\n");
  slow->push("first part ");
  ASSERT_TRUE(in_flight.wait_for("first part", std::chrono::seconds(5)));

  load_counts counts;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::vector<std::thread> clients;
  for (int i = 0; i < 8; ++i)
    clients.emplace_back([&] { keep_loading(proxy.proxy_port(), request, counts, deadline); });
  // Under load first (bounded wait for a few hundred answers), then SIGTERM.
  for (int i = 0; i < 1000 && counts.answered < 300; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_GE(counts.answered.load(), 300u) << "no load reached the origin";
  ::kill(proxy.pid(), SIGTERM);
  for (auto& client : clients) client.join();

  // The request in flight finishes after the signal.
  slow->push("second part");
  slow->finish();
  const auto slow_response = in_flight.read_response(std::chrono::seconds(10));
  ASSERT_TRUE(slow_response);
  EXPECT_EQ(slow_response->status, 200u);
  EXPECT_EQ(slow_response->body, "first part second part");

  const auto status = proxy.stop();
  EXPECT_FALSE(status.signaled) << status.describe();
  EXPECT_EQ(status.code, 0) << status.describe();
  EXPECT_EQ(counts.lost.load(), 0u) << counts.sent << " sent, " << counts.answered << " answered";
  EXPECT_EQ(counts.sent.load(), counts.answered.load());
  EXPECT_EQ(counts.refused.load(), 8u);  // every client ended on the closed port, not the deadline
}

// The race a drain must not lose: a keep-alive client idle at the signal
// sends its next request right after shutdown began. It is answered, with
// Connection: close, instead of finding its connection reset.
TEST(Lifecycle, RequestOnAnIdleConnectionJustAfterTheSignalIsAnswered) {
  fake_upstream origin;
  const auto slow = serve_slow_path_as_stream(origin);
  credproxy_instance proxy(instance_options().with_credential("k", api_key_doc("v", origin.authority())));
  const std::string next = "GET " + origin.url("/next") + " HTTP/1.1\r\nHost: " + origin.authority() + "\r\n\r\n";
  raw_connection idle(proxy.proxy_port());
  idle.send(next);
  const auto first = idle.read_response();
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200u);
  // Keeps serve draining (not exited) while the idle client speaks.
  raw_connection in_flight(proxy.proxy_port());
  in_flight.send("GET " + origin.url("/slow") + " HTTP/1.1\r\nHost: " + origin.authority() + "\r\n\r\n");
  slow->push("part ");
  ASSERT_TRUE(in_flight.wait_for("part", std::chrono::seconds(5)));

  ::kill(proxy.pid(), SIGTERM);
  ASSERT_TRUE(proxy.wait_for_log(std::regex("signal 15 received: shutting down")));
  // The signal reaches the workers a moment after the log line (the
  // control thread posts it to them): requests that beat it are answered
  // keep-alive, so keep asking (bounded). Every request gets its answer, and
  // the first one after the workers know says Connection: close.
  bool closed_by_answer = false;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (int i = 0; i < 5000 && !closed_by_answer && std::chrono::steady_clock::now() < give_up; ++i) {
    idle.send(next);
    const auto during = idle.read_response(std::chrono::seconds(5));
    ASSERT_TRUE(during) << "request " << i << " sent on the idle connection during the drain was lost";
    EXPECT_EQ(during->status, 200u);
    closed_by_answer = says_close(*during);
  }
  EXPECT_TRUE(closed_by_answer);
  EXPECT_TRUE(idle.wait_closed(std::chrono::seconds(5)));

  slow->finish();
  EXPECT_TRUE(in_flight.read_response(std::chrono::seconds(5)));
  EXPECT_EQ(proxy.stop().code, 0);
}

// Idle keep-alive connections do not hold shutdown up: closed after the
// short drain grace, well before the 10 s bound for requests in flight.
TEST(Lifecycle, IdleKeepAliveConnectionsAreClosedOnShutdown) {
  fake_upstream origin;
  credproxy_instance proxy(instance_options().with_credential("k", api_key_doc("v", origin.authority())));
  raw_connection idle(proxy.proxy_port());
  idle.send("GET " + origin.url("/x") + " HTTP/1.1\r\nHost: " + origin.authority() + "\r\n\r\n");
  const auto first = idle.read_response();
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200u);
  const auto started = std::chrono::steady_clock::now();
  ::kill(proxy.pid(), SIGTERM);
  EXPECT_TRUE(idle.wait_closed(std::chrono::seconds(5)));
  const auto status = proxy.stop();
  EXPECT_EQ(status.code, 0) << status.describe();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

}  // namespace
}  // namespace credproxy::test
