// The file backend: see file_backend.hpp.
#include "vault/file_backend.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include <mutex>
#include <optional>

#include "vault/file_stamp.hpp"
#include "vault/posix_file.hpp"
#include "vault/store.hpp"
#include "vault/vault_file.hpp"

namespace credproxy::vault {

namespace {

// The backup is a hard link of the vault, so it shares its mode; a copy
// made where links are unsupported is created 0600. Either way a looser
// one means someone changed it.
void check_backup_permissions(const std::filesystem::path& vault_path) {
  const auto backup = backup_path_for(vault_path);
  struct stat st {};
  if (::lstat(backup.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
  check_owner_only(st, "vault backup " + backup.string(), backup);
}

}  // namespace


// The key shared by copies of a store. After a rekey by another process the
// key file (or passphrase file) holds a new secret: `reread` picks it up.
struct file_backend::key_state {
  std::mutex mutex;
  std::shared_ptr<const master_key> key;
  std::optional<key_source> source;

  std::shared_ptr<const master_key> current() {
    std::lock_guard lock(mutex);
    return key;
  }
  void replace(master_key next) {
    auto shared = std::make_shared<const master_key>(std::move(next));
    std::lock_guard lock(mutex);
    key = std::move(shared);
  }
  // The source read again, or nullptr when it cannot differ from `tried`.
  std::shared_ptr<const master_key> reread(const master_key& tried) {
    if (!source || !source->rereadable()) return nullptr;
    auto fresh = std::make_shared<const master_key>(load_master_key(*source));
    if (fresh->same_secret(tried)) return nullptr;  // no new secret: do not derive twice
    std::lock_guard lock(mutex);
    key = fresh;
    return fresh;
  }
};

struct file_backend::opened_file {
  std::vector<unsigned char> bytes;
  opened_vault opened;
  std::shared_ptr<const master_key> key;  // the key that opened it
};

file_backend::file_backend(std::filesystem::path vault_path, const key_source& source)
    : vault_path_(std::move(vault_path)), keys_(std::make_shared<key_state>()) {
  keys_->key = std::make_shared<const master_key>(load_master_key(source));
  keys_->source = source;
  read_only_ = on_read_only_mount(vault_path_);
}

file_backend::file_backend(std::filesystem::path vault_path, std::shared_ptr<const master_key> key)
    : vault_path_(std::move(vault_path)), keys_(std::make_shared<key_state>()) {
  keys_->key = std::move(key);
}

file_backend::opened_file file_backend::open_file() const {
  check_backup_permissions(vault_path_);
  opened_file result;
  result.bytes = read_vault_bytes(vault_path_);
  result.key = keys_->current();
  try {
    result.opened = open_vault(result.bytes, *result.key, vault_path_.string());
  } catch (const wrong_master_key&) {
    auto fresh = keys_->reread(*result.key);
    if (!fresh) throw;
    result.key = std::move(fresh);
    result.opened = open_vault(result.bytes, *result.key, vault_path_.string());
  }
  return result;
}

namespace {

vault_contents parse_checked(const opened_vault& opened, const std::filesystem::path& path) {
  auto contents = vault_contents::parse(opened.plaintext, path.string());
  // Both are authenticated together, so they differ only through a bug.
  if (contents.revision() != opened.sequence)
    throw vault_error("vault " + path.string() + ": header revision " + std::to_string(opened.sequence) +
                      " does not match contents revision " + std::to_string(contents.revision()) +
                      " (restore " + path.string() + ".bak or another backup)");
  return contents;
}

}  // namespace

loaded_vault file_backend::load() const {
  const auto file = open_file();
  loaded_vault result{parse_checked(file.opened, vault_path_), {}};
  SHA256(file.bytes.data(), file.bytes.size(), result.digest.data());
  return result;
}

store_fingerprint file_backend::fingerprint() const noexcept {
  const auto stamp = stamp_file(vault_path_);
  return {std::to_string(stamp.error) + ":" + std::to_string(stamp.device) + ":" + std::to_string(stamp.inode) + ":" +
         std::to_string(stamp.size) + ":" + std::to_string(stamp.mtime_ns) + ":" + std::to_string(stamp.ctime_ns)};
}

std::vector<unsigned char> file_backend::write_locked(const exclusive_file_lock& lock, const vault_contents& contents,
                                                     const vault_keys& keys,
                                                     std::span<const unsigned char> previous) const {
  remove_stale_temp_files(vault_path_);  // the vault's and the backup's
  auto bytes = seal_vault(contents.serialize(), keys, contents.revision());
  keep_backup(vault_path_, backup_path_for(vault_path_), previous);
  atomic_replace(vault_path_, bytes);
  lock.count_write();  // before this writer returns: read your writes
  return bytes;
}

namespace {

std::string read_only_message(const std::filesystem::path& vault_path) {
  return "vault " + vault_path.string() + " is read-only (vault.read_only, or a read-only mount such as a Kubernetes "
         "Secret): nothing was written; make the change in a writable copy and update the mount's source";
}

}  // namespace

bool file_backend::modify_if(const std::function<bool(vault_contents&)>& change) const {
  if (read_only_) {
    // The same decision on the current contents, without a lock (none can
    // be taken): only a change that wants writing fails.
    auto contents = parse_checked(open_file().opened, vault_path_);
    if (!change(contents)) return false;
    throw read_only_error(read_only_message(vault_path_));
  }
  exclusive_file_lock lock(lock_path_for(vault_path_));
  const auto current = open_file();  // re-read under the lock: another writer may have just finished
  auto contents = parse_checked(current.opened, vault_path_);
  if (!change(contents)) return false;
  contents.bump_revision();
  write_locked(lock, contents, current.opened.keys, current.bytes);
  return true;
}

void file_backend::rekey(master_key new_key, const std::function<void()>& commit) const {
  if (read_only_) throw read_only_error(read_only_message(vault_path_));
  exclusive_file_lock lock(lock_path_for(vault_path_));
  const auto current = open_file();
  auto contents = parse_checked(current.opened, vault_path_);
  const auto& old_keys = current.opened.keys;

  // (a) A fresh data key, wrapped for the old key (same KDF salt: no second
  // scrypt) and for the new one. Opens with either.
  auto both = new_vault_keys(old_keys.vault_id);
  add_key_slot(both, *current.key, &old_keys.slots[current.opened.slot]);
  add_key_slot(both, new_key);
  contents.bump_revision();
  const auto two_slot_bytes = write_locked(lock, contents, both, current.bytes);

  // (b) Store the new key. If that fails, nothing but this process knows
  // it: drop its slot again.
  try {
    commit();
  } catch (const std::exception& e) {
    std::string outcome = "the vault still opens with the old key";
    try {
      vault_keys old_only{both.vault_id, both.data_key, {both.slots[0]}};
      contents.bump_revision();
      write_locked(lock, contents, old_only, two_slot_bytes);
    } catch (const std::exception&) {
      outcome += " (and, until the next rekey, with a key slot nobody holds the key for)";
    }
    throw vault_error(std::string(e.what()) + "; rekey abandoned: " + outcome);
  }

  // (c) Only the new key. The backup made by this write is the two-slot
  // version, which the old key still opens: make .bak this version too.
  vault_keys new_only{both.vault_id, both.data_key, {both.slots[1]}};
  contents.bump_revision();
  std::vector<unsigned char> final_bytes;
  try {
    final_bytes = write_locked(lock, contents, new_only, two_slot_bytes);
  } catch (const std::exception& e) {
    throw vault_error(std::string(e.what()) +
                      "; rekey incomplete: the vault opens with the old and the new key until you run "
                      "credproxy vault rekey again");
  }
  keys_->replace(std::move(new_key));
  const auto backup = backup_path_for(vault_path_);
  try {
    keep_backup(vault_path_, backup, final_bytes);
    fsync_parent_directory(vault_path_);
  } catch (const std::exception& e) {
    throw vault_error(std::string(e.what()) + "; the vault is rekeyed, but the old key still opens " +
                      backup.string() + ": delete it");
  }
}

}  // namespace credproxy::vault
