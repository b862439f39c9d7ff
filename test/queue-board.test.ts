/// <reference lib="dom" />
// The BullMQ Board at /admin/queues: the built API and a worker on the shared Redis with a braced
// key prefix (the form a Redis Cluster needs), over HTTP and in Debian's Chromium (playwright-core,
// never downloaded). Who may open it (the admin token, the admin's session; never a read key, a
// share token or a site session), the dashboard's CSRF rule for changes, the log-in redirect, and
// 404 without BullMQ. Screenshots go to test-results/screenshots/.
import fs from 'node:fs';
import path from 'node:path';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerQueueBoard } from '../src/api/board/plugin.js';
import { loadConfig } from '../src/config.js';
import { clusterAvailable, RedisCluster } from './helpers/redis-cluster.js';
import { IN_CI, REDIS_URL, serviceAvailable, uniqueName } from './helpers/services.js';
import { System, type SiteKeys } from './helpers/system.js';
import { sleep, until } from './helpers/wait.js';

const ADMIN = 'board-admin-token-0123456789';
const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
const SHOTS = path.resolve(import.meta.dirname, '../test-results/screenshots');
const EVENTS = 4;

const redisUp = await serviceAvailable('Redis', REDIS_URL);
const chromiumThere = fs.existsSync(CHROMIUM);
if (!chromiumThere) {
  const reason = `Chromium not found at ${CHROMIUM} (apt-get install chromium)`;
  if (IN_CI) throw new Error(`${reason} (CI=true: the browser tests must run)`);
  console.warn(`skipped: ${reason}`);
}

