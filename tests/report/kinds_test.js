#!/usr/bin/env node
// Headless-Chromium test of every kind of page `diffscope report` writes: run, compare (guidance sweep), batch,
// merge, saliency, features/probe and SAE, as tests/report/make_studies.sh builds them on the tiny package.
//
// Usage: node tests/report/kinds_test.js WORK/reports.json [SHOT_DIR]
//
// Each page is opened from a file:// URL and used as a person would: the pipeline overview's stages and shapes
// against the run's run.json; the guidance slider and prompt picker over the compare folder's runs.csv; the runs
// table's filter, column sort, number picker and drill-down against the batch's files; the label picker of the probe
// and SAE pages against probe.csv, purity.csv and the contact sheets on disk. Every page: sections titled by question,
// every figure decoded and captioned by what it shows, a prompt holding markup shown as text, no console error or
// warning, no request other than data:. With SHOT_DIR, a small screenshot of each page (report-KIND.png).
//
// Exit status: 0 all passed; 1 a check failed; 2 Chromium or puppeteer-core missing (scripts/setup.sh).
"use strict";

const fs = require("fs");
const path = require("path");
const { pathToFileURL, fileURLToPath } = require("url");

const TOTAL_TIMEOUT_MS = 90000;
const WAIT_MS = 5000;
const SETUP_HINT = "run scripts/setup.sh (installs the Debian package `chromium` and runs " +
  "`npm ci --prefix tests/report`)";
const MARKUP_PROMPT = "a <b>blue</b> square";
const QUESTIONS = {
  appears: "What appears when", attends: "Where each word attends", steps: "Which steps matter",
  layers: "What the layers represent", differ: "How the runs differ", numbers: "All numbers",
};

class CheckFailed extends Error {}
function fail(msg) { throw new CheckFailed(msg); }
function ok(msg) { console.log("ok: " + msg); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function findChromium() {
  for (const c of [process.env.CHROME_PATH, process.env.PUPPETEER_EXECUTABLE_PATH, "/usr/bin/chromium",
    "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].filter(Boolean)) {
    try { fs.accessSync(c, fs.constants.X_OK); return c; } catch (_) { /* next */ }
  }
  return null;
}

// ---- the files the pages are checked against ----
function readCsv(p) {   // small RFC 4180 reader: quoted fields, doubled quotes
  const text = fs.readFileSync(p, "utf8");
  const rows = [];
  let row = [], field = "", q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') q = false; else field += c;
    } else if (c === '"') q = true;
    else if (c === ",") { row.push(field); field = ""; }
    else if (c === "\n") { row.push(field); rows.push(row); row = []; field = ""; }
    else if (c !== "\r") field += c;
  }
  if (field !== "" || row.length) { row.push(field); rows.push(row); }
  const head = rows.shift();
  return rows.map((r) => Object.fromEntries(head.map((h, i) => [h, r[i]])));
}
const readJson = (p) => JSON.parse(fs.readFileSync(p, "utf8"));
const unique = (xs) => xs.filter((x, i) => xs.indexOf(x) === i);
const fmt4 = (v) => (Number.isInteger(v) ? String(v) : Number(v.toPrecision(4)).toString());

// ---- one page ----
async function openPage(browser, html) {
  const page = await browser.newPage();
  page.setDefaultTimeout(WAIT_MS);
  await page.setViewport({ width: 1200, height: 860 });
  const url = pathToFileURL(html).href;
  const problems = [];
  page.on("console", (m) => {
    if (["error", "warn", "warning", "assert"].includes(m.type())) problems.push("console " + m.type() + ": " + m.text().slice(0, 300));
  });
  page.on("pageerror", (e) => problems.push("page error: " + String(e && e.message ? e.message : e).slice(0, 300)));
  page.on("request", (r) => {
    const u = r.url();
    if (!u.startsWith("data:") && !u.startsWith("blob:") && u !== url) problems.push("request to " + u.slice(0, 200));
  });
  await page.goto(url, { waitUntil: "load", timeout: 20000 });
  await page.waitForSelector('body[data-ready="1"]', { timeout: 15000 }).catch(() => fail(html + ': body[data-ready="1"] not set'));
  return { page, url, problems };
}

