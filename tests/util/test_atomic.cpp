// Atomic writing: final names appear only complete; temporaries never survive.
#include <algorithm>
#include <catch2/catch.hpp>

#include "diffscope/util/atomic_file.h"
#include "diffscope/util/error.h"
#include "test_support.h"

using namespace diffscope;
using ds_test::fs::path;
using ds_test::TempDir;

namespace {

std::vector<std::string> entries(const path& dir) {
  std::vector<std::string> names;
  for (const auto& e : ds_test::fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST_CASE("write_file_atomic creates folders and leaves only the final file", "[atomic]") {
  TempDir dir("atomic");
  path p = dir.path / "a" / "b" / "out.bin";
  std::string bytes("x\0y\nz", 5);
  write_file_atomic(p.string(), bytes);
  CHECK(ds_test::read_text(p) == bytes);
  CHECK(entries(p.parent_path()) == std::vector<std::string>{"out.bin"});
  write_file_atomic(p.string(), "second");  // replaces
  CHECK(ds_test::read_text(p) == "second");
  CHECK(entries(p.parent_path()) == std::vector<std::string>{"out.bin"});
}

TEST_CASE("AtomicWriter: nothing under the final name until commit", "[atomic]") {
  TempDir dir("atomic-w");
  path p = dir.path / "table.txt";
  {
    AtomicWriter w(p.string());
    w.out() << "line 1\n";
    CHECK_FALSE(ds_test::fs::exists(p));
    CHECK(ds_test::fs::exists(w.temp_path()));
    CHECK(path(w.temp_path()).parent_path() == dir.path);
    w.out() << "line 2\n";
    w.commit();
    CHECK(w.temp_path().empty());
  }
  CHECK(ds_test::read_text(p) == "line 1\nline 2\n");
  CHECK(entries(dir.path) == std::vector<std::string>{"table.txt"});
}

TEST_CASE("AtomicWriter: an exception mid-write keeps the old file and removes the temporary", "[atomic]") {
  TempDir dir("atomic-fail");
  path p = dir.path / "run.json";
  write_file_atomic(p.string(), "old complete content");
  std::string temp;
  try {
    AtomicWriter w(p.string());
    temp = w.temp_path();
    w.out() << "new partial cont";
    throw std::runtime_error("interrupted");
  } catch (const std::runtime_error&) {
  }
  CHECK_FALSE(temp.empty());
  CHECK_FALSE(ds_test::fs::exists(temp));
  CHECK(ds_test::read_text(p) == "old complete content");
  CHECK(entries(dir.path) == std::vector<std::string>{"run.json"});
}

TEST_CASE("AtomicWriter: uncommitted writer of a new file leaves nothing", "[atomic]") {
  TempDir dir("atomic-none");
  { AtomicWriter w((dir.path / "x.png").string(), true); w.out() << "data"; }
  CHECK(entries(dir.path).empty());
}

TEST_CASE("atomic writing errors name the path", "[atomic]") {
  TempDir dir("atomic-err");
  ds_test::write_text(dir.path / "file", "i am a file");
  // A folder that cannot be created (its parent is a file).
  std::string under_file = (dir.path / "file" / "sub" / "out.txt").string();
  CHECK_THROWS_WITH(write_file_atomic(under_file, "x"), Catch::Contains((dir.path / "file" / "sub").string()) &&
                                                            Catch::Contains("cannot create folder"));
  CHECK_THROWS_WITH(ensure_dir((dir.path / "file").string()), Catch::Contains("cannot create folder"));
  // The final name is a folder: rename fails, temporary removed.
  ds_test::fs::create_directories(dir.path / "taken");
  CHECK_THROWS_WITH(write_file_atomic((dir.path / "taken").string(), "x"),
                    Catch::Contains((dir.path / "taken").string()) && Catch::Contains("cannot be written"));
  CHECK(entries(dir.path) == std::vector<std::string>{"file", "taken"});
  CHECK(entries(dir.path / "taken").empty());
  // commit twice
  AtomicWriter w((dir.path / "once.txt").string());
  w.commit();
  CHECK_THROWS_AS(w.commit(), Error);
  CHECK_THROWS_AS(w.out(), Error);
}

TEST_CASE("temporary names are unique and hidden in the target folder", "[atomic]") {
  std::string a = temp_path_for("/x/y/z.npy"), b = temp_path_for("/x/y/z.npy");
  CHECK(a != b);
  CHECK(path(a).parent_path() == "/x/y");
  CHECK(path(a).filename().string().rfind(".z.npy.tmp-", 0) == 0);
  ensure_dir("");  // no-op
}
