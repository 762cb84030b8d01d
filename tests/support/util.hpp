#pragma once
// Small helpers the integration tests share: temp dirs, hashing, generated
// test data, encodings, and reading a process's memory counters.
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace credproxy::test {

// A fresh private directory, removed with everything in it on destruction
// (kept when CREDPROXY_IT_KEEP is set in the environment, for debugging).
class temp_dir {
 public:
  temp_dir();
  explicit temp_dir(const std::filesystem::path& parent);
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Incremental SHA-256, hex output.
class sha256 {
 public:
  sha256();
  ~sha256();
  sha256(const sha256&) = delete;
  sha256& operator=(const sha256&) = delete;
  void update(const void* data, std::size_t size);
  std::string hex_digest();  // finishes; call once

 private:
  struct state;
  std::unique_ptr<state> state_;
};

std::string sha256_hex(std::string_view data);
std::string sha256_file(const std::filesystem::path& path);

// A deterministic pseudo-random byte stream (xorshift). Large bodies are
// produced on the fly from it, never stored, and the receiver checks the
// hash of the same stream: catches truncation, duplication and reordering.
class pattern_generator {
 public:
  explicit pattern_generator(std::uint64_t seed = 0x9e3779b97f4a7c15ULL) : state_(seed | 1) {}
  void fill(char* out, std::size_t size);

 private:
  std::uint64_t state_;
  std::uint64_t word_ = 0;
  unsigned left_ = 0;  // unused bytes of word_
};

// Size and SHA-256 of the first `size` bytes of pattern_generator(seed).
std::string pattern_sha256(std::uint64_t size, std::uint64_t seed = 0x9e3779b97f4a7c15ULL);
// Writes them to a file (upload source); returns the SHA-256.
std::string write_pattern_file(const std::filesystem::path& path, std::uint64_t size,
                               std::uint64_t seed = 0x9e3779b97f4a7c15ULL);

std::string base64(std::string_view data);
std::string percent_encode_all(std::string_view data);  // every byte but unreserved
std::string percent_decode(std::string_view data);      // %XX only; '+' stays '+'
// "a=1&b=%20" -> {{"a","1"},{"b"," "}}, decoded, in order.
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view target);
std::string random_hex(std::size_t bytes);

// From /proc/PID/status, in bytes; 0 if unreadable.
std::uint64_t vm_rss_bytes(pid_t pid);
std::uint64_t vm_hwm_bytes(pid_t pid);  // peak resident set size

// An unused loopback port that refuses connections: a socket bound to it
// but never listening. The port stays reserved while the object lives, so
// nothing else can start listening there during the test.
class refused_port {
 public:
  refused_port();
  ~refused_port();
  refused_port(const refused_port&) = delete;
  refused_port& operator=(const refused_port&) = delete;
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace credproxy::test
