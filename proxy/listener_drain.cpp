#include "proxy/listener_drain.hpp"

#include <linux/filter.h>
#include <sys/socket.h>

namespace credproxy::proxy {

namespace {

// Where a TCP socket filter runs (tcp_filter), the packet data begins at
// the TCP header, for IPv4 and IPv6 alike: byte 13 holds the flags.
constexpr std::uint32_t tcp_flags_offset = 13;
constexpr std::uint32_t flag_syn = 0x02;
constexpr std::uint32_t flag_ack = 0x10;
constexpr std::uint32_t keep_whole_packet = 0xffffffff;

}  // namespace

bool refuse_new_connections(boost::asio::ip::tcp::acceptor& acceptor) noexcept {
  // Dropping every packet would also drop the final ACK of a handshake the
  // listener answered a moment before: that client believes it is
  // connected, sends its request, and is reset when the port closes. Only
  // a SYN without ACK starts a new connection.
  sock_filter drop_bare_syn[] = {
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, tcp_flags_offset),
      BPF_STMT(BPF_ALU | BPF_AND | BPF_K, flag_syn | flag_ack),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, flag_syn, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, 0),
      BPF_STMT(BPF_RET | BPF_K, keep_whole_packet),
  };
  sock_fprog program{static_cast<unsigned short>(std::size(drop_bare_syn)), drop_bare_syn};
  return ::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) == 0;
}

}  // namespace credproxy::proxy
