#include "admin/route_support.hpp"

namespace credproxy::admin {

void wrote(const call& c, std::string_view what) {
  if (c.context.log) c.context.log->info("admin API: {} (admin token {})", what, c.token_id);
  if (!c.context.after_write) return;
  try {
    c.context.after_write();
  } catch (const std::exception& e) {
    if (c.context.log) c.context.log->error("admin API: after the write: {}", e.what());
  }
}

}  // namespace credproxy::admin
