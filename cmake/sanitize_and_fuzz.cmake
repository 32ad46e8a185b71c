# DIFFSCOPE_SANITIZE=ON: an AddressSanitizer + UndefinedBehaviorSanitizer build of the LibTorch-free modules
# (util, text, metrics, analysis), their Catch2 tests, and the fuzz harnesses of tests/fuzz/ (libFuzzer under
# clang; tests/fuzz/standalone_main.cpp, a replay-and-mutate driver, under other compilers). scripts/test.sh runs it
# after the main suite: `ctest --test-dir build-asan`.
enable_testing()
find_package(Catch2 REQUIRED)
add_library(ds_catch_main STATIC tests/catch_main.cpp)
target_link_libraries(ds_catch_main PUBLIC Catch2::Catch2)
set(DS_PYTHON "/usr/bin/python3" CACHE FILEPATH "python3 with numpy")
set(DIFFSCOPE_FUZZ_SECONDS 20 CACHE STRING "seconds each fuzz harness runs under ctest")
# fontconfig's process-lifetime caches (reached through cairo's text) are suppressed by library name; see the file
set(DS_UNIT_ENV "DIFFSCOPE_THREADS=1;OMP_NUM_THREADS=1;OPENBLAS_NUM_THREADS=1;UBSAN_OPTIONS=print_stacktrace=1"
                "LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/sanitize/lsan.supp:print_suppressions=0")
set(defs DS_REFERENCE_DIR="${PROJECT_SOURCE_DIR}/tests/data/reference" DS_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
         DS_TEST_PACKAGE_DIR="" DS_BINARY="" DS_PYTHON="${DS_PYTHON}")
foreach(m util text metrics analysis)
  file(GLOB tsrcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/${m}/*.cpp)
  add_executable(test_${m} ${tsrcs})
  if(m STREQUAL "analysis")
    target_link_libraries(test_${m} PRIVATE -Wl,--whole-archive ds_analysis -Wl,--no-whole-archive)
  endif()
  target_link_libraries(test_${m} PRIVATE ds_${m} ds_catch_main)
  target_include_directories(test_${m} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  target_compile_definitions(test_${m} PRIVATE ${defs})
  add_test(NAME asan_${m} COMMAND test_${m})
  set_tests_properties(asan_${m} PROPERTIES WORKING_DIRECTORY ${CMAKE_BINARY_DIR} ENVIRONMENT "${DS_UNIT_ENV}")
endforeach()

# the scheduler_config.json parser lives in a LibTorch module (sched) but is itself LibTorch-free: built from its sources
# (and so are the package's JSON readers of the engine, model_info.cpp, and the study layer's batch manifests)
add_library(ds_sched_config STATIC ${PROJECT_SOURCE_DIR}/src/sched/config.cpp ${PROJECT_SOURCE_DIR}/src/sched/prediction.cpp
                                   ${PROJECT_SOURCE_DIR}/src/sched/scheduler_names.cpp
                                   ${PROJECT_SOURCE_DIR}/src/engine/model_info.cpp ${PROJECT_SOURCE_DIR}/src/study/manifest.cpp)
target_include_directories(ds_sched_config PUBLIC ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(ds_sched_config PUBLIC ds_util nlohmann_json::nlohmann_json)

foreach(h npy tokenizer sentencepiece json_files steps)
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    add_executable(fuzz_${h} ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_${h}.cpp)
    target_compile_options(fuzz_${h} PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz_${h} PRIVATE -fsanitize=fuzzer)
  else()
    add_executable(fuzz_${h} ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_${h}.cpp ${PROJECT_SOURCE_DIR}/tests/fuzz/standalone_main.cpp)
  endif()
  target_link_libraries(fuzz_${h} PRIVATE ds_analysis ds_text ds_sched_config ds_util)
  target_compile_definitions(fuzz_${h} PRIVATE ${defs})
  # the seed corpus is copied (libFuzzer adds what it finds to its first folder); regressions are replayed as they are
  file(COPY ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${h} DESTINATION ${CMAKE_BINARY_DIR}/fuzz-corpus)
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz-findings)
  add_test(NAME fuzz_${h}
           COMMAND fuzz_${h} -max_total_time=${DIFFSCOPE_FUZZ_SECONDS} -seed=1 -rss_limit_mb=4096
                   -artifact_prefix=${CMAKE_BINARY_DIR}/fuzz-findings/ ${CMAKE_BINARY_DIR}/fuzz-corpus/${h}
                   ${PROJECT_SOURCE_DIR}/tests/fuzz/regressions/${h})
  set_tests_properties(fuzz_${h} PROPERTIES WORKING_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz-findings ENVIRONMENT "${DS_UNIT_ENV}")
endforeach()