async function commonChecks(kind, page, expectSections) {
  const info = await page.evaluate(() => {
    const vis = (e) => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
    return {
      h1: document.querySelector("header h1").textContent,
      title: document.title,
      sections: [...document.querySelectorAll("section.question")].map((s) => ({
        id: s.getAttribute("data-section"), h2: s.querySelector("h2").textContent,
        figures: s.querySelectorAll("figure").length, tables: s.querySelectorAll("table").length,
      })),
      toc: document.querySelectorAll("#toc a").length,
      visibleSections: [...document.querySelectorAll("main > section, #sections > section")].filter(vis).length,
      figures: [...document.querySelectorAll("figure")].map((f) => ({
        caption: f.querySelector("figcaption").firstChild ? f.querySelector("figcaption").firstChild.textContent : "",
        file: (f.querySelector(".file") || {}).textContent || "", src: f.querySelector("img").getAttribute("src") || "",
        section: f.closest("section") ? f.closest("section").getAttribute("data-section") : "",
      })),
      markup: document.querySelectorAll("main b, header b").length,
    };
  });
  if (!info.h1 || info.h1 !== info.title) fail(kind + ": <title> " + JSON.stringify(info.title) + " differs from the heading " + JSON.stringify(info.h1));
  const ids = info.sections.map((s) => s.id);
  for (const id of expectSections) {
    const s = info.sections.find((x) => x.id === id);
    if (!s) fail(kind + ": no section " + JSON.stringify(QUESTIONS[id]) + " (has " + ids.join(", ") + ")");
    if (s.h2 !== QUESTIONS[id]) fail(kind + ": section " + id + " is titled " + JSON.stringify(s.h2));
    if (!s.figures && !s.tables) fail(kind + ": section " + JSON.stringify(s.h2) + " is empty");
  }
  if (info.toc !== info.visibleSections) fail(kind + ": " + info.toc + " table-of-contents links for " + info.visibleSections + " visible sections");
  for (const f of info.figures) {
    if (!f.src.startsWith("data:image/")) fail(kind + ": figure " + f.file + " is not a data: image");
    if (!f.caption) fail(kind + ": figure " + f.file + " has no caption");
  }
  // a figure the report does not know yet lands under "Other figures", captioned by its file: said, not failed
  const other = info.sections.find((s) => s.id === "other");
  if (other) console.log("note: " + kind + ": " + other.figures + " figure(s) under 'Other figures' (add their captions to classify_figure in src/analysis/report.cpp)");
  for (const f of info.figures)
    if (f.caption === f.file && f.section !== "other") fail(kind + ": figure " + f.file + " is captioned by its file name only");
  // every image decoded
  await page.waitForFunction(() => [...document.images].filter((i) => i.getAttribute("src")).every((i) => i.complete && i.naturalWidth > 0),
    { timeout: 15000 }).catch(() => fail(kind + ": some images did not decode"));
  if (info.markup) fail(kind + ": the page holds " + info.markup + " <b> element(s): a prompt's markup was not escaped");
  const placed = info.figures.length - (info.sections.find((s) => s.id === "other") || { figures: 0 }).figures;
  ok(kind + ": " + info.sections.length + " sections (" + info.sections.map((s) => s.h2).join(" | ") + "), " +
    info.figures.length + " figures decoded, " + placed + " of them placed under a question, every caption says what it shows");
  return info;
}

async function shot(browser, page, dir, kind, target) {
  if (!dir) return;
  await page.evaluate((sel) => {
    const e = sel && document.querySelector(sel);
    if (e) e.scrollIntoView({ block: "start" }); else window.scrollTo(0, 0);
  }, target || null);
  await sleep(100);
  const b64 = await page.screenshot({ encoding: "base64", type: "png" });
  // at half size through a canvas in a blank page (small PNGs for the docs)
  const scratch = await browser.newPage();
  const out = await scratch.evaluate(async (src) => {
    const img = new Image();
    img.src = src;
    await img.decode();
    const c = document.createElement("canvas");
    c.width = Math.round(img.naturalWidth / 2); c.height = Math.round(img.naturalHeight / 2);
    const ctx = c.getContext("2d");
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(img, 0, 0, c.width, c.height);
    return c.toDataURL("image/png").split(",")[1];
  }, "data:image/png;base64," + b64);
  await scratch.close();
  fs.mkdirSync(dir, { recursive: true });
  const p = path.join(dir, "report-" + kind + ".png");
  fs.writeFileSync(p, Buffer.from(out, "base64"));
  ok(kind + ": screenshot " + p + " (" + Math.round(fs.statSync(p).size / 1024) + " KB)");
}

