#!/usr/bin/env node
// Headless-Chromium test of the self-contained HTML page written by `diffscope report`.
//
// Usage: node tests/report/browser_test.js PATH/report.html [SCREENSHOT.png]
//
// Opens the page from a file:// URL in Chromium (puppeteer-core, /usr/bin/chromium or
// $CHROME_PATH / $PUPPETEER_EXECUTABLE_PATH), and checks the DOM contract documented at the
// top of tests/report/fixture.html: ready flag, step slider + label + x0 image, keyboard
// (ArrowLeft/ArrowRight/Home/End), word select + attention overlay, overlay opacity, play /
// pause, no console error or warning, no page error, no request other than data:/blob:, and a
// full-page screenshot that is not blank.
//
// Prints "ok: ..." per check. Exit status: 0 all passed; 1 first failure (message on stderr);
// 2 Chromium or puppeteer-core missing (scripts/setup.sh installs both:
// apt package `chromium`, then `npm ci --prefix tests/report`).
"use strict";

const fs = require("fs");
const path = require("path");
const { pathToFileURL } = require("url");

const TOTAL_TIMEOUT_MS = 60000;   // whole test
const WAIT_MS = 5000;             // one wait for the page to react
const SETUP_HINT = "run scripts/setup.sh (installs the Debian package `chromium` and runs " +
  "`npm ci --prefix tests/report`), or: apt-get install chromium && npm ci --prefix tests/report";

function usage() {
  console.error("usage: node tests/report/browser_test.js PATH/report.html [SCREENSHOT.png]");
  process.exit(1);
}

class CheckFailed extends Error {}
function fail(msg) { throw new CheckFailed(msg); }
function ok(msg) { console.log("ok: " + msg); }

function findChromium() {
  const cands = [process.env.CHROME_PATH, process.env.PUPPETEER_EXECUTABLE_PATH,
    "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable"].filter(Boolean);
  for (const c of cands) {
    try { fs.accessSync(c, fs.constants.X_OK); return c; } catch (_) { /* next */ }
  }
  return null;
}

function loadPuppeteer() {
  try {
    return require("puppeteer-core");   // resolved from tests/report/node_modules
  } catch (e) {
    if (e && e.code === "MODULE_NOT_FOUND") return null;
    throw e;
  }
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length < 1 || args.length > 2 || args[0] === "-h" || args[0] === "--help") usage();
  const htmlPath = path.resolve(args[0]);
  const shotPath = args[1] ? path.resolve(args[1]) : null;
  if (!fs.existsSync(htmlPath)) { console.error("FAIL: no such file: " + htmlPath); return 1; }

  const puppeteer = loadPuppeteer();
  if (!puppeteer) {
    console.error("SKIP/ERROR: puppeteer-core not found under tests/report/node_modules; " + SETUP_HINT);
    return 2;
  }
  const chromium = findChromium();
  if (!chromium) {
    console.error("SKIP/ERROR: Chromium not found (/usr/bin/chromium, $CHROME_PATH); " + SETUP_HINT);
    return 2;
  }

  const t0 = Date.now();
  const pageUrl = pathToFileURL(htmlPath).href;
  let browser;
  try {
    try {
      browser = await puppeteer.launch({
        executablePath: chromium,
        headless: true,
        args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--disable-extensions", "--no-first-run", "--hide-scrollbars",
          "--force-device-scale-factor=1"],
        defaultViewport: { width: 1280, height: 900 },
        timeout: 30000,
      });
    } catch (e) {
      console.error("SKIP/ERROR: could not start Chromium at " + chromium + ": " + e.message +
        "\n" + SETUP_HINT);
      return 2;
    }
    ok("Chromium " + (await browser.version()) + " started (" + chromium + ")");
    await runChecks(browser, pageUrl, shotPath);
    ok("all checks passed in " + ((Date.now() - t0) / 1000).toFixed(1) + " s");
    return 0;
  } catch (e) {
    if (e instanceof CheckFailed) console.error("FAIL: " + e.message);
    else console.error("FAIL: " + (e && e.stack ? e.stack : e));
    return 1;
  } finally {
    if (browser) await browser.close().catch(() => {});
  }
}

async function runChecks(browser, pageUrl, shotPath) {
  const problems = [];
  try {
    await checkPage(browser, pageUrl, shotPath, problems);
  } catch (e) {
    // a console error (CSP violation, failed load, exception) usually explains a failed check
    if (e instanceof CheckFailed && problems.length && !e.message.includes(problems[0]))
      e.message += "\n  page problems so far:\n  " + problems.join("\n  ");
    throw e;
  }
}

