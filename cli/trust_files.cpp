#include "cli/trust_files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "vault/posix_file.hpp"

namespace credproxy::cli {
namespace {

std::runtime_error failure(const std::string& what, const std::filesystem::path& path, int err) {
  return std::runtime_error(what + " " + path.string() + ": " + std::strerror(err));
}

std::filesystem::path make_private_directory(const std::filesystem::path& root) {
  std::string pattern = (root / "credproxy-run-XXXXXX").string();
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr) throw failure("cannot create a directory in", root, errno);
  return std::filesystem::path(buffer.data());  // mkdtemp makes it 0700
}

// O_EXCL in our private directory: the file is new and ours.
void write_new_file(const std::filesystem::path& path, std::string_view text) {
  vault::unique_fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) throw failure("cannot create", path, errno);
  vault::write_all(fd.get(), std::span(reinterpret_cast<const unsigned char*>(text.data()), text.size()), path);
  if (fd.close() != 0) throw failure("cannot write", path, errno);
}

std::string read_optional(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!text.empty() && text.back() != '\n') text.push_back('\n');
  return text;
}

}  // namespace

std::filesystem::path temp_root() {
  const char* dir = std::getenv("TMPDIR");
  if (dir && *dir == '/') return dir;
  return "/tmp";
}

trust_files::trust_files(const std::filesystem::path& root, const std::filesystem::path& system_bundle,
                         std::string_view credproxy_pem)
    : directory_(make_private_directory(root)),
      bundle_(directory_ / "ca-bundle.pem"),
      credproxy_only_(directory_ / "credproxy-ca.pem") {
  try {
    write_new_file(bundle_, read_optional(system_bundle) + std::string(credproxy_pem));
    write_new_file(credproxy_only_, credproxy_pem);
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
    throw;
  }
}

trust_files::~trust_files() {
  std::error_code ignored;  // nothing useful to do about a failed cleanup of a temp dir
  std::filesystem::remove_all(directory_, ignored);
}

}  // namespace credproxy::cli
