// `credproxy vault ...` (SPEC §5). `vault rekey` arrives with envelope
// encryption; the file format already has room for it.
#include <iostream>

#include "cli/common.hpp"
#include "vault/store.hpp"

namespace credproxy::cli {

void register_vault_commands(CLI::App& app, global_options& options) {
  auto* vault_cmd = app.add_subcommand("vault", "Manage the encrypted vault and its master key");
  vault_cmd->require_subcommand(1);

  auto* init = vault_cmd->add_subcommand("init", "Create a new empty vault and a new 0600 master key file");
  add_global_options(*init, options);
  init->callback([&options] {
    const auto cfg = effective_config(options);
    vault::init_vault(cfg.vault_path, cfg.key_file);
    std::cout << "created vault " << cfg.vault_path.string() << " and master key file " << cfg.key_file.string()
              << " (mode 0600)\n"
              << "keep the key file safe and backed up apart from the vault: without it the vault cannot be "
                 "decrypted\n";
  });
}

}  // namespace credproxy::cli
