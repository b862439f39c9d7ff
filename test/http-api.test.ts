// Every endpoint and every error, over real HTTP against the built server, in both modes.
import Database from 'better-sqlite3';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL, serviceAvailable } from './helpers/services.js';
import { System, today, type Mode, type SiteKeys } from './helpers/system.js';

const redisUp = await serviceAvailable('Redis', REDIS_URL);
const ADMIN = 'admin-secret-token';
const modes: Mode[] = redisUp ? ['embedded', 'bullmq'] : ['embedded'];

const event = (site: string, extra: Record<string, unknown> = {}) => ({
  site_id: site,
  event_type: 'pageview',
  path: '/home',
  user_id: 'user-123',
  ...extra,
});

describe.each(modes)('HTTP API (%s)', (mode) => {
  let sys: System;
  let a: SiteKeys;
  let b: SiteKeys;
  const admin = { authorization: `Bearer ${ADMIN}` };

  beforeAll(async () => {
    sys = await System.start({ mode, env: { ADMIN_TOKEN: ADMIN, BODY_LIMIT_BYTES: '4096' } });
    a = await sys.createSite('Site A', 'Europe/Paris', admin);
    b = await sys.createSite('Site B', undefined, admin);
  });
  afterAll(async () => {
    await sys?.stop();
  });

  describe('POST /api/site/create', () => {
    it('creates a site with a slug id, a timezone and keys shown once', async () => {
      expect(a.site_id).toBe('site-a');
      expect(a.timezone).toBe('Europe/Paris');
      expect(b.timezone).toBe('UTC');
      // ≥ 128 random bits: 24 bytes in base64url after the prefix.
      expect(a.api_key).toMatch(/^ak_[A-Za-z0-9_-]{32}$/);
      expect(a.read_key).toMatch(/^rk_[A-Za-z0-9_-]{32}$/);
      const res = await sys.request('POST', '/api/site/create', { body: { name: 'Another Site!' }, headers: admin });
      expect(res.status).toBe(201);
      expect(res.json).toMatchObject({ success: true, data: { site_id: 'another-site', name: 'Another Site!', timezone: 'UTC' } });
      expect(Object.keys(res.json.data).sort()).toEqual(['api_key', 'created_at', 'name', 'read_key', 'site_id', 'timezone']);
    });

    it('answers 409 when the slug is taken', async () => {
      const res = await sys.request('POST', '/api/site/create', { body: { name: 'site a' }, headers: admin });
      expect(res.status).toBe(409);
      expect(res.json).toEqual({ success: false, error: 'Conflict', message: 'A site with id "site-a" already exists' });
    });

    it('validates the body', async () => {
      let res = await sys.request('POST', '/api/site/create', { body: {}, headers: admin });
      expect(res.status).toBe(400);
      expect(res.json).toEqual({ success: false, error: 'Validation failed', details: [{ field: 'name', message: 'name is required' }] });
      res = await sys.request('POST', '/api/site/create', { body: { name: '!!!' }, headers: admin });
      expect(res.json.details).toEqual([{ field: 'name', message: 'name must contain letters or digits' }]);
      res = await sys.request('POST', '/api/site/create', { body: { name: 'x', timezone: 'Nowhere/City' }, headers: admin });
      expect(res.status).toBe(400);
      expect(res.json.details[0].field).toBe('timezone');
    });

    it('needs the admin token when ADMIN_TOKEN is set', async () => {
      let res = await sys.request('POST', '/api/site/create', { body: { name: 'no token' } });
      expect(res.status).toBe(401);
      expect(res.json).toMatchObject({ success: false, error: 'Unauthorized' });
      res = await sys.request('POST', '/api/site/create', { body: { name: 'bad token' }, headers: { authorization: 'Bearer wrong' } });
      expect(res.status).toBe(403);
      expect(res.json).toMatchObject({ success: false, error: 'Forbidden' });
    });
  });

  describe('POST /api/event', () => {
    it('queues a valid event and answers with the spec JSON', async () => {
      const res = await sys.sendEvent(a, event(a.site_id));
      expect(res.status).toBe(202);
      expect(Object.keys(res.json).sort()).toEqual(['message', 'processing_time_ms', 'success']);
      expect(res.json).toMatchObject({ success: true, message: 'Event queued successfully' });
      expect(typeof res.json.processing_time_ms).toBe('number');
    });

    it('accepts a timestamp and JSON sent as text/plain (sendBeacon)', async () => {
      const ts = new Date(Date.now() - 3600_000).toISOString();
      expect((await sys.sendEvent(a, event(a.site_id, { timestamp: ts }))).status).toBe(202);
      const res = await sys.request('POST', '/api/event', {
        raw: JSON.stringify(event(a.site_id)),
        headers: { 'content-type': 'text/plain;charset=UTF-8', 'x-api-key': a.api_key },
      });
      expect(res.status).toBe(202);
    });

    it('answers 400 with details for invalid fields', async () => {
      const res = await sys.sendEvent(a, { site_id: a.site_id, event_type: 'pageview' });
      expect(res.status).toBe(400);
      expect(res.json).toEqual({
        success: false,
        error: 'Validation failed',
        details: [{ field: 'path', message: 'path is required (or url)' }],
      });
      const wrongType = await sys.sendEvent(a, event(a.site_id, { path: 42 }));
      expect(wrongType.json.details).toEqual([{ field: 'path', message: 'path must be a string' }]);
    });

    it('answers 400 for malformed JSON and for a body that is not an object', async () => {
      let res = await sys.request('POST', '/api/event', {
        raw: '{"site_id": "site-a",',
        headers: { 'content-type': 'application/json', 'x-api-key': a.api_key },
      });
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ success: false, error: 'Invalid JSON' });
      res = await sys.request('POST', '/api/event', { body: [1, 2], headers: { 'x-api-key': a.api_key } });
      expect(res.status).toBe(400);
      expect(res.json.details).toEqual([{ field: 'body', message: 'Request body must be a JSON object' }]);
    });

    it('answers 413 for a body over BODY_LIMIT_BYTES', async () => {
      const res = await sys.sendEvent(a, event(a.site_id, { path: '/' + 'x'.repeat(5000) }));
      expect(res.status).toBe(413);
      expect(res.json).toMatchObject({ success: false, error: 'Payload too large' });
    });

    it('answers 415 for a body that is not JSON', async () => {
      const res = await sys.request('POST', '/api/event', { raw: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-api-key': a.api_key } });
      expect(res.status).toBe(415);
      expect(res.json).toMatchObject({ success: false, error: 'Unsupported media type' });
    });

    it('answers 401 without a key or with an unknown key, 403 with the key of another site', async () => {
      let res = await sys.request('POST', '/api/event', { body: event(a.site_id) });
      expect(res.status).toBe(401);
      expect(res.json).toEqual({ success: false, error: 'Unauthorized', message: 'Missing x-api-key header' });
      res = await sys.sendEvent({ api_key: 'ak_not-a-key' }, event(a.site_id));
      expect(res.status).toBe(401);
      expect(res.json).toEqual({ success: false, error: 'Unauthorized', message: 'Invalid API key' });
      res = await sys.sendEvent(b, event(a.site_id));
      expect(res.status).toBe(403);
      expect(res.json).toMatchObject({ success: false, error: 'Forbidden' });
      res = await sys.sendEvent({ api_key: a.read_key }, event(a.site_id));
      expect(res.status).toBe(401);
    });

    it('answers 400 for timestamps outside the accepted window', async () => {
      let res = await sys.sendEvent(a, event(a.site_id, { timestamp: new Date(Date.now() - 8 * 86_400_000).toISOString() }));
      expect(res.status).toBe(400);
      expect(res.json.details).toEqual([{ field: 'timestamp', message: 'timestamp is older than the retention window of 7 days' }]);
      res = await sys.sendEvent(a, event(a.site_id, { timestamp: new Date(Date.now() + 600_000).toISOString() }));
      expect(res.status).toBe(400);
      expect(res.json.details[0].message).toMatch(/in the future/);
    });

    it('answers CORS preflights for browser senders', async () => {
      const res = await fetch(`${sys.url}/api/event`, {
        method: 'OPTIONS',
        headers: { origin: 'https://example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-api-key' },
      });
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(res.headers.get('access-control-allow-headers')).toMatch(/x-api-key/);
    });
  });

  describe('GET /api/stats', () => {
    it('answers a day with exactly the spec fields', async () => {
      const res = await sys.stats(a, `&date=${today()}`);
      expect(res.status).toBe(200);
      expect(Object.keys(res.json).sort()).toEqual(['data', 'processing_time_ms', 'success']);
      // The spec's fields first, in its order, then the visit metrics and the filtered hits.
      expect(Object.keys(res.json.data)).toEqual([
        'site_id', 'date', 'total_views', 'unique_users_count', 'top_paths',
        'visits', 'bounce_rate', 'visit_duration', 'views_per_visit', 'ignored',
      ]);
      expect(res.json.data).toMatchObject({ site_id: a.site_id, date: today() });
    });

    it('answers the last 24 hours when no date is given, and says which period', async () => {
      const res = await sys.stats(a);
      expect(res.status).toBe(200);
      expect(res.json.data.period.timezone).toBe('Europe/Paris');
      const from = Date.parse(res.json.data.period.from);
      const to = Date.parse(res.json.data.period.to);
      expect(to - from).toBeGreaterThanOrEqual(24 * 3600_000);
      expect(to - from).toBeLessThanOrEqual(25 * 3600_000);
    });

    it('answers a range with a series', async () => {
      const res = await sys.stats(a, '&from=2024-01-01&to=2024-01-03');
      expect(res.status).toBe(200);
      expect(res.json.data).toMatchObject({ from: '2024-01-01', to: '2024-01-03', granularity: 'day', total_views: 0, unique_users_count: 0 });
      expect(res.json.data.series).toEqual([
        { date: '2024-01-01', views: 0, unique_users: 0, visits: 0 },
        { date: '2024-01-02', views: 0, unique_users: 0, visits: 0 },
        { date: '2024-01-03', views: 0, unique_users: 0, visits: 0 },
      ]);
      const hourly = await sys.stats(a, '&from=2024-01-01&to=2024-01-02&granularity=hour');
      expect(hourly.json.data.series).toHaveLength(48);
      expect(hourly.json.data.series[0]).toEqual({ hour: '2024-01-01T00:00:00+01:00', views: 0, unique_users: 0, visits: 0 });
    });

    it('answers 400 for bad dates and ranges', async () => {
      for (const [query, field] of [
        ['&date=2024-02-30', 'date'],
        ['&date=yesterday', 'date'],
        ['&from=2024-01-05&to=2024-01-01', 'from'],
        ['&from=2024-01-01', 'to'],
        ['&from=2023-01-01&to=2024-01-02', 'to'],
        ['&from=2024-01-01&to=2024-01-09&granularity=hour', 'granularity'],
        ['&from=2024-01-01&to=2024-01-02&granularity=week', 'granularity'],
        ['&date=2024-01-01&from=2024-01-01&to=2024-01-02', 'date'],
      ]) {
        const res = await sys.stats(a, query!);
        expect(res.status, query).toBe(400);
        expect(res.json.error).toBe('Validation failed');
        expect(res.json.details[0].field, query).toBe(field);
      }
      const noSite = await sys.request('GET', '/api/stats', { headers: admin });
      expect(noSite.status).toBe(400);
      expect(noSite.json.details).toEqual([{ field: 'site_id', message: 'site_id is required' }]);
    });

    it('needs a read credential: the ingestion key cannot read', async () => {
      let res = await sys.request('GET', `/api/stats?site_id=${a.site_id}`);
      expect(res.status).toBe(401);
      res = await sys.request('GET', `/api/stats?site_id=${a.site_id}`, { headers: { 'x-api-key': a.api_key } });
      expect(res.status).toBe(401);
      expect(res.json.message).toMatch(/cannot read statistics/);
      res = await sys.request('GET', `/api/stats?site_id=${a.site_id}`, { headers: { authorization: `Bearer ${a.api_key}` } });
      expect(res.status).toBe(403);
      res = await sys.request('GET', `/api/stats?site_id=${a.site_id}`, { headers: { authorization: 'Bearer rk_wrong' } });
      expect(res.status).toBe(401);
      res = await sys.stats({ site_id: a.site_id, read_key: b.read_key });
      expect(res.status).toBe(403);
      expect(res.json).toEqual({ success: false, error: 'Forbidden', message: 'This read key belongs to another site' });
    });

    it('lets the admin token read every site, and answers 404 for an unknown site', async () => {
      for (const s of [a, b]) expect((await sys.request('GET', `/api/stats?site_id=${s.site_id}`, { headers: admin })).status).toBe(200);
      const res = await sys.request('GET', '/api/stats?site_id=nope', { headers: admin });
      expect(res.status).toBe(404);
      expect(res.json).toEqual({ success: false, error: 'Not found', message: 'Unknown site "nope"' });
    });
  });

  it('reports health and answers unknown routes in the spec shape', async () => {
    const health = await sys.request('GET', '/api/health');
    expect(health.status).toBe(200);
    expect(health.json.data).toMatchObject({ status: 'ok', queue: { kind: mode, status: 'ok' }, store: { kind: 'sqlite', status: 'ok' } });
    const missing = await sys.request('GET', '/api/nothing');
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ success: false, error: 'Not found' });
  });
});

