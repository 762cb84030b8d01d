#pragma once
// An origin that answers one connection by a script: writes, waits on a
// gate the test opens, stalls, resets or closes. The order of events is
// fixed by the test, not by timing (no sleeps), for faults a well-behaved
// fake upstream cannot produce: a reset or stall mid-body.
#include <cstdint>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace credproxy::test {

struct origin_step {
  enum class kind { write, wait_gate, reset, close };
  kind what = kind::write;
  std::string bytes;  // kind::write

  static origin_step write(std::string b) { return {kind::write, std::move(b)}; }
  static origin_step wait_gate() { return {kind::wait_gate, {}}; }
  static origin_step reset() { return {kind::reset, {}}; }  // RST: SO_LINGER 0, then close
  static origin_step close() { return {kind::close, {}}; }  // FIN
};

class scripted_origin {
 public:
  // Serves the first connection: reads a request head, then runs `steps`.
  // After the last step the connection is held until destruction.
  explicit scripted_origin(std::vector<origin_step> steps);
  ~scripted_origin();  // opens the gate, closes everything, joins
  scripted_origin(const scripted_origin&) = delete;
  scripted_origin& operator=(const scripted_origin&) = delete;

  std::uint16_t port() const;
  std::string authority() const;  // "127.0.0.1:PORT"
  void open_gate();               // lets a wait_gate step pass (once)

 private:
  void serve();
  void run_steps(boost::asio::ip::tcp::socket& socket);

  std::vector<origin_step> steps_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::promise<void> gate_;
  std::once_flag gate_once_;
  std::promise<void> done_;
  std::thread thread_;
};

}  // namespace credproxy::test
