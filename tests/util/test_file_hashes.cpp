// SHA-256 (OpenSSL's and the portable one agree with known vectors and each other), hashes.json, and the cheap
// identity check: stored hash while size and modification time match, else the user's cache, else hashed.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "diffscope/util/error.h"
#include "diffscope/util/file_hashes.h"
#include "diffscope/util/sha256.h"
#include "test_support.h"

using namespace diffscope;
namespace fs = std::filesystem;

namespace {
void write_bytes(const fs::path& p, size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  std::ofstream(p, std::ios::binary) << s;
}
/// Points the hash cache at `dir` for the test's lifetime.
struct CacheDir {
  std::string old;
  bool had = false;
  explicit CacheDir(const std::string& dir) {
    if (const char* o = std::getenv("DIFFSCOPE_CACHE_DIR")) old = o, had = true;
    setenv("DIFFSCOPE_CACHE_DIR", dir.c_str(), 1);
  }
  ~CacheDir() { had ? setenv("DIFFSCOPE_CACHE_DIR", old.c_str(), 1) : unsetenv("DIFFSCOPE_CACHE_DIR"); }
};
}  // namespace

TEST_CASE("sha256: known vectors, and the accelerated and portable implementations agree", "[util]") {
  ds_test::TempDir dir("sha");
  ds_test::write_text(dir.path / "abc", "abc");
  const std::string abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";  // FIPS 180-4 example
  CHECK(sha256_file((dir.path / "abc").string()) == abc);
  CHECK(sha256_file_portable((dir.path / "abc").string()) == abc);
  CHECK(sha256_hex("abc") == abc);
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  for (size_t n : {size_t{0}, size_t{55}, size_t{64}, size_t{1000003}, size_t{3u << 20}}) {
    write_bytes(dir.path / "r", n, static_cast<unsigned>(n));
    CHECK(sha256_file((dir.path / "r").string()) == sha256_file_portable((dir.path / "r").string()));
  }
  CHECK_THROWS_WITH(sha256_file((dir.path / "none").string()), Catch::Contains("none: cannot be read"));
}

TEST_CASE("hashes.json: written, read back, malformed files named", "[util]") {
  ds_test::TempDir dir("manifest");
  const std::string p = (dir.path / "hashes.json").string();
  CHECK(read_hash_manifest(p).empty());  // absent: empty
  HashManifest m;
  m["unet/model.pt"] = {std::string(64, 'a'), 123, 456789};
  write_hash_manifest(p, m);
  const auto back = read_hash_manifest(p);
  REQUIRE(back.size() == 1);
  CHECK(back.at("unet/model.pt").sha256 == std::string(64, 'a'));
  CHECK(back.at("unet/model.pt").size == 123);
  CHECK(back.at("unet/model.pt").mtime_ns == 456789);
  ds_test::write_text(p, R"({"diffscope_hashes": 1, "algorithm": "sha256", "files": {"x": {"sha256": "ab"}}})");
  CHECK_THROWS_WITH(read_hash_manifest(p), Catch::Contains("hashes.json: \"x\" is not"));
  ds_test::write_text(p, R"({"diffscope_hashes": 1, "algorithm": "md5", "files": {}})");
  CHECK_THROWS_WITH(read_hash_manifest(p), Catch::Contains("not sha256"));
}

TEST_CASE("package file hashes: stored while the stamp matches, else cached, else read", "[util]") {
  ds_test::TempDir dir("pkg-hash");
  CacheDir cache((dir.path / "cache").string());
  const fs::path pkg = dir.path / "pkg";
  fs::create_directories(pkg / "unet");
  write_bytes(pkg / "unet" / "model.pt", 100000, 1);
  const std::string real = sha256_file_portable((pkg / "unet" / "model.pt").string());
  const FileStamp st = file_stamp((pkg / "unet" / "model.pt").string());
  CHECK(st.size == 100000);

  // a stored entry whose stamp matches is trusted without reading the file (that is the cheap check)
  HashManifest stored;
  stored["unet/model.pt"] = {std::string(64, 'f'), st.size, st.mtime_ns};
  HashSource src{};
  CHECK(package_file_sha256(pkg.string(), "unet/model.pt", stored, &src) == std::string(64, 'f'));
  CHECK(src == HashSource::kStored);

  // a different modification time: read, hashed (the file's own hash, not the stored one), cached
  stored["unet/model.pt"].mtime_ns += 1;
  CHECK(package_file_sha256(pkg.string(), "unet/model.pt", stored, &src) == real);
  CHECK(src == HashSource::kComputed);
  CHECK(fs::exists(dir.path / "cache" / "file-hashes.json"));
  CHECK(package_file_sha256(pkg.string(), "unet/model.pt", stored, &src) == real);
  CHECK(src == HashSource::kCached);
  CHECK(package_file_sha256(pkg.string(), "unet/model.pt", {}, &src) == real);  // no manifest at all
  CHECK(src == HashSource::kCached);

  // the file changes: the cache entry no longer matches its stamp, so it is read again
  write_bytes(pkg / "unet" / "model.pt", 100001, 2);
  const std::string changed = sha256_file_portable((pkg / "unet" / "model.pt").string());
  CHECK(changed != real);
  CHECK(package_file_sha256(pkg.string(), "unet/model.pt", stored, &src) == changed);
  CHECK(src == HashSource::kComputed);

  // an unusable cache is only a cache: ignored, the file is hashed
  ds_test::write_text(dir.path / "cache" / "file-hashes.json", "not json");
  CHECK(package_file_sha256(pkg.string(), "unet/model.pt", {}, &src) == changed);
  CHECK(src == HashSource::kComputed);
}