const text = (page, sel) => page.$eval(sel, (e) => e.textContent);
const setRange = (page, sel, v) => page.$eval(sel, (e, v) => {
  e.value = String(v);
  e.dispatchEvent(new Event("input", { bubbles: true }));
}, v);

// ---- the kinds ----
async function checkRun(page, r) {
  const run = readJson(path.join(r.folder, "run.json"));
  const st = await page.evaluate(() => [...document.querySelectorAll("#pipeline [data-stage]")].map((s) => ({
    id: s.getAttribute("data-stage"), text: s.textContent,
  })));
  const want = ["prompt", "text_encoder", "denoiser", "scheduler", "vae", "image"];
  if (st.map((s) => s.id).join() !== want.join()) fail("run: pipeline stages " + st.map((s) => s.id).join() + ", want " + want.join());
  const arrows = await page.$$eval("#pipeline .arrow", (as) => as.map((a) => a.textContent));
  const lat = "latent " + run.latent_shape.join(" x ");
  if (!arrows.includes(lat)) fail("run: no pipeline arrow carries " + JSON.stringify(lat) + " (arrows: " + JSON.stringify(arrows) + ")");
  const img = "image 3 x " + run.inputs.height + " x " + run.inputs.width;
  if (!arrows.includes(img)) fail("run: no pipeline arrow carries " + JSON.stringify(img));
  const den = st.find((s) => s.id === "denoiser").text;
  if (!den.includes(run.timesteps.length + " steps") || !den.includes("guidance w = " + run.inputs.guidance_scale))
    fail("run: the denoiser stage says " + JSON.stringify(den));
  const loopLabel = await text(page, "#pipeline .loop-label");
  if (!loopLabel.includes(run.timesteps.length + " steps") || !loopLabel.includes(run.latent_shape.join(" x ")))
    fail("run: the loop says " + JSON.stringify(loopLabel));
  if (run.timings && run.timings.text_encoder_s !== undefined) {
    const t = st.find((s) => s.id === "text_encoder").text;
    if (!/\d+ ms|\d\.\d\d s/.test(t)) fail("run: the text encoder stage shows no time: " + JSON.stringify(t));
  }
  ok("run: pipeline prompt -> text encoder -> [denoiser -> scheduler] x " + run.timesteps.length + " -> VAE -> image; arrows " + JSON.stringify(arrows));
  const max = await page.$eval("#step-slider", (e) => Number(e.max));
  if (max !== run.timesteps.length - 1) fail("run: step slider max " + max);
  const stepCaps = await page.$$eval('section[data-section="steps"] figcaption', (cs) => cs.map((c) => c.firstChild.textContent));
  for (const s of fs.readdirSync(path.join(r.folder, "saliency")).filter((d) => d.startsWith("step_"))) {
    const n = "step " + Number(s.slice(5)) + ": ";
    if (!stepCaps.some((c) => c.startsWith(n + "deletion curves"))) fail("run: no deletion figure captioned " + JSON.stringify(n));
    if (!stepCaps.some((c) => c.startsWith(n + "df-rise saliency"))) fail("run: no DF-RISE map captioned " + JSON.stringify(n));
  }
  ok("run: " + stepCaps.length + " figures under 'Which steps matter', each saliency step's curves and overlays captioned by step");
}

