// The tracker in a real browser: Debian's Chromium driven by playwright-core, the built API started
// as a child process, and a test page on another origin (http://127.0.0.1:P) that loads the script
// from the API (http://localhost:Q). Requests are observed, never replaced: every beacon reaches the
// real API, and the API's numbers (stats, breakdowns, properties) must then be exact.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IN_CI } from './helpers/services.js';
import { System, today, type SiteKeys } from './helpers/system.js';
import { until } from './helpers/wait.js';


// Browser globals of the page.evaluate callbacks: this file is type-checked without the DOM library.
declare const window: any, document: any, history: any, location: any, localStorage: any, sessionStorage: any;

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium) {
  const reason = `${CHROMIUM} not found (Debian's chromium package; .ci/run installs it)`;
  if (IN_CI) throw new Error(`${reason} (CI=true: the browser tests must run)`);
  console.warn(`skipped: ${reason}`);
}

const REFERRER = 'https://news.ycombinator.com/item?id=42';
// A desktop Chrome's user agent: headless Chromium says "HeadlessChrome", which the API counts as a bot.
const USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const STUB = `window.wa=window.wa||{q:[],track:function(){wa.q.push(arguments)}}`;

/** A request the page sent to the API's /api/ routes, as Chromium reported it. */
interface Sent {
  method: string;
  url: string;
  resourceType: string;
  contentType: string | undefined;
  userAgent: string | undefined;
  body: Record<string, unknown>;
}

/** Records, without touching them, the page's requests to the API and every CORS preflight. */
class Observer {
  readonly sent: Sent[] = [];
  /** Every request to the API origin: `METHOD /path`. */
  readonly toApi: string[] = [];
  /** OPTIONS requests seen by the DevTools protocol (Playwright's request events leave preflights out). */
  readonly preflights: string[] = [];

  static async attach(page: Page, api: string): Promise<Observer> {
    const o = new Observer();
    page.on('request', (r) => {
      if (!r.url().startsWith(api + '/')) return;
      const { pathname } = new URL(r.url());
      o.toApi.push(`${r.method()} ${pathname}`);
      if (!pathname.startsWith('/api/')) return;
      o.sent.push({
        method: r.method(),
        url: r.url(),
        resourceType: r.resourceType(),
        contentType: r.headers()['content-type'],
        userAgent: r.headers()['user-agent'],
        body: JSON.parse(r.postData() ?? 'null'),
      });
    });
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    cdp.on('Network.requestWillBeSent', (e) => {
      if (e.request.method === 'OPTIONS') o.preflights.push(e.request.url);
    });
    return o;
  }

  async count(n: number): Promise<Sent[]> {
    await until(() => this.sent.length >= n, `${n} requests to the API (got ${this.sent.length}: ${JSON.stringify(this.sent.map((s) => s.body))})`);
    return this.sent;
  }

  /** The bodies with their event_id checked (a v4 UUID, each different) and removed. */
  bodies(): Record<string, unknown>[] {
    const ids = this.sent.map((s) => s.body.event_id);
    for (const id of ids) expect(id).toMatch(UUID);
    expect(new Set(ids).size).toBe(ids.length);
    return this.sent.map(({ body: { event_id: _, ...rest } }) => rest);
  }
}

