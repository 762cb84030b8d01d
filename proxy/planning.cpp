#include "proxy/planning.hpp"

#include <algorithm>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

namespace credproxy::proxy {

namespace {

// A request waiting for the token source: the answer, posted to the
// request's executor, cancels the timer; the timer expiring first is the
// request's deadline (the fetch goes on and serves the next request).
struct pending_token_wait {
  explicit pending_token_wait(const asio::any_io_executor& executor) : timer(executor) {}
  asio::steady_timer timer;
  std::optional<oauth::token_outcome> answer;
};

proxy_error no_usable_token(std::string_view key) {
  return {error_code::oauth_credentials_missing,
          "credential '" + std::string(key) + "' has no usable OAuth access token", std::string(key)};
}

bool stale_use(const oauth::token_table& table, oauth::time_point now, const oauth_use& use) {
  const auto* current = table.find(use.slot_id);
  return current == nullptr || current->serial != use.serial || current->refresh_on_401_at(now);
}

}  // namespace

awaitable<std::optional<proxy_error>> wait_for_token(worker_context& worker, watchdog& watch,
                                                     oauth::token_request request) {
  const auto wait_limit = worker.settings->token_wait;
  watch.expect(watchdog::phase::token_wait, wait_limit + std::chrono::seconds(1));
  const std::string key = request.key;
  const auto executor = co_await asio::this_coro::executor;
  auto wait = std::make_shared<pending_token_wait>(executor);
  wait->timer.expires_after(wait_limit);
  // The answer may come at once (on this thread) or from the source's
  // threads; either way it is posted, so it runs after the wait below began.
  worker.tokens.request(std::move(request), [wait, executor](oauth::token_outcome answer) {
    asio::post(executor, [wait, answer = std::move(answer)]() mutable {
      wait->answer = std::move(answer);
      wait->timer.cancel();
    });
  });
  co_await wait->timer.async_wait(use_tuple);
  if (!wait->answer) {
    co_return proxy_error{error_code::oauth_refresh_failed,
                          "no OAuth token for credential '" + key + "' within " + std::to_string(wait_limit.count()) +
                              " ms (oauth.wait_timeout_ms); the fetch goes on, retry shortly",
                          key};
  }
  oauth::token_outcome& answer = *wait->answer;
  if (answer.result == oauth::token_outcome::status::ready) co_return std::nullopt;
  const auto code = answer.result == oauth::token_outcome::status::missing ? error_code::oauth_credentials_missing
                    : answer.result == oauth::token_outcome::status::store_unavailable ? error_code::store_unavailable
                                                                                         : error_code::oauth_refresh_failed;
  co_return proxy_error{code, std::move(answer.message), key};
}

namespace {

// Runs a pure decision (`decide(tokens)`: Result, token_needed or
// proxy_error) until it needs no token, waiting for the token source in
// between. At most two waits per slot: a source that keeps answering
// "ready" with an unusable token cannot loop a request.
template <class Result, class Decide>
awaitable<std::variant<Result, proxy_error>> decide_with_tokens(worker_context& worker, watchdog& watch,
                                                                Decide decide) {
  std::vector<std::string> waited;  // slot ids, one entry per wait
  for (;;) {
    const token_view tokens{worker.token_cache.get().get(), worker.tokens.now()};
    auto result = decide(tokens);
    if (auto* done = std::get_if<Result>(&result)) co_return std::move(*done);
    if (auto* error = std::get_if<proxy_error>(&result)) co_return std::move(*error);
    auto& need = std::get<token_needed>(result);
    std::string slot = vault::token_slot_id(need.request.owner, need.request.user);
    if (std::count(waited.begin(), waited.end(), slot) >= 2) co_return no_usable_token(need.request.key);
    waited.push_back(std::move(slot));
    oauth::token_request request = std::move(need.request);
    auto failure = co_await wait_for_token(worker, watch, std::move(request));
    if (failure) co_return std::move(*failure);
  }
}

}  // namespace

namespace {

// A refusal a newer vault could turn always asks the control thread; a plan
// that injects asks only while a change is announced.
bool worth_a_check(const worker_context& worker, const request_decision& decided) {
  if (const auto* refusal = std::get_if<proxy_error>(&decided)) return refusal->vault_may_know;
  const auto* plan = std::get_if<forward_plan>(&decided);
  return plan != nullptr && !plan->keys_used.empty() && worker.freshness->change_pending();
}

}  // namespace

// The snapshot is compared even when no check is needed: a reload may have
// been published between the decision and the hint, and the hint is gone.
awaitable<bool> vault_moved_on(worker_context& worker, const request_decision& decided,
                               const vault::snapshot_ptr& decided_with) {
  if (worker.freshness == nullptr) co_return false;
  if (worth_a_check(worker, decided)) co_await await_fresh_vault(*worker.freshness);
  co_return worker.snapshots.get() != decided_with;
}

bool decision_stands(worker_context& worker, const request_decision& decided, const vault::snapshot_ptr& decided_with) {
  if (std::holds_alternative<token_needed>(decided)) return false;
  if (worker.freshness == nullptr) return true;
  return !worth_a_check(worker, decided) && worker.snapshots.get() == decided_with;
}

awaitable<bool> vault_moved_on(worker_context& worker, const proxy_error& refusal,
                               const vault::snapshot_ptr& decided_with) {
  const request_decision decided = refusal;
  co_return co_await vault_moved_on(worker, decided, decided_with);
}

awaitable<bool> vault_moved_on_connect(worker_context& worker, const vault::snapshot_ptr& decided_with) {
  if (worker.freshness == nullptr) co_return false;
  if (worker.freshness->change_pending()) co_await await_fresh_vault(*worker.freshness);
  co_return worker.snapshots.get() != decided_with;
}

request_decision decide_now(worker_context& worker, const request_head& head, const request_origin& origin,
                            const vault::snapshot& snap, std::string_view solution) {
  const token_view tokens{worker.token_cache.get().get(), worker.tokens.now()};
  return decide(head, origin, snap, solution, tokens, worker.settings->exchange);
}

request_decision as_decision(std::variant<forward_plan, proxy_error>&& planned) {
  if (auto* plan = std::get_if<forward_plan>(&planned)) return std::move(*plan);
  return std::move(std::get<proxy_error>(planned));
}

namespace {

// The id the caller sent (if sane) or the one made for it: end_to_end_fields
// dropped the caller's field, so there is exactly one.
void append_request_id(request_flow& flow) {
  if (flow.request_id.empty()) return;
  flow.wire_head.append("X-Request-Id: ").append(flow.request_id).append("\r\n");
}

}  // namespace

void finish_head(request_flow& flow, const request_head& head) {
  secure_wipe(flow.wire_head.data(), flow.wire_head.size());
  flow.wire_head = std::move(flow.plan.head);  // the plan's head is not needed again
  append_request_id(flow);
  finish_request_head(flow.wire_head, head.body, head.content_length, head.length_given);
}

awaitable<std::variant<forward_plan, proxy_error>> plan_forwarding(worker_context& worker, watchdog& watch,
                                                                   const request_head& head,
                                                                   const request_origin& origin,
                                                                   const vault::snapshot& snap,
                                                                   std::string_view solution) {
  const auto decide_request = [&](const token_view& tokens) {
    return decide(head, origin, snap, solution, tokens, worker.settings->exchange);
  };
  co_return co_await decide_with_tokens<forward_plan>(worker, watch, decide_request);
}

awaitable<std::variant<body_decision, proxy_error>> decide_body_with_tokens(worker_context& worker, watchdog& watch,
                                                                           std::string_view body, const forward_plan& plan,
                                                                           const vault::snapshot& snap,
                                                                           std::string_view solution) {
  const auto decide_request_body = [&](const token_view& tokens) {
    return decide_body(body, plan, snap, solution, tokens, worker.settings->exchange);
  };
  co_return co_await decide_with_tokens<body_decision>(worker, watch, decide_request_body);
}

namespace {

void apply_body_decision(body_decision& decision, std::string_view original, request_flow& flow) {
  // A credential in the body alone moved the request to TLS: name it.
  if (flow.plan.tls_upgrade_key.empty() && decision.upstream.scheme != flow.plan.upstream.scheme &&
      !decision.keys_used.empty())
    flow.plan.tls_upgrade_key = decision.keys_used.front();
  flow.plan.upstream = decision.upstream;
  for (auto& key : decision.keys_used)
    if (std::find(flow.plan.keys_used.begin(), flow.plan.keys_used.end(), key) == flow.plan.keys_used.end())
      flow.plan.keys_used.push_back(std::move(key));
  for (auto& use : decision.oauth_uses) flow.plan.oauth_uses.push_back(std::move(use));
  flow.kept.assign(decision.changed ? decision.body.view() : original);
}

}  // namespace

awaitable<std::optional<proxy_error>> finish_plan(worker_context& worker, watchdog& watch, const request_head& head,
                                                  const vault::snapshot& snap, std::string_view solution,
                                                  request_flow& flow) {
  if (!flow.original_body) {
    finish_head(flow, head);
    co_return std::nullopt;
  }
  secure_wipe(flow.wire_head.data(), flow.wire_head.size());
  const std::string_view original(flow.original_body->bytes);
  auto decided = co_await decide_body_with_tokens(worker, watch, original, flow.plan, snap, solution);
  if (auto* error = std::get_if<proxy_error>(&decided)) co_return std::move(*error);
  apply_body_decision(std::get<body_decision>(decided), original, flow);
  flow.wire_head.assign(flow.plan.head);
  append_request_id(flow);
  finish_request_head(flow.wire_head, body_framing::length, flow.kept.bytes.size(), true);
  co_return std::nullopt;
}

bool token_rejected(worker_context& worker, const forward_plan& plan, unsigned status) {
  if (status != 401 || plan.oauth_uses.empty()) return false;
  const auto& table = worker.token_cache.get();
  const auto now = worker.tokens.now();
  return std::any_of(plan.oauth_uses.begin(), plan.oauth_uses.end(),
                     [&](const oauth_use& use) { return table == nullptr || stale_use(*table, now, use); });
}

void refresh_rejected(worker_context& worker, const forward_plan& plan) {
  const auto& table = worker.token_cache.get();
  const auto now = worker.tokens.now();
  for (const auto& use : plan.oauth_uses) {
    if (table != nullptr && !stale_use(*table, now, use)) continue;
    auto rejected = use.slot;
    rejected.rejected_serial = use.serial;
    worker.tokens.request(std::move(rejected), [](const oauth::token_outcome&) {});
  }
}

awaitable<std::optional<proxy_error>> refresh_and_wait(worker_context& worker, watchdog& watch, const forward_plan& plan) {
  // One forced refresh per slot (single flight in the source, so a burst of
  // 401s costs one), then the caller plans the request again.
  for (const auto& use : plan.oauth_uses) {
    oauth::token_request rejected = use.slot;
    rejected.rejected_serial = use.serial;
    auto failure = co_await wait_for_token(worker, watch, std::move(rejected));
    if (failure) co_return failure;
  }
  co_return std::nullopt;
}

}  // namespace credproxy::proxy
