#include "tests/support/scripted_origin.hpp"

#include <sys/socket.h>

#include <chrono>

#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>

namespace credproxy::test {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Every wait is bounded, so a test that never opens the gate still ends.
constexpr auto longest_wait = std::chrono::seconds(30);

scripted_origin::scripted_origin(std::vector<origin_step> steps)
    : steps_(std::move(steps)), acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
  thread_ = std::thread([this] { serve(); });
}

scripted_origin::~scripted_origin() {
  open_gate();
  done_.set_value();
  // Wakes an accept still waiting (close alone does not, on Linux); the
  // acceptor is closed only once the thread using it has ended.
  ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
  thread_.join();
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

std::uint16_t scripted_origin::port() const { return acceptor_.local_endpoint().port(); }
std::string scripted_origin::authority() const { return "127.0.0.1:" + std::to_string(port()); }
void scripted_origin::open_gate() { std::call_once(gate_once_, [this] { gate_.set_value(); }); }

void scripted_origin::run_steps(tcp::socket& socket) {
  boost::system::error_code ec;
  auto gate = gate_.get_future();
  for (const auto& step : steps_) {
    switch (step.what) {
      case origin_step::kind::write: asio::write(socket, asio::buffer(step.bytes), ec); break;
      case origin_step::kind::wait_gate: gate.wait_for(longest_wait); break;
      case origin_step::kind::reset:
        socket.set_option(tcp::socket::linger(true, 0), ec);
        socket.close(ec);
        return;
      case origin_step::kind::close:
        socket.shutdown(tcp::socket::shutdown_send, ec);
        return;
    }
    if (ec) return;
  }
}

void scripted_origin::serve() {
  boost::system::error_code ec;
  tcp::socket socket(io_);
  acceptor_.accept(socket, ec);  // unblocked by close() in the destructor
  if (ec) return;
  std::string request;
  asio::read_until(socket, asio::dynamic_buffer(request), "\r\n\r\n", ec);
  if (!ec) run_steps(socket);
  done_.get_future().wait_for(longest_wait);  // hold the connection as the script left it
}

}  // namespace credproxy::test