async function checkCompare(page, r) {
  const runs = readCsv(path.join(r.folder, "tables/runs.csv"));
  const gs = unique(runs.map((x) => Number(x.guidance))).sort((a, b) => a - b);
  const prompts = unique(runs.map((x) => x.prompt));
  const max = await page.$eval("#guidance-slider", (e) => Number(e.max));
  if (max !== gs.length - 1) fail("compare: guidance slider max " + max + ", want " + (gs.length - 1));
  const opts = await page.$$eval("#prompt-select option", (os) => os.map((o) => o.textContent));
  if (opts.join("\n") !== prompts.join("\n")) fail("compare: prompt picker " + JSON.stringify(opts) + ", want " + JSON.stringify(prompts));
  const finals = new Set();
  for (let pi = 0; pi < prompts.length; pi++) {
    await page.select("#prompt-select", String(pi));
    for (let gi = 0; gi < gs.length; gi++) {
      await setRange(page, "#guidance-slider", gi);
      const lab = await text(page, "#guidance-label");
      if (!lab.startsWith("w = " + gs[gi] + " ")) fail("compare: guidance " + gi + " labelled " + JSON.stringify(lab));
      const row = runs.find((x) => x.prompt === prompts[pi] && Number(x.guidance) === gs[gi]);
      const runText = await text(page, "#sweep-run");
      if (runText !== "run " + row.run + ": " + row.label) fail("compare: prompt " + pi + ", w = " + gs[gi] + " shows " + JSON.stringify(runText) + ", want run " + row.run + " " + JSON.stringify(row.label));
      finals.add(await page.$eval("#sweep-final", (e) => e.getAttribute("src")));
      if (row.run !== "0") {
        const n = await page.$$eval("#sweep-numbers tr", (t) => t.length);
        if (n < 2) fail("compare: run " + row.run + " shows no distances to run 0");
      }
    }
  }
  if (finals.size < 2) fail("compare: the final image did not change across the sweep");
  ok("compare: guidance slider over w = " + gs.join(", ") + " and prompt picker over " + JSON.stringify(prompts) +
    " show each run (" + finals.size + " distinct final images)");
  // the sweep's x0 follows the step slider
  await page.$eval("#step-slider", (e) => { e.value = "0"; e.dispatchEvent(new Event("input", { bubbles: true })); });
  const s0 = await page.$eval("#sweep-x0", (e) => e.getAttribute("src"));
  const l0 = await text(page, "#sweep-step");
  await page.$eval("#step-slider", (e) => { e.value = e.max; e.dispatchEvent(new Event("input", { bubbles: true })); });
  const s1 = await page.$eval("#sweep-x0", (e) => e.getAttribute("src"));
  if (s0 === s1 || l0 !== "x0 estimate, step 0") fail("compare: the sweep's x0 did not follow the step slider (" + l0 + ")");
  ok("compare: the sweep's x0 estimate follows the step slider");
}

async function runsRows(page) {
  return page.$$eval("#runs-table tbody tr.row", (rs) => rs.map((r) => [...r.cells].map((c) => c.textContent)));
}
async function runsHead(page) { return page.$$eval("#runs-table thead th", (t) => t.map((h) => h.textContent)); }

