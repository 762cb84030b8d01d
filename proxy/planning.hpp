#pragma once
// Turning a request into a forward plan when OAuth tokens are involved:
// decide() is pure, so the session runs it again after each token wait.
// Non-template coroutines, compiled once for every stream type.
#include <optional>
#include <string_view>
#include <variant>

#include "proxy/policy/exchange.hpp"
#include "proxy/request_flow.hpp"
#include "proxy/watchdog.hpp"
#include "proxy/worker.hpp"

namespace credproxy::proxy {

// decide() with the worker's current tokens: the fast path, no waiting (and
// no coroutine frame). token_needed sends the caller to plan_forwarding.
request_decision decide_now(worker_context& worker, const request_head& head, const request_origin& origin,
                            const vault::snapshot& snap, std::string_view solution);
request_decision as_decision(std::variant<forward_plan, proxy_error>&& planned);

// The head as it goes upstream when the body is sent as the client framed
// it (no body read for placeholders): the plan's head with its framing.
void finish_head(request_flow& flow, const request_head& head);

// Read your writes, decided in this one place: should a decision made with
// `decided_with` be made again? Yes when a newer snapshot is in use by now.
// A refusal a newer vault could turn (proxy_error::vault_may_know), or a
// plan that injects while a change to the vault file is announced but not
// yet loaded (a rotated secret), first waits for the control thread's check
// (vault_freshness, awaited here).
awaitable<bool> vault_moved_on(worker_context& worker, const proxy_error& refusal,
                               const vault::snapshot_ptr& decided_with);
awaitable<bool> vault_moved_on(worker_context& worker, const request_decision& decided,
                               const vault::snapshot_ptr& decided_with);
// The decision stands without waiting: no token to wait for, no check of
// the vault worth making, and the snapshot it used is still the newest.
// The hot path's test; when false, the caller waits (vault_moved_on).
bool decision_stands(worker_context& worker, const request_decision& decided, const vault::snapshot_ptr& decided_with);
// The same for a CONNECT about to go opaque for want of a bound credential:
// it waits for the check only while a change is announced.
awaitable<bool> vault_moved_on_connect(worker_context& worker, const vault::snapshot_ptr& decided_with);

// decide(), waiting for the token source whenever the only thing missing is
// a token it can fetch. At most two waits per slot: a source that keeps
// answering "ready" with an unusable token cannot loop a request.
awaitable<std::variant<forward_plan, proxy_error>> plan_forwarding(worker_context& worker, watchdog& watch,
                                                                   const request_head& head,
                                                                   const request_origin& origin,
                                                                   const vault::snapshot& snap,
                                                                   std::string_view solution);

// decide_body(), waiting for tokens like plan_forwarding.
awaitable<std::variant<body_decision, proxy_error>> decide_body_with_tokens(worker_context& worker, watchdog& watch,
                                                                           std::string_view body, const forward_plan& plan,
                                                                           const vault::snapshot& snap,
                                                                           std::string_view solution);

// After plan_forwarding (first, and for every replay): a body read whole
// for its placeholders (flow.original_body) is rendered for this plan,
// which may move the request to TLS, and becomes flow.kept; then the head
// gets the framing of the body as it will be sent (flow.wire_head).
awaitable<std::optional<proxy_error>> finish_plan(worker_context& worker, watchdog& watch, const request_head& head,
                                                  const vault::snapshot& snap, std::string_view solution,
                                                  request_flow& flow);

// Waits, at most settings.token_wait, for the source's answer to `request`.
// nullopt: the token table now holds a usable token for the slot.
awaitable<std::optional<proxy_error>> wait_for_token(worker_context& worker, watchdog& watch,
                                                     oauth::token_request request);

// Did the upstream's 401 reject a token that a refresh may fix? Yes for the
// first 401 to a token (or when a newer one is already there); no while a
// forced refresh of its slot happened less than a window ago
// (cached_token::refresh_on_401_at): then the 401 is passed on, so an
// upstream that always refuses costs no token request per request.
bool token_rejected(worker_context& worker, const forward_plan& plan, unsigned status);

// Forces a refresh of each rejected token in the background: the 401 is
// passed on, the next request finds a new token.
void refresh_rejected(worker_context& worker, const forward_plan& plan);

// Forces a refresh of each rejected token and waits for it (a replay).
awaitable<std::optional<proxy_error>> refresh_and_wait(worker_context& worker, watchdog& watch, const forward_plan& plan);

}  // namespace credproxy::proxy
