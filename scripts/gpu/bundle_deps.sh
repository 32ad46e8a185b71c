#!/usr/bin/env bash
# Packs the C++ libraries diffscope builds against (OpenCV core/imgproc/imgcodecs, cairo, CLI11, nlohmann_json,
# spdlog + fmt, Catch2) for a machine without apt, such as the lent GPU machine: Debian 12's -dev packages unpacked
# with dpkg -x (headers, CMake configs, .so links) plus every shared library they load that is not glibc's or the
# compiler's (the ldd closure), into OUT (default build-gpu-deps), then reports the size against the 64 MiB that may
# travel with the working tree to that machine. scripts/gpu/check.sh points CMAKE_PREFIX_PATH and LD_LIBRARY_PATH at
# OUT/usr. Exit 0 when the bundle fits beside the working tree, 3 when it does not (it is written either way).
#   scripts/gpu/bundle_deps.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-build-gpu-deps}
LIMIT=$((64 * 1024 * 1024))
PKGS=(libopencv-dev libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev libopencv-core406 libopencv-imgproc406
      libopencv-imgcodecs406 libcairo2-dev libcairo2 libcli11-dev nlohmann-json3-dev libspdlog-dev libspdlog1.10 libfmt-dev
      libfmt9 catch2)
rm -rf "$OUT" && mkdir -p "$OUT/debs"
(cd "$OUT/debs" && apt-get download "${PKGS[@]}" >/dev/null 2>&1) ||
  { echo "bundle_deps: apt-get download failed (needs Debian 12's package lists: apt-get update)" >&2; exit 2; }
for d in "$OUT"/debs/*.deb; do dpkg -x "$d" "$OUT"; done
rm -rf "$OUT/debs" "$OUT/usr/share/doc"
# the closure: what these libraries load at run time, except the C library, the C++ runtime and the loader
libs=$(find "$OUT/usr/lib" -name '*.so.*' -type f)
mkdir -p "$OUT/usr/lib/closure"
for l in $libs; do ldd "$l" | awk '$3 ~ /^\// {print $3}'; done | sort -u |
  grep -vE '/(libc|libm|libstdc\+\+|libgcc_s|ld-linux-x86-64|libpthread|libdl|librt)\.so' |
  while read -r dep; do [ -e "$OUT/usr/lib/x86_64-linux-gnu/$(basename "$dep")" ] || cp -L "$dep" "$OUT/usr/lib/closure/"; done
bytes=$(du -sb "$OUT" | cut -f1)
tree=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
packed=$(tar -C "$OUT" -cf - . | xz -6 -T2 | wc -c)
echo "bundle_deps: $OUT holds $((bytes / 1048576)) MiB ($((packed / 1048576)) MiB as tar.xz); the tracked working tree is" \
     "$((tree / 1048576)) MiB; together at most 64 MiB may travel"
echo "bundle_deps: largest libraries of the closure:"
du -b "$OUT"/usr/lib/closure/* | sort -n | tail -6 | awk '{printf "  %6.1f MiB  %s\n", $1 / 1048576, $2}'
if [ $((packed + tree)) -gt $LIMIT ]; then
  echo "bundle_deps: does not fit: $(((packed + tree) / 1048576)) MiB with the tree (xz-packed) > 64 MiB" >&2
  exit 3
fi
