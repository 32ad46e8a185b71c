// The report's kind detection, its refusal of folders it cannot show, and its escaping, on hand-made folders.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "diffscope/analysis/report.h"
#include "diffscope/util/error.h"
#include "test_support.h"

using namespace diffscope;
namespace fs = std::filesystem;
using ds_test::TempDir;
using ds_test::write_text;

namespace {
void touch(const fs::path& p, const std::string& text = "x\n") {
  fs::create_directories(p.parent_path());
  write_text(p, text);
}
size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}
/// The error write_report throws, or "" when it throws none.
std::string refusal(const std::vector<std::string>& dirs, const std::string& out, int* code = nullptr) {
  try {
    write_report(dirs, out);
  } catch (const Error& e) {
    if (code) *code = e.exit_code();
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("report tells each folder's kind from the files it holds", "[report]") {
  TempDir tmp("report-kinds");
  const fs::path d = tmp.path;
  auto kind = [&](const std::string& sub) { return std::string(report_kind_name(detect_report_kind((d / sub).string()))); };
  fs::create_directories(d / "empty");
  CHECK(kind("empty") == "unknown");
  CHECK(kind("missing") == "unknown");
  touch(d / "file.txt");
  CHECK(kind("file.txt") == "unknown");
  touch(d / "run/run.json", "{}");
  CHECK(kind("run") == "run");
  touch(d / "cmp/tables/runs.csv");
  fs::create_directories(d / "cmp/runs/00");
  CHECK(kind("cmp") == "compare");
  touch(d / "cmp-no-runs/tables/runs.csv");  // a compare folder needs its runs
  CHECK(kind("cmp-no-runs") == "unknown");
  touch(d / "merged/runs.csv");
  touch(d / "merged/runs.jsonl");
  touch(d / "merged/failures.jsonl");  // a merge writes one too; it is still a merge
  CHECK(kind("merged") == "merge");
  touch(d / "batch/r1/batch.json", "{}");
  CHECK(kind("batch") == "batch");
  touch(d / "failed-batch/failures.jsonl");
  CHECK(kind("failed-batch") == "batch");
  touch(d / "salset/saliency_prompts.csv");
  CHECK(kind("salset") == "saliency");
  touch(d / "runsal/over_steps.csv");
  CHECK(kind("runsal") == "saliency");
  touch(d / "onestep/step_012/auc.csv");
  CHECK(kind("onestep") == "saliency");
  fs::create_directories(d / "steponly/step_012");  // a step folder without its table is not a saliency output
  CHECK(kind("steponly") == "unknown");
  touch(d / "feat/index.json", "{}");
  fs::create_directories(d / "feat/features");
  CHECK(kind("feat") == "features");
  touch(d / "feat/probe/tables/probe.csv");
  CHECK(kind("feat/probe") == "features");
  touch(d / "sae/config.json", "{}");
  fs::create_directories(d / "sae/weights");
  CHECK(kind("sae") == "sae");
  touch(d / "sae/inspect/tables/purity.csv");
  CHECK(kind("sae/inspect") == "sae");
  touch(d / "index-only/index.json", "{}");  // features/ missing
  CHECK(kind("index-only") == "unknown");
}

TEST_CASE("report refuses a folder it cannot show in one line naming it and what was expected", "[report]") {
  TempDir tmp("report-refuse");
  const fs::path d = tmp.path;
  fs::create_directories(d / "empty");
  int code = 0;
  std::string e = refusal({(d / "empty").string()}, (d / "r.html").string(), &code);
  CHECK(code == 2);
  CHECK(e.find((d / "empty").string() + ": holds no run.json and no study outputs") == 0);
  CHECK(e.find("expected a run folder (run.json), or a compare, batch, merge, saliency, features, probe or SAE output folder") !=
        std::string::npos);
  CHECK(e.find('\n') == std::string::npos);
  CHECK_FALSE(fs::exists(d / "r.html"));
  e = refusal({(d / "nope").string()}, (d / "r.html").string(), &code);
  CHECK(code == 2);
  CHECK(e.find(": not a folder (expected a run folder") != std::string::npos);
  // a study folder is reported on its own
  touch(d / "merged/runs.csv", "id,prompt,seed,x\nr1,p,1,0.5\n");
  touch(d / "merged/runs.jsonl", "{}\n");
  touch(d / "run/run.json", "{}");
  e = refusal({(d / "run").string(), (d / "merged").string()}, (d / "r.html").string(), &code);
  CHECK(code == 2);
  CHECK(e.find((d / "merged").string() + ": is a merge folder; run folders can be reported together") == 0);
  e = refusal({(d / "merged").string(), (d / "run").string()}, (d / "r.html").string(), &code);
  CHECK(e.find("reported on its own") != std::string::npos);
  CHECK_FALSE(fs::exists(d / "r.html"));
}

TEST_CASE("report escapes every prompt, title and CSV cell of a merge and a batch", "[report]") {
  TempDir tmp("report-escape");
  const fs::path d = tmp.path;
  const std::string evil = "</script><script>alert(1)</script><!--";
  touch(d / "merged/runs.csv", "id,prompt,seed,meta.category,auc.mean_roc_auc\n"
                               "r1,\"" + evil + "\",1,<b>c</b>,0.75\n"
                               "r2,a red circle,2,colour,nan\n");
  touch(d / "merged/runs.jsonl", "{}\n{}\n");
  touch(d / "merged/aggregate.csv", "key,n,mean,std,ci95_lo,ci95_hi\n<i>k</i>,2,0.5,0,0.5,0.5\n");
  ReportOptions o;
  o.title = "study <i>one</i> & \"two\"";
  const std::string out = (d / "merge.html").string();
  const ReportInfo info = write_report({(d / "merged").string()}, out, o);
  CHECK(info.kind == "merge");
  CHECK(info.runs == 2);
  CHECK(info.tables == 1);
  const std::string html = ds_test::read_text(out);
  CHECK(html.find("<title>study &lt;i&gt;one&lt;/i&gt; &amp; &quot;two&quot;</title>") != std::string::npos);
  CHECK(count(html, "</script>") == 2);  // the page's own two: no cell ends a script element
  CHECK(count(html, "<script") == 2);
  CHECK(html.find("<!--") == std::string::npos);
  CHECK(html.find("<b>c</b>") == std::string::npos);
  CHECK(html.find("<i>k</i>") == std::string::npos);
  CHECK(html.find("\\u003c/script>\\u003cscript>alert(1)") != std::string::npos);  // the cell itself, as JSON text
  CHECK(html.find("content=\"default-src 'none'; img-src data:;") != std::string::npos);
  // a batch: its runs' prompts and meta come from batch.json and run.json
  touch(d / "batch/r1/batch.json", R"({"id": "r1", "meta": {"category": "<b>shape</b>"}})");
  touch(d / "batch/r1/run.json", R"({"inputs": {"prompt": "a <img src=x onerror=alert(1)> square", "seed": 3}})");
  touch(d / "batch/r1/summary.json", R"({"settle.mean_decided_step": 2})");
  const ReportInfo b = write_report({(d / "batch").string()}, (d / "batch.html").string());
  CHECK(b.kind == "batch");
  CHECK(b.runs == 1);
  const std::string bh = ds_test::read_text(d / "batch.html");
  CHECK(bh.find("<img src=x") == std::string::npos);
  CHECK(bh.find("\\u003cimg src=x onerror=alert(1)> square") != std::string::npos);
  CHECK(bh.find("\\u003cb>shape\\u003c/b>") != std::string::npos);
  CHECK(bh.find("<title>diffscope: batch batch</title>") != std::string::npos);
}
