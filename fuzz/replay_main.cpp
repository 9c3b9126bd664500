// Replays a saved corpus through a fuzz target without libFuzzer: calls LLVMFuzzerTestOneInput on
// every regular file of the directory given as the only argument. Fails when the directory is
// missing or holds no file, so a lost corpus cannot pass as a green test. A broken property
// aborts inside the target (fuzz/check.hpp); the file being replayed is printed first.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  std::error_code ec;
  std::vector<fs::path> files;
  for (fs::directory_iterator it{argv[1], ec}, end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file())
      files.push_back(it->path());
  if (ec) {
    std::fprintf(stderr, "%s: %s\n", argv[1], ec.message().c_str());
    return 1;
  }
  if (files.empty()) {
    std::fprintf(stderr, "%s: no corpus files\n", argv[1]);
    return 1;
  }
  for (const auto& path : files) {
    std::fprintf(stderr, "replaying %s\n", path.c_str());
    std::ifstream f{path, std::ios::binary};
    if (!f) {
      std::fprintf(stderr, "%s: cannot open\n", path.c_str());
      return 1;
    }
    std::vector<char> bytes{std::istreambuf_iterator<char>{f}, std::istreambuf_iterator<char>{}};
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  std::printf("%zu inputs replayed\n", files.size());
  return 0;
}
