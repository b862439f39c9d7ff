/// <reference lib="dom" />
// The front-end part of `npm run bench`: the tracker's size as the server serves it, the JavaScript
// a first visit of each dashboard page loads, and the time from navigation to the dashboard's
// numbers in headless Chromium on loopback, next to the floor (Chromium loading a static file from
// the same server) and the API call alone, measured in the same run.
// Alone: npx tsx bench/frontend.ts [--smoke]
import fs from 'node:fs';
import http from 'node:http';
import zlib from 'node:zlib';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { IN_CI } from '../test/helpers/services.js';
import { System, type SiteKeys } from '../test/helpers/system.js';
import { DASHBOARD_JS_LIMIT, dashboardSizes } from './dev/dashboard-size.js';
import { percentile, round } from './lib.js';
import { FULL, SMOKE, target, type Log, type PartResult, type Sizes, type Target } from './part.js';

export const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
const TRACKER_LIMIT = 1024;
const NUMBERS_LIMIT_MS = 500;
const ADMIN = 'bench-frontend-admin-token-0123456789';
/** Events behind the numbers: enough for real figures, few enough to apply in a second. */
const EVENTS = 400;
const DAY_MS = 86_400_000;

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

export async function frontendPart(o: { sizes: Sizes; log: Log }): Promise<PartResult> {
  const figures: Record<string, number> = {};
  const lines: string[] = [];
  const targets: Target[] = [];

  // The dashboard's JavaScript, from the built export (no server needed).
  const pages = dashboardSizes();
  for (const p of pages) figures[`dashboard_js_gzip_bytes_${p.page.replace('.html', '')}`] = p.gzipBytes;
  const largest = pages.reduce((a, b) => (b.gzipBytes > a.gzipBytes ? b : a));
  figures.dashboard_js_max_gzip_bytes = largest.gzipBytes;

  const sys = await System.start({ mode: 'embedded', env: { ADMIN_TOKEN: ADMIN } });
  let browser: Browser | undefined;
  try {
    const tracker = await trackerSize(sys.url);
    Object.assign(figures, { tracker_raw_bytes: tracker.raw, tracker_gzip9_bytes: tracker.gzip9, tracker_served_bytes: tracker.served });
    lines.push(
      `tracker GET /script.js: ${tracker.raw} B raw, ${tracker.gzip9} B gzip -9, ${tracker.served} B as served (content-encoding ${tracker.encoding})`,
      ...pages.map((p) => `dashboard ${p.page.padEnd(10)} first visit: ${p.files} scripts, ${kb(p.rawBytes)} raw, ${kb(p.gzipBytes)} gzipped`),
    );
    targets.push(
      target(`tracker ≤ ${TRACKER_LIMIT} B gzipped (level 9)`, tracker.gzip9 <= TRACKER_LIMIT, `${tracker.gzip9} B`),
      target(`dashboard JS of a first visit ≤ ${DASHBOARD_JS_LIMIT / 1024} KB gz (largest page)`, largest.gzipBytes <= DASHBOARD_JS_LIMIT, `${kb(largest.gzipBytes)}, ${largest.page}`),
    );

    const what = `time to numbers, p50 of ${o.sizes.dashboardLoads} first visits ≤ ${NUMBERS_LIMIT_MS} ms`;
    if (!fs.existsSync(CHROMIUM)) {
      const reason = `Chromium not found at ${CHROMIUM} (apt-get install chromium)`;
      if (IN_CI) throw new Error(`${reason} (CI=true: the browser figures must be measured)`);
      o.log(`frontend: ${reason}; no time-to-numbers`);
      lines.push(`time to numbers: not measured, ${reason}`);
      targets.push(target(what, false, 'no chromium'));
      return { name: 'Front end: tracker, dashboard JavaScript, time to numbers', figures, lines, targets };
    }

    o.log(`frontend: ${EVENTS} events through the API, then ${o.sizes.dashboardLoads} first and repeat visits in Chromium`);
    const site = await sys.createSite('Bench dashboard', 'UTC', { authorization: `Bearer ${ADMIN}` });
    const expected = await sendTraffic(sys, site);
    const cookie = await login(sys.url);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    const t = await timeToNumbers(browser, sys.url, site, cookie, expected, o.sizes.dashboardLoads);

    const s = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      return { p50: round(percentile(sorted, 50), 1), p99: round(percentile(sorted, 99), 1), max: round(sorted[sorted.length - 1]!, 1) };
    };
    const floor = s(t.floor);
    const apiCall = s(t.apiCall);
    const first = s(t.first.map((v) => v.numbers));
    const repeat = s(t.repeat.map((v) => v.numbers));
    const firstStats = s(t.first.map((v) => v.statsEnd));
    const firstDcl = s(t.first.map((v) => v.dcl));
    Object.assign(figures, {
      baseline_static_load_p50_ms: floor.p50,
      baseline_static_load_max_ms: floor.max,
      baseline_api_call_p50_ms: apiCall.p50,
      baseline_api_call_max_ms: apiCall.max,
      first_visit_numbers_p50_ms: first.p50,
      first_visit_numbers_p99_ms: first.p99,
      first_visit_numbers_max_ms: first.max,
      first_visit_dcl_p50_ms: firstDcl.p50,
      first_visit_stats_answer_p50_ms: firstStats.p50,
      repeat_visit_numbers_p50_ms: repeat.p50,
      repeat_visit_numbers_p99_ms: repeat.p99,
      repeat_visit_numbers_max_ms: repeat.max,
      dashboard_loads: o.sizes.dashboardLoads,
      events: EVENTS,
    });
    lines.unshift(
      `baseline Chromium loads a static file (/favicon.svg) from the server, new context: p50 ${floor.p50} ms, max ${floor.max} ms`,
      `baseline the dashboard's GET /api/stats alone, fetched in that page: p50 ${apiCall.p50} ms, max ${apiCall.max} ms`,
    );
    lines.push(
      `time to numbers (navigation start → visitors ${expected.visitors} and pageviews ${expected.pageviews} in the DOM, performance.now()):`,
      `  first visit (new context, empty cache): p50 ${first.p50} ms, p99 ${first.p99} ms, max ${first.max} ms (${o.sizes.dashboardLoads} loads)`,
      `    of which DOMContentLoaded p50 ${firstDcl.p50} ms, first /api/stats answered p50 ${firstStats.p50} ms`,
      `  repeat visit (same context, warm cache): p50 ${repeat.p50} ms, p99 ${repeat.p99} ms, max ${repeat.max} ms`,
    );
    targets.push(target(what, first.p50 <= NUMBERS_LIMIT_MS, `p50 ${first.p50} ms, max ${first.max} ms; floor ${floor.p50} ms`));
  } finally {
    await browser?.close();
    await sys.stop();
  }
  return { name: 'Front end: tracker, dashboard JavaScript, time to numbers', figures, lines, targets };
}

