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

std::string revoke_removed(const call& c, const oauth::tokens_to_revoke& pending) {
  if (c.context.provider == nullptr || !pending.client || pending.sets.empty()) return {};
  try {
    auto summary = oauth::revoke_all(*pending.client, pending.sets, *c.context.provider);
    if (c.context.log && !summary.empty()) c.context.log->info("admin API: {}", summary);
    return summary;
  } catch (const std::exception& e) {
    if (c.context.log) c.context.log->warn("admin API: could not revoke tokens at the provider: {}", e.what());
    return "could not revoke tokens at the provider";
  }
}

}  // namespace credproxy::admin
