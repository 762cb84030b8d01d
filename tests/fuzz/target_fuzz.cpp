// Request targets and authorities: absolute-form targets, Host field values
// and CONNECT targets. Invariants: an accepted target has a non-empty,
// lower-case host, a port in 1-65535 (the scheme's default unless given)
// and a path that is a view into the input starting with '/'; printing the
// result as a URL and parsing it again gives the same host and port.
#include <string>
#include <string_view>

#include "proxy/policy/target.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace credproxy;
using credproxy::fuzz::check;

void check_authority(const proxy::absolute_target& t) {
  check(!t.host.empty(), "a host");
  check(t.port != 0, "a port");
  for (char c : t.host) check(!(c >= 'A' && c <= 'Z'), "lower-case host");
  if (!t.port_explicit) check(t.port == (t.https ? 443 : 80), "the scheme's default port");
}

std::string authority_of(const proxy::absolute_target& t) {
  const bool v6 = t.host.find(':') != std::string::npos;
  return (v6 ? "[" + t.host + "]" : t.host) + ":" + std::to_string(t.port);
}

void check_absolute(std::string_view input) {
  proxy::absolute_target t;
  if (!proxy::parse_absolute_target(input, t).empty()) return;
  check_authority(t);
  check(!t.path_and_query.empty() && t.path_and_query.front() == '/', "path starts with '/'");
  const bool inside = t.path_and_query == "/" ||
                      (t.path_and_query.data() >= input.data() &&
                       t.path_and_query.data() + t.path_and_query.size() <= input.data() + input.size());
  check(inside, "the path is a view into the input");
  check(t.path_and_query.find('#') == std::string_view::npos, "no fragment");

  proxy::absolute_target again;
  const std::string url = std::string(t.https ? "https://" : "http://") + authority_of(t) + std::string(t.path_and_query);
  check(proxy::parse_absolute_target(url, again).empty(), "the printed target parses");
  check(again.host == t.host && again.port == t.port && again.https == t.https, "same origin after a round trip");
  check(again.path_and_query == t.path_and_query, "same path after a round trip");
}

void check_host_and_connect(std::string_view input, bool https) {
  proxy::absolute_target t;
  if (proxy::parse_host_field(input, https, t).empty()) {
    check_authority(t);
    check(t.path_and_query.empty(), "no path from a Host field");
    proxy::absolute_target again;
    check(proxy::parse_connect_target(authority_of(t), again).empty(), "a Host authority is a CONNECT target");
    check(again.host == t.host && again.port == t.port, "same authority after a round trip");
  }
  proxy::absolute_target c;
  if (proxy::parse_connect_target(input, c).empty()) {
    check(c.port_explicit && c.port != 0 && !c.host.empty(), "CONNECT needs host and port");
    proxy::absolute_target again;
    check(proxy::parse_host_field(authority_of(c), false, again).empty() && again.host == c.host && again.port == c.port,
          "a CONNECT authority is a Host value");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  credproxy::fuzz::input_reader in(data, size);
  const bool https = in.byte() & 1;
  const auto input = in.rest();
  check_absolute(input);
  check_host_and_connect(input, https);
  return 0;
}
