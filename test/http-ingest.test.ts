// What a browser sends, through the real API, queue and worker: enrichment on a fixed table with
// exact breakdowns, cookieless visitors (two API servers agree; another day, another visitor; the IP
// stored nowhere), bots, the spec's curl flow, client event ids, and the batch endpoint.
import Database from 'better-sqlite3';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localDay } from '../src/core/time.js';
import { BOTS, BROWSERS, IPS, LANGUAGES, REFERRERS, SCREENS } from './helpers/enrich-table.js';
import { REDIS_URL, serviceAvailable } from './helpers/services.js';
import { spawnNode, System, API_ENTRY, today, type SiteKeys } from './helpers/system.js';

const redisUp = await serviceAvailable('Redis', REDIS_URL);
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';

/** Counts per value, sorted as the API sorts rows of equal visitors: by value, none first. */
function tally(values: (string | null)[]): { value: string | null; visitors: number }[] {
  const m = new Map<string | null, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return [...m]
    .map(([value, visitors]) => ({ value, visitors }))
    .sort((a, b) => b.visitors - a.visitors || (a.value === b.value ? 0 : a.value === null ? -1 : b.value === null ? 1 : a.value < b.value ? -1 : 1));
}

describe('ingestion of what browsers send', () => {
  let sys: System;
  let site: SiteKeys;

  beforeAll(async () => {
    sys = await System.start({ mode: 'embedded', env: { TRUST_PROXY: 'true' } });
    site = await sys.createSite('Example', 'UTC');
  });
  afterAll(async () => sys?.stop());

  const send = (body: Record<string, unknown>, headers: Record<string, string>) =>
    sys.request('POST', `/api/event?api_key=${site.api_key}`, { raw: JSON.stringify({ site_id: site.site_id, event_type: 'pageview', ...body }), headers: { 'content-type': 'text/plain', ...headers } });
  const breakdown = async (dimension: string, extra = '') => {
    const res = await sys.request('GET', `/api/stats/breakdown?site_id=${site.site_id}&date=${today()}&dimension=${dimension}&limit=100${extra}`, {
      headers: { authorization: `Bearer ${site.read_key}` },
    });
    expect(res.status, dimension).toBe(200);
    return res.json.data.results as { value: string | null; visitors: number }[];
  };

  it('enriches a fixed table of browsers, referrers, IPs, languages and screens into exact breakdowns', async () => {
    const ips = IPS.filter((r) => r.ip !== 'not-an-ip' && r.ip !== '::');
    const rows = BROWSERS.map((b, i) => ({
      b,
      ref: REFERRERS[i % REFERRERS.length]!,
      ip: ips[i % ips.length]!,
      lang: LANGUAGES[i % LANGUAGES.length]!,
      screen: SCREENS[i % SCREENS.length]!,
    }));
    for (const [i, r] of rows.entries()) {
      const res = await send(
        {
          url: `https://example.com/page-${i % 3}${r.ref.utm_source ? `?utm_source=${encodeURIComponent(r.ref.utm_source)}` : ''}`,
          ...(r.ref.referrer !== undefined ? { referrer: r.ref.referrer } : {}),
          ...(r.lang.body !== undefined ? { language: r.lang.body } : {}),
          ...(r.screen.width !== undefined ? { screen_width: r.screen.width } : {}),
        },
        { 'user-agent': r.b.ua, 'x-forwarded-for': r.ip.ip, ...(r.lang.header !== undefined ? { 'accept-language': r.lang.header } : {}) },
      );
      expect(res.status, r.b.name).toBe(202);
      expect(res.json.ignored).toBeUndefined();
    }
    await sys.statsWhen(site, `&date=${today()}`, (d) => d.total_views === rows.length);
    const strip = (rs: { value: string | null; visitors: number }[]) => rs.map(({ value, visitors }) => ({ value, visitors }));
    expect(strip(await breakdown('browser'))).toEqual(tally(rows.map((r) => r.b.browser)));
    expect(strip(await breakdown('os'))).toEqual(tally(rows.map((r) => r.b.os)));
    expect(strip(await breakdown('device'))).toEqual(tally(rows.map((r) => r.b.device)));
    expect(strip(await breakdown('country'))).toEqual(tally(rows.map((r) => r.ip.country)));
    expect(strip(await breakdown('referrer'))).toEqual(tally(rows.map((r) => r.ref.host)));
    expect(strip(await breakdown('source'))).toEqual(tally(rows.map((r) => r.ref.source)));
    expect(strip(await breakdown('utm_source'))).toEqual(tally(rows.map((r) => r.ref.utm_source)));
    expect(strip(await breakdown('language'))).toEqual(tally(rows.map((r) => r.lang.language)));
    expect(strip(await breakdown('screen'))).toEqual(tally(rows.map((r) => r.screen.screen)));
    expect(strip(await breakdown('page'))).toEqual(tally(rows.map((_, i) => `/page-${i % 3}`)));
    const total = (await sys.stats(site, `&date=${today()}`)).json.data;
    expect(total).toMatchObject({ total_views: rows.length, unique_users_count: rows.length, visits: rows.length, bounce_rate: 100 });
  });

  it('answers bots 2xx with the reason and counts them apart; the spec\'s curl flow with a user_id is counted', async () => {
    const base = (await sys.stats(site, `&date=${today()}`)).json.data;
    for (const b of BOTS) {
      const res = await send({ path: '/bot' }, b.ua ? { 'user-agent': b.ua } : {});
      expect(res.status, b.name).toBe(202);
      expect(res.json).toMatchObject({ success: true, ignored: 'bot' });
    }
    // curl (a bot user agent) sending the spec's body with a user_id: counted.
    const spec = await sys.sendEvent(site, { site_id: site.site_id, event_type: 'pageview', path: '/from-curl', user_id: 'server-user' });
    expect(spec.status).toBe(202);
    expect(spec.json).toEqual({ success: true, message: 'Event queued successfully', processing_time_ms: expect.any(Number) });
    const data = await sys.statsWhen(site, `&date=${today()}`, (d) => d.total_views === base.total_views + 1 && d.ignored.bot === BOTS.length);
    expect(data.unique_users_count).toBe(base.unique_users_count + 1);
    expect(data.top_paths).not.toContainEqual(expect.objectContaining({ path: '/bot' }));
  });

  it('counts an event_id once however often it is sent, alone or in batches', async () => {
    const base = (await sys.stats(site, `&date=${today()}`)).json.data.total_views;
    const body = { url: 'https://example.com/retried', event_id: '6f1b9c9e-4a36-4d7e-9d7b-3c9e8d2f0a11' };
    const headers = { 'user-agent': CHROME, 'x-forwarded-for': '198.51.100.20' };
    for (let i = 0; i < 3; i++) expect((await send(body, headers)).status).toBe(202);
    const batch = await sys.request('POST', '/api/event/batch', {
      body: { events: [{ site_id: site.site_id, event_type: 'pageview', ...body }, { site_id: site.site_id, event_type: 'pageview', url: 'https://example.com/marker' }] },
      headers: { 'x-api-key': site.api_key, ...headers },
    });
    expect(batch.status).toBe(202);
    await sys.statsWhen(site, `&date=${today()}`, (d) => d.top_paths.some((p: { path: string }) => p.path === '/marker'));
    // Read again: one answer's total and its top paths are separate reads, and a job may commit
    // between them; once the marker shows, a new answer sees every job before it.
    const data = (await sys.stats(site, `&date=${today()}`)).json.data;
    expect(data.total_views).toBe(base + 2);
    expect(data.top_paths).toContainEqual({ path: '/retried', views: 1 });
  });

  it('takes a batch: accepts the good events, refuses the bad ones with their details, ignores bots', async () => {
    const base = (await sys.stats(site, `&date=${today()}`)).json.data;
    const events = [
      { site_id: site.site_id, event_type: 'pageview', path: '/batch/a', user_id: 'batch-1' },
      { site_id: site.site_id, event_type: 'pageview', user_id: 'batch-2' },
      { site_id: 'another-site', event_type: 'pageview', path: '/x', user_id: 'batch-3' },
      { site_id: site.site_id, event_type: 'signup', path: '/batch/a', user_id: 'batch-1', props: { plan: 'pro' } },
      { site_id: site.site_id, event_type: 'pageview', url: 'https://example.com/batch/bot' },
    ];
    const res = await sys.request('POST', '/api/event/batch', { body: { events }, headers: { 'x-api-key': site.api_key, 'user-agent': 'curl/8.5.0' } });
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({ success: true, accepted: 2, ignored: 1, refused: 2 });
    expect(res.json.results).toEqual([
      { index: 0, status: 'accepted' },
      { index: 1, status: 'refused', code: 400, error: 'Validation failed', details: [{ field: 'path', message: 'path is required (or url)' }] },
      { index: 2, status: 'refused', code: 403, error: 'Forbidden', message: 'This API key does not belong to site "another-site"' },
      { index: 3, status: 'accepted' },
      { index: 4, status: 'ignored', reason: 'bot' },
    ]);
    const data = await sys.statsWhen(site, `&date=${today()}`, (d) => d.total_views === base.total_views + 1);
    expect(data.unique_users_count).toBe(base.unique_users_count + 1);
    expect(await breakdown('property', '&event=signup&property=plan')).toEqual([{ value: 'pro', visitors: 1, events: 1 }]);

    const none = await sys.request('POST', '/api/event/batch', { body: { events: [events[1], events[1]] }, headers: { 'x-api-key': site.api_key } });
    expect(none.status).toBe(400);
    expect(none.json).toMatchObject({ success: false, error: 'Validation failed', details: [{ field: 'events.0.path' }, { field: 'events.1.path' }] });
    const tooMany = await sys.request('POST', '/api/event/batch', { body: { events: Array.from({ length: 101 }, () => events[0]) }, headers: { 'x-api-key': site.api_key } });
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.details).toEqual([{ field: 'events', message: 'events holds at most 100 events' }]);
  });

  it('gives the same browser on another day (its salt) another visitor, and keeps the IP nowhere', async () => {
    const ip = '203.0.113.77';
    const headers = { 'user-agent': FIREFOX, 'x-forwarded-for': ip };
    const yesterday = new Date(Date.now() - 86_400_000);
    expect((await send({ url: 'https://example.com/salted', timestamp: yesterday.toISOString() }, headers)).status).toBe(202);
    expect((await send({ url: 'https://example.com/salted' }, headers)).status).toBe(202);
    expect((await send({ url: 'https://example.com/salted' }, headers)).status).toBe(202);
    const day = localDay(yesterday.getTime(), 'UTC');
    const range = await sys.statsWhen(site, `&from=${day}&to=${today()}`, (d) => d.top_paths.some((p: { path: string; views: number }) => p.path === '/salted' && p.views === 3));
    const y = (await sys.stats(site, `&date=${day}`)).json.data;
    const t = (await sys.stats(site, `&date=${today()}`)).json.data;
    // One visitor each day, two over the two days: the hash changes with the date's salt.
    expect(range.unique_users_count).toBe(y.unique_users_count + t.unique_users_count);
    const pages = await sys.request('GET', `/api/stats/breakdown?site_id=${site.site_id}&from=${day}&to=${today()}&dimension=page&limit=1000`, {
      headers: { authorization: `Bearer ${site.read_key}` },
    });
    expect(pages.json.data.results.find((r: { value: string }) => r.value === '/salted')).toEqual({ value: '/salted', visitors: 2, pageviews: 3 });
    // Neither the store nor the queue (same file, embedded) holds the IP, in any table or in the WAL.
    const dir = sys.env.DATA_DIR!;
    for (const f of fs.readdirSync(dir)) {
      const bytes = fs.readFileSync(path.join(dir, f));
      expect(bytes.includes(Buffer.from(ip)), f).toBe(false);
      expect(bytes.includes(Buffer.from('203.0.113.')), f).toBe(false);
    }
    const db = new Database(path.join(dir, 'analytics.db'), { readonly: true });
    try {
      const payloads = db.prepare('select payload from queue_jobs').all() as { payload: string }[];
      expect(payloads.length).toBeGreaterThan(0);
      for (const p of payloads) expect(p.payload).not.toContain(ip);
      // The raw user agent is not stored either (it travels in the queue, the worker derives from it).
      const raw = db.prepare(`select * from events where path = '/salted'`).all() as { dims: string }[];
      expect(JSON.stringify(raw)).not.toContain('Firefox/133');
      expect(raw.map((r) => JSON.parse(r.dims))).toEqual(Array(3).fill({ browser: 'Firefox', os: 'Windows', device: 'desktop' }));
    } finally {
      db.close();
    }
  });
});