async function checkRunsTable(kind, page, url, ids, folderOf) {
  const head = await runsHead(page);
  let rows = await runsRows(page);
  const idc = head.indexOf("id");
  if (rows.length !== ids.length) fail(kind + ": runs table has " + rows.length + " rows, want " + ids.length);
  if (rows.map((x) => x[idc]).join() !== ids.join()) fail(kind + ": ids " + rows.map((x) => x[idc]).join());
  const pc = head.indexOf("prompt");
  // filter
  await page.type("#runs-filter", "blue");
  rows = await runsRows(page);
  if (rows.length !== 1 || rows[0][pc] !== MARKUP_PROMPT) fail(kind + ": filter 'blue' gave " + JSON.stringify(rows.map((x) => x[pc])));
  if ((await text(page, "#runs-count")) !== "1 of " + ids.length + " runs") fail(kind + ": count says " + (await text(page, "#runs-count")));
  await page.$eval("#runs-filter", (e) => { e.value = "colour"; e.dispatchEvent(new Event("input", { bubbles: true })); });
  rows = await runsRows(page);
  if (rows.length !== 2) fail(kind + ": filter 'colour' (a category) gave " + rows.length + " rows, want 2");
  await page.$eval("#runs-filter", (e) => { e.value = ""; e.dispatchEvent(new Event("input", { bubbles: true })); });
  ok(kind + ": filter 'blue' -> 1 of " + ids.length + " runs (" + JSON.stringify(MARKUP_PROMPT) + " shown as text), 'colour' -> 2");
  // sort by seed, twice: descending
  const sc = head.indexOf("seed");
  await page.click('#runs-table th[data-col="' + sc + '"]');
  await page.click('#runs-table th[data-col="' + sc + '"]');
  rows = await runsRows(page);
  const seeds = rows.map((x) => Number(x[sc]));
  if (seeds.join() !== [...seeds].sort((a, b) => b - a).join()) fail(kind + ": seed column not sorted descending: " + seeds.join());
  const aria = await page.$eval('#runs-table th[data-col="' + sc + '"]', (e) => e.getAttribute("aria-sort"));
  if (aria !== "descending") fail(kind + ": sorted column's aria-sort is " + aria);
  ok(kind + ": seed column sorted descending by two clicks: " + seeds.join(", "));
  // the number picker: pick a key, compare each run's value with its summary.json
  const metrics = await page.$$eval("#runs-metric option", (os) => os.map((o) => o.textContent));
  const key = metrics.find((m) => m.startsWith("emergence.")) || metrics[0];
  await page.select("#runs-metric", String(metrics.indexOf(key)));
  const head2 = await runsHead(page);
  if (head2[head2.length - 1] !== key) fail(kind + ": the last column is " + head2[head2.length - 1] + ", want " + key);
  rows = await runsRows(page);
  let compared = 0;
  for (const row of rows) {
    const f = folderOf(row[idc]);
    if (!f) continue;
    const want = readJson(path.join(f, "summary.json"))[key];
    if (typeof want !== "number") continue;
    if (Math.abs(Number(row[row.length - 1]) - want) > 1e-3 * Math.max(1, Math.abs(want)))
      fail(kind + ": run " + row[idc] + " shows " + key + " = " + row[row.length - 1] + ", summary.json has " + want);
    compared++;
  }
  if (!compared) fail(kind + ": no run's " + key + " could be compared with its summary.json");
  ok(kind + ": number picker shows " + key + ", equal to " + compared + " runs' summary.json");
  // drill-down into r1: its image and a link to its own report
  const i1 = rows.findIndex((x) => x[idc] === "r1");
  await page.click("#runs-table tbody tr.row:nth-of-type(" + (i1 + 1) + ")");
  await page.waitForSelector("#runs-table tr.detail");
  const d = await page.$eval("#runs-table tr.detail", (e) => ({
    img: e.querySelector("img") ? e.querySelector("img").naturalWidth : 0,
    href: e.querySelector("a") ? e.querySelector("a").getAttribute("href") : null,
    keys: e.querySelectorAll(".kv div").length,
  }));
  if (!d.img) fail(kind + ": r1's details show no final image");
  if (!d.href) fail(kind + ": r1's details have no link to its report");
  const target = fileURLToPath(new URL(d.href, url));
  if (target !== path.join(folderOf("r1"), "report.html") || !fs.existsSync(target)) fail(kind + ": r1's link goes to " + target);
  if (!d.keys) fail(kind + ": r1's details list no numbers");
  ok(kind + ": clicking r1 opens its final image, " + d.keys + " numbers and a link to " + d.href);
}

async function checkBatch(page, r, url) {
  const ids = fs.readdirSync(r.folder).filter((d) => fs.existsSync(path.join(r.folder, d, "batch.json"))).sort();
  await checkRunsTable("batch", page, url, ids, (id) => path.join(r.folder, id));
}

async function checkMerge(page, r, url) {
  const runs = readCsv(path.join(r.folder, "runs.csv"));
  await checkRunsTable("merge", page, url, runs.map((x) => x.id), (id) => path.join(r.batch, id));
  const agg = readCsv(path.join(r.folder, "aggregate.csv"));
  const n = await page.evaluate(() => {
    const box = [...document.querySelectorAll('section[data-section="numbers"] .table-box')].find((b) => b.querySelector(".table-file").textContent === "aggregate.csv");
    return box ? box.querySelectorAll("tr").length - 1 : -1;
  });
  if (n !== Math.min(60, agg.length)) fail("merge: aggregate table shows " + n + " rows, want " + Math.min(60, agg.length));
  ok("merge: aggregate.csv shown (" + n + " of " + agg.length + " rows)");
}

