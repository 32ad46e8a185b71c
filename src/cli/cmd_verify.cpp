// `diffscope verify -m PKG`: hash every package file in full and compare with its hashes.json (--write stores them).
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "diffscope/study/verify.h"

namespace diffscope::cli {
namespace {

struct Opts {
  std::string model = "models/shapes-v1";
  bool write = false, quiet = false;
};

int run(const Opts& o) {
  apply_quiet(o.quiet);
  const VerifyReport r = verify_package(o.model, o.write);
  if (!o.quiet) {
    for (const auto& f : r.files)
      std::printf("%-34s %-20s %s\n", f.file.c_str(), status_name(f.status),
                  (f.sha256.empty() ? f.stored : f.sha256).c_str());
    std::printf("hashed           %.1f MB in %.2f s\n", static_cast<double>(r.bytes) / 1e6, r.seconds);
    if (r.written)
      std::printf("wrote            %s/hashes.json\n", r.dir.c_str());
    else if (!r.had_manifest)
      std::printf("no hashes.json   this package stores no hashes: diffscope verify -m %s --write stores them\n",
                  r.dir.c_str());
    else
      std::printf("%s\n", r.ok() ? "verified         every file matches hashes.json"
                                 : "NOT VERIFIED     a file differs from hashes.json, or is missing or not listed");
  }
  return r.ok() ? 0 : 1;
}

Runner setup(CLI::App& app) {
  auto o = std::make_shared<Opts>();
  app.add_option("-m,--model", o->model, "model package folder")->default_val(o->model);
  app.add_flag("--write", o->write,
               "write hashes.json from the files as they are now (a package exported before it existed, or after an "
               "intended edit)");
  app.add_flag("-q,--quiet", o->quiet, "print nothing; the exit code says it (0 verified, 1 not)");
  add_examples(app, {"diffscope verify -m models/sd15", "diffscope verify -m models/my-export --write"});
  return [o] { return run(*o); };
}

DIFFSCOPE_COMMAND({"verify", "hash every file of a model package in full and compare with its stored hashes.json",
                   36, setup});

}  // namespace
}  // namespace diffscope::cli
