/// <reference lib="dom" />
// The OpenAPI document (GET /api/openapi.json) and Swagger UI (GET /api/docs). Every route Fastify
// registered (walked from its router, in embedded and BullMQ mode) is documented, except the list
// below; the document is valid OpenAPI 3.1 (@apidevtools/swagger-parser); every example in it
// validates against its schema (ajv, JSON Schema 2020-12); real answers of the built server
// validate against the documented schema of their status, so the document cannot drift from the
// code; and Swagger UI loads in Chromium with no CSP violation and no request to another host.
import fs from 'node:fs';
import path from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { startServer, type RunningServer } from '../src/server.js';
import { IN_CI, REDIS_URL, serviceAvailable, uniqueName } from './helpers/services.js';
import { tempDir } from './helpers/stores.js';
import { System, today, type SiteKeys } from './helpers/system.js';

const ADMIN = 'openapi-admin-token-0123456789';
const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
const SHOTS = path.resolve(import.meta.dirname, '../test-results/screenshots');
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

type Route = { method: string; url: string };

/**
 * Routes that are not in the document, and why. Each rule must match a registered route (a rule
 * that matches nothing is a stale exclusion and fails the test).
 */
const NOT_DOCUMENTED: { why: string; match: (r: Route) => boolean }[] = [
  { why: "Fastify's automatic HEAD of each GET route: the same answer without its body", match: (r) => r.method === 'HEAD' },
  { why: 'CORS preflights, answered for every path by @fastify/cors', match: (r) => r.method === 'OPTIONS' && r.url === '*' },
  {
    why: "the dashboard's pages and static files: the web app, not the API",
    match: (r) => ['/', '/sites/:site_id', '/share/:token', '/favicon.svg'].includes(r.url) || r.url.startsWith('/_next/'),
  },
  { why: "Swagger UI's own files (the page is GET /api/docs; /api/docs/json is this document again)", match: (r) => r.url.startsWith('/api/docs/') },
  {
    why: "bull-board's pages, assets and JSON API, which are its own (versioned with the package, not this project's contract); GET /admin/queues is documented",
    match: (r) => r.url.startsWith('/admin/queues/'),
  },
];

/** Every route of the app, from Fastify's router tree (`printRoutes`: each node's label is a piece of the path). */
function registeredRoutes(app: FastifyInstance): Route[] {
  const routes: Route[] = [];
  const labels: string[] = [];
  for (const line of app.printRoutes().split('\n')) {
    const m = /^((?:[│ ] {3})*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    labels.length = depth;
    labels.push(m[2] === '(empty root node)' ? '' : m[2]!);
    if (m[3]) for (const method of m[3].split(', ')) routes.push({ method, url: labels.join('') });
  }
  return routes;
}

/** `/api/sites/:site_id/share` → `/api/sites/{site_id}/share` */
const openapiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

async function inProcess(env: Record<string, string>): Promise<RunningServer> {
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'silent', NODE_ENV: 'test', ADMIN_TOKEN: ADMIN, ...env });
  return startServer(config, createLogger(config, 'api'));
}

function ajvFor(doc: any): Ajv2020 {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema({ $id: 'openapi', components: doc.components ?? {} });
  return ajv;
}

/** `#/components/…` references, resolved inside the document registered as `openapi`. */
const inDocument = (schema: unknown) => JSON.parse(JSON.stringify(schema).replaceAll('"$ref":"#/components/', '"$ref":"openapi#/components/'));

