#include "vault/store.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include <cerrno>
#include <mutex>
#include <optional>
#include <system_error>

#include "vault/key_file.hpp"
#include "vault/posix_file.hpp"
#include "vault/snapshot_builder.hpp"
#include "vault/vault_file.hpp"

namespace credproxy::vault {

namespace {

bool path_exists(const std::filesystem::path& p) {
  std::error_code ec;
  const bool found = std::filesystem::exists(std::filesystem::symlink_status(p, ec));
  if (ec && ec != std::errc::no_such_file_or_directory)
    throw vault_error("cannot check " + p.string() + ": " + ec.message());
  return found;
}

// An empty vault with one slot for `key`, written atomically (0600).
void create_vault(const std::filesystem::path& vault_path, const master_key& key) {
  auto keys = new_vault_keys();
  add_key_slot(keys, key);
  const vault_contents empty;
  atomic_replace(vault_path, seal_vault(empty.serialize(), keys, empty.revision()));
}

// Both files are new: write the key, then the empty vault; undo the key if
// the vault cannot be written, so a retry starts clean.
void create_with_key_file(const std::filesystem::path& vault_path, const key_source& source) {
  auto key = create_key_file(source.key_file);
  try {
    create_vault(vault_path, master_key::from_key(std::move(key), source.describe()));
  } catch (...) {
    ::unlink(source.key_file.c_str());
    throw;
  }
}

// A key for a vault about to be created: new passphrases must be long enough.
master_key key_for_new_vault(const key_source& source) {
  if (source.kind != key_source::kind_t::passphrase) return load_master_key(source);
  auto text = source.passphrase_file.empty() ? read_passphrase_env(source.passphrase_env)
                                             : read_passphrase_file(source.passphrase_file);
  check_new_passphrase(text, source.describe());
  return master_key::from_passphrase(std::move(text), source.describe());
}

key_source file_source(std::filesystem::path key_file) {
  key_source source;
  source.key_file = std::move(key_file);
  return source;
}

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

std::filesystem::path lock_path_for(const std::filesystem::path& vault_path) {
  auto p = vault_path;
  p += ".lock";
  return p;
}

std::filesystem::path backup_path_for(const std::filesystem::path& vault_path) {
  auto p = vault_path;
  p += ".bak";
  return p;
}

bool ensure_vault(const std::filesystem::path& vault_path, const key_source& source) {
  // Nothing to create: no lock either (the lock file may be impossible to
  // create, on a read-only mount).
  if (path_exists(vault_path) && (source.kind != key_source::kind_t::file || path_exists(source.key_file))) return false;
  // Under the writers' lock, so two first runs cannot both create a key.
  exclusive_file_lock lock(lock_path_for(vault_path));
  const bool have_vault = path_exists(vault_path);
  if (source.kind != key_source::kind_t::file) {
    if (have_vault) return false;
    create_vault(vault_path, key_for_new_vault(source));
    return true;
  }
  const auto& key_file = source.key_file;
  const bool have_key = path_exists(key_file);
  if (have_vault && have_key) return false;
  if (have_vault)
    throw vault_error("vault " + vault_path.string() + " exists but its key file " + key_file.string() +
                      " is missing: restore the key file (without it the vault cannot be decrypted)");
  if (have_key)
    throw vault_error("key file " + key_file.string() + " exists but vault " + vault_path.string() +
                      " does not: restore the vault, or move the key file away to start a new vault");
  create_with_key_file(vault_path, source);
  return true;
}

void init_vault(const std::filesystem::path& vault_path, const key_source& source) {
  exclusive_file_lock lock(lock_path_for(vault_path));
  if (path_exists(vault_path))
    throw vault_error("vault " + vault_path.string() +
                      " already exists; refusing to overwrite it (it is ready to use; to start over, move it and its "
                      "key away first)");
  if (source.kind != key_source::kind_t::file) {
    create_vault(vault_path, key_for_new_vault(source));
    return;
  }
  if (path_exists(source.key_file))
    throw vault_error("key file " + source.key_file.string() +
                      " already exists; refusing to overwrite it (it may protect another vault)");
  create_with_key_file(vault_path, source);
}

bool ensure_vault(const std::filesystem::path& vault_path, const std::filesystem::path& key_file) {
  return ensure_vault(vault_path, file_source(key_file));
}

void init_vault(const std::filesystem::path& vault_path, const std::filesystem::path& key_file) {
  init_vault(vault_path, file_source(key_file));
}

snapshot_ptr load_snapshot(const std::filesystem::path& vault_path, const std::filesystem::path& key_file) {
  return vault_store(vault_path, key_file).snapshot();
}

// ---- vault_store ---------------------------------------------------------

// The key shared by copies of a store. After a rekey by another process the
// key file (or passphrase file) holds a new secret: `reread` picks it up.
struct vault_store::key_state {
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

struct vault_store::loaded {
  std::vector<unsigned char> bytes;
  opened_vault opened;
  std::shared_ptr<const master_key> key;  // the key that opened it
};

vault_store::vault_store(std::filesystem::path vault_path, const key_source& source)
    : vault_path_(std::move(vault_path)), keys_(std::make_shared<key_state>()) {
  keys_->key = std::make_shared<const master_key>(load_master_key(source));
  keys_->source = source;
  read_only_ = on_read_only_mount(vault_path_);
}

vault_store::vault_store(std::filesystem::path vault_path, std::filesystem::path key_file)
    : vault_store(std::move(vault_path), file_source(std::move(key_file))) {}

vault_store::vault_store(std::filesystem::path vault_path, master_key key)
    : vault_store(std::move(vault_path), std::make_shared<const master_key>(std::move(key))) {}

vault_store::vault_store(std::filesystem::path vault_path, std::shared_ptr<const master_key> key)
    : vault_path_(std::move(vault_path)), keys_(std::make_shared<key_state>()) {
  keys_->key = std::move(key);
}

vault_store::loaded vault_store::load() const {
  check_backup_permissions(vault_path_);
  loaded result;
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

vault_contents vault_store::read() const { return parse_checked(load().opened, vault_path_); }

snapshot_ptr vault_store::snapshot() const {
  const auto file = load();
  token_digest file_digest{};
  SHA256(file.bytes.data(), file.bytes.size(), file_digest.data());
  return build_snapshot(parse_checked(file.opened, vault_path_), vault_path_.string(), file_digest);
}

std::vector<unsigned char> vault_store::write_locked(const vault_contents& contents, const vault_keys& keys,
                                                     std::span<const unsigned char> previous) const {
  remove_stale_temp_files(vault_path_);  // the vault's and the backup's
  auto bytes = seal_vault(contents.serialize(), keys, contents.revision());
  keep_backup(vault_path_, backup_path_for(vault_path_), previous);
  atomic_replace(vault_path_, bytes);
  return bytes;
}

std::uint64_t vault_store::modify(const std::function<void(vault_contents&)>& change) const {
  std::uint64_t revision = 0;
  modify_if([&](vault_contents& contents) {
    change(contents);
    revision = contents.revision() + 1;
    return true;
  });
  return revision;
}

namespace {

std::string read_only_message(const std::filesystem::path& vault_path) {
  return "vault " + vault_path.string() + " is read-only (vault.read_only, or a read-only mount such as a Kubernetes "
         "Secret): nothing was written; make the change in a writable copy and update the mount's source";
}

}  // namespace

bool vault_store::modify_if(const std::function<bool(vault_contents&)>& change) const {
  if (read_only_) {
    // The same decision on the current contents, without a lock (none can
    // be taken): only a change that wants writing fails.
    auto contents = parse_checked(load().opened, vault_path_);
    if (!change(contents)) return false;
    throw read_only_error(read_only_message(vault_path_));
  }
  exclusive_file_lock lock(lock_path_for(vault_path_));
  const auto current = load();  // re-read under the lock: another writer may have just finished
  auto contents = parse_checked(current.opened, vault_path_);
  if (!change(contents)) return false;
  contents.bump_revision();
  write_locked(contents, current.opened.keys, current.bytes);
  return true;
}

void vault_store::rekey(master_key new_key, const std::function<void()>& commit) const {
  if (read_only_) throw read_only_error(read_only_message(vault_path_));
  exclusive_file_lock lock(lock_path_for(vault_path_));
  const auto current = load();
  auto contents = parse_checked(current.opened, vault_path_);
  const auto& old_keys = current.opened.keys;

  // (a) A fresh data key, wrapped for the old key (same KDF salt: no second
  // scrypt) and for the new one. Opens with either.
  auto both = new_vault_keys(old_keys.vault_id);
  add_key_slot(both, *current.key, &old_keys.slots[current.opened.slot]);
  add_key_slot(both, new_key);
  contents.bump_revision();
  const auto two_slot_bytes = write_locked(contents, both, current.bytes);

  // (b) Store the new key. If that fails, nothing but this process knows
  // it: drop its slot again.
  try {
    commit();
  } catch (const std::exception& e) {
    std::string outcome = "the vault still opens with the old key";
    try {
      vault_keys old_only{both.vault_id, both.data_key, {both.slots[0]}};
      contents.bump_revision();
      write_locked(contents, old_only, two_slot_bytes);
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
    final_bytes = write_locked(contents, new_only, two_slot_bytes);
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
