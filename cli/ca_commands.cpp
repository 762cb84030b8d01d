// `credproxy ca export|rotate|import` (SPEC §5, §6): the interception CA
// that signs the leaves of intercepted CONNECT tunnels. Certificates are
// public and printed; a private key is read from a file or stdin into
// wiping storage, goes only into the vault, and is never printed.
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <span>

#include "ca/ca_ops.hpp"
#include "ca/certificate_info.hpp"
#include "cli/common.hpp"
#include "vault/posix_file.hpp"
#include "vault/timestamp.hpp"

namespace credproxy::cli {

namespace {

struct ca_options {
  std::string out;
  std::string certificate_file;
  std::string key_file;
};

constexpr const char* redistribute_hint =
    "run credproxy ca export and install its output wherever clients trust the interception CA";

// Written atomically, then made 0644 whatever the umask: it is public, and
// other users' clients need to read it.
void write_public_file(const std::string& path, const std::string& text) {
  vault::atomic_replace(path, std::span(reinterpret_cast<const unsigned char*>(text.data()), text.size()));
  if (::chmod(path.c_str(), 0644) != 0) throw command_error("cannot make " + path + " readable: " + std::strerror(errno));
}

std::size_t certificate_count(const std::string& bundle) {
  std::size_t count = 0;
  for (auto at = bundle.find("-----BEGIN CERTIFICATE-----"); at != std::string::npos;
       at = bundle.find("-----BEGIN CERTIFICATE-----", at + 1))
    ++count;
  return count;
}

// What rotate and import print: the new CA, how long the old one stays
// trusted, and that clients need the new certificate.
void report_change(const std::string& verb, const ca::ca_change& change) {
  std::cout << verb << " interception CA " << ca::subject_line(change.certificate_pem) << '\n'
            << "  SHA-256 fingerprint " << ca::sha256_fingerprint(change.certificate_pem) << '\n';
  if (change.previous_trusted_until) {
    std::cout << "the previous CA stays in the exported bundle until "
              << vault::format_timestamp(*change.previous_trusted_until)
              << ", when the leaves it signed have expired\n";
  }
  std::cout << "clients must trust the new CA: " << redistribute_hint << '\n';
}

void run_export(const global_options& options, const ca_options& o) {
  const auto store = open_store(options);
  const auto now = std::chrono::system_clock::now();
  if (ca::ensure_authority(store, now))
    std::cerr << "credproxy: created the interception CA, as this vault had none\n";
  const auto bundle = ca::trusted_bundle_pem(*store.snapshot(), now);
  if (o.out.empty()) {
    std::cout << bundle;
    return;
  }
  write_public_file(o.out, bundle);
  const auto count = certificate_count(bundle);
  std::cout << "wrote " << count << " CA certificate" << (count == 1 ? "" : "s") << " to " << o.out << '\n';
}

void run_rotate(const global_options& options) {
  report_change("new", ca::rotate_authority(open_store(options), std::chrono::system_clock::now()));
}

void run_import(const global_options& options, const ca_options& o) {
  if (o.certificate_file == "-" && o.key_file == "-")
    throw usage_error("ca import: only one of --cert and --key can be read from stdin");
  const auto store = open_store(options);
  std::string certificate = read_document(o.certificate_file, "--cert");
  wipe_on_exit wipe(certificate);  // a key pasted into the certificate file by mistake
  ca::ca_change change;
  with_document(o.key_file, [&](std::string_view key) {
    change = ca::import_authority(store, certificate, key, std::chrono::system_clock::now());
  }, "--key");
  report_change("imported", change);
}

}  // namespace

void register_ca_commands(CLI::App& app, global_options& options) {
  auto o = std::make_shared<ca_options>();
  auto* ca_cmd = app.add_subcommand("ca", "Manage the CA that signs the certificates of intercepted HTTPS tunnels");
  ca_cmd->require_subcommand(1);

  auto* exp = ca_cmd->add_subcommand(
      "export", "Print the CA certificates clients must trust (PEM): the current one first, then any retired one "
                "whose leaves are still valid. Creates the CA if the vault has none.");
  exp->add_option("--out", o->out, "write to FILE (mode 0644) instead of stdout");
  add_global_options(*exp, options);
  exp->callback([&options, o] { run_export(options, *o); });

  auto* rotate = ca_cmd->add_subcommand(
      "rotate", "Replace the CA with a new one; the old one stays in the exported bundle until its leaves expire");
  add_global_options(*rotate, options);
  rotate->callback([&options] { run_rotate(options); });

  auto* imp = ca_cmd->add_subcommand(
      "import", "Use your organization's own CA (EC P-256/P-384 or RSA >= 2048, unencrypted key)");
  imp->add_option("--cert", o->certificate_file, "CA certificate file (PEM), or - for stdin")->required();
  imp->add_option("--key", o->key_file, "CA private key file (PEM, unencrypted), or - for stdin")->required();
  add_global_options(*imp, options);
  imp->callback([&options, o] { run_import(options, *o); });
}

}  // namespace credproxy::cli
