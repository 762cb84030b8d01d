#include "proxy/listener_drain.hpp"

#include <linux/filter.h>
#include <sys/socket.h>

namespace credproxy::proxy {

bool refuse_new_connections(boost::asio::ip::tcp::acceptor& acceptor) noexcept {
  // One classic BPF instruction, "return 0": every packet to the listening
  // socket (new SYNs) is dropped; established connections are not affected.
  sock_filter drop_all = BPF_STMT(BPF_RET | BPF_K, 0);
  sock_fprog program{1, &drop_all};
  return ::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) == 0;
}

}  // namespace credproxy::proxy