async function checkSaliency(page, r) {
  const caps = await page.$$eval('section[data-section="steps"] figcaption', (cs) => cs.map((c) => c.firstChild.textContent));
  for (const want of ["deletion AUC across the denoising steps", "insertion AUC across the denoising steps"])
    if (!caps.some((c) => c.includes(want))) fail("saliency: no figure showing each method's " + want);
  const rows = await runsRows(page);
  const n = fs.readdirSync(r.folder).filter((d) => fs.existsSync(path.join(r.folder, d, "run.json"))).length;
  if (rows.length !== n) fail("saliency: " + rows.length + " prompts in the runs table, want " + n);
  const over = readCsv(path.join(r.folder, "over_steps.csv"));
  const shown = await page.evaluate(() => {
    const b = [...document.querySelectorAll(".table-box")].find((x) => x.querySelector(".table-file") && x.querySelector(".table-file").textContent === "over_steps.csv");
    return b ? b.querySelectorAll("tr").length - 1 : -1;
  });
  if (shown !== over.length) fail("saliency: over_steps table shows " + shown + " rows, want " + over.length);
  ok("saliency: AUC-over-steps figures, " + rows.length + " prompts, over_steps.csv (" + shown + " rows)");
}

async function visibleFacets(page) {
  return page.$$eval("[data-facet]", (es) => es.filter((e) => !e.hidden && !(e.closest("[hidden]"))).map((e) => e.getAttribute("data-facet")));
}

async function checkProbe(page, r) {
  const probe = readCsv(path.join(r.folder, "probe/tables/probe.csv"));
  const labels = unique(probe.map((x) => x.label));
  const opts = await page.$$eval("#facet-select option", (os) => os.map((o) => o.value));
  if (opts.slice(1).sort().join() !== [...labels].sort().join()) fail("probe: label picker " + JSON.stringify(opts) + ", labels " + JSON.stringify(labels));
  const all = (await visibleFacets(page)).length;
  await page.select("#facet-select", "colour");
  const vis = await visibleFacets(page);
  if (!vis.length || vis.some((f) => f !== "colour")) fail("probe: picking colour left " + JSON.stringify(unique(vis)) + " visible");
  // the pivot: layer x timestep accuracy
  const tab = await page.evaluate(() => {
    const b = [...document.querySelectorAll('.table-box[data-facet="colour"]')].find((x) => x.querySelector(".table-file").textContent === "probe accuracy: colour");
    if (!b) return null;
    return [...b.querySelectorAll("tr")].map((tr) => [...tr.cells].map((c) => c.textContent));
  });
  if (!tab) fail("probe: no 'probe accuracy: colour' table");
  const lin = probe.filter((x) => x.label === "colour" && x.head === "linear" && x.t !== "");
  const layers = unique(lin.map((x) => x.layer)), ts = unique(lin.map((x) => x.t)).sort((a, b) => a - b);
  if (tab[0].join() !== ["layer", ...ts.map((t) => "t = " + t)].join()) fail("probe: pivot columns " + tab[0].join());
  if (tab.length - 1 !== layers.length + 3) fail("probe: pivot has " + (tab.length - 1) + " rows, want " + layers.length + " layers, 2 baselines and chance");
  let checked = 0;
  for (const x of lin) {
    const row = tab.find((rw) => rw[0] === x.layer);
    const cell = row[1 + ts.indexOf(x.t)];
    if (Math.abs(parseFloat(cell) - Number(x.test_accuracy)) > 5e-4) fail("probe: " + x.layer + " t=" + x.t + " shows " + cell + ", probe.csv has " + x.test_accuracy);
    checked++;
  }
  const px = probe.find((x) => x.label === "colour" && x.layer === "pixels");
  const prow = tab.find((rw) => rw[0] === "pixels (baseline)");
  if (!prow || Math.abs(parseFloat(prow[1]) - Number(px.test_accuracy)) > 5e-4) fail("probe: pixel baseline row " + JSON.stringify(prow));
  await page.select("#facet-select", "");
  if ((await visibleFacets(page)).length !== all) fail("probe: 'every label' did not show every label again");
  ok("probe: label picker over " + labels.join(", ") + "; colour's layer x timestep table matches probe.csv in " + checked + " cells and the pixel baseline");
}

