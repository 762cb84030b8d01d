// A chained proxy's answer to CONNECT, judged from the bytes read so far.
#include <gtest/gtest.h>

#include "outbound/connect_answer.hpp"

namespace credproxy::outbound {
namespace {

using state = connect_answer::state;

TEST(ConnectAnswer, A200OpensTheTunnelRightAfterTheHead) {
  const std::string head = "HTTP/1.1 200 Connection established\r\n\r\n";
  const auto answer = parse_connect_answer(head);
  EXPECT_EQ(answer.result, state::accepted);
  EXPECT_EQ(answer.status, 200u);
  EXPECT_EQ(answer.head_bytes, head.size());
  // Bytes after it are the tunnel's: the caller decides what they mean.
  EXPECT_EQ(parse_connect_answer(head + "\x16\x03\x01").head_bytes, head.size());
}

TEST(ConnectAnswer, ABodyLengthOnA2xxIsIgnored) {
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
  const auto answer = parse_connect_answer(head + "hello");
  EXPECT_EQ(answer.result, state::accepted);
  EXPECT_EQ(answer.head_bytes, head.size());
}

TEST(ConnectAnswer, OtherStatusesRefuse) {
  EXPECT_EQ(parse_connect_answer("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n").result, state::refused);
  const auto bad_gateway = parse_connect_answer("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 3\r\n\r\nbad");
  EXPECT_EQ(bad_gateway.result, state::refused);
  EXPECT_EQ(bad_gateway.status, 502u);
}

// Beast parses any three digits; a proxy answering "004" is not one we
// can talk to (found by the fuzz target).
TEST(ConnectAnswer, AStatusOutside100To599IsMalformed) {
  EXPECT_EQ(parse_connect_answer("HTTP/1.1 004 Bad Gateway\r\n\r\n").result, state::malformed);
  EXPECT_EQ(parse_connect_answer("HTTP/1.1 999 Odd\r\n\r\n").result, state::malformed);
  EXPECT_EQ(parse_connect_answer("HTTP/1.1 599 Odd\r\n\r\n").result, state::refused);
}

TEST(ConnectAnswer, AHeadInPiecesIsIncompleteUntilItEnds) {
  EXPECT_EQ(parse_connect_answer("").result, state::incomplete);
  EXPECT_EQ(parse_connect_answer("HTTP/1.1 200").result, state::incomplete);
  EXPECT_EQ(parse_connect_answer("HTTP/1.1 200 OK\r\n").result, state::incomplete);
}

TEST(ConnectAnswer, NotHttpOrTooLargeIsMalformedWithoutQuotingIt) {
  const auto ssh = parse_connect_answer("SSH-2.0-OpenSSH_9.2\r\n");
  EXPECT_EQ(ssh.result, state::malformed);
  EXPECT_EQ(ssh.error.find("OpenSSH"), std::string::npos) << ssh.error;
  const std::string endless = "HTTP/1.1 200 OK\r\nX-Filler: " + std::string(max_connect_answer_bytes, 'a');
  EXPECT_EQ(parse_connect_answer(endless).result, state::malformed);
}

}  // namespace
}  // namespace credproxy::outbound
