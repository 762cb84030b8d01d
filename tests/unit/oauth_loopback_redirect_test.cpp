// The loopback redirect listener of `oauth login` (RFC 8252 §7.3): only the
// expected path with the expected state ends the wait.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "oauth/loopback_redirect.hpp"

namespace credproxy::oauth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using tcp = boost::asio::ip::tcp;

// Sends one raw request, returns the whole response.
std::string get(std::uint16_t port, const std::string& target, const std::string& method = "GET") {
  boost::asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  const std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  boost::asio::write(socket, boost::asio::buffer(request));
  std::string response;
  boost::system::error_code ec;
  boost::asio::read(socket, boost::asio::dynamic_buffer(response), ec);
  return response;
}

unsigned status_of(const std::string& response) {
  return response.size() > 12 ? static_cast<unsigned>(std::stoul(response.substr(9, 3))) : 0;
}

const secret state("state-0123456789abcdef");

TEST(OauthLoopbackRedirect, OnlyTheRightPathAndStateEndTheWait) {
  loopback_redirect listener("127.0.0.1", 0, "/callback");
  const auto port = listener.port();
  ASSERT_NE(port, 0);
  auto browser = std::async(std::launch::async, [port] {
    std::vector<std::string> responses;
    responses.push_back(get(port, "/favicon.ico"));
    responses.push_back(get(port, "/callback?code=c1&state=wrong"));
    responses.push_back(get(port, "/callback?code=c1"));
    responses.push_back(get(port, "/callback?code=c1&state=state-0123456789abcdef&state=x"));
    responses.push_back(get(port, "/callback?code=c1&state=state-0123456789abcdef", "POST"));
    responses.push_back(get(port, "/callback?code=the%2Bcode+x&state=state-0123456789abcdef"));
    return responses;
  });
  const auto outcome = listener.wait(state, std::chrono::seconds(10));
  const auto responses = browser.get();
  EXPECT_EQ(status_of(responses[0]), 404u);
  EXPECT_EQ(status_of(responses[1]), 400u);
  EXPECT_THAT(responses[1], HasSubstr("state mismatch"));
  EXPECT_EQ(status_of(responses[2]), 400u);
  EXPECT_EQ(status_of(responses[3]), 400u);
  EXPECT_EQ(status_of(responses[4]), 405u);
  EXPECT_EQ(status_of(responses[5]), 200u);
  EXPECT_THAT(responses[5], HasSubstr("You can close this window"));
  EXPECT_THAT(responses[5], Not(HasSubstr("the+code")));
  ASSERT_EQ(outcome.result, redirect_outcome::status::code);
  EXPECT_EQ(outcome.code.view(), "the+code x");
}

TEST(OauthLoopbackRedirect, ProviderErrorsEndTheWait) {
  loopback_redirect listener("127.0.0.1", 0, "/cb");
  const auto port = listener.port();
  auto browser = std::async(std::launch::async, [port] {
    return get(port, "/cb?error=access_denied&error_description=no+way&state=state-0123456789abcdef");
  });
  const auto outcome = listener.wait(state, std::chrono::seconds(10));
  EXPECT_EQ(status_of(browser.get()), 200u);
  ASSERT_EQ(outcome.result, redirect_outcome::status::error);
  EXPECT_EQ(outcome.error, "access_denied");
}

TEST(OauthLoopbackRedirect, TimesOutAndSurvivesSilentConnections) {
  loopback_redirect listener("127.0.0.1", 0, "/cb");
  // A browser's speculative connection that never sends anything.
  boost::asio::io_context ioc;
  tcp::socket idle(ioc);
  idle.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), listener.port()));
  const auto started = std::chrono::steady_clock::now();
  const auto outcome = listener.wait(state, std::chrono::milliseconds(300));
  EXPECT_EQ(outcome.result, redirect_outcome::status::timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
}

TEST(OauthLoopbackRedirect, FixedPortInUseIsReported) {
  loopback_redirect first("127.0.0.1", 0, "/cb");
  try {
    loopback_redirect second("127.0.0.1", first.port(), "/cb");
    FAIL() << "bound twice";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot listen on 127.0.0.1:" + std::to_string(first.port())));
  }
}

}  // namespace
}  // namespace credproxy::oauth
