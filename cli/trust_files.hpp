#pragma once
// The CA files `credproxy run` points its child's trust variables at: a
// bundle of the system's CAs plus credproxy's (SSL_CERT_FILE & co), and
// credproxy's alone (NODE_EXTRA_CA_CERTS, which Node adds to its own
// store). They live in a fresh 0700 directory, so no other local user can
// swap in a CA of their own between our write and the child's read, and
// they are removed when this object dies (after the child has exited).
#include <filesystem>
#include <string_view>

namespace credproxy::cli {

// Debian's bundle of the system's trusted CAs.
inline constexpr const char* system_ca_bundle = "/etc/ssl/certs/ca-certificates.crt";

// $TMPDIR when set and absolute, else /tmp.
std::filesystem::path temp_root();

class trust_files {
 public:
  // `system_bundle` is copied first when it exists; a missing one leaves
  // credproxy's certificates alone in the bundle. Throws std::runtime_error.
  trust_files(const std::filesystem::path& root, const std::filesystem::path& system_bundle,
              std::string_view credproxy_pem);
  ~trust_files();
  trust_files(const trust_files&) = delete;
  trust_files& operator=(const trust_files&) = delete;

  const std::filesystem::path& directory() const { return directory_; }
  const std::filesystem::path& bundle() const { return bundle_; }
  const std::filesystem::path& credproxy_only() const { return credproxy_only_; }

 private:
  std::filesystem::path directory_;
  std::filesystem::path bundle_;
  std::filesystem::path credproxy_only_;
};

}  // namespace credproxy::cli
