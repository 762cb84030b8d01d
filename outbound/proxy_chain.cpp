#include "outbound/proxy_chain.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include <openssl/evp.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "outbound/connect_answer.hpp"

namespace credproxy::outbound {

namespace asio = boost::asio;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string authority(const std::string& host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

secret basic_authorization(const secure_chars& user_and_password) {
  secure_chars encoded(4 * ((user_and_password.size() + 2) / 3) + 1);
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                reinterpret_cast<const unsigned char*>(user_and_password.data()),
                                static_cast<int>(user_and_password.size()));
  secure_chars value;
  const std::string_view prefix = "Basic ";
  value.insert(value.end(), prefix.begin(), prefix.end());
  value.insert(value.end(), encoded.data(), encoded.data() + n);
  return secret(std::string_view(value.data(), value.size()));
}

// The CONNECT head, built in wiping storage: it carries the proxy's password.
secure_chars connect_head(const chain_proxy& proxy, const std::string& target) {
  secure_chars head;
  const auto add = [&head](std::string_view text) { head.insert(head.end(), text.begin(), text.end()); };
  add("CONNECT ");
  add(target);
  add(" HTTP/1.1\r\nHost: ");
  add(target);
  add("\r\n");
  if (!proxy.authorization.empty()) {
    add("Proxy-Authorization: ");
    add(proxy.authorization.view());
    add("\r\n");
  }
  add("\r\n");
  return head;
}

}  // namespace

secret read_proxy_credentials(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read upstream.proxy_credentials_file " + file + ": " + std::strerror(errno));
  secure_chars content;
  content.reserve(1024);
  char ch = 0;
  while (in.get(ch) && content.size() <= 4096) content.push_back(ch);
  while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) content.pop_back();
  const bool has_colon = std::find(content.begin(), content.end(), ':') != content.end();
  const bool one_line = std::find_if(content.begin(), content.end(), [](char c) {
                          return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
                        }) == content.end();
  if (content.size() > 4096 || !has_colon || !one_line)
    throw std::runtime_error("upstream.proxy_credentials_file " + file + " must hold one line: user:password");
  return basic_authorization(content);
}

asio::awaitable<std::optional<std::string>> open_chained_tunnel(asio::ip::tcp::socket& socket,
                                                                const chain_proxy& proxy, const std::string& host,
                                                                std::uint16_t port) {
  const std::string target = authority(host, port);
  const std::string via = authority(proxy.host, proxy.port);
  const secure_chars head = connect_head(proxy, target);
  const auto request = asio::buffer(head.data(), head.size());
  auto [write_ec, written] = co_await asio::async_write(socket, request, use_tuple);
  if (write_ec) co_return "upstream.proxy " + via + " closed before the CONNECT to " + target + ": " + write_ec.message();
  // Read until the answer is judged: bounded, since a judgment comes by
  // max_connect_answer_bytes at the latest.
  std::string received;
  std::array<char, 2048> chunk{};
  for (;;) {
    auto [read_ec, read] = co_await socket.async_read_some(asio::buffer(chunk), use_tuple);
    if (read_ec)
      co_return "upstream.proxy " + via + " gave no valid answer to CONNECT " + target + ": " + read_ec.message();
    received.append(chunk.data(), read);
    const connect_answer answer = parse_connect_answer(received);
    switch (answer.result) {
      case connect_answer::state::incomplete:
        continue;
      case connect_answer::state::malformed:
        co_return "upstream.proxy " + via + " gave no valid answer to CONNECT " + target + ": " + answer.error;
      case connect_answer::state::refused: {
        const std::string why = answer.status == 407 ? " (check upstream.proxy_credentials_file)" : "";
        co_return "upstream.proxy " + via + " refused CONNECT " + target + " with " + std::to_string(answer.status) + why;
      }
      case connect_answer::state::accepted:
        // The client speaks first inside the tunnel (TLS or HTTP): a proxy
        // that sent more than its answer is out of step with us.
        if (received.size() != answer.head_bytes)
          co_return "upstream.proxy " + via + " sent bytes after its answer to CONNECT " + target;
        co_return std::nullopt;
    }
  }
}

}  // namespace credproxy::outbound
