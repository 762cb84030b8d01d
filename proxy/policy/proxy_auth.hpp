#pragma once
// Which solution a request acts for (SPEC §6): a pure function of the
// request's fields, the vault snapshot and the listener's settings, so it is
// tested without sockets.
//
//   Proxy-Authorization: Basic base64(SOLUTION:TOKEN)  -> SOLUTION, if TOKEN
//       is one of SOLUTION's proxy tokens (vault/access_token.hpp);
//   no Proxy-Authorization, loopback client, default solution configured
//       -> the default solution (the sidecar case);
//   anything else -> 407 proxy_auth_required.
//
// A header that is present but wrong is refused even on loopback: falling
// back to the default solution would hide the mistake. The failure message
// is the same whether the solution or the token was wrong, so a client
// cannot probe which solutions exist.
#include <string_view>
#include <variant>
#include <vector>

#include "proxy/policy/errors.hpp"
#include "proxy/policy/http_head.hpp"
#include "vault/credential.hpp"

namespace credproxy::proxy {

struct client_identity {
  std::string_view default_solution;  // empty: none
  bool loopback = false;
};

// The solution's name (a view into `snap` or `client.default_solution`,
// valid while both live), or proxy_auth_required.
std::variant<std::string_view, proxy_error> resolve_solution(const std::vector<parsed_field>& fields,
                                                             const vault::snapshot& snap,
                                                             const client_identity& client);

}  // namespace credproxy::proxy
