#pragma once
// A quick look at whether serve is up before `credproxy run` starts a
// function that would otherwise fail on its first request with a bare
// "connection refused".
#include <chrono>

#include "config/config.hpp"

namespace credproxy::cli {

// True when a TCP connection to `at` (an IP literal) succeeds within `timeout`.
bool accepts_connections(const config::endpoint& at, std::chrono::milliseconds timeout);

}  // namespace credproxy::cli
