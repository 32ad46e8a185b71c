// A libFuzzer-compatible driver for compilers without libFuzzer (g++): replays every file of the corpus folders
// given, then mutates them (bit flips, byte changes, insertions, deletions, splices, interesting values) with a
// seeded generator until -max_total_time seconds have passed. Options as libFuzzer's: -max_total_time=N, -seed=N,
// -runs=N; other -flags are ignored. A finding aborts (sanitizer report or the harness's abort) with the input saved
// to ./crash-standalone-<seed> first.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {
std::vector<uint8_t> current;
uint64_t seed_used = 1;

void save_current() {
  const std::string name = "crash-standalone-" + std::to_string(seed_used);
  std::ofstream(name, std::ios::binary).write(reinterpret_cast<const char*>(current.data()),
                                               static_cast<std::streamsize>(current.size()));
}

void run_one(const std::vector<uint8_t>& in) {
  current = in;
  save_current();  // kept only when the run does not return (a crash); removed at exit otherwise
  LLVMFuzzerTestOneInput(in.data(), in.size());
}
}  // namespace

int main(int argc, char** argv) {
  double max_time = 10;
  long runs = -1;
  std::vector<std::vector<uint8_t>> corpus;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("-max_total_time=", 0) == 0) max_time = std::stod(a.substr(16));
    else if (a.rfind("-seed=", 0) == 0) seed_used = std::stoull(a.substr(6));
    else if (a.rfind("-runs=", 0) == 0) runs = std::stol(a.substr(6));
    else if (a[0] == '-') continue;
    else if (std::filesystem::is_directory(a)) {
      std::vector<std::filesystem::path> files;
      for (const auto& e : std::filesystem::directory_iterator(a))
        if (e.is_regular_file()) files.push_back(e.path());
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        corpus.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      }
    } else if (std::filesystem::is_regular_file(a)) {
      std::ifstream in(a, std::ios::binary);
      corpus.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  }
  if (corpus.empty()) corpus.emplace_back();
  for (const auto& c : corpus) run_one(c);
  std::mt19937_64 rng(seed_used);
  const auto start = std::chrono::steady_clock::now();
  long n = 0;
  static const uint8_t interesting[] = {0, 1, 0x7f, 0x80, 0xff, '\n', '"', '\'', ':', ',', '{', '}', '(', ')', '[', ']',
                                        '-', '.', 'e', '9', ' ', '\\', 0xc3, 0xe2};
  for (; runs < 0 || n < runs; ++n) {
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > max_time) break;
    std::vector<uint8_t> x = corpus[rng() % corpus.size()];
    const int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = x.empty() ? 0 : rng() % (x.size() + 1);
      switch (rng() % 6) {
        case 0: if (!x.empty()) x[pos % x.size()] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
        case 1: if (!x.empty()) x[pos % x.size()] = static_cast<uint8_t>(rng()); break;
        case 2: x.insert(x.begin() + static_cast<long>(pos), interesting[rng() % sizeof interesting]); break;
        case 3: if (!x.empty()) x.erase(x.begin() + static_cast<long>(pos % x.size())); break;
        case 4: {  // splice a piece of another corpus entry
          const auto& o = corpus[rng() % corpus.size()];
          if (o.empty()) break;
          const size_t a = rng() % o.size(), len = 1 + rng() % std::min<size_t>(16, o.size() - a);
          x.insert(x.begin() + static_cast<long>(pos), o.begin() + static_cast<long>(a), o.begin() + static_cast<long>(a + len));
          break;
        }
        default:  // repeat a piece (long numbers, deep nesting)
          if (!x.empty()) {
            const size_t a = pos % x.size(), len = 1 + rng() % std::min<size_t>(8, x.size() - a);
            std::vector<uint8_t> piece(x.begin() + static_cast<long>(a), x.begin() + static_cast<long>(a + len));
            for (int r = 0; r < 1 + static_cast<int>(rng() % 32); ++r) x.insert(x.begin() + static_cast<long>(a), piece.begin(), piece.end());
          }
      }
    }
    if (x.size() > 65536) x.resize(65536);
    run_one(x);
  }
  std::remove(("crash-standalone-" + std::to_string(seed_used)).c_str());
  std::printf("standalone fuzz driver: %zu corpus inputs, %ld mutated runs, no finding\n", corpus.size(), n);
  return 0;
}