describe('OpenAPI document', () => {
  let sys: System;
  let doc: any;
  let ajv: Ajv2020;
  const admin = { authorization: `Bearer ${ADMIN}` };

  beforeAll(async () => {
    sys = await System.start({ mode: 'embedded', env: { ADMIN_TOKEN: ADMIN } });
    const res = await sys.request('GET', '/api/openapi.json');
    expect(res.status).toBe(200);
    doc = res.json;
    ajv = ajvFor(doc);
  }, 60_000);

  afterAll(async () => {
    await sys?.stop();
  });

  it('is valid OpenAPI 3.1', async () => {
    expect(doc.openapi).toBe('3.1.0');
    await SwaggerParser.validate(structuredClone(doc));
    expect(Object.keys(doc.paths).length).toBeGreaterThanOrEqual(17);
  });

  describe('documents every registered route', () => {
    const seen: Route[] = [];
    const check = async (app: FastifyInstance) => {
      const routes = registeredRoutes(app);
      expect(routes.length).toBeGreaterThan(30);
      seen.push(...routes);
      const own = app.swagger() as any;
      // Documented: a summary and described answers (@fastify/swagger lists a route without a schema
      // too, with a "Default Response" only).
      const documented = (r: Route) => {
        const op = own.paths[openapiPath(r.url)]?.[r.method.toLowerCase()];
        return op?.summary && Object.values(op.responses as Record<string, { description: string }>).every((x) => x.description !== 'Default Response');
      };
      const missing = routes
        .filter((r) => !NOT_DOCUMENTED.some((x) => x.match(r)))
        .filter((r) => !documented(r))
        .map((r) => `${r.method} ${r.url}`);
      expect(missing, 'routes missing from the OpenAPI document').toEqual([]);
      // And nothing documented that the server does not serve.
      const served = new Set(routes.map((r) => `${r.method} ${openapiPath(r.url)}`));
      const stale = Object.entries(own.paths as Record<string, object>).flatMap(([p, item]) =>
        Object.keys(item)
          .filter((m) => METHODS.includes(m))
          .filter((m) => !served.has(`${m.toUpperCase()} ${p}`))
          .map((m) => `${m.toUpperCase()} ${p}`),
      );
      expect(stale, 'documented operations without a route').toEqual([]);
    };

    it('embedded mode', async () => {
      const dir = tempDir('openapi-routes-');
      const server = await inProcess({ DATA_DIR: dir });
      try {
        await check(server.app);
      } finally {
        await server.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('BullMQ mode (the queue board registers its routes)', async (ctx) => {
      if (!(await serviceAvailable('Redis', REDIS_URL))) return ctx.skip();
      const dir = tempDir('openapi-routes-');
      const name = uniqueName('openapi');
      const server = await inProcess({ DATA_DIR: dir, REDIS_URL, QUEUE_NAME: name });
      try {
        await check(server.app);
        expect(registeredRoutes(server.app).some((r) => r.url === '/admin/queues/api/queues')).toBe(true);
      } finally {
        await server.close();
        fs.rmSync(dir, { recursive: true, force: true });
        const redis = new Redis(REDIS_URL);
        const keys = await redis.keys(`bull:${name}*`);
        if (keys.length) await redis.del(...keys);
        redis.disconnect();
      }
    });

    it('each exclusion is used', () => {
      for (const rule of NOT_DOCUMENTED) expect(seen.some(rule.match), rule.why).toBe(true);
    });
  });

  it('has examples, and every example validates against its schema', () => {
    let checked = 0;
    const problems: string[] = [];
    const validate = (where: string, schema: unknown, value: unknown) => {
      const fn: ValidateFunction = ajv.compile(inDocument(schema));
      checked++;
      if (!fn(value)) problems.push(`${where}: ${ajv.errorsText(fn.errors)}`);
    };
    /** JSON Schema `examples` arrays anywhere inside a schema. */
    const schemaExamples = (where: string, schema: any) => {
      if (!schema || typeof schema !== 'object') return;
      if (Array.isArray(schema.examples)) for (const e of schema.examples) validate(`${where} (schema example)`, schema, e);
      for (const [k, v] of Object.entries(schema)) if (k !== 'examples' && typeof v === 'object') schemaExamples(`${where}/${k}`, v);
    };
    const media = (where: string, m: any) => {
      if (m.example !== undefined) validate(where, m.schema, m.example);
      for (const [name, e] of Object.entries((m.examples ?? {}) as Record<string, { value: unknown }>)) validate(`${where} example "${name}"`, m.schema, e.value);
      schemaExamples(where, m.schema);
    };
    const withoutExamples: string[] = [];
    for (const [p, item] of Object.entries(doc.paths as Record<string, any>)) {
      for (const method of Object.keys(item).filter((m) => METHODS.includes(m))) {
        const op = item[method];
        const at = `${method.toUpperCase()} ${p}`;
        for (const param of op.parameters ?? []) {
          if (param.example !== undefined) validate(`${at} parameter ${param.name}`, param.schema, param.example);
          schemaExamples(`${at} parameter ${param.name}`, param.schema);
        }
        for (const [type, m] of Object.entries((op.requestBody?.content ?? {}) as Record<string, any>)) {
          media(`${at} body ${type}`, m);
          if (!m.example && !m.examples) withoutExamples.push(`${at} body ${type}`);
        }
        for (const [status, response] of Object.entries((op.responses ?? {}) as Record<string, any>)) {
          for (const [type, m] of Object.entries((response.content ?? {}) as Record<string, any>)) {
            media(`${at} ${status} ${type}`, m);
            const isJsonAnswer = type === 'application/json' && p !== '/api/openapi.json';
            if (isJsonAnswer && !m.example && !m.examples) withoutExamples.push(`${at} ${status}`);
          }
        }
      }
    }
    expect(problems, 'examples that do not match their schema').toEqual([]);
    expect(withoutExamples, 'JSON bodies and answers without an example').toEqual([]);
    expect(checked).toBeGreaterThan(100);
  });

  it('real answers match the documented schema of their status', async () => {
    type Answer = { method: string; path: string; status: number; type: string; body: unknown };
    const answers: Answer[] = [];
    const call = async (method: string, docPath: string, url: string, init: { headers?: Record<string, string>; body?: unknown; raw?: string } = {}) => {
      const res = await sys.request(method, url, init);
      answers.push({ method, path: docPath, status: res.status, type: (res.headers.get('content-type') ?? '').split(';')[0]!, body: res.json ?? res.text });
      return res;
    };
    const json = { 'content-type': 'application/json' };

    await call('GET', '/api/health', '/api/health');
    const created = await call('POST', '/api/site/create', '/api/site/create', { headers: admin, body: { name: 'Docs shop', timezone: 'europe/paris' } });
    const site = created.json.data as SiteKeys;
    await call('POST', '/api/site/create', '/api/site/create', { body: { name: 'No token' } });
    await call('POST', '/api/site/create', '/api/site/create', { headers: admin, body: { name: 'X', timezone: 'Mars/Olympus' } });
    await call('POST', '/api/site/create', '/api/site/create', { headers: admin, body: { name: 'X', site_id: site.site_id } });
    await call('POST', '/api/site/create', '/api/site/create', { headers: { authorization: 'Bearer wrong' }, body: { name: 'X' } });

    const ingest = { 'x-api-key': site.api_key };
    const ev = { site_id: site.site_id, event_type: 'pageview', path: '/docs', user_id: 'u1' };
    await call('POST', '/api/event', '/api/event', { headers: ingest, body: ev });
    await call('POST', '/api/event', '/api/event', { headers: { ...ingest, 'content-type': 'text/plain' }, raw: JSON.stringify({ ...ev, user_id: 'u2', event_type: 'signup', props: { plan: 'pro' } }) });
    await call('POST', '/api/event', `/api/event?api_key=${site.api_key}`, { headers: { 'content-type': 'text/plain', 'user-agent': 'curl/8.5.0' }, raw: JSON.stringify({ ...ev, user_id: undefined }) });
    await call('POST', '/api/event', '/api/event', { headers: ingest, body: { event_type: 'pageview', path: '', user_id: 42 } });
    await call('POST', '/api/event', '/api/event', { headers: { ...ingest, ...json }, raw: '{"site_id":' });
    await call('POST', '/api/event', '/api/event', { body: ev });
    await call('POST', '/api/event', '/api/event', { headers: ingest, body: { ...ev, site_id: 'other-site' } });
    await call('POST', '/api/event', '/api/event', { headers: { ...ingest, 'content-type': 'application/x-www-form-urlencoded' }, raw: 'site_id=x' });
    await call('POST', '/api/event', '/api/event', { headers: ingest, body: { ...ev, path: 'x'.repeat(40_000) } });
    await call('POST', '/api/event/batch', '/api/event/batch', { headers: ingest, body: { events: [{ ...ev, user_id: 'u3' }, { ...ev, path: undefined }] } });
    await call('POST', '/api/event/batch', '/api/event/batch', { headers: ingest, body: { events: [{ ...ev, path: undefined }] } });
    await call('POST', '/api/event/batch', '/api/event/batch', { headers: ingest, body: { events: [] } });

    const read = { authorization: `Bearer ${site.read_key}` };
    await sys.statsWhen({ ...site }, `&date=${today()}`, (d) => d.total_views >= 2);
    const q = `site_id=${site.site_id}`;
    await call('GET', '/api/stats', `/api/stats?${q}&date=${today()}`, { headers: read });
    await call('GET', '/api/stats', `/api/stats?${q}`, { headers: read });
    await call('GET', '/api/stats', `/api/stats?${q}&from=${today()}&to=${today()}`, { headers: read });
    await call('GET', '/api/stats', `/api/stats?${q}&from=${today()}&to=${today()}&granularity=hour`, { headers: read });
    await call('GET', '/api/stats', `/api/stats?date=nope`, { headers: read });
    await call('GET', '/api/stats', `/api/stats?${q}`);
    await call('GET', '/api/stats', `/api/stats?${q}`, { headers: { authorization: `Bearer ${site.api_key}` } });
    await call('GET', '/api/stats', `/api/stats?site_id=nope`, { headers: admin });
    await call('GET', '/api/stats/breakdown', `/api/stats/breakdown?${q}&date=${today()}&dimension=page`, { headers: read });
    await call('GET', '/api/stats/breakdown', `/api/stats/breakdown?${q}&dimension=property&event=signup&property=plan`, { headers: read });
    await call('GET', '/api/stats/breakdown', `/api/stats/breakdown?${q}&dimension=colour`, { headers: read });
    await call('GET', '/api/stats/breakdown', `/api/stats/breakdown?${q}&dimension=property_key`, { headers: read });
    await call('GET', '/api/stats/realtime', `/api/stats/realtime?${q}`, { headers: read });
    await call('GET', '/api/stats/realtime', `/api/stats/realtime`, { headers: read });

    await call('GET', '/api/sites', '/api/sites', { headers: admin });
    await call('GET', '/api/sites', '/api/sites');
    const shared = await call('POST', '/api/sites/{site_id}/share', `/api/sites/${site.site_id}/share`, { headers: admin });
    await call('GET', '/api/sites', '/api/sites', { headers: { authorization: `Bearer ${shared.json.data.share_token}` } });
    await call('DELETE', '/api/sites/{site_id}/share', `/api/sites/${site.site_id}/share`, { headers: admin });
    await call('POST', '/api/sites/{site_id}/rotate-keys', `/api/sites/${site.site_id}/rotate-keys`, { headers: admin });
    await call('POST', '/api/sites/{site_id}/rotate-keys', `/api/sites/${site.site_id}/rotate-keys`, { headers: read });
    await call('DELETE', '/api/sites/{site_id}', '/api/sites/nope', { headers: admin });

    const csrf = { 'x-requested-with': 'test' };
    await call('POST', '/api/auth/login', '/api/auth/login', { headers: csrf, body: { token: ADMIN } });
    await call('POST', '/api/auth/login', '/api/auth/login', { headers: csrf, body: { token: 'rk_unknown' } });
    await call('POST', '/api/auth/login', '/api/auth/login', { headers: csrf, body: {} });
    await call('POST', '/api/auth/login', '/api/auth/login', { body: { token: ADMIN } });
    await call('GET', '/api/auth/session', '/api/auth/session');
    await call('POST', '/api/auth/logout', '/api/auth/logout', { headers: csrf });
    await call('POST', '/api/auth/logout', '/api/auth/logout');

    await call('DELETE', '/api/sites/{site_id}', `/api/sites/${site.site_id}`, { headers: admin });
    await call('GET', '/script.js', '/script.js');
    await call('GET', '/api/openapi.json', '/api/openapi.json');
    await call('GET', '/api/docs', '/api/docs');
    await call('GET', '/admin/queues', '/admin/queues', { headers: admin });
    await call('GET', '/api/ready', '/api/ready');
    await call('GET', '/metrics', '/metrics', { headers: admin });
    await call('GET', '/metrics', '/metrics');
    await call('GET', '/metrics', '/metrics', { headers: { authorization: 'Bearer wrong' } });

    const problems: string[] = [];
    const statuses = new Set<number>();
    for (const a of answers) {
      statuses.add(a.status);
      const response = doc.paths[a.path]?.[a.method.toLowerCase()]?.responses?.[String(a.status)];
      const at = `${a.method} ${a.path} → ${a.status} ${JSON.stringify(a.body).slice(0, 200)}`;
      if (!response) {
        problems.push(`${at}: status not documented`);
        continue;
      }
      const media = response.content?.[a.type];
      if (!media) {
        problems.push(`${at}: content type ${a.type} not documented (${Object.keys(response.content ?? {}).join(', ')})`);
        continue;
      }
      const fn = ajv.compile(inDocument(media.schema));
      if (!fn(a.body)) problems.push(`${at}: ${ajv.errorsText(fn.errors)}`);
    }
    expect(problems).toEqual([]);
    expect([...statuses].sort()).toEqual([200, 201, 202, 400, 401, 403, 404, 409, 413, 415]);
  });
});

const chromiumThere = fs.existsSync(CHROMIUM);
if (!chromiumThere) {
  const reason = `Chromium not found at ${CHROMIUM} (apt-get install chromium)`;
  if (IN_CI) throw new Error(`${reason} (CI=true: the browser tests must run)`);
  console.warn(`skipped: ${reason}`);
}

describe.runIf(chromiumThere)('Swagger UI in Chromium', () => {
  let sys: System;
  let browser: Browser;

  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    sys = await System.start({ mode: 'embedded', env: { ADMIN_TOKEN: ADMIN } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await sys?.stop();
  });

  it('loads the document offline, with no CSP violation and no request to another host', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const external: string[] = [];
    const problems: string[] = [];
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
    try {
      const res = await page.goto(`${sys.url}/api/docs`);
      expect(res!.headers()['content-security-policy']).toContain("script-src 'self';");
      await page.getByText('Website Analytics API').first().waitFor();
      await page.getByText('Queue one event').first().waitFor();
      // Open one operation: its example body is shown.
      await page.getByText('Queue one event').first().click();
      await page.getByText('"user_id": "user-123"').first().waitFor();
      await page.screenshot({ path: path.join(SHOTS, 'api-docs.png') });
      expect(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp)).toEqual([]);
      expect(external).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await ctx.close();
    }
  });
});
