#include "ca/leaf_host.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>

#include "ca/errors.hpp"

namespace credproxy::ca {

namespace {

constexpr std::size_t max_name_size = 253;
constexpr std::size_t max_label_size = 63;

bool is_ip_literal(std::string_view host) {
  if (host.size() > INET6_ADDRSTRLEN) return false;
  const std::string text(host);  // inet_pton wants a terminated string
  std::array<unsigned char, 16> address{};
  return inet_pton(AF_INET, text.c_str(), address.data()) == 1 || inet_pton(AF_INET6, text.c_str(), address.data()) == 1;
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

bool labels_fit(std::string_view host) {
  std::size_t start = 0;
  for (;;) {
    const auto dot = host.find('.', start);
    const auto length = (dot == std::string_view::npos ? host.size() : dot) - start;
    if (length == 0 || length > max_label_size) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

}  // namespace

leaf_host parse_leaf_host(std::string_view host) {
  if (host.empty()) throw ca_error("cannot mint a certificate for an empty host");
  if (is_ip_literal(host)) return leaf_host{leaf_host::kind::ip, std::string(host)};
  if (host.size() > max_name_size)
    throw ca_error("cannot mint a certificate for a host name longer than 253 characters");
  if (!std::all_of(host.begin(), host.end(), is_name_char))
    throw ca_error("cannot mint a certificate for a host name with characters other than A-Z a-z 0-9 . -");
  if (!labels_fit(host))
    throw ca_error("cannot mint a certificate for a host name with an empty label or one longer than 63 characters");
  leaf_host out{leaf_host::kind::dns, std::string(host)};
  std::transform(out.name.begin(), out.name.end(), out.name.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
  return out;
}

}  // namespace credproxy::ca