/** GET /script.js as a browser asks for it (gzip accepted): the bytes on the wire and the script. */
function trackerSize(base: string): Promise<{ raw: number; gzip9: number; served: number; encoding: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(`${base}/script.js`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`GET /script.js: ${res.statusCode}`));
          const wire = Buffer.concat(chunks);
          const encoding = String(res.headers['content-encoding'] ?? 'identity');
          const code = encoding === 'gzip' ? zlib.gunzipSync(wire) : wire;
          resolve({ raw: code.length, gzip9: zlib.gzipSync(code, { level: 9 }).length, served: wire.length, encoding });
        });
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

const utcDay = (at: number) => new Date(at).toISOString().slice(0, 10);

/** The dashboard's default period (last 7 days, the site's timezone: UTC) as an API query. */
function sevenDays(): string {
  const today = utcDay(Date.now());
  return `&from=${utcDay(Date.parse(today) - 6 * DAY_MS)}&to=${today}&granularity=day`;
}

/** Page views of known visitors over the last three days, in batches; waits until the stats have them all. */
async function sendTraffic(sys: System, site: SiteKeys): Promise<{ visitors: number; pageviews: number }> {
  const now = Date.now();
  for (let b = 0; b < EVENTS / 100; b++) {
    const events = Array.from({ length: 100 }, (_, k) => {
      const i = b * 100 + k;
      return {
        site_id: site.site_id,
        event_type: 'pageview',
        path: `/page/${i % 23}`,
        referrer: i % 3 === 0 ? 'https://www.google.com/' : '',
        user_id: `visitor-${i % 97}`,
        timestamp: new Date(now - 60_000 - ((i * 37 * 60_000) % (3 * DAY_MS))).toISOString(),
      };
    });
    const res = await sys.request('POST', '/api/event/batch', { body: { events }, headers: { 'x-api-key': site.api_key } });
    if (res.status !== 202 || res.json?.accepted !== 100) throw new Error(`batch refused: ${res.status} ${res.text.slice(0, 300)}`);
  }
  const data = await sys.statsWhen(site, sevenDays(), (d) => d.total_views === EVENTS);
  return { visitors: data.unique_users_count, pageviews: data.total_views };
}

