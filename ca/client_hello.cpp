#include "ca/client_hello.hpp"

#include <algorithm>
#include <bitset>
#include <cstdint>
#include <optional>

namespace credproxy::ca {

namespace {

constexpr std::uint8_t record_type_handshake = 0x16;
constexpr std::uint8_t handshake_type_client_hello = 0x01;
constexpr std::size_t record_header_size = 5;
constexpr std::size_t max_record_payload = 16384;  // 2^14, RFC 8446 5.1
constexpr std::size_t handshake_header_size = 4;
constexpr std::size_t random_size = 32;
constexpr std::size_t max_session_id_size = 32;
constexpr std::uint16_t extension_server_name = 0;
constexpr std::uint16_t extension_alpn = 16;
constexpr std::uint8_t server_name_type_host = 0;
constexpr std::size_t max_alpn_protocols = 256;

std::uint8_t byte_at(std::string_view s, std::size_t i) { return static_cast<std::uint8_t>(s[i]); }

// A bounds-checked cursor: every read fails instead of running past the end.
class reader {
 public:
  explicit reader(std::string_view data) : data_(data) {}
  bool empty() const { return data_.empty(); }

  bool number(std::size_t width, std::size_t& out) {
    if (data_.size() < width) return false;
    out = 0;
    for (std::size_t i = 0; i < width; ++i) out = (out << 8) | byte_at(data_, i);
    data_.remove_prefix(width);
    return true;
  }
  bool bytes(std::size_t n, std::string_view& out) {
    if (data_.size() < n) return false;
    out = data_.substr(0, n);
    data_.remove_prefix(n);
    return true;
  }
  // A vector with a `width`-byte length prefix (TLS's opaque<..>).
  bool vector(std::size_t width, std::string_view& out) {
    std::size_t size = 0;
    return number(width, size) && bytes(size, out);
  }

