// SPDX-License-Identifier: Apache-2.0
// console_bench: the web console's load times in headless Chromium (Debian's), driven by
// playwright-core from tests/browser/node_modules. bench/console_run.sh starts loom and loads
// the data, then runs this with LOOM_URL, LOOM_TOKEN, BENCH_DEVICE_ID (a device whose profile
// has ten keys with 90 days of 1 Hz data ending now) and CONSOLE_RUNS.
// Each run uses a NEW browser context (empty HTTP cache, empty storage; the session token is
// put in sessionStorage before the page's scripts run, as a signed-in tab has it) and measures,
// in the page's own clock (performance.now(), 0 = navigation start):
//   overview      first load of #/overview until the page root carries data-ready;
//   device_1h     first load of #/devices/<id>?tab=charts until all ten charts carry
//                 data-ready (the tab's default range, 1 hour);
//   device_90d    then choosing the quick range "90 days" until all ten charts are drawn
//                 again (one telemetry request for ten keys, aggregated to ~1 bucket/pixel);
//   device_cold_90d = device_1h + device_90d (what a user waits for from a cold start).
// And the renderer main thread's work for each (CDP Performance metrics in thread CPU time:
// *_cpu_ms), which, unlike the wall times, does not grow with the machine's other load.
// Also: bytes transferred (navigation + resources, transferSize), the JS heap after the
// charts are drawn (performance.memory, precise), and the server's answer times of the
// telemetry requests (Resource Timing: requestStart -> responseEnd). Prints one JSON line
// per run, then one summary line {"summary": {...}} with medians.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', 'tests', 'browser', 'package.json'));
const { chromium } = require('playwright-core');

const url = (process.env.LOOM_URL || '').replace(/\/$/, '');
const token = process.env.LOOM_TOKEN || '';
const deviceId = process.env.BENCH_DEVICE_ID || '';
const runs = Number(process.env.CONSOLE_RUNS || 5);
const nCharts = Number(process.env.CONSOLE_CHARTS || 10);
const timeout = Number(process.env.CONSOLE_TIMEOUT_MS || 30000);
const lang = process.env.CONSOLE_LANG || 'en-US';
if (!url || !token || !deviceId) {
  console.error('console_bench: set LOOM_URL, LOOM_TOKEN and BENCH_DEVICE_ID');
  process.exit(2);
}

// In the page: resolve with performance.now() once test() holds (checked every frame).
function readyAt(page, fn, arg) {
  return page.evaluate(([src, a, ms]) => new Promise((resolve, reject) => {
    const test = new Function('a', `return (${src})(a);`);
    const t0 = performance.now();
    const tick = () => {
      if (test(a)) return resolve(performance.now());
      if (performance.now() - t0 > ms) return reject(new Error('timed out'));
      requestAnimationFrame(tick);
    };
    tick();
  }), [fn.toString(), arg, timeout]);
}

const pageReady = () => !!document.querySelector('body[data-ready]') &&
  !!document.querySelector('main[data-ready], main > [data-ready]');
const chartsReady = (n) => document.querySelectorAll('[data-testid=chart][data-ready]').length >= n &&
  document.querySelectorAll('[data-testid=chart]').length >= n;

async function pageStats(page, mark) {
  return page.evaluate((m) => {
    const nav = performance.getEntriesByType('navigation')[0];
    const res = performance.getEntriesByType('resource');
    let bytes = nav ? nav.transferSize : 0;
    const tele = [];
    for (const r of res) {
      bytes += r.transferSize || 0;
      if (/\/telemetry\?/.test(r.name) && r.startTime >= m) {
        tele.push({ ms: Math.round(r.responseEnd - r.requestStart), bytes: r.encodedBodySize });
      }
    }
    const mem = performance.memory ? performance.memory.usedJSHeapSize : null;
    return { bytes, requests: res.length + 1, heap: mem, tele };
  }, mark);
}

// Main-thread work of the renderer so far, in thread CPU time (CDP Performance metrics with
// timeDomain threadTicks): unlike wall time it does not grow when other processes take the
// cores. Returns {task, script, layout} in ms.
async function work(cdp) {
  const { metrics } = await cdp.send('Performance.getMetrics');
  const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
  return { task: (m.TaskDuration || 0) * 1000, script: (m.ScriptDuration || 0) * 1000,
    layout: ((m.LayoutDuration || 0) + (m.RecalcStyleDuration || 0)) * 1000 };
}