async function checkSae(page, r) {
  const sheets = fs.readdirSync(path.join(r.folder, "inspect/plots/latents")).filter((f) => f.endsWith(".png"));
  const caps = await page.$$eval('section[data-section="layers"] figcaption', (cs) => cs.map((c) => c.firstChild.textContent));
  const n = caps.filter((c) => /^SAE latent \d+: its top images/.test(c)).length;
  if (n !== sheets.length) fail("sae: " + n + " contact sheets shown, " + sheets.length + " on disk");
  const purity = readCsv(path.join(r.folder, "inspect/tables/purity.csv"));
  const rows = await page.evaluate(() => {
    const b = [...document.querySelectorAll(".table-box")].find((x) => x.querySelector(".table-file").textContent === "tables/purity.csv");
    return b ? [...b.querySelectorAll("tr")].slice(1).map((tr) => [...tr.cells].map((c) => c.textContent)) : null;
  });
  if (!rows || rows.length !== purity.length) fail("sae: purity table " + (rows ? rows.length : "missing") + ", want " + purity.length + " rows");
  const labels = unique(purity.map((x) => x.label));
  await page.select("#facet-select", labels[0]);
  const vis = await visibleFacets(page);
  if (!vis.length || vis.some((f) => f !== labels[0])) fail("sae: picking " + labels[0] + " left " + JSON.stringify(unique(vis)));
  await page.select("#facet-select", "");
  ok("sae: " + n + " contact sheets, purity.csv (" + rows.length + " rows), label picker shows " + labels[0] + "'s overview alone");
}

const KINDS = {
  run: { sections: ["appears", "attends", "steps", "numbers"], check: checkRun },
  compare: { sections: ["differ", "appears", "attends", "numbers"], check: checkCompare, shot: "#sweep",
    beforeShot: async (page) => { await page.select("#prompt-select", "1"); await setRange(page, "#guidance-slider", 2); } },
  batch: { sections: [], check: checkBatch },
  merge: { sections: ["numbers"], check: checkMerge },
  saliency: { sections: ["steps", "numbers"], check: checkSaliency },
  probe: { sections: ["layers", "numbers"], check: checkProbe, shot: "#facet-bar",
    beforeShot: (page) => page.select("#facet-select", "colour") },
  sae: { sections: ["layers", "numbers"], check: checkSae, shot: "#facet-bar" },
};

async function main() {
  const args = process.argv.slice(2);
  if (args.length < 1 || args.length > 2) { console.error("usage: node tests/report/kinds_test.js WORK/reports.json [SHOT_DIR]"); return 1; }
  const reports = readJson(args[0]);
  const shots = args[1] ? path.resolve(args[1]) : null;
  let puppeteer;
  try { puppeteer = require("puppeteer-core"); } catch (e) { console.error("SKIP/ERROR: puppeteer-core not found; " + SETUP_HINT); return 2; }
  const chromium = findChromium();
  if (!chromium) { console.error("SKIP/ERROR: Chromium not found; " + SETUP_HINT); return 2; }
  const t0 = Date.now();
  const browser = await puppeteer.launch({
    executablePath: chromium, headless: true, timeout: 30000,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-extensions", "--no-first-run",
      "--hide-scrollbars", "--force-device-scale-factor=1"],
  }).catch((e) => { console.error("SKIP/ERROR: could not start Chromium: " + e.message); return null; });
  if (!browser) return 2;
  try {
    for (const [kind, spec] of Object.entries(KINDS)) {
      const r = reports[kind];
      if (!r) fail("reports.json has no " + kind);
      const { page, url, problems } = await openPage(browser, r.html);
      try {
        await commonChecks(kind, page, spec.sections);
        await spec.check(page, r, url);
        await sleep(50);
        if (problems.length) fail(kind + ": " + problems.length + " problem(s):\n  " + problems.join("\n  "));
        ok(kind + ": no console error or warning, no request other than data:");
        if (spec.beforeShot) await spec.beforeShot(page);
        await shot(browser, page, shots, kind, spec.shot);
      } catch (e) {
        if (e instanceof CheckFailed && problems.length) e.message += "\n  page problems:\n  " + problems.join("\n  ");
        throw e;
      } finally {
        await page.close();
      }
    }
    ok("every kind passed in " + ((Date.now() - t0) / 1000).toFixed(1) + " s");
    return 0;
  } catch (e) {
    console.error("FAIL: " + (e instanceof CheckFailed ? e.message : (e && e.stack) || e));
    return 1;
  } finally {
    await browser.close().catch(() => {});
  }
}

const watchdog = setTimeout(() => { console.error("FAIL: did not finish within " + TOTAL_TIMEOUT_MS / 1000 + " s"); process.exit(1); }, TOTAL_TIMEOUT_MS);
watchdog.unref();
main().then((rc) => { clearTimeout(watchdog); process.exit(rc); }, (e) => { console.error("FAIL: " + (e && e.stack ? e.stack : e)); process.exit(1); });
