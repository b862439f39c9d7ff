// GET /script.js and TRACKER_SCRIPT_PATH over real HTTP against the built API: the built file, the
// caching headers, ETag revalidation, gzip, and nothing served where nothing was configured.
import fs from 'node:fs';
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorHandler } from '../src/api/errors.js';
import type { ApiContext } from '../src/api/context.js';
import { trackerRoutes } from '../src/api/routes/tracker.js';
import { loadConfig } from '../src/config.js';
import { TRACKER_OUTPUT } from '../tracker/build.mjs';
import { System } from './helpers/system.js';

/** A GET without fetch's automatic Accept-Encoding and decompression. */
function get(url: string, headers: Record<string, string> = {}, method = 'GET') {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the tracker script route', () => {
  let sys: System;
  let built: Buffer;

  beforeAll(async () => {
    built = fs.readFileSync(TRACKER_OUTPUT);
    sys = await System.start({ mode: 'embedded', env: { TRACKER_SCRIPT_PATH: '/js/app.js', RUN_WORKER: 'false' } });
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('serves the built script as JavaScript with a long cache, a strong ETag and CORP', async () => {
    const res = await get(`${sys.url}/script.js`);
    expect(res.status).toBe(200);
    expect(res.body.equals(built)).toBe(true);
    expect(res.headers['content-type']).toBe('application/javascript; charset=utf-8');
    expect(res.headers['cache-control']).toBe('public, max-age=86400, stale-while-revalidate=604800');
    expect(res.headers.etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(res.headers['cross-origin-resource-policy']).toBe('cross-origin');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.headers.vary).toMatch(/accept-encoding/i);
    // Cached per process: a second answer is the same bytes with the same tag.
    const again = await get(`${sys.url}/script.js`);
    expect(again.headers.etag).toBe(res.headers.etag);
    expect(again.body.equals(built)).toBe(true);
  });

  it('serves the same script under TRACKER_SCRIPT_PATH, and nowhere else', async () => {
    const main = await get(`${sys.url}/script.js`);
    const alias = await get(`${sys.url}/js/app.js`);
    expect(alias.status).toBe(200);
    expect(alias.body.equals(built)).toBe(true);
    expect(alias.headers.etag).toBe(main.headers.etag);
    expect(alias.headers['content-type']).toBe('application/javascript; charset=utf-8');
    const other = await get(`${sys.url}/js/other.js`);
    expect(other.status).toBe(404);
    expect(JSON.parse(other.body.toString())).toMatchObject({ success: false, error: 'Not found' });
  });

  it('answers 304 without a body to If-None-Match with the current tag, 200 to another', async () => {
    const { headers } = await get(`${sys.url}/script.js`);
    const etag = headers.etag!;
    for (const inm of [etag, `W/${etag}`, `"stale", ${etag}`, '*']) {
      const res = await get(`${sys.url}/script.js`, { 'if-none-match': inm });
      expect(res.status, inm).toBe(304);
      expect(res.body.length).toBe(0);
      expect(res.headers.etag).toBe(etag);
      expect(res.headers['cache-control']).toBe('public, max-age=86400, stale-while-revalidate=604800');
    }
    const stale = await get(`${sys.url}/script.js`, { 'if-none-match': '"0123456789abcdef0123456789abcdef"' });
    expect(stale.status).toBe(200);
    expect(stale.body.equals(built)).toBe(true);
  });

  it('sends gzip when accepted, with its own tag, and the identity otherwise', async () => {
    const identity = await get(`${sys.url}/script.js`);
    const gz = await get(`${sys.url}/script.js`, { 'accept-encoding': 'gzip, deflate, br' });
    expect(gz.status).toBe(200);
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).equals(built)).toBe(true);
    expect(gz.body.length).toBeLessThanOrEqual(1024);
    expect(gz.headers.etag).not.toBe(identity.headers.etag);
    expect((await get(`${sys.url}/script.js`, { 'accept-encoding': 'gzip', 'if-none-match': gz.headers.etag! })).status).toBe(304);
    // The gzip tag does not validate the identity representation, nor the other way round.
    expect((await get(`${sys.url}/script.js`, { 'if-none-match': gz.headers.etag! })).status).toBe(200);
    expect((await get(`${sys.url}/script.js`, { 'accept-encoding': 'gzip', 'if-none-match': identity.headers.etag! })).status).toBe(200);
    for (const refused of ['gzip;q=0', 'br', 'identity', '*;q=0', 'gzip;q=0, *']) {
      const res = await get(`${sys.url}/script.js`, { 'accept-encoding': refused });
      expect(res.headers['content-encoding'], refused).toBeUndefined();
      expect(res.body.equals(built), refused).toBe(true);
    }
    expect((await get(`${sys.url}/script.js`, { 'accept-encoding': '*' })).headers['content-encoding']).toBe('gzip');
  });

  it('answers HEAD with the headers and no body', async () => {
    const res = await get(`${sys.url}/script.js`, {}, 'HEAD');
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(0);
    expect(res.headers['content-type']).toBe('application/javascript; charset=utf-8');
    expect(Number(res.headers['content-length'])).toBe(built.length);
  });
});

it('without TRACKER_SCRIPT_PATH serves /script.js only; without a build answers 404 in the spec shape', async () => {
  const config = loadConfig({});
  expect(config.tracker.scriptPath).toBeUndefined();
  const app = Fastify();
  app.setErrorHandler(errorHandler(false));
  trackerRoutes(app, { config } as ApiContext, '/nonexistent/tracker/script.js');
  await app.ready();
  const res = await app.inject({ method: 'GET', url: '/script.js' });
  expect(res.statusCode).toBe(404);
  expect(res.json()).toEqual({ success: false, error: 'Not found', message: 'The tracker script is not built: run npm run build' });
  await app.close();
});