 private:
  std::string_view data_;
};

// The record at `pos`: `complete` with its payload, or why there is none
// yet. The first record decides between TLS and not TLS; a later bad record
// is a malformed ClientHello.
hello_status read_record(std::string_view bytes, std::size_t pos, bool first, std::string_view& payload) {
  const auto wrong = first ? hello_status::not_tls : hello_status::malformed;
  const std::size_t available = bytes.size() - pos;
  if (available >= 1 && byte_at(bytes, pos) != record_type_handshake) return wrong;
  if (available >= 2 && byte_at(bytes, pos + 1) != 3) return wrong;  // SSL 3.0 .. TLS 1.3 are 3.x
  if (available >= 3 && byte_at(bytes, pos + 2) > 4) return wrong;
  if (available < record_header_size) return hello_status::need_more;
  const std::size_t length = (std::size_t{byte_at(bytes, pos + 3)} << 8) | byte_at(bytes, pos + 4);
  if (length == 0 || length > max_record_payload) return hello_status::malformed;
  if (pos + record_header_size + length > max_client_hello_bytes) return hello_status::malformed;
  if (available < record_header_size + length) return hello_status::need_more;
  payload = bytes.substr(pos + record_header_size, length);
  return hello_status::complete;
}

// The first `size` bytes of the concatenated fragments (which hold at least that many).
std::string joined_prefix(const std::vector<std::string_view>& fragments, std::size_t size) {
  std::string out;
  out.reserve(size);
  for (const auto fragment : fragments) {
    out.append(fragment.substr(0, size - out.size()));
    if (out.size() == size) break;
  }
  return out;
}

bool is_host_char(char c) { return c > 0x20 && c < 0x7f; }

// server_name (RFC 6066 3): a list of names, at most one host_name.
bool parse_server_name(std::string_view body, std::string& out) {
  reader r(body);
  std::string_view list;
  if (!r.vector(2, list) || !r.empty() || list.empty()) return false;
  reader names(list);
  while (!names.empty()) {
    std::size_t type = 0;
    std::string_view name;
    if (!names.number(1, type) || !names.vector(2, name)) return false;
    if (type != server_name_type_host) continue;
    if (!out.empty() || name.empty() || !std::all_of(name.begin(), name.end(), is_host_char)) return false;
    out = std::string(name);
  }
  return true;
}

// application_layer_protocol_negotiation (RFC 7301 3.1): non-empty names.
bool parse_alpn(std::string_view body, std::vector<std::string>& out) {
  reader r(body);
  std::string_view list;
  if (!r.vector(2, list) || !r.empty() || list.empty()) return false;
  reader protocols(list);
  while (!protocols.empty()) {
    std::string_view protocol;
    if (!protocols.vector(1, protocol) || protocol.empty() || out.size() == max_alpn_protocols) return false;
    out.emplace_back(protocol);
  }
  return true;
}

bool parse_extensions(std::string_view data, client_hello_info& out) {
  reader r(data);
  std::bitset<65536> seen;  // each extension type at most once (RFC 8446 4.2)
  while (!r.empty()) {
    std::size_t type = 0;
    std::string_view body;
    if (!r.number(2, type) || !r.vector(2, body) || seen.test(type)) return false;
    seen.set(type);
    if (type == extension_server_name && !parse_server_name(body, out.server_name)) return false;
    if (type == extension_alpn && !parse_alpn(body, out.alpn)) return false;
  }
  return true;
}

// The ClientHello body (RFC 8446 4.1.2; TLS 1.2's has the same layout).
bool parse_hello_body(std::string_view body, client_hello_info& out) {
  reader r(body);
  std::size_t version = 0;
  std::string_view skipped;
  if (!r.number(2, version) || (version >> 8) != 3 || !r.bytes(random_size, skipped)) return false;
  std::string_view session_id, cipher_suites, compression;
  if (!r.vector(1, session_id) || session_id.size() > max_session_id_size) return false;
  if (!r.vector(2, cipher_suites) || cipher_suites.empty() || cipher_suites.size() % 2 != 0) return false;
  if (!r.vector(1, compression) || compression.empty()) return false;
  if (r.empty()) return true;  // no extensions at all
  std::string_view extensions;
  if (!r.vector(2, extensions) || !r.empty()) return false;
  return parse_extensions(extensions, out);
}

// The size of the whole handshake message (header included) once its
// header has arrived; nullopt when it is not a ClientHello that fits.
std::optional<std::size_t> message_size(const std::vector<std::string_view>& fragments) {
  const auto header = joined_prefix(fragments, handshake_header_size);
  if (byte_at(header, 0) != handshake_type_client_hello) return std::nullopt;
  const std::size_t body = (std::size_t{byte_at(header, 1)} << 16) | (std::size_t{byte_at(header, 2)} << 8) |
                           byte_at(header, 3);
  if (handshake_header_size + body + record_header_size > max_client_hello_bytes) return std::nullopt;
  return handshake_header_size + body;
}

}  // namespace

hello_status parse_client_hello(std::string_view bytes, client_hello_info& out) {
  out = client_hello_info{};
  std::vector<std::string_view> fragments;
  std::size_t gathered = 0;
  std::size_t pos = 0;
  std::optional<std::size_t> needed;
  // Every pass consumes a non-empty record within max_client_hello_bytes: bounded.
  while (!needed || gathered < *needed) {
    std::string_view payload;
    const auto status = read_record(bytes, pos, fragments.empty(), payload);
    if (status != hello_status::complete) return status;
    fragments.push_back(payload);
    gathered += payload.size();
    pos += record_header_size + payload.size();
    if (!needed && gathered >= handshake_header_size) {
      needed = message_size(fragments);
      if (!needed) return hello_status::malformed;
    }
  }
  const auto message = joined_prefix(fragments, *needed);
  client_hello_info parsed;
  if (!parse_hello_body(std::string_view(message).substr(handshake_header_size), parsed)) return hello_status::malformed;
  out = std::move(parsed);
  return hello_status::complete;
}

bool offers_protocol(const client_hello_info& hello, std::string_view protocol) {
  return std::find(hello.alpn.begin(), hello.alpn.end(), protocol) != hello.alpn.end();
}

bool accepts_http1(const client_hello_info& hello) { return hello.alpn.empty() || offers_protocol(hello, "http/1.1"); }

}  // namespace credproxy::ca
