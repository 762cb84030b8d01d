#pragma once
// A write-only stream into memory, so the one body pump (relay.hpp) can
// also read a whole request body into a buffer (to replace placeholders in
// it), de-chunked, up to a bound.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/http/error.hpp>

#include "common/secret.hpp"
#include "proxy/net.hpp"

namespace credproxy::proxy {

class body_sink {
 public:
  using executor_type = asio::any_io_executor;

  body_sink(executor_type executor, wiping_string& out, std::size_t limit)
      : executor_(std::move(executor)), out_(out), limit_(limit) {}

  executor_type get_executor() const noexcept { return executor_; }
  bool overflowed() const noexcept { return overflowed_; }

  // Completes (posted) with body_limit once more than `limit` bytes came.
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    sys_error ec;
    const std::size_t n = asio::buffer_size(buffers);
    if (out_.size() + n > limit_) {
      overflowed_ = true;
      ec = boost::beast::http::error::body_limit;
    } else {
      for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it)
        out_.append(static_cast<const char*>(it->data()), it->size());
    }
    return asio::async_initiate<Token, void(sys_error, std::size_t)>(
        [executor = executor_, ec, n](auto handler) {
          asio::post(executor, [handler = std::move(handler), ec, n]() mutable { handler(ec, ec ? 0 : n); });
        },
        token);
  }

 private:
  executor_type executor_;
  wiping_string& out_;
  std::size_t limit_;
  bool overflowed_ = false;
};

}  // namespace credproxy::proxy
