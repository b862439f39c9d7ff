/// <reference lib="dom" />
// The dashboard in a real browser (Debian's chromium driven by playwright-core, never downloaded),
// against the built server with events sent through the API and applied by the worker. Screenshots
// of the main screens go to test-results/screenshots/ (light, dark, 375 px).
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IN_CI } from './helpers/services.js';
import { System, type SiteKeys } from './helpers/system.js';
import { until } from './helpers/wait.js';

// Endpoints built in parallel by another developer: flip each constant once its endpoint exists.
const BREAKDOWN_API = true; // GET /api/stats/breakdown
const REALTIME_API = true; // GET /api/stats/realtime
const VISITS_API = true; // visits, bounce_rate, visit_duration in GET /api/stats

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
const ADMIN = 'browser-admin-token-0123456789';
const TZ = 'Europe/Paris';
const SHOTS = path.resolve(import.meta.dirname, '../test-results/screenshots');
const XSS_PATH = '/<img src=x onerror=alert(1)>';
const FORMULA_PATH = '=HYPERLINK("http://x","y")';
const PATHS = ['/', '/pricing', '/blog/hello-world', XSS_PATH, FORMULA_PATH, '/docs/getting-started', '/about'];
const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const chromiumThere = fs.existsSync(CHROMIUM);
if (!chromiumThere) {
  const reason = `Chromium not found at ${CHROMIUM} (apt-get install chromium)`;
  if (IN_CI) throw new Error(`${reason} (CI=true: the browser tests must run)`);
  console.warn(`skipped: ${reason}`);
}

const localDay = (at: number) => new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
const minusDays = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) - n * 86_400_000).toISOString().slice(0, 10);

const VIEWS: [string, BrowserContextOptions][] = [
  ['light', { viewport: { width: 1280, height: 900 } }],
  ['dark', { viewport: { width: 1280, height: 900 }, colorScheme: 'dark' }],
  ['375px', { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true }],
];

