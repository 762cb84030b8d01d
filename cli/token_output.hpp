#pragma once
// Output of `solution token ...` and `admin token ...`: a new token alone on
// stdout, lists with ids and descriptions (never tokens or digests).
#include <unistd.h>

#include <iostream>
#include <span>
#include <string>
#include <vector>

#include "cli/output.hpp"
#include "vault/posix_file.hpp"
#include "vault/secure_json.hpp"
#include "vault/token_ops.hpp"

namespace credproxy::cli {

// The token alone on stdout, so `$(credproxy ... token create ...)` captures
// exactly it; what it is on stderr. The only place a secret is printed: the
// vault keeps its digest, so this is the one chance to see it.
inline void print_new_token(const vault::created_access_token& token, const std::string& what) {
  // write(2), not std::cout: stdio's buffer would keep a copy nobody wipes.
  std::cout.flush();
  const auto text = token.token.view();
  vault::write_all(STDOUT_FILENO, std::span(reinterpret_cast<const unsigned char*>(text.data()), text.size()), "stdout");
  const unsigned char newline = '\n';
  vault::write_all(STDOUT_FILENO, std::span(&newline, 1), "stdout");
  std::cerr << "created " << what << ", id " << token.id << "; it is shown only this once\n";
}

inline void print_tokens(const std::vector<vault::access_token_info>& tokens, bool json) {
  if (json) {
    boost::json::array out;
    for (const auto& t : tokens) out.push_back(vault::to_json(t));
    std::cout << vault::pretty_json(out);
    return;
  }
  if (tokens.empty()) {
    std::cout << "no tokens\n";
    return;
  }
  std::vector<std::vector<std::string>> rows{{"ID", "CREATED", "DESCRIPTION"}};
  for (const auto& t : tokens) rows.push_back({t.id, t.created_at, t.description.empty() ? "-" : t.description});
  print_table(rows);
}

}  // namespace credproxy::cli
