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

    // Issue 9, item 8: a derived id is made unique; 409 only for an explicit site_id that is taken.
    it('makes a derived id unique, and answers 409 only when an explicit site_id is taken', async () => {
      const second = await sys.request('POST', '/api/site/create', { body: { name: 'site a' }, headers: admin });
      expect(second.status).toBe(201);
      expect(second.json.data.site_id).toBe('site-a-2');
      const third = await sys.request('POST', '/api/site/create', { body: { name: 'SITE  A!' }, headers: admin });
      expect(third.json.data.site_id).toBe('site-a-3');
      const explicit = await sys.request('POST', '/api/site/create', { body: { name: 'Whatever', site_id: 'site-a' }, headers: admin });
      expect(explicit.status).toBe(409);
      expect(explicit.json).toEqual({ success: false, error: 'Conflict', message: 'A site with id "site-a" already exists' });
      const chosen = await sys.request('POST', '/api/site/create', { body: { name: 'Whatever', site_id: 'my-own-id' }, headers: admin });
      expect(chosen.status).toBe(201);
      expect(chosen.json.data).toMatchObject({ site_id: 'my-own-id', name: 'Whatever' });
      const bad = await sys.request('POST', '/api/site/create', { body: { name: 'x', site_id: 'Not OK' }, headers: admin });
      expect(bad.status).toBe(400);
      expect(bad.json.details).toEqual([{ field: 'site_id', message: 'site_id must be 1–64 characters of a-z, 0-9 and "-", not starting or ending with "-"' }]);
    });

    it('gives names in any script a usable, URL-safe id', async () => {
      const ids: Record<string, string> = {};
      for (const name of ['日本語', 'Ελληνικά', 'Русский', 'עברית', 'Ωmega Café', '!!!', '!!!']) {
        const res = await sys.request('POST', '/api/site/create', { body: { name }, headers: admin });
        expect(res.status, name).toBe(201);
        expect(res.json.data.name).toBe(name);
        ids[name] = res.json.data.site_id;
        expect(res.json.data.site_id).toMatch(/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/);
        // The id works: the site's read key reads it.
        const stats = await sys.request('GET', `/api/stats?site_id=${res.json.data.site_id}`, { headers: { authorization: `Bearer ${res.json.data.read_key}` } });
        expect(stats.status, name).toBe(200);
      }
      expect(ids).toMatchObject({ 日本語: 'ribenyu', Ελληνικά: 'ellinika', Русский: 'russkiy', עברית: 'vryt', 'Ωmega Café': 'omega-cafe' });
      expect(ids['!!!']).toBe('site-2'); // the second "!!!": the first took "site"
    });

    // Issue 9, item 9: the canonical timezone is what is stored and answered.
    it('stores the canonical spelling of the timezone', async () => {
      const res = await sys.request('POST', '/api/site/create', { body: { name: 'tz spelling', timezone: 'europe/PARIS' }, headers: admin });
      expect(res.status).toBe(201);
      expect(res.json.data.timezone).toBe('Europe/Paris');
      const stats = await sys.request('GET', `/api/stats?site_id=${res.json.data.site_id}`, { headers: admin });
      expect(stats.json.data.period.timezone).toBe('Europe/Paris');
    });

    it('validates the body', async () => {
      let res = await sys.request('POST', '/api/site/create', { body: {}, headers: admin });
      expect(res.status).toBe(400);
      expect(res.json).toEqual({ success: false, error: 'Validation failed', details: [{ field: 'name', message: 'name is required' }] });
      res = await sys.request('POST', '/api/site/create', { body: { name: '   ' }, headers: admin });
      expect(res.json.details).toEqual([{ field: 'name', message: 'name must not be empty' }]);
      // Issue 9, item 2: site names and timezones hold storable text only.
      res = await sys.request('POST', '/api/site/create', { raw: '{"name":"bad\\u0000name"}', headers: { ...admin, 'content-type': 'application/json' } });
      expect(res.status).toBe(400);
      expect(res.json.details).toEqual([{ field: 'name', message: 'name must not contain a NUL character (U+0000, at position 3)' }]);
      res = await sys.request('POST', '/api/site/create', { raw: '{"name":"bad\\ud800"}', headers: { ...admin, 'content-type': 'application/json' } });
      expect(res.status).toBe(400);
      expect(res.json.details[0]).toMatchObject({ field: 'name', message: expect.stringMatching(/well-formed Unicode/) });
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

    // Issue 9, item 2: a 2xx only for events every store can keep, whatever the content type.
    it('answers 400 for text no store can keep (NUL, unpaired surrogates), in every string field', async () => {
      for (const contentType of ['application/json', 'text/plain']) {
        for (const field of ['site_id', 'event_type', 'path', 'user_id']) {
          for (const [raw, message] of [
            ['x\\u0000y', `${field} must not contain a NUL character (U+0000, at position 1)`],
            ['x\\udc00', `${field} must be well-formed Unicode: it holds an unpaired surrogate (U+DC00, at position 1)`],
            ['\\ud83dx', `${field} must be well-formed Unicode: it holds an unpaired surrogate (U+D83D, at position 0)`],
          ] as const) {
            const body = JSON.stringify(event(a.site_id)).replace(new RegExp(`"${field}":"[^"]*"`), `"${field}":"${raw}"`);
            const res = await sys.request('POST', '/api/event', { raw: body, headers: { 'content-type': contentType, 'x-api-key': a.api_key } });
            // site_id: the key's site check runs on valid text only, so the text is the problem named.
            expect(res.status, `${contentType} ${field} ${raw}`).toBe(400);
            expect(res.json, `${contentType} ${field} ${raw}`).toEqual({ success: false, error: 'Validation failed', details: [{ field, message }] });
          }
        }
      }
      // A well-formed pair (an emoji) is text like any other.
      const ok = await sys.request('POST', '/api/event', { raw: JSON.stringify(event(a.site_id, { path: '/\ud83d\ude00' })), headers: { 'content-type': 'application/json', 'x-api-key': a.api_key } });
      expect(ok.status).toBe(202);
    });

    // Issue 9, item 7: one parser and one rule for both content types, and a message saying what is refused.
    it('refuses prototype-poisoning members the same way as JSON and as text/plain', async () => {
      const bodies = [
        ['{"site_id":"site-a","event_type":"pageview","path":"/","user_id":"u","constructor":{"prototype":{"x":1}}}', 'constructor.prototype'],
        ['{"site_id":"site-a","event_type":"pageview","path":"/","user_id":"u","__proto__":{"x":1}}', '__proto__'],
        ['{"site_id":"site-a","event_type":"pageview","path":"/","user_id":"u","extra":{"deep":[{"constructor":{"prototype":1}}]}}', 'extra.deep.0.constructor.prototype'],
      ];
      for (const [raw, field] of bodies) {
        const answers = [];
        for (const contentType of ['application/json', 'text/plain', 'text/plain;charset=UTF-8']) {
          const res = await sys.request('POST', '/api/event', { raw: raw!, headers: { 'content-type': contentType, 'x-api-key': a.api_key } });
          answers.push({ status: res.status, json: res.json });
        }
        expect(answers[1], raw).toEqual(answers[0]);
        expect(answers[2], raw).toEqual(answers[0]);
        expect(answers[0]!.status).toBe(400);
        expect(answers[0]!.json.error).toBe('Validation failed');
        expect(answers[0]!.json.details).toEqual([{ field, message: expect.stringContaining(`the member "${field}" is refused`) }]);
      }
      // A member merely named constructor (a string, or an object without prototype) is an unknown field: ignored.
      for (const extra of ['"constructor":"x"', '"constructor":{"name":"y"}']) {
        const raw = `{"site_id":"site-a","event_type":"pageview","path":"/","user_id":"u",${extra}}`;
        for (const contentType of ['application/json', 'text/plain']) {
          const res = await sys.request('POST', '/api/event', { raw, headers: { 'content-type': contentType, 'x-api-key': a.api_key } });
          expect(res.status, `${contentType} ${extra}`).toBe(202);
        }
      }
      // Invalid JSON is still called so, in both content types.
      for (const contentType of ['application/json', 'text/plain']) {
        const res = await sys.request('POST', '/api/event', { raw: '{"site_id":', headers: { 'content-type': contentType, 'x-api-key': a.api_key } });
        expect(res.status).toBe(400);
        expect(res.json).toMatchObject({ success: false, error: 'Invalid JSON' });
      }
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

    // Issue 9, item 1: whatever the dates, an answer in bounded time, and the API keeps answering.
    it('answers 400 at once for dates past the ends of the calendar, and keeps serving', async () => {
      const queries = [
        ['&from=9999-12-31&to=9999-12-31', 'from'],
        ['&from=9999-12-30&to=9999-12-31', 'to'],
        ['&date=9999-12-31', 'date'],
        ['&from=9999-12-31&to=9999-12-31&granularity=hour', 'from'],
        ['&from=0001-01-01&to=0001-01-02', 'from'],
        ['&date=1969-12-31', 'date'],
        ['&from=+10000-01-01&to=+10000-01-01', 'from'],
      ];
      for (const [query, field] of queries) {
        const res = await fetch(`${sys.url}/api/stats?site_id=${a.site_id}${query}`, {
          headers: { authorization: `Bearer ${a.read_key}` },
          signal: AbortSignal.timeout(20_000), // today's code never answers
        });
        expect(res.status, query).toBe(400);
        const json = (await res.json()) as { details: { field: string; message: string }[] };
        expect(json.details[0].field, query).toBe(field);
        expect(json.details[0].message, query).toMatch(/between 1970-01-01 and 9999-12-30|valid date/);
      }
      // The last supported days still answer, with every point of the series.
      const last = await sys.stats(a, '&from=9999-12-29&to=9999-12-30&granularity=hour');
      expect(last.status).toBe(200);
      expect(last.json.data.series).toHaveLength(48);
      expect((await sys.stats(a, '&date=9999-12-30')).status).toBe(200);
      expect((await sys.stats(a, '&from=1970-01-01&to=1970-01-01')).status).toBe(200);
      expect((await sys.request('GET', '/api/health')).status).toBe(200);
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

  it('lets exactly the limit through when the requests arrive at once (counted together in one Redis call)', async () => {
    await new Promise((r) => setTimeout(r, 2200)); // a fresh window
    const codes = await Promise.all(Array.from({ length: 8 }, () => sys.sendEvent(site, event(site.site_id)).then((r) => r.status)));
    expect(codes.filter((c) => c === 202)).toHaveLength(3);
    expect(codes.filter((c) => c === 429)).toHaveLength(5);
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

// Issue 9, item 3: behind a proxy that appends to X-Forwarded-For, the client cannot pick its own
// limit by writing the left-most entry. The test client plays the proxy (it connects from 127.0.0.1).
describe.each([
  ['a hop count', '1'],
  ['the proxy address', '127.0.0.1'],
  ['a CIDR range of proxies', '127.0.0.0/8, ::1'],
])('TRUST_PROXY as %s', (_what, value) => {
  let sys: System;
  let site: SiteKeys;
  beforeAll(async () => {
    sys = await System.start({ mode: 'embedded', env: { TRUST_PROXY: value, RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW_SECONDS: '60' } });
    site = await sys.createSite('Behind Proxy');
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('keys the limit on the address the proxy saw, not on what the client wrote', async () => {
    const send = (forwardedFor: string) =>
      sys.request('POST', '/api/event', { body: event(site.site_id), headers: { 'x-api-key': site.api_key, 'x-forwarded-for': forwardedFor } }).then((r) => r.status);
    // One client (203.0.113.9 as the proxy saw it) inventing a new left-most entry each time.
    const spoofing = [];
    for (let i = 0; i < 4; i++) spoofing.push(await send(`198.51.100.${i}, 203.0.113.9`));
    expect(spoofing).toEqual([202, 202, 429, 429]);
    // Another client behind the same proxy has a budget of its own.
    expect(await send('203.0.113.10')).toBe(202);
  });
});

describe('TRUST_PROXY=true', () => {
  it('keeps its meaning (every entry trusted) and warns at start', async () => {
    const sys = await System.start({ mode: 'embedded', env: { TRUST_PROXY: 'true', RATE_LIMIT_MAX: '1' } });
    try {
      await sys.api.waitForLine(/TRUST_PROXY=true trusts every X-Forwarded-For entry/);
      const site = await sys.createSite('Trusting');
      const send = (ip: string) =>
        sys.request('POST', '/api/event', { body: event(site.site_id), headers: { 'x-api-key': site.api_key, 'x-forwarded-for': ip } }).then((r) => r.status);
      // What the warning is about: the left-most entry is the client's own word.
      expect([await send('198.51.100.1'), await send('198.51.100.2'), await send('198.51.100.2')]).toEqual([202, 202, 429]);
    } finally {
      await sys.stop();
    }
  });
});

// Issue 9, item 6: reads have a budget of their own, separate from ingestion.
describe('read rate limit', () => {
  it('limits GET /api/stats per client IP, apart from ingestion', async () => {
    const sys = await System.start({ mode: 'embedded', env: { READ_RATE_LIMIT_MAX: '3', READ_RATE_LIMIT_WINDOW_SECONDS: '60', RATE_LIMIT_MAX: '2' } });
    try {
      const site = await sys.createSite('Read Limited');
      const reads = [];
      for (let i = 0; i < 4; i++) reads.push(await sys.stats(site, '&from=2024-01-01&to=2024-12-31'));
      expect(reads.map((r) => r.status)).toEqual([200, 200, 200, 429]);
      expect(reads[3]!.json).toEqual({ success: false, error: 'Rate limit exceeded', message: expect.stringMatching(/^At most 3 requests per 60 s; retry in/) });
      expect(Number(reads[3]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      // Ingestion still has its whole budget, and using it up leaves reads as they are.
      expect([(await sys.sendEvent(site, event(site.site_id))).status, (await sys.sendEvent(site, event(site.site_id))).status]).toEqual([202, 202]);
      expect((await sys.sendEvent(site, event(site.site_id))).status).toBe(429);
      // Health checks are never limited.
      for (let i = 0; i < 5; i++) expect((await sys.request('GET', '/api/health')).status).toBe(200);
    } finally {
      await sys.stop();
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
