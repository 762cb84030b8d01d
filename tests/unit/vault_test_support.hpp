#pragma once
// Shared by the vault unit tests: a canary secret and a self-removing temp dir.
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <string_view>

namespace credproxy::vault::testing_support {

inline constexpr std::string_view canary = "CANARY-s3cr3t-7f1b";

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "vault-test-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

}  // namespace credproxy::vault::testing_support