describe.runIf(chromiumThere)('dashboard in a real browser', () => {
  let sys: System;
  let browser: Browser;
  let shop: SiteKeys;
  let empty: SiteKeys;
  const admin = { authorization: `Bearer ${ADMIN}` };

  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    sys = await System.start({ mode: 'embedded', env: { ADMIN_TOKEN: ADMIN } });
    shop = await sys.createSite('Shop', TZ, admin);
    empty = await sys.createSite('Quiet blog', 'UTC', admin);
    // Three days of traffic, spread over the hours, with awkward paths among the ordinary ones.
    const now = Date.now();
    const jobs = [];
    for (let i = 0; i < 150; i++) {
      const path = PATHS[i % PATHS.length]!;
      jobs.push(
        sys.sendEvent(shop, {
          site_id: shop.site_id,
          event_type: i % 10 === 9 ? 'signup' : 'pageview',
          ...(i % 10 === 9 ? { props: { plan: i % 20 === 9 ? 'pro' : 'free' } } : {}),
          path,
          // utm_source wins over the referrer as the source: half the visits come from a newsletter.
          url: `https://shop.example${path.startsWith('/') ? path : '/'}${i % 2 === 0 ? '?utm_source=newsletter' : ''}`,
          referrer: i % 3 === 0 ? 'https://www.google.com/' : '',
          user_id: `visitor-${i % 41}`,
          timestamp: new Date(now - 60_000 - ((i * 37 * 60_000) % (3 * 86_400_000))).toISOString(),
        }),
      );
    }
    const codes = (await Promise.all(jobs)).map((r) => r.status);
    expect(new Set(codes)).toEqual(new Set([202]));
    const range = `&from=${minusDays(localDay(now), 6)}&to=${localDay(now)}`;
    await sys.statsWhen(shop, range, (d) => d.total_views === 135);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await sys?.stop();
  });

  /** A fresh browser profile that records CSP violations, dialogs and a global XSS flag. */
  async function open(view: BrowserContextOptions = VIEWS[0]![1]): Promise<{ ctx: BrowserContext; page: Page; problems: string[] }> {
    const ctx = await browser.newContext({ ...view, acceptDownloads: true });
    const problems: string[] = [];
    await ctx.addInitScript(() => {
      const w = window as unknown as { __csp: string[]; __xss: boolean };
      w.__csp = [];
      w.__xss = false;
      document.addEventListener('securitypolicyviolation', (e) => w.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
      window.alert = () => {
        w.__xss = true;
      };
    });
    const page = await ctx.newPage();
    page.on('dialog', (d) => {
      problems.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    return { ctx, page, problems };
  }

  async function assertClean(page: Page, problems: string[]): Promise<void> {
    const state = await page.evaluate(() => {
      const w = window as unknown as { __csp: string[]; __xss: boolean };
      return { csp: w.__csp, xss: w.__xss };
    });
    expect(state.csp, 'CSP violations').toEqual([]);
    expect(state.xss, 'a script from event data ran').toBe(false);
    expect(problems).toEqual([]);
  }

  async function axe(page: Page, what: string): Promise<void> {
    await page.evaluate(axeSource);
    const violations = await page.evaluate(async () => {
      const r = await (window as unknown as { axe: { run: (c: Document, o: object) => Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe.run(document, {
        resultTypes: ['violations'],
      });
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 3) }));
    });
    expect(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical'), `${what}: axe`).toEqual([]);
  }

  async function login(page: Page, token = ADMIN): Promise<void> {
    await page.goto(sys.url + '/');
    await page.locator('#token').fill(token);
    await page.keyboard.press('Enter');
    await page.locator('[data-testid=site-list] li').first().waitFor();
  }

  async function stats(query: string) {
    const res = await sys.request('GET', `/api/stats?site_id=${shop.site_id}${query}`, { headers: admin });
    expect(res.status).toBe(200);
    return res.json.data;
  }

  const num = async (page: Page, id: string) => (await page.getByTestId(id).textContent())!.replace(/[^\d]/g, '');

  async function expectNumbers(page: Page, query: string): Promise<void> {
    const data = await stats(query);
    await until(async () => (await num(page, 'kpi-pageviews')) === String(data.total_views), `pageviews ${data.total_views} for ${query}`, 15_000);
    expect(await num(page, 'kpi-visitors')).toBe(String(data.unique_users_count));
    if (!BREAKDOWN_API) {
      // Top pages come from the same answer's top_paths while breakdowns do not exist.
      const rows = page.getByTestId('panel-pages').locator('[data-testid=rows] li');
      await until(async () => (await rows.count()) === data.top_paths.length, 'top pages rows', 15_000);
      const shown = await rows.evaluateAll((lis) => lis.map((li) => [li.querySelector('.label')!.textContent, li.querySelector('.num')!.textContent]));
      expect(shown).toEqual(data.top_paths.map((p: { path: string; views: number }) => [p.path, String(p.views)]));
    }
  }

  it('logs in with the keyboard, lists the sites; screenshots of log-in and sites (light, dark, 375 px) pass axe', async () => {
    for (const [name, view] of VIEWS) {
      const { ctx, page, problems } = await open(view);
      await page.goto(sys.url + '/');
      await page.locator('#token').waitFor();
      await axe(page, `login ${name}`);
      await page.screenshot({ path: path.join(SHOTS, `login-${name}.png`), fullPage: true });
      // Keyboard only: the first Tab stops lead to the token field.
      await page.keyboard.press('Tab');
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('token');
      await page.keyboard.type('not-the-token');
      await page.keyboard.press('Enter');
      await expect.poll(() => page.locator('#login-error').textContent()).toMatch(/Unknown token/);
      await page.locator('#token').fill(ADMIN);
      await page.keyboard.press('Enter');
      const list = page.getByTestId('site-list');
      await list.locator('li').nth(1).waitFor();
      expect(await list.locator('li .name').allTextContents()).toEqual(['Quiet blog', 'Shop']);
      // The token never sits where a page script can read it.
      expect(await page.evaluate(() => document.cookie)).toBe('');
      await axe(page, `sites ${name}`);
      await page.screenshot({ path: path.join(SHOTS, `sites-${name}.png`), fullPage: true });
      await assertClean(page, problems);
      await ctx.close();
    }
  });

  it('shows the numbers of the API for each period; back and forward keep the period; under 250 KB of JavaScript', async () => {
    const { ctx, page, problems } = await open();
    const scripts = new Map<string, Promise<Buffer>>();
    page.on('response', (r) => {
      if (r.request().resourceType() === 'script') scripts.set(r.url(), r.body());
    });
    await login(page);
    await page.getByRole('link', { name: 'Shop' }).click();
    await page.waitForURL(/\/sites\/shop$/);
    expect(await page.getByTestId('site-name').textContent()).toBe('Shop');
    const today = localDay(Date.now());
    await expectNumbers(page, `&from=${minusDays(today, 6)}&to=${today}`); // the default: 7 days

    // The first visit's JavaScript (the page's and the site dashboard's), gzipped.
    let gz = 0;
    for (const body of await Promise.all(scripts.values())) gz += zlib.gzipSync(body, { level: 9 }).length;
    console.log(`dashboard: first visit loaded ${scripts.size} scripts, ${(gz / 1024).toFixed(1)} KB gzipped`);
    expect(gz).toBeLessThan(250 * 1024);

    await page.getByTestId('period').selectOption('today');
    await page.waitForURL(/period=today/);
    await expectNumbers(page, `&date=${today}`);
    await page.getByTestId('period').selectOption('30d');
    await page.waitForURL(/period=30d/);
    await expectNumbers(page, `&from=${minusDays(today, 29)}&to=${today}`);
    await page.getByTestId('period').selectOption('24h');
    await page.waitForURL(/period=24h/);
    await expectNumbers(page, '');

    await page.goBack();
    await page.waitForURL(/period=30d/);
    expect(await page.getByTestId('period').inputValue()).toBe('30d');
    await expectNumbers(page, `&from=${minusDays(today, 29)}&to=${today}`);
    await page.goBack();
    await page.waitForURL(/period=today/);
    expect(await page.getByTestId('period').inputValue()).toBe('today');
    await expectNumbers(page, `&date=${today}`);
    await page.goForward();
    await page.waitForURL(/period=30d/);
    await expectNumbers(page, `&from=${minusDays(today, 29)}&to=${today}`);

    // A bookmarked custom range opens as it was.
    const from = minusDays(today, 2);
    await page.goto(`${sys.url}/sites/shop?period=custom&from=${from}&to=${today}`);
    expect(await page.locator('#from').inputValue()).toBe(from);
    await expectNumbers(page, `&from=${from}&to=${today}`);

    // The chart's tooltip names a point and its value.
    await page.goto(`${sys.url}/sites/shop?period=7d`);
    const chart = page.locator('[data-testid=chart] .u-over');
    await chart.waitFor();
    const box = (await chart.boundingBox())!;
    await page.mouse.move(box.x + box.width - 4, box.y + box.height / 2);
    await expect.poll(() => page.getByTestId('chart-tip').textContent()).toMatch(/^\d{4}-\d{2}-\d{2}: \d+ visitors$/);
    await assertClean(page, problems);
    await ctx.close();
  });

  it('shows event values as text: the XSS path runs nothing; CSV export makes formulas inert', async () => {
    const { ctx, page, problems } = await open();
    await login(page);
    await page.goto(`${sys.url}/sites/shop?period=7d`);
    const panel = page.getByTestId('panel-pages');
    await panel.locator(`[data-testid=rows] li[data-value="${XSS_PATH.replace(/"/g, '\\"')}"]`).waitFor();
    expect(await panel.getByText(XSS_PATH, { exact: true }).count()).toBe(1);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('[data-testid=rows] li .label').allTextContents()).toContain(FORMULA_PATH);

    const [download] = await Promise.all([page.waitForEvent('download'), panel.getByRole('button', { name: /^Export CSV/ }).click()]);
    const csv = fs.readFileSync((await download.path())!, 'utf8').replace(/^\ufeff/, '');
    const lines = csv.trim().split('\r\n');
    expect(lines[0]).toBe(BREAKDOWN_API ? 'Page,Visitors,Pageviews' : 'Page,Pageviews');
    const formula = lines.find((l) => l.includes('HYPERLINK'))!;
    expect(formula).toMatch(/^"'=HYPERLINK\(""http:\/\/x"",""y""\)",\d+/);
    expect(lines.find((l) => l.includes('onerror'))).toMatch(/^\/<img src=x onerror=alert\(1\)>,\d+/);
    for (const line of lines.slice(1)) expect(line, 'no cell starts a formula').not.toMatch(/(^|,)"?[=+\-@]/);
    await page.screenshot({ path: path.join(SHOTS, 'site-light.png'), fullPage: true });
    await axe(page, 'site dashboard');
    await assertClean(page, problems);
    await ctx.close();
  });

  it('screenshots of the busy dashboard in dark mode and at 375 px pass axe', async () => {
    for (const [name, view] of VIEWS.slice(1)) {
      const { ctx, page, problems } = await open(view);
      await login(page);
      await page.goto(`${sys.url}/sites/shop?period=7d`);
      await page.getByTestId('panel-pages').locator('[data-testid=rows] li').first().waitFor();
      await page.locator('[data-testid=chart] canvas').waitFor();
      if (name === '375px') expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
      await axe(page, `site ${name}`);
      await page.screenshot({ path: path.join(SHOTS, `site-${name}.png`), fullPage: true });
      await assertClean(page, problems);
      await ctx.close();
    }
  });

  it('a share link shows the dashboard signed out and stops working when revoked', async () => {
    const adminView = await open();
    await login(adminView.page);
    await adminView.page.goto(`${sys.url}/sites/shop?period=7d`);
    const share = adminView.page.getByTestId('share');
    await share.getByRole('button', { name: 'Turn on' }).click();
    const url = (await share.getByTestId('share-url').textContent())!;
    expect(url).toMatch(new RegExp(`^${sys.url}/share/sh_[\\w-]{32}$`));

    const visitor = await open();
    await visitor.page.goto(url + '?period=today');
    await visitor.page.getByTestId('site-name').waitFor();
    expect(await visitor.page.getByTestId('site-name').textContent()).toBe('Shop');
    await expectNumbers(visitor.page, `&date=${localDay(Date.now())}`);
    // Nothing else: no site list, no log-out, no admin controls.
    expect(await visitor.page.getByRole('button', { name: 'Log out' }).count()).toBe(0);
    expect(await visitor.page.getByRole('link', { name: 'All sites' }).count()).toBe(0);
    expect(await visitor.page.getByTestId('share').count()).toBe(0);
    expect((await visitor.page.evaluate(() => fetch('/api/sites').then((r) => r.status)))).toBe(401);
    await assertClean(visitor.page, visitor.problems);

    await share.getByRole('button', { name: 'Turn off' }).click();
    await expect.poll(() => share.getByTestId('share-state').textContent()).toBe('off');
    await visitor.page.reload();
    await expect.poll(() => visitor.page.getByTestId('site-error').textContent()).toMatch(/share link does not work/);
    expect(await visitor.page.getByTestId('kpis').count()).toBe(0);
    await visitor.ctx.close();
    await adminView.ctx.close();
  });

  it('an empty site shows its snippet and turns into its dashboard by itself when the first event arrives', async () => {
    for (const [name, view] of VIEWS) {
      const { ctx, page, problems } = await open(view);
      await login(page);
      await page.goto(`${sys.url}/sites/${empty.site_id}`);
      await page.getByTestId('empty').waitFor();
      expect(await page.getByTestId('empty').getByRole('heading').textContent()).toBe('Waiting for the first event…');
      expect(await page.getByTestId('snippet').textContent()).toBe(
        `<script defer src="${sys.url}/script.js" data-site="${empty.site_id}" data-key="YOUR_API_KEY"></script>`,
      );
      await axe(page, `empty ${name}`);
      await page.screenshot({ path: path.join(SHOTS, `empty-${name}.png`), fullPage: true });
      await assertClean(page, problems);
      if (name === '375px') {
        expect((await sys.sendEvent(empty, { site_id: empty.site_id, event_type: 'pageview', path: '/first', user_id: 'first-visitor' })).status).toBe(202);
        await page.getByTestId('kpis').waitFor({ timeout: 30_000 });
        await until(async () => (await num(page, 'kpi-pageviews')) === '1', 'the first pageview on the page', 15_000);
      }
      await ctx.close();
    }
  });

  it('creates a site (keys and snippet shown once), rotates its keys and deletes it after a confirmation naming it', async () => {
    const { ctx, page, problems } = await open();
    await login(page);
    await page.getByRole('button', { name: 'New site' }).click();
    await page.locator('#site-name').fill('Landing page');
    await page.locator('#site-tz').selectOption('Asia/Tokyo');
    await page.getByRole('button', { name: 'Create site' }).click();
    const keys = page.getByTestId('keys');
    await keys.waitFor();
    const apiKey = (await keys.getByTestId('key-api').textContent())!;
    expect(apiKey).toMatch(/^ak_/);
    expect(await keys.getByTestId('snippet').textContent()).toBe(`<script defer src="${sys.url}/script.js" data-site="landing-page" data-key="${apiKey}"></script>`);
    const created = (await sys.request('GET', '/api/sites', { headers: admin })).json.data.find((s: { site_id: string }) => s.site_id === 'landing-page');
    expect(created).toMatchObject({ name: 'Landing page', timezone: 'Asia/Tokyo' });
    expect((await sys.sendEvent({ api_key: apiKey }, { site_id: 'landing-page', event_type: 'pageview', path: '/', user_id: 'u' })).status).toBe(202);
    await keys.getByRole('button', { name: 'Done' }).click();
    expect(await page.getByTestId('keys').count()).toBe(0);

    const row = page.locator('[data-site="landing-page"]');
    await row.getByRole('button', { name: 'Rotate keys of Landing page' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Rotate keys' }).click();
    await expect.poll(() => page.getByTestId('key-api').textContent()).not.toBe(apiKey);
    expect((await sys.sendEvent({ api_key: apiKey }, { site_id: 'landing-page', event_type: 'pageview', path: '/', user_id: 'u' })).status).toBe(401);

    await row.getByRole('button', { name: 'Delete Landing page' }).click();
    const dialog = page.getByRole('dialog');
    expect(await dialog.getByRole('heading').textContent()).toBe('Delete “Landing page”?');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect(await row.count()).toBe(1);
    await row.getByRole('button', { name: 'Delete Landing page' }).click();
    await axe(page, 'delete confirmation');
    await page.getByRole('dialog').getByRole('button', { name: 'Delete Landing page' }).click();
    await expect.poll(() => row.count()).toBe(0);
    expect((await sys.request('GET', '/api/stats?site_id=landing-page', { headers: admin })).status).toBe(404);
    await assertClean(page, problems);
    await ctx.close();
  });

  it('logs out: the session ends and the dashboard asks for the token again', async () => {
    const { ctx, page, problems } = await open();
    await login(page);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.locator('#token').waitFor();
    expect(await page.evaluate(() => fetch('/api/auth/session').then((r) => r.json()))).toMatchObject({ data: { authenticated: false } });
    await page.goto(`${sys.url}/sites/shop`);
    await page.locator('#token').waitFor();
    expect(await page.evaluate(() => fetch('/api/stats?site_id=shop').then((r) => r.status))).toBe(401);
    await assertClean(page, problems);
    await ctx.close();
  });

  it('panels whose API is missing say so and never crash', async () => {
    const { ctx, page, problems } = await open();
    await login(page);
    await page.goto(`${sys.url}/sites/shop?period=7d`);
    for (const id of ['panel-sources', 'panel-locations', 'panel-devices', 'panel-events']) {
      const panel = page.getByTestId(id);
      if (BREAKDOWN_API) await panel.locator('[data-testid=rows]').waitFor();
      else await panel.getByTestId('unavailable').waitFor();
    }
    const realtime = page.getByTestId('realtime');
    await expect.poll(() => realtime.textContent()).toMatch(REALTIME_API ? /\d+ visitors? now/ : /not available/);
    await assertClean(page, problems);
    await ctx.close();
  });

  // ---- flip the constants above when the statistics API grows (issue 10, visits) ------------

  describe.runIf(BREAKDOWN_API)('breakdown panels (GET /api/stats/breakdown)', () => {
    it('shows the breakdowns of the API: pages with visitors, sources with Direct, countries with names and flags', async () => {
      const { ctx, page, problems } = await open();
      await login(page);
      await page.goto(`${sys.url}/sites/shop?period=7d`);
      const today = localDay(Date.now());
      const q = `&from=${minusDays(today, 6)}&to=${today}`;
      for (const [panel, dimension] of [
        ['panel-pages', 'page'],
        ['panel-sources', 'source'],
        ['panel-devices', 'browser'],
      ] as const) {
        const res = await sys.request('GET', `/api/stats/breakdown?site_id=shop&dimension=${dimension}&limit=10${q}`, { headers: admin });
        const rows = page.getByTestId(panel).locator('[data-testid=rows] li');
        await until(async () => (await rows.count()) === res.json.data.results.length, `${panel} rows`, 15_000);
        const visitors = await rows.locator('.num').first().allTextContents();
        expect(visitors[0]).toBe(String(res.json.data.results[0].visitors));
      }
      expect(await page.getByTestId('panel-sources').getByText('Google').count()).toBeGreaterThan(0);
      // A custom event, then its property: the values and their counts are the API's.
      const events = page.getByTestId('panel-events');
      await events.getByRole('button', { name: 'signup' }).click();
      await events.getByRole('button', { name: 'plan' }).click();
      const values = await sys.request('GET', `/api/stats/breakdown?site_id=shop&dimension=property&event=signup&property=plan&limit=10${q}`, { headers: admin });
      expect(values.json.data.results.map((r: { value: string }) => r.value).sort()).toEqual(['free', 'pro']);
      const rows = events.locator('[data-testid=rows] li');
      await until(async () => (await rows.count()) === 2, 'property values', 15_000);
      for (const r of values.json.data.results) expect(await events.locator(`li[data-value="${r.value}"] .num`).first().textContent()).toBe(String(r.visitors));
      await assertClean(page, problems);
      await ctx.close();
    });
  });

  describe.runIf(REALTIME_API)('realtime (GET /api/stats/realtime)', () => {
    it('shows the visitors of the last minutes as the API counts them', async () => {
      const { ctx, page } = await open();
      await login(page);
      await page.goto(`${sys.url}/sites/shop`);
      const res = await sys.request('GET', '/api/stats/realtime?site_id=shop', { headers: admin });
      await expect.poll(() => page.getByTestId('realtime').textContent()).toContain(`${res.json.data.visitors} visitor`);
      await ctx.close();
    });
  });

  describe.runIf(VISITS_API)('visits (GET /api/stats visits, bounce_rate, visit_duration)', () => {
    it('shows visits of the API for the period', async () => {
      const { ctx, page } = await open();
      await login(page);
      await page.goto(`${sys.url}/sites/shop?period=7d`);
      const today = localDay(Date.now());
      const data = await stats(`&from=${minusDays(today, 6)}&to=${today}`);
      await until(async () => (await num(page, 'kpi-visits')) === String(data.visits), 'visits', 15_000);
      expect(await page.getByTestId('kpi-bounce').textContent()).toBe(`${data.bounce_rate}%`);
      await ctx.close();
    });
  });
});