describe.each(modes)('rate limit (%s)', (mode) => {
  let sys: System;
  let site: SiteKeys;
  beforeAll(async () => {
    sys = await System.start({ mode, env: { RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_SECONDS: '2' } });
    site = await sys.createSite('Limited');
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('answers 429 with Retry-After past the limit, and recovers after the window', async () => {
    // Each route counts its own requests: site creation did not use the ingestion budget.
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await sys.sendEvent(site, event(site.site_id))).status);
    expect(codes).toEqual([202, 202, 202, 429]);
    const limited = await sys.sendEvent(site, event(site.site_id));
    expect(limited.status).toBe(429);
    expect(limited.json).toMatchObject({ success: false, error: 'Rate limit exceeded' });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, Number(limited.headers.get('retry-after')) * 1000 + 200));
    expect((await sys.sendEvent(site, event(site.site_id))).status).toBe(202);
  });

  it.runIf(mode === 'bullmq')('shares the limit between API servers through Redis', async () => {
    await new Promise((r) => setTimeout(r, 2200)); // a fresh window
    const first = sys.url;
    const second = new System(sys.env, 'bullmq');
    await second.startApi();
    try {
      const s1 = [await sys.sendEvent(site, event(site.site_id)), await sys.sendEvent(site, event(site.site_id))].map((r) => r.status);
      const s2 = [await second.sendEvent(site, event(site.site_id)), await second.sendEvent(site, event(site.site_id))].map((r) => r.status);
      expect(sys.url).toBe(first);
      expect([...s1, ...s2]).toEqual([202, 202, 202, 429]);
    } finally {
      await second.api.stop();
    }
  });
});

