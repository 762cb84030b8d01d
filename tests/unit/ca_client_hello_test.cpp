// The ClientHello peek over untrusted bytes: real ClientHellos from OpenSSL
// (TLS 1.3 and 1.2, with and without ALPN and SNI, one spanning two records),
// the same re-split into records as small as one byte, every truncation,
// non-TLS openings, and hand-built malformed hellos, each with its verdict.
// Mutated inputs check that nothing but the four verdicts ever comes out.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <random>

#include "ca/client_hello.hpp"

#include "tests/unit/ca_test_support.hpp"

namespace credproxy::ca {
namespace {

using ::testing::ElementsAre;
using namespace testing_support;

std::string be(std::size_t value, std::size_t width) {
  std::string out(width, '\0');
  for (std::size_t i = 0; i < width; ++i) out[width - 1 - i] = static_cast<char>((value >> (8 * i)) & 0xff);
  return out;
}
std::string vec(std::size_t width, const std::string& s) { return be(s.size(), width) + s; }

// The handshake payloads of `records`, concatenated (input well formed).
std::string handshake_bytes(const std::string& records) {
  std::string out;
  for (std::size_t pos = 0; pos + 5 <= records.size();) {
    const std::size_t length = (std::size_t{static_cast<unsigned char>(records[pos + 3])} << 8) |
                               static_cast<unsigned char>(records[pos + 4]);
    out += records.substr(pos + 5, length);
    pos += 5 + length;
  }
  return out;
}

// `message` framed as handshake records of at most `fragment` bytes.
std::string as_records(const std::string& message, std::size_t fragment, const std::string& version = "\x03\x01") {
  std::string out;
  for (std::size_t pos = 0; pos < message.size(); pos += fragment) {
    const auto piece = message.substr(pos, fragment);
    out += "\x16" + version + be(piece.size(), 2) + piece;
  }
  return out;
}

using extension = std::pair<std::uint16_t, std::string>;

struct hello_parts {
  std::string version = std::string("\x03\x03", 2);
  std::string session_id = std::string(32, 's');
  std::string suites = std::string("\x13\x01\x13\x02", 4);
  std::string compression = std::string(1, '\0');
  std::vector<extension> extensions = {{0, vec(2, std::string(1, '\0') + vec(2, "api.example.com"))},
                                       {16, vec(2, alpn_wire({"h2", "http/1.1"}))}};
  bool with_extensions = true;
};

std::string hello_message(const hello_parts& p) {
  std::string body = p.version + std::string(32, 'r') + vec(1, p.session_id) + vec(2, p.suites) + vec(1, p.compression);
  if (p.with_extensions) {
    std::string extensions;
    for (const auto& [type, data] : p.extensions) extensions += be(type, 2) + vec(2, data);
    body += vec(2, extensions);
  }
  return "\x01" + be(body.size(), 3) + body;
}
std::string hello(const hello_parts& p) { return as_records(hello_message(p), 16384); }

hello_status status_of(std::string_view bytes) {
  client_hello_info info;
  return parse_client_hello(bytes, info);
}

client_hello_info info_of(std::string_view bytes) {
  client_hello_info info;
  EXPECT_EQ(parse_client_hello(bytes, info), hello_status::complete);
  return info;
}

TEST(CaClientHello, RealHellosGiveAlpnAndServerName) {
  const auto both = info_of(real_client_hello({.alpn = {"h2", "http/1.1"}, .server_name = "api.example.com"}));
  EXPECT_THAT(both.alpn, ElementsAre("h2", "http/1.1"));
  EXPECT_EQ(both.server_name, "api.example.com");
  EXPECT_TRUE(accepts_http1(both));

  const auto h2 = info_of(real_client_hello({.alpn = {"h2"}, .server_name = "grpc.example.com"}));
  EXPECT_THAT(h2.alpn, ElementsAre("h2"));
  EXPECT_FALSE(accepts_http1(h2)) << "an h2-only client";
  EXPECT_TRUE(offers_protocol(h2, "h2"));

  const auto plain = info_of(real_client_hello({}));
  EXPECT_TRUE(plain.alpn.empty());
  EXPECT_EQ(plain.server_name, "");
  EXPECT_TRUE(accepts_http1(plain)) << "no ALPN: HTTP/1.1";

  const auto tls12 = info_of(real_client_hello({.alpn = {"http/1.1"}, .server_name = "a.example", .max_version = TLS1_2_VERSION}));
  EXPECT_THAT(tls12.alpn, ElementsAre("http/1.1"));
  EXPECT_EQ(tls12.server_name, "a.example");
}

TEST(CaClientHello, EveryTruncationNeedsMore) {
  const auto bytes = real_client_hello({.alpn = {"h2", "http/1.1"}, .server_name = "api.example.com"});
  ASSERT_GT(bytes.size(), 100u);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    client_hello_info info{{"stale"}, "stale"};
    ASSERT_EQ(parse_client_hello(std::string_view(bytes).substr(0, n), info), hello_status::need_more) << n;
    EXPECT_TRUE(info.alpn.empty() && info.server_name.empty()) << "output reset";
  }
  // Whatever follows the hello (early data, the next flight) is ignored.
  EXPECT_EQ(info_of(bytes + "\x17\x03\x03\x00\x05hello").server_name, "api.example.com");
}

TEST(CaClientHello, ReassemblesAHelloSplitAcrossRecords) {
  const auto message = handshake_bytes(real_client_hello({.alpn = {"h2", "http/1.1"}, .server_name = "api.example.com"}));
  for (const std::size_t fragment : {1u, 2u, 3u, 4u, 5u, 7u, 100u, 16384u}) {
    const auto bytes = as_records(message, fragment);
    const auto info = info_of(bytes);
    EXPECT_THAT(info.alpn, ElementsAre("h2", "http/1.1")) << fragment;
    EXPECT_EQ(info.server_name, "api.example.com") << fragment;
    for (std::size_t n = 0; n < bytes.size(); n += fragment + 2)
      ASSERT_EQ(status_of(std::string_view(bytes).substr(0, n)), hello_status::need_more) << fragment << " at " << n;
  }
}

TEST(CaClientHello, RealHelloLargerThanARecordSpansTwo) {
  std::vector<std::string> many;
  for (int i = 0; i < 90; ++i) many.push_back(std::string(200, static_cast<char>('a' + i % 26)) + std::to_string(i));
  many.push_back("http/1.1");
  const auto bytes = real_client_hello({.alpn = many, .server_name = "big.example.com"});
  const std::size_t first = (std::size_t{static_cast<unsigned char>(bytes[3])} << 8) | static_cast<unsigned char>(bytes[4]);
  ASSERT_LT(5 + first, bytes.size()) << "OpenSSL sent one record only";
  EXPECT_EQ(bytes[5 + first], '\x16');
  const auto info = info_of(bytes);
  EXPECT_EQ(info.alpn.size(), many.size());
  EXPECT_EQ(info.alpn.back(), "http/1.1");
  EXPECT_EQ(info.server_name, "big.example.com");
  EXPECT_EQ(status_of(std::string_view(bytes).substr(0, 5 + first + 3)), hello_status::need_more);
}

TEST(CaClientHello, TellsOtherProtocolsApart) {
  EXPECT_EQ(status_of(""), hello_status::need_more);
  EXPECT_EQ(status_of("\x16"), hello_status::need_more);
  EXPECT_EQ(status_of("\x16\x03"), hello_status::need_more);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), hello_status::not_tls);
  EXPECT_EQ(status_of("P"), hello_status::not_tls);
  EXPECT_EQ(status_of("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), hello_status::not_tls);
  EXPECT_EQ(status_of(std::string("\x80\x2e\x01\x03\x01", 5)), hello_status::not_tls) << "SSLv2 hello";
  EXPECT_EQ(status_of(std::string("\x17\x03\x03\x00\x05hello", 10)), hello_status::not_tls) << "application data";
  EXPECT_EQ(status_of(std::string("\x16\x02\x00", 3)), hello_status::not_tls);
  EXPECT_EQ(status_of(std::string("\x16\x03\x05", 3)), hello_status::not_tls);
  EXPECT_EQ(status_of(std::string("\x16\x16\x16\x16", 4)), hello_status::not_tls);
}

TEST(CaClientHello, HandBuiltHellosParseAndBadRecordsAreMalformed) {
  EXPECT_EQ(info_of(hello({})).server_name, "api.example.com");
  EXPECT_TRUE(info_of(hello({.with_extensions = false})).alpn.empty()) << "no extensions at all";
  EXPECT_EQ(status_of(hello({.extensions = {}})), hello_status::complete) << "an empty extension list";

  const auto message = hello_message({});
  EXPECT_EQ(status_of(std::string("\x16\x03\x01\x00\x00", 5) + as_records(message, 100)), hello_status::malformed)
      << "empty record";
  EXPECT_EQ(status_of(std::string("\x16\x03\x01\x40\x01", 5)), hello_status::malformed) << "record over 2^14";
  auto server_hello = message;
  server_hello[0] = '\x02';
  EXPECT_EQ(status_of(as_records(server_hello, 16384)), hello_status::malformed);
  // A later record that is not a handshake record, or has a bad version.
  const auto split = as_records(message, 10);
  auto interleaved = split.substr(0, 15) + "\x17\x03\x03\x00\x01x" + split.substr(15);
  EXPECT_EQ(status_of(interleaved), hello_status::malformed);
  auto bad_version = split;
  bad_version[16] = '\x09';
  EXPECT_EQ(status_of(bad_version), hello_status::malformed);
}

TEST(CaClientHello, MalformedBodiesAreMalformed) {
  const auto malformed = [](const hello_parts& p) { return status_of(hello(p)); };
  EXPECT_EQ(malformed({.version = std::string("\x02\x00", 2)}), hello_status::malformed);
  EXPECT_EQ(malformed({.session_id = std::string(33, 's')}), hello_status::malformed);
  EXPECT_EQ(malformed({.suites = std::string("\x13\x01\x13", 3)}), hello_status::malformed) << "odd suites";
  EXPECT_EQ(malformed({.suites = ""}), hello_status::malformed);
  EXPECT_EQ(malformed({.compression = ""}), hello_status::malformed);
  EXPECT_EQ(malformed({.extensions = {{16, vec(2, alpn_wire({"h2"}))}, {16, vec(2, alpn_wire({"http/1.1"}))}}}),
            hello_status::malformed)
      << "duplicate extension";
  EXPECT_EQ(malformed({.extensions = {{16, vec(2, std::string(1, '\0') + "h2")}}}), hello_status::malformed)
      << "empty protocol name";
  EXPECT_EQ(malformed({.extensions = {{16, vec(2, "")}}}), hello_status::malformed) << "empty ALPN list";
  EXPECT_EQ(malformed({.extensions = {{16, vec(2, alpn_wire({"h2"})) + "x"}}}), hello_status::malformed) << "trailing";
  EXPECT_EQ(malformed({.extensions = {{16, vec(2, std::string(1, '\x09') + "h2")}}}), hello_status::malformed)
      << "name runs past the list";
  EXPECT_EQ(malformed({.extensions = {{0, vec(2, std::string(1, '\0') + vec(2, ""))}}}), hello_status::malformed)
      << "empty host name";
  EXPECT_EQ(malformed({.extensions = {{0, vec(2, std::string(1, '\0') + vec(2, "a\nb"))}}}), hello_status::malformed);
  EXPECT_EQ(malformed({.extensions = {{0, vec(2, std::string(1, '\0') + vec(2, "a") + std::string(1, '\0') + vec(2, "b"))}}}),
            hello_status::malformed)
      << "two host names";
  EXPECT_EQ(info_of(hello({.extensions = {{0, vec(2, std::string(1, '\x05') + vec(2, "x") + std::string(1, '\0') +
                                                         vec(2, "a.example"))}}}))
                .server_name,
            "a.example")
      << "unknown name types are skipped";

  // Lengths that disagree with what follows.
  auto message = hello_message({});
  auto longer = message;
  longer[3] = static_cast<char>(longer[3] + 1);  // body length one more than sent
  EXPECT_EQ(status_of(as_records(longer, 16384)), hello_status::need_more) << "the rest may be in the next record";
  EXPECT_EQ(status_of(as_records(longer + "x", 16384)), hello_status::malformed) << "extensions end early";
  auto shorter = message;
  shorter[3] = static_cast<char>(shorter[3] - 1);
  EXPECT_EQ(status_of(as_records(shorter, 16384)), hello_status::malformed);
}

TEST(CaClientHello, GivesUpBeyond64KiB) {
  // A declared message that could never fit.
  EXPECT_EQ(status_of(as_records(std::string("\x01\x01\x00\x00", 4), 16384)), hello_status::malformed);
  EXPECT_EQ(status_of(as_records(std::string("\x01\x00\xff\xf8", 4), 16384)), hello_status::malformed);
  // One that fits when declared, sent in one-byte records: six bytes per
  // byte of message, so the input bound is crossed long before the end.
  const std::string header("\x01\x00\xea\x60", 4);  // 60000 bytes
  const auto bytes = as_records(header + std::string(20000, 'x'), 1);
  ASSERT_GT(bytes.size(), max_client_hello_bytes);
  EXPECT_EQ(status_of(std::string_view(bytes).substr(0, max_client_hello_bytes - 6)), hello_status::need_more);
  EXPECT_EQ(status_of(bytes), hello_status::malformed);
  // The largest declared size that fits in one piece of input still parses.
  hello_parts big;
  big.extensions.push_back({0xfe00, std::string(max_client_hello_bytes - 4 * 5 - 4 - 400, 'p')});
  const auto big_message = hello_message(big);
  EXPECT_EQ(status_of(as_records(big_message, 16384)), hello_status::complete) << big_message.size();
}

TEST(CaClientHello, MutatedInputsOnlyEverGiveAVerdict) {
  const auto real = real_client_hello({.alpn = {"h2", "http/1.1"}, .server_name = "api.example.com"});
  const std::vector<std::string> seeds = {real, as_records(handshake_bytes(real), 7), hello({})};
  std::mt19937 random(12345);
  int complete = 0;
  for (int round = 0; round < 3000; ++round) {
    auto bytes = seeds[static_cast<std::size_t>(round) % seeds.size()];
    const int flips = 1 + static_cast<int>(random() % 4);
    for (int i = 0; i < flips; ++i) bytes[random() % bytes.size()] = static_cast<char>(random() & 0xff);
    if (random() % 3 == 0) bytes.resize(random() % bytes.size());
    client_hello_info info;
    const auto status = parse_client_hello(bytes, info);
    ASSERT_TRUE(status == hello_status::need_more || status == hello_status::not_tls ||
                status == hello_status::malformed || status == hello_status::complete);
    if (status == hello_status::complete) ++complete;
    if (status != hello_status::complete) {
      ASSERT_TRUE(info.alpn.empty() && info.server_name.empty());
    }
  }
  EXPECT_GT(complete, 0) << "some mutations only touch bytes the parser skips (random, suites)";
}

}  // namespace
}  // namespace credproxy::ca
