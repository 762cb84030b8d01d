#pragma once
// Small pieces every route file shares.
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "admin/router.hpp"
#include "oauth/revocation.hpp"

namespace credproxy::admin {

inline const vault::vault_store& store_of(const call& c) { return *c.context.store; }

// After a successful write: an audit line (never a value), then the
// after_write hook so the proxy serves the change at once. The write has
// happened: a failing hook must not turn the reply into an error.
void wrote(const call& c, std::string_view what);

// After removing an OAuth credential or configuration (whose tokens the
// vault already dropped): revokes them at the provider, best effort, and
// logs how that went. Returns the summary ("" when there was nothing).
std::string revoke_removed(const call& c, const oauth::tokens_to_revoke& pending);

// The request body as the raw document text the vault operations take.
inline std::string_view body_of(const call& c) { return {c.request.body.data(), c.request.body.size()}; }

}  // namespace credproxy::admin