/** The `wa_session` cookie of a log-in with `token`. */
async function sessionCookie(sys: System, token: string): Promise<string> {
  const res = await fetch(`${sys.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-requested-with': 'test' },
    body: JSON.stringify({ token }),
  });
  expect(res.status).toBe(200);
  const cookie = res.headers.get('set-cookie')!;
  return cookie.split(';')[0]!;
}

async function get(sys: System, url: string, headers: Record<string, string> = {}) {
  const res = await fetch(sys.url + url, { headers, redirect: 'manual' });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

async function put(sys: System, url: string, headers: Record<string, string>) {
  const res = await fetch(sys.url + url, { method: 'PUT', headers });
  return { status: res.status, json: (await res.json().catch(() => undefined)) as any };
}

/** Deletes the keys of a test's own prefix (never anyone else's). */
async function dropPrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}

describe.runIf(redisUp)('queue board (BullMQ, braced prefix)', () => {
  const prefix = `{${uniqueName('board')}}`;
  let sys: System;
  let site: SiteKeys;
  let queueName: string;
  const admin = { authorization: `Bearer ${ADMIN}` };

  const queues = async (headers: Record<string, string> = admin) => {
    const res = await get(sys, '/admin/queues/api/queues?page=1&jobsPerPage=50', headers);
    expect(res.status).toBe(200);
    return res.json.queues as { name: string; description: string; counts: Record<string, number> }[];
  };

  beforeAll(async () => {
    sys = await System.start({ mode: 'bullmq', env: { ADMIN_TOKEN: ADMIN, QUEUE_PREFIX: prefix } });
    queueName = sys.env.QUEUE_NAME!;
    site = await sys.createSite('Board shop', 'UTC', admin);
    for (let i = 0; i < EVENTS; i++) {
      const res = await sys.sendEvent(site, { site_id: site.site_id, event_type: 'pageview', path: `/p${i}`, user_id: `u${i}` });
      expect(res.status).toBe(202);
    }
    await sys.statsWhen(site, '', (d) => d.total_views === EVENTS);
  }, 60_000);

  afterAll(async () => {
    await sys?.stop();
    await dropPrefix(prefix);
  });

  it('answers 401 in the spec\'s error shape without a credential, and sends a browser to the log-in with a return path', async () => {
    const api = await get(sys, '/admin/queues');
    expect(api.status).toBe(401);
    expect(api.json).toEqual({ success: false, error: 'Unauthorized', message: 'Send Authorization: Bearer <ADMIN_TOKEN>, or log in on the dashboard as the admin' });
    for (const url of ['/admin/queues/api/queues', '/admin/queues/static/favicon-32x32.png', '/admin/queues/csrf-header.js']) {
      expect((await get(sys, url, { accept: 'text/html' })).status, url).toBe(401);
    }
    const page = await get(sys, `/admin/queues/queue/${queueName}?status=failed`, { accept: 'text/html,application/xhtml+xml' });
    expect(page.status).toBe(302);
    expect(page.headers.get('location')).toBe(`/?next=${encodeURIComponent(`/admin/queues/queue/${queueName}?status=failed`)}`);
  });

  it('opens with the admin token: the page from the package, nothing from another host, its own CSP', async () => {
    const res = await get(sys, '/admin/queues', admin);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.text).toContain('<base href="/admin/queues/" />');
    expect(res.text).toContain('<script src="csrf-header.js"></script>');
    expect(res.text).not.toMatch(/(src|href)="(https?:)?\/\//);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self';");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const css = res.text.match(/href="(static\/css\/[^"]+)"/)![1]!;
    expect((await get(sys, `/admin/queues/${css}`, admin)).status).toBe(200);
  });

  it('shows the events queue with its jobs and the maintenance queue', async () => {
    const list = await queues();
    expect(list.map((q) => q.name).sort()).toEqual([queueName, `${queueName}-maintenance`].sort());
    const events = list.find((q) => q.name === queueName)!;
    expect(events.counts.completed).toBeGreaterThanOrEqual(1);
    expect(events.counts.failed).toBe(0);
    // The jobs hold exactly the events sent.
    const jobs = await get(sys, `/admin/queues/api/queues?activeQueue=${queueName}&status=completed&page=1&jobsPerPage=50`, admin);
    const shown = jobs.json.queues.find((q: { name: string }) => q.name === queueName).jobs as { data: { events: unknown[] } }[];
    expect(shown.reduce((n, j) => n + j.data.events.length, 0)).toBe(EVENTS);
    // The worker's daily maintenance scheduler lives in the maintenance queue.
    const maintenance = list.find((q) => q.name === `${queueName}-maintenance`)!;
    expect(maintenance.counts.delayed).toBe(1);
  });

  it('refuses a read key, a share token and a site session', async () => {
    const readKey = await get(sys, '/admin/queues/api/queues', { authorization: `Bearer ${site.read_key}` });
    expect(readKey.status).toBe(403);
    expect(readKey.json).toEqual({ success: false, error: 'Forbidden', message: 'The queue board needs the admin token; read keys and share links do not open it' });
    expect((await get(sys, '/admin/queues', { authorization: `Bearer ${site.read_key}`, accept: 'text/html' })).status).toBe(403);

    const share = await sys.request('POST', `/api/sites/${site.site_id}/share`, { headers: admin });
    expect(share.status).toBe(201);
    expect((await get(sys, '/admin/queues/api/queues', { authorization: `Bearer ${share.json.data.share_token}` })).status).toBe(403);
    expect((await get(sys, '/admin/queues/api/queues', { authorization: `Bearer ${site.api_key}` })).status).toBe(403);

    const cookie = await sessionCookie(sys, site.read_key);
    const session = await get(sys, '/admin/queues/api/queues', { cookie });
    expect(session.status).toBe(403);
    expect(session.json.message).toBe('The queue board needs the admin; this session is a site read key');
    // A person logged in with a read key is sent to the log-in, which asks for the admin token.
    expect((await get(sys, '/admin/queues', { cookie, accept: 'text/html' })).status).toBe(302);
  });

  it('opens with the admin session; changes made with it follow the dashboard\'s CSRF rule', async () => {
    const cookie = await sessionCookie(sys, ADMIN);
    expect((await get(sys, '/admin/queues', { cookie, accept: 'text/html' })).status).toBe(200);
    expect((await queues({ cookie })).length).toBe(2);

    const retry = `/admin/queues/api/queues/${encodeURIComponent(`${queueName}-maintenance`)}/retry/failed`;
    const refused = await put(sys, retry, { cookie });
    expect(refused.status).toBe(403);
    expect(refused.json.message).toBe('Cookie-authenticated changes must come from the dashboard itself (x-requested-with header, same Origin)');
    expect((await put(sys, retry, { cookie, 'x-requested-with': 'x', origin: 'https://evil.example' })).status).toBe(403);
    expect((await put(sys, retry, { cookie, 'x-requested-with': 'x', origin: sys.url })).status).toBe(200);
    // A bearer header cannot be sent by another site's page: no CSRF rule for it.
    expect((await put(sys, retry, admin)).status).toBe(200);
    // A forged or outdated cookie is no session.
    expect((await get(sys, '/admin/queues/api/queues', { cookie: `${cookie}x` })).status).toBe(401);
  });

  it('answers 403 without ADMIN_TOKEN on the server: there is no admin to open it', async () => {
    const open = await System.start({ mode: 'bullmq', workers: 0, env: { QUEUE_PREFIX: prefix } });
    try {
      const res = await get(open, '/admin/queues', { accept: 'text/html' });
      expect(res.status).toBe(403);
      expect(res.json).toEqual({ success: false, error: 'Forbidden', message: 'The queue board needs ADMIN_TOKEN: set it on the server, then log in as the admin' });
      expect((await get(open, '/admin/queues/api/queues', { authorization: 'Bearer anything' })).status).toBe(403);
    } finally {
      await open.stop();
    }
  });

  describe.runIf(chromiumThere)('in Chromium', () => {
    let browser: Browser;

    beforeAll(async () => {
      fs.mkdirSync(SHOTS, { recursive: true });
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    });
    afterAll(async () => {
      await browser?.close();
    });

    /** A fresh profile that records CSP violations, page errors and every request to another host (refused). */
    async function open(): Promise<{ ctx: BrowserContext; page: Page; problems: string[]; external: string[] }> {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const problems: string[] = [];
      const external: string[] = [];
      await ctx.route('**/*', (route) => {
        const host = new URL(route.request().url()).hostname;
        if (host === '127.0.0.1' || host === 'localhost') return route.continue();
        external.push(route.request().url());
        return route.abort();
      });
      await ctx.addInitScript(() => {
        const w = window as unknown as { __csp: string[] };
        w.__csp = [];
        document.addEventListener('securitypolicyviolation', (e) => w.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
      });
      const page = await ctx.newPage();
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      return { ctx, page, problems, external };
    }

    async function cspViolations(page: Page): Promise<string[]> {
      return page.evaluate(() => (window as unknown as { __csp: string[] }).__csp);
    }

    it('log-in, the queues with their counts, cleaning completed jobs; no CSP violation, no other host', async () => {
      const { ctx, page, problems, external } = await open();
      try {
        await page.goto(`${sys.url}/admin/queues`);
        await page.waitForURL(`${sys.url}/?next=%2Fadmin%2Fqueues`);
        await page.getByTestId('login-note').waitFor();
        await page.locator('#token').fill(ADMIN);
        await page.keyboard.press('Enter');
        await page.waitForURL(`${sys.url}/admin/queues`);
        await page.getByText(`${queueName}-maintenance`, { exact: true }).first().waitFor();
        const counts = (await queues()).find((q) => q.name === queueName)!.counts;
        const total = Object.values(counts).reduce((a, b) => a + b, 0);
        expect(total).toBeGreaterThanOrEqual(1);
        await page.getByText(`${total} Jobs`, { exact: true }).first().waitFor();
        await page.screenshot({ path: path.join(SHOTS, 'queue-board.png') });

        await page.goto(`${sys.url}/admin/queues/queue/${queueName}?status=completed`);
        await page.getByText('Ingestion: each job holds the events of one API batch').waitFor();
        await page.getByRole('button', { name: 'Clean all' }).waitFor();
        await page.screenshot({ path: path.join(SHOTS, 'queue-board-completed.png') });
        // bull-board cleans only jobs finished more than 5 s ago (its GRACE_TIME_MS): give ours that long.
        await sleep(5500);
        await page.getByRole('button', { name: 'Clean all' }).click();
        const [clean] = await Promise.all([
          page.waitForResponse((r) => r.request().method() === 'PUT' && r.url().endsWith('/clean/completed')),
          page.getByRole('button', { name: 'Confirm' }).click(),
        ]);
        // The board's own request carries the dashboard's CSRF header, added by csrf-header.js.
        expect(clean.request().headers()['x-requested-with']).toBe('bull-board');
        expect(clean.status()).toBe(200);
        await until(async () => (await queues()).find((q) => q.name === queueName)!.counts.completed === 0, 'the completed jobs cleaned');

        expect(await cspViolations(page)).toEqual([]);
        expect(external).toEqual([]);
        expect(problems).toEqual([]);
      } finally {
        await ctx.close();
      }
    });

    it('a site session is asked for the admin token', async () => {
      const { ctx, page, external } = await open();
      try {
        await page.goto(`${sys.url}/`);
        await page.locator('#token').fill(site.read_key);
        await page.keyboard.press('Enter');
        await page.locator('[data-testid=site-list] li').first().waitFor();
        await page.goto(`${sys.url}/admin/queues`);
        await page.waitForURL(`${sys.url}/?next=%2Fadmin%2Fqueues`);
        await expect.poll(() => page.getByTestId('login-note').innerText()).toBe('The queue board needs the admin: log in with the admin token to open it.');
        await page.screenshot({ path: path.join(SHOTS, 'queue-board-login.png') });
        expect(await cspViolations(page)).toEqual([]);
        expect(external).toEqual([]);
      } finally {
        await ctx.close();
      }
    });
  });
});

describe.runIf(clusterAvailable())('queue board on a Redis Cluster ({bull} prefix)', () => {
  const password = 'board-cluster-secret';
  let cluster: RedisCluster;
  let sys: System;

  beforeAll(async () => {
    cluster = await RedisCluster.start({ password });
    sys = await System.start({ mode: 'bullmq', env: { ADMIN_TOKEN: ADMIN, REDIS_CLUSTER_NODES: cluster.nodeList, REDIS_PASSWORD: password } });
  }, 120_000);
  afterAll(async () => {
    await sys?.stop();
    await cluster?.stop();
  });

  it('shows both queues with their jobs, and the cluster in its Redis panel', async () => {
    const site = await sys.createSite('Cluster shop', 'UTC', { authorization: `Bearer ${ADMIN}` });
    for (let i = 0; i < 3; i++) expect((await sys.sendEvent(site, { site_id: site.site_id, event_type: 'pageview', path: `/c${i}`, user_id: `c${i}` })).status).toBe(202);
    await sys.statsWhen(site, '', (d) => d.total_views === 3);
    const admin = { authorization: `Bearer ${ADMIN}` };
    const list = (await get(sys, '/admin/queues/api/queues?page=1&jobsPerPage=50', admin)).json.queues as { name: string; counts: Record<string, number> }[];
    const name = sys.env.QUEUE_NAME!;
    expect(list.map((q) => q.name).sort()).toEqual([name, `${name}-maintenance`].sort());
    expect(list.find((q) => q.name === name)!.counts.completed).toBeGreaterThanOrEqual(1);
    const stats = await get(sys, '/admin/queues/api/redis/stats', admin);
    expect(stats.status).toBe(200);
    expect(JSON.stringify(stats.json)).toMatch(/version/);
  });
});

describe('queue board without BullMQ', () => {
  it('answers 404 with the reason in embedded mode', async () => {
    const sys = await System.start({ mode: 'embedded', env: { ADMIN_TOKEN: ADMIN } });
    try {
      for (const url of ['/admin/queues', '/admin/queues/api/queues', '/admin/queues/static/x.js']) {
        const res = await sys.request('GET', url, { headers: { authorization: `Bearer ${ADMIN}` } });
        expect(res.status, url).toBe(404);
        expect(res.json).toEqual({
          success: false,
          error: 'Not found',
          message: 'The queue board needs the BullMQ queue (REDIS_URL, REDIS_HOST or REDIS_CLUSTER_NODES); this server uses the embedded queue',
        });
      }
    } finally {
      await sys.stop();
    }
  });

  it('answers 404 with the reason in SQS mode', async () => {
    const config = loadConfig({ USE_SQS: 'true', SQS_QUEUE_URL: 'http://127.0.0.1:9/000000000000/events', SQS_DLQ_URL: 'http://127.0.0.1:9/000000000000/dead', LOG_LEVEL: 'silent' });
    const app = Fastify();
    await registerQueueBoard(app, config);
    const res = await app.inject({ method: 'GET', url: '/admin/queues' });
    expect(res.statusCode).toBe(404);
    expect(res.json().message).toBe('The queue board needs the BullMQ queue (REDIS_URL, REDIS_HOST or REDIS_CLUSTER_NODES); this server uses the SQS queue');
    await app.close();
  });
});
