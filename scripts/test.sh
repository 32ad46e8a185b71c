#!/usr/bin/env bash
# Quick start, step 2: install what is missing, build everything, run every test through ctest, print each
# test's time (slowest first) and the total.
# Environment: DIFFSCOPE_JOBS (build and ctest parallelism, default 2); DIFFSCOPE_TEST_THREADS (LibTorch threads
# of the shipped-model tests, default 2; unit tests always run single-threaded).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
scripts/setup.sh
# The Slurm array test (tests/slurm/slurm_array.sh) starts a one-node Slurm of its own from a temporary folder. On CI
# (CI=true, a disposable machine) its packages are installed here; elsewhere the test is skipped when they are
# missing, as installing Slurm registers system services a workstation may not want (apt install slurm-wlm munge).
if [ "${CI:-}" = true ] && ! command -v slurmctld >/dev/null && [ ! -x /usr/sbin/slurmctld ]; then
  echo "diffscope: installing Slurm and munge for the Slurm array test (CI)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  { $SUDO apt-get update -q &&
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends slurmctld slurmd slurm-client munge; } \
    >build/slurm-install.log 2>&1 || { tail -20 build/slurm-install.log; echo "diffscope: Slurm install failed; the test will be skipped"; }
fi
built=$(date +%s)
log=build/Testing/test-times.log
mkdir -p build/Testing
status=0
ctest --test-dir build --output-on-failure -j"${DIFFSCOPE_JOBS:-2}" 2>&1 | tee "$log" || status=$?
tested=$(date +%s)
# The LibTorch-free modules again under AddressSanitizer + UndefinedBehaviorSanitizer, with their tests and the
# fuzz harnesses of tests/fuzz/ (libFuzzer with clang++, the standalone driver with g++), DIFFSCOPE_FUZZ_SECONDS each
# (default 20). DIFFSCOPE_SANITIZE=0 skips it.
if [ "${DIFFSCOPE_SANITIZE:-1}" != 0 ]; then
  cxx=$(command -v clang++ || command -v g++)
  cmake -S . -B build-asan -G Ninja -DDIFFSCOPE_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$cxx" \
    -DDIFFSCOPE_FUZZ_SECONDS="${DIFFSCOPE_FUZZ_SECONDS:-20}" >/dev/null
  mkdir -p build-asan
  cmake --build build-asan -j"${DIFFSCOPE_JOBS:-2}" >build-asan/build.log 2>&1 || { tail -40 build-asan/build.log; exit 1; }
  echo "diffscope: sanitizer build ($(basename "$cxx")) and fuzzing"
  ctest --test-dir build-asan --output-on-failure -j"${DIFFSCOPE_JOBS:-2}" 2>&1 | tee -a "$log" || status=$?
fi
end=$(date +%s)
echo
echo "diffscope: test times (slowest first)"
grep -E '^ *[0-9]+/[0-9]+ Test +#[0-9]+: ' "$log" |
  sed -E 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+) [ .*]*(.*[^ ]) +([0-9.]+) sec$/\3\t\1\t\2/' |
  sort -t$'\t' -k1,1 -gr | awk -F'\t' '{printf "  %8.1f s  %-28s %s\n", $1, $2, $3}'
echo "diffscope: setup and build $((built - start)) s, tests $((tested - built)) s, sanitizers and fuzzing $((end - tested)) s, total $((end - start)) s"
exit $status