describe.skipIf(!haveChromium)('the tracker in Chromium', () => {
  let sys: System;
  let browser: Browser;
  let pageServer: http.Server;
  /** The API as the page reaches it: another origin than the page's. */
  let api: string;
  /** The test page's origin, and the same server under another host name (the outbound target). */
  let site: string;
  let elsewhere: string;
  let html = '';
  let trackerCopy = '';
  let a: SiteKeys;
  let b: SiteKeys;
  let c: SiteKeys;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    sys = await System.start({ mode: 'embedded', env: { TRACKER_SCRIPT_PATH: '/js/app.js' } });
    api = sys.url.replace('127.0.0.1', 'localhost');
    a = await sys.createSite('Tracker A');
    b = await sys.createSite('Tracker B');
    c = await sys.createSite('Tracker C');
    // A site that serves the script from its own origin (through TRACKER_SCRIPT_PATH) uses data-api.
    trackerCopy = (await sys.request('GET', '/js/app.js')).text;

    pageServer = http.createServer((req, res) => {
      const host = req.headers.host ?? '';
      if (host.startsWith('localhost:')) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>away</title><p id="away">elsewhere</p>');
      } else if (req.url === '/t.js') {
        res.writeHead(200, { 'content-type': 'application/javascript' }).end(trackerCopy);
      } else if (req.url === '/favicon.ico') {
        res.writeHead(404).end();
      } else {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
      }
    });
    await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
    const port = (pageServer.address() as AddressInfo).port;
    site = `http://127.0.0.1:${port}`;
    elsewhere = `http://localhost:${port}`;

    // launch() gives every browser a fresh temporary profile; each test adds a fresh context.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    });
  });

  afterAll(async () => {
    for (const ctx of contexts) await ctx.close().catch(() => {});
    await browser?.close();
    await new Promise((resolve) => pageServer?.close(resolve));
    await sys?.stop();
  });

  async function open(init?: () => void): Promise<{ page: Page; seen: Observer }> {
    const ctx = await browser.newContext({ locale: 'de-DE', screen: { width: 1280, height: 800 }, viewport: { width: 1280, height: 800 }, userAgent: USER_AGENT });
    contexts.push(ctx);
    if (init) await ctx.addInitScript(init);
    const page = await ctx.newPage();
    return { page, seen: await Observer.attach(page, api) };
  }

  const endpoint = (s: SiteKeys) => `${api}/api/event?api_key=${encodeURIComponent(s.api_key)}`;

  it('sees a CORS preflight when one happens (so that seeing none below means none)', async () => {
    html = '<!doctype html><title>probe</title>';
    const { page, seen } = await open();
    await page.goto(`${site}/probe`);
    const status = await page.evaluate(
      (url) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }).then((r) => r.status),
      `${api}/api/event`,
    );
    expect(status).toBe(401);
    await until(() => seen.preflights.length > 0, 'the preflight of a JSON POST');
    expect(seen.preflights).toEqual([`${api}/api/event`]);
  });

  it('sends pageviews on load and SPA navigations, stub and live custom events, an outbound click; beacons, no preflight, nothing stored', async () => {
    html = `<!doctype html><title>home</title>
<script>${STUB};wa.track('signup',{plan:'pro',seats:3})</script>
<script defer src="${api}/script.js" data-site="${a.site_id}" data-key="${a.api_key}" data-outbound></script>
<a id="same" href="#top">top</a> <a id="out" href="${elsewhere}/away?from=home"><span>elsewhere</span></a>`;
    const { page, seen } = await open();
    await page.goto(`${site}/?utm_source=newsletter&utm_medium=email`, { referer: REFERRER });
    await seen.count(2);
    await page.evaluate(() => history.pushState({}, '', '/pricing#plans'));
    await seen.count(3);
    await page.evaluate(() => history.pushState({}, '', '/docs'));
    await seen.count(4);
    await page.evaluate(() => history.back());
    await seen.count(5);
    // None of these changes the URL the tracker counts (no data-hash: the fragment is not part of it).
    await page.evaluate(() => history.replaceState({ again: true }, '', location.href));
    await page.evaluate(() => (location.hash = '#faq'));
    await page.click('#same');
    expect(page.url()).toBe(`${site}/pricing#top`);
    await page.evaluate(() => window.wa.track('signup', { plan: 'pro', seats: 3 }));
    await seen.count(6);
    // Nothing written in the browser by the script (the API sets no cookie either).
    expect(await page.evaluate(() => [document.cookie, localStorage.length, sessionStorage.length])).toEqual(['', 0, 0]);
    expect(await page.context().cookies()).toEqual([]);

    await page.click('#out span');
    await page.waitForURL(`${elsewhere}/away?from=home`);
    expect(await page.textContent('#away')).toBe('elsewhere');
    const sent = await seen.count(7);

    const common = { site_id: a.site_id, referrer: REFERRER, screen_width: 1280, language: 'de-DE' };
    const landing = `${site}/?utm_source=newsletter&utm_medium=email`;
    expect(seen.bodies()).toEqual([
      { ...common, event_type: 'pageview', url: landing },
      { ...common, event_type: 'signup', url: landing, props: { plan: 'pro', seats: 3 } },
      { ...common, event_type: 'pageview', url: `${site}/pricing` },
      { ...common, event_type: 'pageview', url: `${site}/docs` },
      { ...common, event_type: 'pageview', url: `${site}/pricing` },
      { ...common, event_type: 'signup', url: `${site}/pricing`, props: { plan: 'pro', seats: 3 } },
      { ...common, event_type: 'outbound', url: `${site}/pricing`, props: { url: `${elsewhere}/away?from=home` } },
    ]);
    for (const s of sent) {
      expect(s).toMatchObject({ method: 'POST', url: endpoint(a), resourceType: 'ping', contentType: 'text/plain;charset=UTF-8', userAgent: USER_AGENT });
    }
    expect(seen.toApi).toEqual(['GET /script.js', ...sent.map(() => 'POST /api/event')]);
    expect(seen.preflights).toEqual([]);

    {
      // ---- the API's numbers for these events ----------------------------------------------------
      const day = `&date=${today()}`;
      const stats = await sys.statsWhen(a, day, (d) => d.total_views >= 4);
      expect(stats).toMatchObject({
        total_views: 4,
        unique_users_count: 1,
        top_paths: [
          { path: '/pricing', views: 2 },
          { path: '/', views: 1 },
          { path: '/docs', views: 1 },
        ],
      });
      const breakdown = async (query: string) => {
        const res = await sys.request('GET', `/api/stats/breakdown?site_id=${a.site_id}${day}&${query}`, {
          headers: { authorization: `Bearer ${a.read_key}` },
        });
        expect(res.status, query).toBe(200);
        return res.json.data.results;
      };
      // Visitors descending, then value ascending.
      expect(await breakdown('dimension=page')).toEqual([
        { value: '/', visitors: 1, pageviews: 1 },
        { value: '/docs', visitors: 1, pageviews: 1 },
        { value: '/pricing', visitors: 1, pageviews: 2 },
      ]);
      expect(await breakdown('dimension=event')).toEqual([
        { value: 'outbound', visitors: 1, events: 1 },
        { value: 'signup', visitors: 1, events: 2 },
      ]);
      expect(await breakdown('dimension=property&event=signup&property=plan')).toEqual([{ value: 'pro', visitors: 1, events: 2 }]);
      expect(await breakdown('dimension=property&event=outbound&property=url')).toEqual([
        { value: `${elsewhere}/away?from=home`, visitors: 1, events: 1 },
      ]);
      expect(await breakdown('dimension=language')).toEqual([{ value: 'de', visitors: 1, visits: 1, pageviews: 4 }]);
      expect(await breakdown('dimension=browser')).toEqual([{ value: 'Chrome', visitors: 1, visits: 1, pageviews: 4 }]);
      expect(await breakdown('dimension=source')).toEqual([{ value: 'newsletter', visitors: 1, visits: 1, pageviews: 4 }]);
      expect(await breakdown('dimension=utm_medium')).toEqual([{ value: 'email', visitors: 1, visits: 1, pageviews: 4 }]);
      expect(await breakdown('dimension=entry_page')).toEqual([{ value: '/', visitors: 1, visits: 1 }]);
      expect(await breakdown('dimension=exit_page')).toEqual([{ value: '/pricing', visitors: 1, visits: 1 }]);
    }
  });

  it('with data-api and data-hash, from a copy on the page origin: hash routes, replaceState to a new path, fetch when the beacon is refused, a throwing localStorage', async () => {
    html = `<!doctype html><title>app</title>
<script>
  // A privacy mode where reading localStorage throws, and a beacon the browser refuses (over quota).
  Object.defineProperty(window, 'localStorage', { get() { throw new DOMException('The operation is insecure.', 'SecurityError'); } });
  window.beacons = 0;
  navigator.sendBeacon = function () { window.beacons++; return false; };
</script>
<script defer src="/t.js" data-site="${b.site_id}" data-key="${b.api_key}" data-api="${api}" data-hash></script>
<a id="out" href="${elsewhere}/away" onclick="event.preventDefault()">elsewhere</a>`;
    const { page, seen } = await open();
    await page.goto(`${site}/app`);
    expect(await page.evaluate(() => { try { return typeof localStorage; } catch { return 'throws'; } })).toBe('throws');
    await seen.count(1);
    await page.evaluate(() => (location.hash = '#/settings'));
    await seen.count(2);
    await page.evaluate(() => history.replaceState({}, '', '/app/list#/settings'));
    await seen.count(3);
    await page.evaluate(() => history.replaceState({ same: true }, '', location.href));
    // No data-outbound: a click on a link to another host sends nothing.
    await page.click('#out');
    await page.evaluate(() => window.wa.track('done'));
    const sent = await seen.count(4);

    const common = { site_id: b.site_id, screen_width: 1280, language: 'de-DE' };
    expect(seen.bodies()).toEqual([
      { ...common, event_type: 'pageview', url: `${site}/app`, hash_routing: true },
      { ...common, event_type: 'pageview', url: `${site}/app#/settings`, hash_routing: true },
      { ...common, event_type: 'pageview', url: `${site}/app/list#/settings`, hash_routing: true },
      { ...common, event_type: 'done', url: `${site}/app/list#/settings`, hash_routing: true },
    ]);
    for (const s of sent) {
      expect(s).toMatchObject({ method: 'POST', url: endpoint(b), resourceType: 'fetch', contentType: 'text/plain;charset=UTF-8', userAgent: USER_AGENT });
    }
    // Each event tried the beacon once, then fetch once.
    expect(await page.evaluate(() => window.beacons)).toBe(4);
    expect(seen.toApi).toEqual(sent.map(() => 'POST /api/event'));
    expect(seen.preflights).toEqual([]);

    const stats = await sys.statsWhen(b, `&date=${today()}`, (d) => d.total_views >= 3);
    expect(stats).toMatchObject({ total_views: 3, unique_users_count: 1 });
    expect(stats.top_paths.map((p: { path: string }) => p.path).sort()).toEqual(['/app', '/app#/settings', '/app/list#/settings']);
  });

  it('sends nothing while localStorage.wa_ignore is "true", and reads it at every send', async () => {
    html = `<!doctype html><title>ignored</title>
<script>${STUB};wa.track('signup',{plan:'pro'})</script>
<script defer src="${api}/script.js" data-site="${c.site_id}" data-key="${c.api_key}" data-outbound data-hash></script>
<a id="out" href="${elsewhere}/away" onclick="event.preventDefault()">elsewhere</a>`;
    const { page, seen } = await open(() => localStorage.setItem('wa_ignore', 'true'));
    await page.goto(`${site}/`, { referer: REFERRER });
    await page.evaluate(() => history.pushState({}, '', '/pricing'));
    await page.evaluate(() => (location.hash = '#faq'));
    await page.click('#out');
    await page.evaluate(() => window.wa.track('signup', { plan: 'pro' }));
    // The owner stops ignoring: the next event goes out, and it is the first one.
    await page.evaluate(() => {
      localStorage.removeItem('wa_ignore');
      window.wa.track('sentinel');
    });
    await seen.count(1);
    expect(seen.bodies()).toEqual([{ site_id: c.site_id, event_type: 'sentinel', url: `${site}/pricing#faq`, referrer: REFERRER, screen_width: 1280, language: 'de-DE', hash_routing: true }]);
    expect(seen.toApi).toEqual(['GET /script.js', 'POST /api/event']);
    expect(seen.preflights).toEqual([]);

    const stats = await sys.statsWhen(c, `&date=${today()}`, (d) => d.unique_users_count >= 1);
    expect(stats).toMatchObject({ total_views: 0, unique_users_count: 1, top_paths: [] });
  });
});