describe('rate limit off with RATE_LIMIT_MAX=0', () => {
  it('never answers 429', async () => {
    const sys = await System.start({ mode: 'embedded', env: { RATE_LIMIT_MAX: '0' } });
    try {
      const site = await sys.createSite('Unlimited');
      const codes = await Promise.all(Array.from({ length: 150 }, () => sys.sendEvent(site, event(site.site_id)).then((r) => r.status)));
      expect(new Set(codes)).toEqual(new Set([202]));
    } finally {
      await sys.stop();
    }
  });
});

describe('queue unreachable', () => {
  it.runIf(redisUp)('BullMQ: answers 503 within ENQUEUE_TIMEOUT_MS when Redis cannot be reached', async () => {
    const sys = await System.start({ mode: 'bullmq', workers: 0, env: { REDIS_URL: 'redis://127.0.0.1:1', ENQUEUE_TIMEOUT_MS: '1000' } });
    try {
      const site = await sys.createSite('Down');
      const started = Date.now();
      const res = await sys.sendEvent(site, event(site.site_id));
      expect(res.status).toBe(503);
      expect(res.json).toMatchObject({ success: false, error: 'Service unavailable' });
      expect(res.headers.get('retry-after')).toBe('5');
      expect(Date.now() - started).toBeLessThan(5000);
      const health = await sys.request('GET', '/api/health');
      expect(health.status).toBe(503);
    } finally {
      await sys.stop();
    }
  });

  it('embedded: answers 503 while the queue file is locked, and the refused event is never counted', async () => {
    const sys = await System.start({ mode: 'embedded', env: { ENQUEUE_TIMEOUT_MS: '500' } });
    try {
      const site = await sys.createSite('Locked');
      expect((await sys.sendEvent(site, event(site.site_id, { path: '/ok-1' }))).status).toBe(202);
      const lock = new Database(path.join(sys.env.DATA_DIR!, 'analytics.db'));
      lock.exec('BEGIN EXCLUSIVE');
      let refused;
      try {
        refused = await sys.sendEvent(site, event(site.site_id, { path: '/refused' }));
      } finally {
        lock.exec('ROLLBACK');
        lock.close();
      }
      expect(refused.status).toBe(503);
      expect(refused.json).toMatchObject({ success: false, error: 'Service unavailable' });
      expect((await sys.sendEvent(site, event(site.site_id, { path: '/ok-2' }))).status).toBe(202);
      const data = await sys.statsWhen(site, `&date=${today()}`, (d) => d.total_views >= 2);
      await new Promise((r) => setTimeout(r, 500));
      expect((await sys.stats(site, `&date=${today()}`)).json.data.top_paths.map((p: { path: string }) => p.path).sort()).toEqual(['/ok-1', '/ok-2']);
      expect(data.total_views).toBe(2);
    } finally {
      await sys.stop();
    }
  });
});
