// What recording and checking a model's identity costs per run: the portable SHA-256 (what every run did before),
// OpenSSL's, the stored-hash check (hashes.json, size + modification time), and the CRC-32 pass the load's archive
// check makes (zlib's against diffscope's folded one), on the same files, interleaved over rounds.
// Usage: build/bench_hash [--rounds N] FILE...   (e.g. a package's *.pt files; prints min/median/max seconds)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <zlib.h>

#include "diffscope/util/crc32.h"
#include "diffscope/util/file_hashes.h"
#include "diffscope/util/mapped_file.h"
#include "diffscope/util/sha256.h"

using namespace diffscope;

namespace {
/// One CRC-32 over each whole file, 64 MiB at a time and dropped once read, as verify_zip_crc reads an archive.
uint32_t crc_files(const std::vector<std::string>& files, uint32_t (*update)(uint32_t, const unsigned char*, size_t)) {
  uint32_t all = 0;
  for (const auto& f : files) {
    const MappedFile m(f, /*sequential=*/true);
    uint32_t c = 0;
    for (size_t done = 0; done < m.size();) {
      const size_t n = std::min<size_t>(m.size() - done, size_t{1} << 26);
      c = update(c, m.data() + done, n);
      m.release(done, n);
      done += n;
    }
    all ^= c;
  }
  return all;
}
uint32_t zlib_update(uint32_t c, const unsigned char* p, size_t n) { return static_cast<uint32_t>(::crc32(c, p, static_cast<uInt>(n))); }
uint32_t folded_update(uint32_t c, const unsigned char* p, size_t n) { return crc32_update(c, p, n); }
}  // namespace

int main(int argc, char** argv) {
  int rounds = 3;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--rounds") && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else {
      files.push_back(argv[i]);
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: bench_hash [--rounds N] FILE...\n");
    return 2;
  }
  uint64_t bytes = 0;
  HashManifest stored;
  for (const auto& f : files) {
    const FileStamp s = file_stamp(f);
    bytes += s.size;
    stored[f] = {sha256_file(f), s.size, s.mtime_ns};
  }
  const std::vector<std::pair<std::string, std::function<void()>>> ways = {
      {"portable SHA-256", [&] { for (const auto& f : files) sha256_file_portable(f); }},
      {sha256_is_accelerated() ? "OpenSSL SHA-256" : "sha256_file (no OpenSSL)", [&] { for (const auto& f : files) sha256_file(f); }},
      {"stored hash, stamp check", [&] { for (const auto& f : files) package_file_sha256("/", f, stored); }},
      {"CRC-32, zlib", [&] { crc_files(files, zlib_update); }},
      {crc32_folds() ? "CRC-32, folded (PCLMULQDQ)" : "CRC-32, crc32_update (no PCLMULQDQ: zlib)", [&] { crc_files(files, folded_update); }},
  };
  std::map<std::string, std::vector<double>> t;
  for (int r = 0; r < rounds; ++r)
    for (size_t k = 0; k < ways.size(); ++k) {
      const auto& w = ways[(r % 2) ? ways.size() - 1 - k : k];  // odd rounds in reverse order
      const auto t0 = std::chrono::steady_clock::now();
      w.second();
      t[w.first].push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
  std::printf("%zu files, %.2f GB, %d rounds\n| way | min s | median s | max s | GB/s (median) |\n|---|---|---|---|---|\n",
              files.size(), bytes / 1e9, rounds);
  for (const auto& w : ways) {
    auto v = t[w.first];
    std::sort(v.begin(), v.end());
    const double med = v[v.size() / 2];
    std::printf("| %s | %.3f | %.3f | %.3f | %.2f |\n", w.first.c_str(), v.front(), med, v.back(), bytes / 1e9 / med);
  }
  return 0;
}