/** Logs in as the dashboard does (same-origin JSON POST with its custom header); the session cookie's value. */
async function login(base: string): Promise<string> {
  const res = await fetch(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-requested-with': 'dashboard', origin: base },
    body: JSON.stringify({ token: ADMIN }),
  });
  const m = /wa_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '');
  if (res.status !== 200 || !m) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  return m[1]!;
}

interface Visit {
  /** performance.now() when both numbers are in the DOM, i.e. ms since navigation start. */
  numbers: number;
  dcl: number;
  /** responseEnd of the period's /api/stats request. */
  statsEnd: number;
}

/**
 * Runs in the page before its scripts: notes the moment the top-row numbers equal the expected ones.
 * A string, not a function: tsx (esbuild keepNames) wraps inner functions in a `__name` helper the
 * page does not have.
 */
function watchNumbers(want: { visitors: number; pageviews: number }): string {
  return `(() => {
    const want = ${JSON.stringify({ visitors: String(want.visitors), pageviews: String(want.pageviews) })};
    const digits = (id) => document.querySelector('[data-testid=kpi-' + id + ']')?.textContent?.replace(/[^0-9]/g, '');
    const observer = new MutationObserver(() => {
      if (window.__numbersAt === undefined && digits('visitors') === want.visitors && digits('pageviews') === want.pageviews) {
        window.__numbersAt = performance.now();
        observer.disconnect();
      }
    });
    observer.observe(document, { childList: true, subtree: true, characterData: true });
  })();`;
}

async function timeToNumbers(browser: Browser, base: string, site: SiteKeys, cookie: string, want: { visitors: number; pageviews: number }, loads: number) {
  const url = `${base}/sites/${encodeURIComponent(site.site_id)}`;
  const statsUrl = `/api/stats?site_id=${encodeURIComponent(site.site_id)}${sevenDays()}`;
  const context = async (): Promise<BrowserContext> => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await ctx.addCookies([{ name: 'wa_session', value: cookie, url: base, httpOnly: true, sameSite: 'Strict' }]);
    return ctx;
  };
  const floor: number[] = [];
  const apiCall: number[] = [];
  const first: Visit[] = [];
  const repeat: Visit[] = [];
  for (let i = 0; i < loads; i++) {
    // The floor: a fresh context loading a static file from the same server, then the API call alone.
    const fctx = await context();
    const fpage = await fctx.newPage();
    await fpage.goto(`${base}/favicon.svg`);
    floor.push(
      await fpage.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
        return nav.loadEventEnd || nav.responseEnd;
      }),
    );
    apiCall.push(
      await fpage.evaluate(async (u) => {
        const t = performance.now();
        const res = await fetch(u, { credentials: 'same-origin', cache: 'no-store' });
        const body = await res.json();
        if (!body.success) throw new Error(`stats: ${res.status}`);
        return performance.now() - t;
      }, statsUrl),
    );
    await fctx.close();

    const ctx = await context();
    await ctx.addInitScript(watchNumbers(want));
    const page = await ctx.newPage();
    first.push(await visit(page, url, statsUrl));
    repeat.push(await visit(page, url, statsUrl));
    await ctx.close();
  }
  return { floor, apiCall, first, repeat };
}

async function visit(page: Page, url: string, statsUrl: string): Promise<Visit> {
  await page.goto(url, { waitUntil: 'commit' });
  await page.waitForFunction(() => (window as unknown as { __numbersAt?: number }).__numbersAt !== undefined, undefined, { timeout: 30_000, polling: 50 });
  // The period's own /api/stats request (the empty-state check asks for 30 days at the same time).
  return page.evaluate((wanted) => {
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
    const stats = (performance.getEntriesByType('resource') as PerformanceResourceTiming[]).find((r) => r.name.endsWith(wanted));
    return { numbers: (window as unknown as { __numbersAt: number }).__numbersAt, dcl: nav.domContentLoadedEventEnd, statsEnd: stats?.responseEnd ?? NaN };
  }, statsUrl);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const smoke = process.argv.includes('--smoke');
  const started = Date.now();
  frontendPart({ sizes: smoke ? SMOKE : FULL, log: (m) => console.error(`[bench] ${m}`) })
    .then((p) => {
      console.log(`## ${p.name}`);
      for (const line of p.lines) console.log(`  ${line}`);
      for (const t of p.targets) console.log(`  target: ${t.what.padEnd(60)} ${t.met ? 'met' : 'NOT MET'} (${t.value})`);
      console.log(`  (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    })
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
