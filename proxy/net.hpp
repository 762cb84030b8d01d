#pragma once
// Vocabulary shared by the network side of the proxy.
#include <tuple>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace credproxy::proxy {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using sys_error = boost::system::error_code;

// The one completion token: errors come back as values, never as exceptions.
inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

template <class T>
using awaitable = asio::awaitable<T>;

}  // namespace credproxy::proxy