describe.runIf(redisUp)('cookieless visitors through two API servers at once (BullMQ)', () => {
  let sys: System;
  let second: { url: string; stop: () => Promise<unknown> };
  let site: SiteKeys;

  beforeAll(async () => {
    sys = await System.start({ mode: 'bullmq', env: { TRUST_PROXY: 'true' } });
    site = await sys.createSite('Two servers', 'Europe/Paris');
    const proc = spawnNode(API_ENTRY, { ...sys.env }, 'api-2');
    const m = await proc.waitForLine(/API listening on (http:\/\/\S+)/);
    second = { url: m[1]!, stop: () => proc.stop() };
  });
  afterAll(async () => {
    await second?.stop();
    await sys?.stop();
  });

  it('counts one visitor per IP and user agent per day, whichever server answers', async () => {
    const post = (url: string, ip: string, ua: string, n: number) =>
      fetch(`${url}/api/event?api_key=${site.api_key}`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', 'user-agent': ua, 'x-forwarded-for': ip },
        body: JSON.stringify({ site_id: site.site_id, event_type: 'pageview', url: `https://two.example/p${n % 4}` }),
      }).then((r) => r.status);
    const sends: Promise<number>[] = [];
    for (let n = 0; n < 40; n++) {
      const url = n % 2 === 0 ? sys.url : second.url;
      sends.push(post(url, '198.51.100.1', CHROME, n)); // one visitor
      if (n % 4 === 0) sends.push(post(url, '198.51.100.1', FIREFOX, n)); // another browser: another visitor
      if (n % 8 === 0) sends.push(post(url, '198.51.100.2', CHROME, n)); // another IP: a third
    }
    expect(new Set(await Promise.all(sends))).toEqual(new Set([202]));
    const day = localDay(Date.now(), 'Europe/Paris');
    const data = await sys.statsWhen(site, `&date=${day}`, (d) => d.total_views === 40 + 10 + 5);
    expect(data.unique_users_count).toBe(3);
    // The jobs in Redis carry no IP.
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue(sys.env.QUEUE_NAME!, { connection });
    try {
      const jobs = await queue.getJobs(['completed', 'waiting', 'active', 'delayed', 'failed']);
      expect(jobs.length).toBeGreaterThan(0);
      for (const j of jobs) expect(JSON.stringify(j.data)).not.toMatch(/198\.51\.100\./);
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });
});
