#include "proxy/policy/response_plan.hpp"

#include <string_view>
#include <vector>

namespace credproxy::proxy {

namespace {

void append_status_line(std::string& out, const response_head& head) {
  out.append("HTTP/1.1 ").append(std::to_string(head.status)).push_back(' ');
  out.append(head.reason).append("\r\n");
}

bool forwarded(const parsed_field& f, std::span<const std::string_view> connection_tokens) noexcept {
  if (is_hop_by_hop(f.id, f.name)) return false;
  if (f.id == http::field::unknown && iequals(f.name, "credproxy-error")) return false;
  return connection_tokens.empty() || !named_in_connection(f.name, connection_tokens);
}

void append_end_to_end(std::string& out, const response_head& head) {
  connection_token_list connection_tokens;
  for (const auto& f : head.fields)
    if (f.id == http::field::connection) split_connection_tokens(f.value, connection_tokens);
  for (const auto& f : head.fields)
    if (forwarded(f, connection_tokens)) out.append(f.name).append(": ").append(f.value).append("\r\n");
}

// RFC 9110 §8.6: no Content-Length on 1xx and 204; on a 304 it could only
// repeat the length of a body the client may not have, so it is dropped too.
bool may_carry_length(unsigned status) noexcept { return status >= 200 && status != 204 && status != 304; }

relay_mode mode_for(const response_head& head, const client_side& client) noexcept {
  switch (head.body) {
    case body_framing::none: return relay_mode::none;
    case body_framing::length: return relay_mode::length;
    case body_framing::chunked: return client.version >= 11 ? relay_mode::chunked : relay_mode::chunked_to_eof;
    case body_framing::until_eof: return relay_mode::until_eof;
  }
  return relay_mode::until_eof;
}

}  // namespace

response_plan plan_response(const response_head& head, const client_side& client) {
  response_plan plan;
  plan.mode = mode_for(head, client);
  plan.length = head.content_length;
  const bool delimited = plan.mode != relay_mode::until_eof && plan.mode != relay_mode::chunked_to_eof;
  plan.client_keep_alive = client.keep_alive && client.request_complete && !client.stopping && delimited;
  plan.upstream_reusable = head.keep_alive && head.body != body_framing::until_eof && client.request_complete;

  plan.head.reserve(head.raw.size() + 64);  // one allocation: framing lines may be added
  append_status_line(plan.head, head);
  append_end_to_end(plan.head, head);
  if (plan.mode == relay_mode::chunked) {
    plan.head.append("Transfer-Encoding: chunked\r\n");
  } else if (head.length_given && head.body != body_framing::chunked && may_carry_length(head.status)) {
    plan.head.append("Content-Length: ").append(std::to_string(head.content_length)).append("\r\n");
  }
  if (!plan.client_keep_alive) {
    plan.head.append("Connection: close\r\n");
  } else if (client.version < 11) {
    plan.head.append("Connection: keep-alive\r\n");
  }
  plan.head.append("\r\n");
  return plan;
}

std::string render_interim(const response_head& head) {
  std::string out;
  append_status_line(out, head);
  append_end_to_end(out, head);
  out.append("\r\n");
  return out;
}

}  // namespace credproxy::proxy
