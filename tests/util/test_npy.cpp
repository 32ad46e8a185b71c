// .npy files: byte-identical to numpy.save, read back by numpy.load, numpy-written dtypes read here.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>

#include "diffscope/util/error.h"
#include "diffscope/util/npy.h"
#include "python_run.h"

using namespace diffscope;
using ds_test::TempDir;
namespace fs = std::filesystem;

namespace {

std::vector<float> ramp(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i) * 0.25f - 3.0f;
  return v;
}

std::string file_bytes(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("npy header has numpy's layout: magic, v1.0, dict, padding to 64, newline", "[npy]") {
  std::string h = npy_header("<f4", {2, 3});
  REQUIRE(h.size() % 64 == 0);
  CHECK(h.size() == 128);
  CHECK(h.compare(0, 6, "\x93NUMPY") == 0);
  CHECK(h[6] == 1);
  CHECK(h[7] == 0);
  const size_t hlen = static_cast<unsigned char>(h[8]) | (static_cast<unsigned char>(h[9]) << 8);
  CHECK(hlen + 10 == h.size());
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  CHECK(h.substr(10, dict.size()) == dict);
  CHECK(h.substr(10 + dict.size(), 20) == std::string(20, ' '));  // numpy's growth room for axis 0
  CHECK(h.back() == '\n');
  // 0-d and 1-d shape reprs
  CHECK(npy_header("<f4", {}).find("'shape': (), }") != std::string::npos);
  CHECK(npy_header("<i8", {7}).find("'descr': '<i8', 'fortran_order': False, 'shape': (7,), }") != std::string::npos);
}

TEST_CASE("npy round trip through our reader", "[npy]") {
  TempDir dir("npy");
  for (const std::vector<int64_t>& shape :
       std::vector<std::vector<int64_t>>{{2, 3}, {}, {0}, {4, 1, 5}, {123456}, {3, 0, 2}}) {
    NpyArray a;
    a.shape = shape;
    a.data = ramp(a.size());
    std::string p = (dir.path / "a.npy").string();
    write_npy(p, a);
    NpyArray b = read_npy(p);
    CHECK(b.shape == shape);
    CHECK(b.data == a.data);
  }
}

TEST_CASE("our .npy files are byte-identical to numpy.save and numpy.load reads them", "[npy][python]") {
  TempDir dir("npy-py");
  std::vector<float> f = ramp(24);
  f[5] = std::nanf("");
  f[6] = -std::numeric_limits<float>::infinity();
  f[7] = 1e-40f;  // denormal
  write_npy((dir.path / "f.npy").string(), f.data(), {2, 3, 4});
  std::vector<int64_t> i64 = {-5, 0, 1, 1LL << 40, std::numeric_limits<int64_t>::min(), 42};
  write_npy_i64((dir.path / "i.npy").string(), i64.data(), {3, 2});
  write_npy((dir.path / "big.npy").string(), ramp(1000).data(), {1000});
  float scalar = 2.5f;
  write_npy((dir.path / "s.npy").string(), &scalar, {});

  std::string out = ds_test::run_python(dir, R"(
import io, numpy as np, sys
d = sys.argv[0].rsplit('/', 1)[0]
def same(name, arr):
    b = io.BytesIO(); np.save(b, arr)
    return b.getvalue() == open(d + '/' + name, 'rb').read()
f = (np.arange(24, dtype=np.float32) * np.float32(0.25) - np.float32(3)).reshape(2, 3, 4)
f.flat[5] = np.nan; f.flat[6] = -np.inf; f.flat[7] = np.float32(1e-40)
g = np.load(d + '/f.npy')
assert g.dtype == np.float32 and g.shape == (2, 3, 4), (g.dtype, g.shape)
assert np.array_equal(g, f, equal_nan=True)
i = np.load(d + '/i.npy')
assert i.dtype == np.int64 and i.shape == (3, 2)
assert i.ravel().tolist() == [-5, 0, 1, 1 << 40, -(1 << 63), 42]
big = np.load(d + '/big.npy'); assert big.shape == (1000,)
s = np.load(d + '/s.npy'); assert s.shape == () and float(s) == 2.5
print('same', same('f.npy', f), same('i.npy', i), same('big.npy', big), same('s.npy', s))
)");
  CHECK(out.find("same True True True True") != std::string::npos);
}

TEST_CASE("numpy-written files of every supported dtype read back as float", "[npy][python]") {
  TempDir dir("npy-dtypes");
  ds_test::run_python(dir, R"(
import numpy as np, sys
d = sys.argv[0].rsplit('/', 1)[0]
v = np.array([[-2.5, 0.0, 1.0], [3.25, 7.0, 100.0]])
np.save(d + '/f4.npy', v.astype('<f4'))
np.save(d + '/f8.npy', v.astype('<f8'))
np.save(d + '/f2.npy', v.astype('<f2'))
np.save(d + '/i8.npy', np.array([[-3, 0, 1], [2**40, 7, 100]], dtype='<i8'))
np.save(d + '/i4.npy', np.array([[-3, 0, 1], [2**20, 7, 100]], dtype='<i4'))
np.save(d + '/u1.npy', np.array([[0, 1, 2], [128, 254, 255]], dtype='|u1'))
np.save(d + '/b1.npy', np.array([[True, False, True], [False, False, True]]))
np.save(d + '/fortran.npy', np.asfortranarray(v))
np.save(d + '/big_endian.npy', v.astype('>f4'))
np.save(d + '/c8.npy', v.astype(np.complex64))
np.save(d + '/f2_special.npy', np.array([np.inf, -np.inf, 6.1e-5, 5.96e-8, 65504], dtype='<f2'))
)");
  const std::vector<float> expect = {-2.5f, 0.f, 1.f, 3.25f, 7.f, 100.f};
  for (const char* name : {"f4", "f8", "f2"}) {
    INFO(name);
    NpyArray a = read_npy((dir.path / (std::string(name) + ".npy")).string());
    CHECK(a.shape == std::vector<int64_t>{2, 3});
    CHECK(a.data == expect);
  }
  CHECK(read_npy((dir.path / "i8.npy").string()).data == std::vector<float>{-3, 0, 1, 1099511627776.f, 7, 100});
  CHECK(read_npy((dir.path / "i4.npy").string()).data == std::vector<float>{-3, 0, 1, 1048576.f, 7, 100});
  CHECK(read_npy((dir.path / "u1.npy").string()).data == std::vector<float>{0, 1, 2, 128, 254, 255});
  CHECK(read_npy((dir.path / "b1.npy").string()).data == std::vector<float>{1, 0, 1, 0, 0, 1});
  NpyArray sp = read_npy((dir.path / "f2_special.npy").string());
  REQUIRE(sp.data.size() == 5);
  CHECK(std::isinf(sp.data[0]));
  CHECK(sp.data[0] > 0);
  CHECK(sp.data[1] < 0);
  CHECK(sp.data[2] == Approx(6.1e-5).epsilon(1e-3));
  CHECK(sp.data[3] == std::ldexp(1.f, -24));  // smallest half denormal
  CHECK(sp.data[4] == 65504.f);

  auto message = [&](const char* name) {
    try {
      read_npy((dir.path / name).string());
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(message("fortran.npy"), Catch::Contains("fortran.npy") && Catch::Contains("Fortran order"));
  CHECK_THAT(message("big_endian.npy"), Catch::Contains("big_endian.npy") && Catch::Contains("big-endian"));
  CHECK_THAT(message("c8.npy"), Catch::Contains("c8.npy") && Catch::Contains("unsupported .npy dtype '<c8'"));
}

TEST_CASE("broken .npy files give one-line errors naming the file", "[npy]") {
  TempDir dir("npy-bad");
  auto message = [&](const std::string& name) {
    try {
      read_npy((dir.path / name).string());
    } catch (const Error& e) {
      CHECK(e.exit_code() == kExitBadInput);
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(message("missing.npy"), Catch::Contains("missing.npy: cannot be read"));
  ds_test::write_text(dir.path / "text.npy", "hello, not numpy");
  CHECK_THAT(message("text.npy"), Catch::Contains("text.npy: not a valid .npy file (missing"));

  std::vector<float> v = ramp(6);
  std::string good = (dir.path / "good.npy").string();
  write_npy(good, v.data(), {2, 3});
  std::string bytes = file_bytes(good);
  ds_test::write_text(dir.path / "trunc.npy", bytes.substr(0, bytes.size() - 3));
  CHECK_THAT(message("trunc.npy"), Catch::Contains("trunc.npy") && Catch::Contains("data is truncated") &&
                                       Catch::Contains("needs 24 bytes, file has 21"));
  ds_test::write_text(dir.path / "header.npy", bytes.substr(0, 40));
  CHECK_THAT(message("header.npy"), Catch::Contains("header.npy: not a valid .npy file (truncated header)"));
  for (const std::string& m : {message("text.npy"), message("trunc.npy")}) CHECK(m.find('\n') == std::string::npos);
}

TEST_CASE("write_npy checks the data against the shape", "[npy]") {
  TempDir dir("npy-shape");
  NpyArray a;
  a.shape = {2, 2};
  a.data = {1, 2, 3};
  std::string p = (dir.path / "x.npy").string();
  CHECK_THROWS_WITH(write_npy(p, a), Catch::Contains("x.npy") && Catch::Contains("holds 3 values") &&
                                         Catch::Contains("needs 4"));
  CHECK_FALSE(ds_test::fs::exists(p));
}

TEST_CASE("memory-mapped .npy: float32 C-order data in place, other files refused in one line", "[npy]") {
  TempDir dir("npy-map");
  std::vector<float> v = ramp(24);
  const std::string p = (dir.path / "m.npy").string();
  write_npy(p, v.data(), {2, 3, 4});
  {
    MappedNpy m(p);
    CHECK(m.shape() == std::vector<int64_t>{2, 3, 4});
    REQUIRE(m.size() == 24);
    CHECK(std::memcmp(m.data(), v.data(), 24 * sizeof(float)) == 0);
  }
  const std::string i8 = (dir.path / "i.npy").string();
  std::vector<int64_t> ints{1, 2, 3};
  write_npy_i64(i8, ints.data(), {3});
  CHECK_THROWS_WITH(MappedNpy(i8), Catch::Contains("i.npy: expected float32 ('<f4')"));
  const std::string bytes = file_bytes(p);
  ds_test::write_text(dir.path / "t.npy", bytes.substr(0, bytes.size() - 4));
  CHECK_THROWS_WITH(MappedNpy((dir.path / "t.npy").string()), Catch::Contains("data is truncated"));
  CHECK_THROWS_WITH(MappedNpy((dir.path / "none.npy").string()), Catch::Contains("none.npy: cannot be read"));
}

TEST_CASE("npy headers numpy would refuse are refused: overflowing shapes, extra keys, not a dict, a folder", "[npy]") {
  TempDir dir("npy-strict");
  auto file_with = [&](const std::string& name, const std::string& dict) {
    std::string h = dict;
    while ((10 + h.size() + 1) % 64) h += ' ';
    h += '\n';
    std::string bytes("\x93NUMPY\x01\x00", 8);
    bytes += static_cast<char>(h.size() & 0xff);
    bytes += static_cast<char>(h.size() >> 8);
    ds_test::write_text(dir.path / name, bytes + h + std::string(64, '\0'));
    return (dir.path / name).string();
  };
  auto message = [&](const std::string& p) {
    try {
      read_npy(p);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // (5, 77, 2^32, 2^32) wraps to 0 elements in 64-bit arithmetic; 2305843009213693968 x 16 x 77 x 5 too
  CHECK_THAT(message(file_with("wrap.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (5, 77, 4294967296, 4294967296), }")),
             Catch::Contains("holds more elements than any file can"));
  CHECK_THAT(message(file_with("big.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (5, 77, 16, 2305843009213693968), }")),
             Catch::Contains("is beyond any file"));
  CHECK_THAT(message(file_with("big2.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 1000000000000), }")),
             Catch::Contains("holds more elements than any file can"));
  CHECK_THAT(message(file_with("wide.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }")),
             Catch::Contains("is beyond any file"));
  CHECK_THAT(message(file_with("extra.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}")),
             Catch::Contains("has 4 keys"));
  CHECK_THAT(message(file_with("list.npy", "['descr', '<f4']")), Catch::Contains("not a dict literal"));
  fs::create_directories(dir.path / "d.npy");
  CHECK_THAT(message((dir.path / "d.npy").string()), Catch::EndsWith("d.npy: is a folder, expected a .npy file"));
  // numpy's own files still read
  CHECK(read_npy(file_with("ok.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }")).shape ==
        std::vector<int64_t>{4});
}
