#pragma once
// Request targets to route handlers: the path is split into segments, each
// percent-decoded on its own (so an encoded '/' cannot forge a segment) and
// each parameter validated as a name before any handler runs.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "admin/api.hpp"
#include "admin/errors.hpp"

namespace credproxy::admin {

// What a route handler gets. Parameters are decoded and valid names.
struct call {
  const api_context& context;
  const proxy::admin_request& request;
  std::vector<std::pair<std::string_view, std::string>> params;  // "{solution}" -> "default"
  std::string_view query;                                        // after '?', still encoded
  std::string token_id;                                          // the admin token used (for the log)

  // The decoded value of a pattern parameter, e.g. param("{key}").
  const std::string& param(std::string_view name) const;
  // The decoded value of a query parameter, nullopt when absent.
  std::optional<std::string> query_param(std::string_view name) const;
};

using route_handler = proxy::admin_reply (*)(const call&);

struct route {
  std::string_view method;
  std::vector<std::string_view> pattern;  // literal segments and "{name}" parameters
  route_handler handler;
};

std::vector<route> credential_routes();
std::vector<route> org_routes();
std::vector<route> solution_routes();
std::vector<route> testing_routes();

struct split_target {
  std::vector<std::string> segments;  // decoded
  std::string_view query;
};

// Throws api_error (bad_request) on malformed percent-encoding.
split_target split(std::string_view target);

// "%41" -> "A"; nullopt when a '%' is not followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view text);

// Throws api_error (bad_request) unless `value` is a valid name for the
// parameter `name` ("{solution}", "{key}", "{title}", "{id}"), with the
// CLI's messages.
void check_param(std::string_view name, std::string_view value);

}  // namespace credproxy::admin
