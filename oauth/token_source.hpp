#pragma once
// The one interface the proxy uses to get OAuth access tokens.
//
// Hot path: current() is a lock-free load of an immutable table of tokens
// by slot (vault::token_slot_id); the injector renders from it. Only when a
// slot has no usable token, or the upstream rejected the one injected, does
// a request call request() and wait: the source runs at most one fetch per
// slot at a time (single flight) on threads of its own, never an I/O
// thread, and calls `done` exactly once when that fetch ends (or at once
// when no fetch can help).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/secret.hpp"
#include "oauth/clock.hpp"
#include "vault/credential.hpp"

namespace credproxy::oauth {

// A token as the injector sees it.
struct cached_token {
  secret access_token;
  std::optional<time_point> expires_at;  // nullopt: the provider gave no lifetime
  time_point obtained_at{};
  std::uint64_t serial = 0;              // unique per token obtained by this process; 0 never used
  // Set (relaxed) by the injector when it renders this token: only tokens in
  // use are refreshed ahead of expiry.
  mutable std::atomic<bool> used{false};

  // Usable for a request sent at `now`: a token about to expire is not
  // ("an expired token is never injected"), so min_validity() is left.
  bool usable_at(time_point now) const noexcept {
    return !access_token.empty() && (!expires_at || now + min_validity() < *expires_at);
  }
  // 5 s, or a quarter of the lifetime of a token that lives less than 20 s:
  // a fixed 5 s would make a token of 5 s or less unusable from the start,
  // and every request would fetch another one, unusable again.
  std::chrono::system_clock::duration min_validity() const noexcept {
    constexpr std::chrono::system_clock::duration usual = std::chrono::seconds(5);
    if (!expires_at || obtained_at == time_point{} || *expires_at <= obtained_at) return usual;
    return std::min(usual, (*expires_at - obtained_at) / 4);
  }

  // Upstream 401s, bounded per slot: the first 401 to a token forces one
  // refresh and a replay (the token may have been revoked, however young).
  // That forced refresh opens a window during which 401s to the slot's
  // tokens, the one it obtained included, are passed on as they are: a new
  // token would fare no better with an upstream that refuses for another
  // reason (permissions), and such an upstream then costs at most one token
  // request per slot and window, not one per request. Set by the token
  // source when it installs the token; time_point{}: no window open.
  static constexpr std::chrono::seconds forced_refresh_window{30};
  time_point no_forced_refresh_until{};
  bool refresh_on_401_at(time_point now) const noexcept { return now >= no_forced_refresh_until; }
};

struct token_table {
  vault::string_map<std::shared_ptr<const cached_token>> by_slot;  // token_slot_id -> token
  const cached_token* find(std::string_view slot_id) const noexcept {
    auto it = by_slot.find(slot_id);
    return it == by_slot.end() ? nullptr : it->second.get();
  }
};
using token_table_ptr = std::shared_ptr<const token_table>;

// What a request needs: the slot, and the client settings from the request's
// own vault snapshot (so a fetch always uses the configuration the request
// was checked against).
struct token_request {
  vault::token_owner owner;
  std::string user;                                // "" = the owner's own tokens
  std::string key;                                 // the credential key the request named (messages, logs)
  std::shared_ptr<const vault::oauth_client> client;
  std::uint64_t rejected_serial = 0;  // the upstream answered 401 to this token: get a newer one
};

struct token_outcome {
  enum class status {
    ready,    // the table now has a usable token for the slot
    missing,  // no way to get one without a login (oauth_credentials_missing, 401)
    failed,   // the token endpoint failed (oauth_refresh_failed, 502)
    store_unavailable,  // the refresh must be written first, and the database store cannot be reached (503)
  };
  status result = status::failed;
  std::string message;  // for the error body: names the key, never a token or secret
};

class token_source {
 public:
  virtual ~token_source() = default;
  virtual token_table_ptr current() const = 0;
  // Bumped on every change of current(); lets a worker cache the table.
  virtual std::uint64_t generation() const noexcept = 0;
  virtual time_point now() const noexcept = 0;
  // `done` runs exactly once, on a thread of the source (or the caller's,
  // when the answer is immediate); it must not block.
  virtual void request(token_request request, std::function<void(token_outcome)> done) = 0;
};

// The command that signs in for a slot, for messages people copy: names
// made of safe characters stay bare, anything else is single-quoted.
inline std::string login_command(const vault::token_owner& owner, std::string_view user) {
  const auto word = [](std::string_view text) {
    const bool safe = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
             c == '-' || c == '@';
    });
    if (safe) return std::string(text);
    std::string out = "'";
    for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  };
  std::string cmd = owner.owner_kind == vault::token_owner::kind::credential
                        ? "credproxy oauth login --solution " + word(owner.solution) + " --key " + word(owner.name)
                        : "credproxy oauth login --org " + word(owner.name);
  if (!user.empty()) cmd += " --user " + word(user);
  return cmd;
}

// Per-worker cache of the table: one atomic load per request when nothing changed.
class token_table_cache {
 public:
  explicit token_table_cache(const token_source& source) : source_(source) {}
  const token_table_ptr& get() {
    const auto gen = source_.generation();
    if (!cached_ || gen != generation_) {
      generation_ = gen;
      cached_ = source_.current();
    }
    return cached_;
  }

 private:
  const token_source& source_;
  token_table_ptr cached_;
  std::uint64_t generation_ = ~std::uint64_t{0};
};

}  // namespace credproxy::oauth