async function openPage(ctx, errors) {
  const page = await ctx.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Performance.enable', { timeDomain: 'threadTicks' });
  return { page, cdp };
}

async function one(browser, i) {
  const out = { run: i };
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: lang });
  await ctx.addInitScript((tk) => { try { sessionStorage.setItem('loom.token', tk); } catch { /* */ } }, token);
  const errors = [];
  try {
    let { page, cdp } = await openPage(ctx, errors);
    await page.goto(`${url}/#/overview`, { waitUntil: 'commit' });
    out.overview_ms = Math.round(await readyAt(page, pageReady));
    out.overview_cpu_ms = Math.round((await work(cdp)).task);
    const ov = await pageStats(page, 0);
    out.overview_bytes = ov.bytes;
    out.overview_requests = ov.requests;
    out.overview_heap = ov.heap;
    await page.close();

    // the device page in a second tab of the same context would reuse the cache: a new
    // context again keeps every measurement cold
    await ctx.close();
    const ctx2 = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: lang });
    await ctx2.addInitScript((tk) => { try { sessionStorage.setItem('loom.token', tk); } catch { /* */ } }, token);
    ({ page, cdp } = await openPage(ctx2, errors));
    await page.goto(`${url}/#/devices/${encodeURIComponent(deviceId)}?tab=charts`, { waitUntil: 'commit' });
    out.device_1h_ms = Math.round(await readyAt(page, chartsReady, nCharts));
    const w0 = await work(cdp);
    out.device_1h_cpu_ms = Math.round(w0.task);
    const sel = page.locator('[data-testid=charts] select.range-quick').first();
    const mark = await page.evaluate(() => performance.now());
    await sel.selectOption('90d');
    const t90 = await readyAt(page, chartsReady, nCharts);
    out.device_90d_ms = Math.round(t90 - mark);
    const w1 = await work(cdp);
    out.device_90d_cpu_ms = Math.round(w1.task - w0.task);
    out.device_90d_script_ms = Math.round(w1.script - w0.script);
    out.device_cold_90d_ms = out.device_1h_ms + out.device_90d_ms;
    const st = await pageStats(page, mark);
    out.device_bytes = st.bytes;
    out.device_requests = st.requests;
    out.device_heap = st.heap;
    out.telemetry_90d = st.tele;
    await ctx2.close();
  } finally {
    await ctx.close().catch(() => {});
  }
  if (errors.length) out.page_errors = errors;
  return out;
}

function median(xs) {
  const v = xs.filter((x) => typeof x === 'number').sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)] : null;
}

const browser = await chromium.launch({
  executablePath: process.env.LOOM_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run',
    '--disable-extensions', '--disable-background-networking', '--enable-precise-memory-info'],
});
const version = browser.version();
const all = [];
let failed = 0;
try {
  for (let i = 0; i <= runs; i++) { // run 0 warms the server (its page cache), not counted
    try {
      const r = await one(browser, i);
      if (i > 0) all.push(r);
      console.log(JSON.stringify({ ...r, warmup: i === 0 }));
    } catch (e) {
      failed++;
      console.log(JSON.stringify({ run: i, error: String(e.message || e).split('\n')[0] }));
    }
  }
} finally {
  await browser.close();
}
const keys = ['overview_ms', 'overview_cpu_ms', 'overview_bytes', 'overview_requests', 'overview_heap',
  'device_1h_ms', 'device_1h_cpu_ms', 'device_90d_ms', 'device_90d_cpu_ms', 'device_90d_script_ms',
  'device_cold_90d_ms', 'device_bytes', 'device_requests', 'device_heap'];
const summary = { runs: all.length, failed, chromium: version };
for (const k of keys) summary[k] = median(all.map((r) => r[k]));
summary.telemetry_90d_ms = median(all.flatMap((r) => (r.telemetry_90d || []).map((x) => x.ms)));
summary.telemetry_90d_bytes = median(all.flatMap((r) => (r.telemetry_90d || []).map((x) => x.bytes)));
summary.telemetry_90d_requests = median(all.map((r) => (r.telemetry_90d || []).length));
console.log(JSON.stringify({ summary }));
process.exit(failed || !all.length ? 1 : 0);
