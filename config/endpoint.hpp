#pragma once
// Listener address parsing, internal to the config module.
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace credproxy::config::detail {

// Parses "host:port" or "[v6]:port". The host must be an IP literal or
// "localhost" (-> 127.0.0.1): a listener never resolves names, so what the
// file says is what gets bound. Port 0 asks for an ephemeral port. On
// failure returns nullopt and sets `problem` to a phrase for the message.
std::optional<endpoint> parse_endpoint(std::string_view text, std::string& problem);

// Parses upstream.proxy: "http://host[:port][/]" (port 80 when absent), the
// host a DNS name or an IP literal. Credentials in the URL are refused: they
// belong in upstream.proxy_credentials_file, out of config files and logs.
std::optional<upstream_proxy_config> parse_proxy_url(std::string_view text, std::string& problem);

}  // namespace credproxy::config::detail
