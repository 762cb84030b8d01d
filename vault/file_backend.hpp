#pragma once
// The vault as one encrypted file (vault_file.hpp): read freely, written
// only read-modify-write under an exclusive lock on "<vault>.lock" so
// concurrent writers (CLI, admin API, serve's token refreshes) never lose
// updates. Every write first makes the current version "<vault>.bak" (a
// hard link, no copy), then replaces the vault atomically and durably; a
// failed write leaves the old vault and says so.
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "vault/store_backend.hpp"

namespace credproxy::vault {

struct vault_keys;  // vault_file.hpp
class exclusive_file_lock;  // posix_file.hpp

class file_backend final : public store_backend {
 public:
  // Reads the key or passphrase from `source` now (a passphrase is derived
  // at the first read, then cached). Throws vault_error.
  file_backend(std::filesystem::path vault_path, const key_source& source);
  // A key already in memory (tests); never re-read.
  file_backend(std::filesystem::path vault_path, std::shared_ptr<const master_key> key);

  std::string name() const override { return vault_path_.string(); }
  loaded_vault load() const override;
  bool modify_if(const std::function<bool(vault_contents&)>& change) const override;
  void rekey(master_key new_key, const std::function<void()>& commit) const override;
  store_fingerprint fingerprint() const noexcept override;
  std::filesystem::path watched_file() const override { return vault_path_; }
  // On by itself when the vault is on a read-only mount.
  void set_read_only(bool on) override { read_only_ = read_only_ || on; }
  bool read_only() const noexcept override { return read_only_; }

 private:
  struct key_state;
  struct opened_file;
  opened_file open_file() const;
  std::vector<unsigned char> write_locked(const exclusive_file_lock& lock, const vault_contents& contents,
                                          const vault_keys& keys,
                                          std::span<const unsigned char> previous) const;

  std::filesystem::path vault_path_;
  std::shared_ptr<key_state> keys_;
  bool read_only_ = false;
};

}  // namespace credproxy::vault
