// Runs a libFuzzer harness once on every file named on the command line,
// or inside the directories named (not recursive). The g++ build links each
// harness with this instead of libFuzzer, so ctest replays the committed
// corpora, under ASan in `make sanitize`. A crash or a failed invariant
// aborts the process, which fails the test; the file being run is printed
// first so the culprit is known.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;

bool run_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", file.c_str());
    return false;
  }
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::fprintf(stderr, "replay %s (%zu bytes)\n", file.c_str(), bytes.size());
  // A copy of exactly `size` bytes, so reading past the end is an ASan error.
  const std::vector<std::uint8_t> input(bytes.begin(), bytes.end());
  LLVMFuzzerTestOneInput(input.empty() ? nullptr : input.data(), input.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    const fs::path arg = argv[i];
    if (fs::is_directory(arg)) {
      for (const auto& entry : fs::directory_iterator(arg))
        if (entry.is_regular_file()) files.push_back(entry.path());
    } else {
      files.push_back(arg);
    }
  }
  std::sort(files.begin(), files.end());  // a stable order, for reproducible logs
  if (files.empty()) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n(no input files found)\n", argv[0]);
    return 2;
  }
  std::size_t ran = 0;
  for (const auto& file : files) ran += run_file(file) ? 1 : 0;
  std::fprintf(stderr, "replayed %zu of %zu inputs\n", ran, files.size());
  return ran == files.size() ? 0 : 1;
}