async function checkPage(browser, pageUrl, shotPath, problems) {
  const page = await browser.newPage();
  page.setDefaultTimeout(WAIT_MS);

  // ---- everything the page must never do ----
  const clip = (t) => (t.length > 400 ? t.slice(0, 400) + "...(" + t.length + " chars)" : t);
  const localUrl = (u) => u.startsWith("data:") || u.startsWith("blob:");
  page.on("console", (m) => {
    const t = m.type();
    if (t === "error" || t === "warn" || t === "warning" || t === "assert") {
      const loc = m.location && m.location();
      problems.push("console " + t + ": " + clip(m.text()) +
        (loc && loc.url ? " (" + loc.url + (loc.lineNumber != null ? ":" + loc.lineNumber : "") + ")" : ""));
    }
  });
  page.on("pageerror", (e) => problems.push("page error: " + clip(String(e && e.message ? e.message : e))));
  page.on("dialog", (d) => { problems.push("dialog opened: " + d.type() + " " + d.message()); d.dismiss().catch(() => {}); });
  page.on("request", (r) => {
    const u = r.url();
    if (!localUrl(u) && u !== pageUrl) problems.push("request to " + clip(u) + " (the report must be self-contained)");
  });
  page.on("requestfailed", (r) => {
    const u = r.url();
    if (!localUrl(u)) problems.push("request failed: " + clip(u) + " (" + ((r.failure() || {}).errorText || "?") + ")");
  });
  const noProblems = (when) => {
    if (problems.length) fail(problems.length + " problem(s) " + when + ":\n  " + problems.join("\n  "));
  };

  // ---- load ----
  const resp = await page.goto(pageUrl, { waitUntil: "load", timeout: 20000 });
  if (resp && !resp.ok() && resp.status() !== 0) fail("loading " + pageUrl + " gave status " + resp.status());
  await page.waitForSelector('body[data-ready="1"]', { timeout: 15000 })
    .catch(() => fail('body[data-ready="1"] not set within 15 s'));
  ok('page loaded, body[data-ready="1"]');

  const ids = ["step-slider", "step-label", "x0-img", "token-select", "overlay-img", "opacity", "play"];
  const missing = await page.evaluate((ids) => ids.filter((i) => !document.getElementById(i)), ids);
  if (missing.length) fail("missing element(s): " + missing.map((i) => "#" + i).join(", "));
  const kinds = await page.evaluate(() => {
    const g = (i) => document.getElementById(i);
    return {
      slider: g("step-slider").tagName + ":" + g("step-slider").type,
      opacity: g("opacity").tagName + ":" + g("opacity").type,
      x0: g("x0-img").tagName, overlay: g("overlay-img").tagName, select: g("token-select").tagName,
    };
  });
  if (kinds.slider !== "INPUT:range") fail("#step-slider is " + kinds.slider + ", want <input type=range>");
  if (kinds.opacity !== "INPUT:range") fail("#opacity is " + kinds.opacity + ", want <input type=range>");
  if (kinds.x0 !== "IMG" || kinds.overlay !== "IMG") fail("#x0-img / #overlay-img must be <img> (got " + kinds.x0 + " / " + kinds.overlay + ")");
  if (kinds.select !== "SELECT") fail("#token-select is <" + kinds.select.toLowerCase() + ">, want <select>");
  ok("all contract elements present: " + ids.map((i) => "#" + i).join(" "));

  const state = () => page.evaluate(() => {
    const s = document.getElementById("step-slider");
    return {
      value: Number(s.value), min: Number(s.min || 0), max: Number(s.max || 100),
      label: document.getElementById("step-label").textContent.trim(),
      x0: document.getElementById("x0-img").getAttribute("src") || "",
      overlay: document.getElementById("overlay-img").getAttribute("src") || "",
      active: document.activeElement ? document.activeElement.tagName + (document.activeElement.id ? "#" + document.activeElement.id : "") : "",
    };
  });
  const short = (u) => (u.length > 40 ? u.slice(0, 30) + "...(" + u.length + " chars)" : u);
  const imagesDecoded = async (what) => {
    await page.waitForFunction(() => ["x0-img", "overlay-img"].every((i) => {
      const im = document.getElementById(i);
      return im.complete && im.naturalWidth > 0;
    }), { timeout: WAIT_MS }).catch(async () => {
      const st = await page.evaluate(() => ["x0-img", "overlay-img"].map((i) => {
        const im = document.getElementById(i);
        return "#" + i + " complete=" + im.complete + " naturalWidth=" + im.naturalWidth;
      }).join(", "));
      fail("images not decoded " + what + ": " + st);
    });
  };
  // wait until fn(state) is true, polling; returns the last state
  const waitState = async (pred, what) => {
    const end = Date.now() + WAIT_MS;
    let s = await state();
    while (!pred(s)) {
      if (Date.now() > end) fail(what + " (state: value=" + s.value + " label=" + JSON.stringify(s.label) +
        " x0=" + short(s.x0) + " overlay=" + short(s.overlay) + " focus=" + s.active + ")");
      await new Promise((r) => setTimeout(r, 50));
      s = await state();
    }
    return s;
  };

  // ---- initial state ----
  const s0 = await state();
  if (s0.min !== 0) fail("#step-slider min is " + s0.min + ", want 0");
  if (!(s0.max >= 1)) fail("#step-slider max is " + s0.max + ", want N-1 >= 1");
  if (s0.value !== s0.max) fail("#step-slider starts at " + s0.value + ", want the last step " + s0.max);
  if (!s0.label) fail("#step-label is empty");
  if (!s0.x0.startsWith("data:")) fail("#x0-img src is not a data: URI: " + short(s0.x0));
  if (!s0.overlay.startsWith("data:") && !s0.overlay.startsWith("blob:")) fail("#overlay-img src is not a data:/blob: URI: " + short(s0.overlay));
  await imagesDecoded("after load");
  noProblems("at load");
  ok("initial step " + s0.value + " of 0.." + s0.max + ", label " + JSON.stringify(s0.label) + ", images decoded");

  // ---- keyboard: focus on the page, then ArrowLeft ----
  await page.bringToFront();
  await page.evaluate(() => { if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur(); });
  const spot = await page.evaluate(() => {   // a point on the bare body/html, if there is one
    const w = document.documentElement.clientWidth, h = document.documentElement.clientHeight;
    for (const [x, y] of [[w - 3, h - 3], [w - 3, 3], [3, h - 3], [w / 2, h - 3]]) {
      const el = document.elementFromPoint(x, y);
      if (el === document.body || el === document.documentElement) return { x, y };
    }
    return null;
  });
  if (spot) await page.mouse.click(spot.x, spot.y);
  await page.keyboard.press("ArrowLeft");
  const s1 = await waitState((s) => s.value === s0.max - 1 && s.label !== s0.label && s.x0 !== s0.x0,
    "ArrowLeft on the page did not move #step-slider from " + s0.max + " to " + (s0.max - 1) +
    " and change #step-label and #x0-img src");
  if (s1.overlay === s0.overlay) fail("#overlay-img src did not change with the step (ArrowLeft)");
  await imagesDecoded("after ArrowLeft");
  ok("ArrowLeft: step " + s0.value + " -> " + s1.value + ", label " + JSON.stringify(s1.label) + ", x0 and overlay src changed");

  await page.keyboard.press("ArrowRight");
  await waitState((s) => s.value === s0.max && s.x0 === s0.x0 && s.label === s0.label,
    "ArrowRight did not bring the slider back to " + s0.max + " with the same label and image as at load");
  ok("ArrowRight: back to step " + s0.max + " (same label and image as at load)");

  await page.keyboard.press("Home");
  const sHome = await waitState((s) => s.value === 0, "Home did not set #step-slider to 0");
  if (s0.max >= 1 && (sHome.x0 === s0.x0 || sHome.label === s0.label)) fail("Home: #x0-img src or #step-label did not change");
  ok("Home: step 0, label " + JSON.stringify(sHome.label));
  await page.keyboard.press("End");
  await waitState((s) => s.value === s0.max, "End did not set #step-slider to " + s0.max);
  await page.keyboard.press("Home");
  await waitState((s) => s.value === 0 && s.x0 === sHome.x0, "Home (again) did not set #step-slider to 0");
  ok("End: step " + s0.max + "; Home again: step 0");

  // with focus on the slider itself, one key press must still move it by exactly one step
  // (the page's handler must preventDefault() or leave the slider's own handling alone)
  await page.focus("#step-slider");
  await page.keyboard.press("ArrowRight");
  await new Promise((r) => setTimeout(r, 200));
  const sFoc = await waitState((s) => s.value !== 0, "ArrowRight with focus on #step-slider did not move it");
  if (sFoc.value !== 1) fail("ArrowRight with focus on #step-slider moved it 0 -> " + sFoc.value + ", want 1 (handled twice?)");
  await page.keyboard.press("Home");
  await waitState((s) => s.value === 0, "Home with focus on #step-slider did not set it to 0");
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await imagesDecoded("after Home");
  noProblems("after the keyboard checks");
  ok("focus on #step-slider: ArrowRight 0 -> 1, Home -> 0");

  // ---- word select -> overlay ----
  const opts = await page.$$eval("#token-select option", (os) => os.map((o) => ({ value: o.value, text: o.textContent.trim() })));
  if (opts.length < 2) fail("#token-select has " + opts.length + " option(s), want one per prompt word (>= 2)");
  const before = await state();
  const cur = await page.$eval("#token-select", (e) => e.value);
  const target = opts[1].value === cur ? opts[0] : opts[1];
  await page.select("#token-select", target.value);
  const sWord = await waitState((s) => s.overlay !== before.overlay,
    "selecting word " + JSON.stringify(target.text) + " in #token-select did not change #overlay-img src");
  if (sWord.value !== before.value) fail("selecting a word moved the step slider (" + before.value + " -> " + sWord.value + ")");
  await imagesDecoded("after selecting a word");
  ok("#token-select has " + opts.length + " words (" + opts.map((o) => JSON.stringify(o.text)).join(", ") +
    "); selecting " + JSON.stringify(target.text) + " changed the overlay");

  // ---- opacity ----
  await page.$eval("#opacity", (el) => {
    el.value = "30";
    el.dispatchEvent(new Event("input", { bubbles: true }));
    el.dispatchEvent(new Event("change", { bubbles: true }));
  });
  const effOpacity = () => page.evaluate(() => {
    let o = 1;
    for (let el = document.getElementById("overlay-img"); el && el.nodeType === 1; el = el.parentElement)
      o *= Number(getComputedStyle(el).opacity);
    return o;
  });
  const end = Date.now() + WAIT_MS;
  let op = await effOpacity();
  while (Math.abs(op - 0.3) > 0.02 && Date.now() < end) { await new Promise((r) => setTimeout(r, 50)); op = await effOpacity(); }
  if (Math.abs(op - 0.3) > 0.02) fail("#opacity = 30 gave #overlay-img an effective opacity of " + op.toFixed(3) + ", want 0.30");
  ok("#opacity 30 -> overlay opacity " + op.toFixed(2));

  // ---- play / pause ----
  const p0 = (await state()).value;
  await page.click("#play");
  await new Promise((r) => setTimeout(r, 1500));
  let seen = [(await state()).value];
  if (seen[0] === p0) {   // give a slow timer a little longer
    const sPlay = await waitState((s) => s.value !== p0, "#play: the slider did not advance from " + p0 + " within " + (1.5 + WAIT_MS / 1000) + " s");
    seen = [sPlay.value];
  }
  await page.click("#play");
  const pStop = (await state()).value;
  await new Promise((r) => setTimeout(r, 1200));
  const pAfter = (await state()).value;
  if (pAfter !== pStop) fail("#play clicked again did not pause: the slider moved " + pStop + " -> " + pAfter + " after it");
  await imagesDecoded("after play");
  noProblems("after play/pause");
  ok("#play: step " + p0 + " -> " + seen[0] + " while playing; paused at " + pStop);

  // ---- screenshot, not blank ----
  const b64 = await page.screenshot({ fullPage: true, encoding: "base64", type: "png" });
  if (shotPath) {
    fs.mkdirSync(path.dirname(shotPath), { recursive: true });
    fs.writeFileSync(shotPath, Buffer.from(b64, "base64"));
  }
  // decode it in a separate blank page (the report's own CSP must not get in the way)
  const scratch = await browser.newPage();
  const stats = await scratch.evaluate(async (src) => {
    const img = new Image();
    img.src = src;
    await img.decode();
    const c = document.createElement("canvas");
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const ctx = c.getContext("2d");
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let n = 0, sum = 0, sum2 = 0;
    for (let i = 0; i < d.length; i += 4)
      for (let k = 0; k < 3; k++) { const v = d[i + k]; sum += v; sum2 += v * v; n++; }
    const mean = sum / n;
    return { w: c.width, h: c.height, mean, std: Math.sqrt(Math.max(0, sum2 / n - mean * mean)) };
  }, "data:image/png;base64," + b64);
  await scratch.close();
  if (!(stats.std > 5)) fail("full-page screenshot looks blank: " + stats.w + "x" + stats.h + ", pixel std " + stats.std.toFixed(2) + " (want > 5)");
  ok("screenshot " + stats.w + "x" + stats.h + " not blank (pixel mean " + stats.mean.toFixed(1) + ", std " + stats.std.toFixed(1) + ")" +
    (shotPath ? ", written to " + shotPath : ""));

  noProblems("during the test");
  ok("no console error/warning, no page error, no request other than data:/blob:");
  await page.close();
}

const watchdog = setTimeout(() => {
  console.error("FAIL: browser test did not finish within " + TOTAL_TIMEOUT_MS / 1000 + " s");
  process.exit(1);
}, TOTAL_TIMEOUT_MS);
watchdog.unref();

main().then((rc) => { clearTimeout(watchdog); process.exit(rc); },
  (e) => { console.error("FAIL: " + (e && e.stack ? e.stack : e)); process.exit(1); });
