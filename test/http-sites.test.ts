// Site management, dashboard sessions, share links and the dashboard's HTML headers, over real
// HTTP against the built server, in both modes; with Redis, two API servers for the 10 s rule.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL, serviceAvailable } from './helpers/services.js';
import { System, sleep, today, type Mode, type SiteKeys } from './helpers/system.js';

const redisUp = await serviceAvailable('Redis', REDIS_URL);
const ADMIN = 'admin-secret-token-for-sites';
const modes: Mode[] = redisUp ? ['embedded', 'bullmq'] : ['embedded'];
const admin = { authorization: `Bearer ${ADMIN}` };
const sameOrigin = (sys: System) => ({ 'x-requested-with': 'dashboard', origin: sys.url });

const pageview = (site: string, path = '/home') => ({ site_id: site, event_type: 'pageview', path, user_id: 'u1' });

/** The session cookie of a login answer, as a browser would send it back. */
function cookieOf(res: { headers: Headers }): string {
  const set = res.headers.get('set-cookie') ?? '';
  return set.split(';')[0]!;
}

async function login(sys: System, token: string) {
  return sys.request('POST', '/api/auth/login', { body: { token }, headers: sameOrigin(sys) });
}

describe.each(modes)('sites, sessions and share links (%s)', (mode) => {
  let sys: System;
  let a: SiteKeys;
  let b: SiteKeys;

  beforeAll(async () => {
    sys = await System.start({ mode, env: { ADMIN_TOKEN: ADMIN } });
    a = await sys.createSite('Alpha', 'Europe/Paris', admin);
    b = await sys.createSite('Beta', undefined, admin);
  });
  afterAll(async () => {
    await sys?.stop();
  });

  describe('sessions', () => {
    it('logs in with the admin token: an HttpOnly, SameSite=Strict cookie that reads every site', async () => {
      const res = await login(sys, ADMIN);
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ success: true, data: { role: 'admin' } });
      expect(Date.parse(res.json.data.expires_at)).toBeGreaterThan(Date.now() + 11 * 3600_000);
      const set = res.headers.get('set-cookie')!;
      expect(set).toMatch(/^wa_session=[\w-]+\.[\w-]+; Path=\/; Max-Age=43200; HttpOnly; SameSite=Strict$/);
      expect(set).not.toContain('Secure'); // plain http here; https requests get Secure
      expect(set).not.toContain(ADMIN);
      const cookie = cookieOf(res);
      const session = await sys.request('GET', '/api/auth/session', { headers: { cookie } });
      expect(session.json.data).toMatchObject({ authenticated: true, role: 'admin', admin_token_set: true });
      for (const s of [a, b]) expect((await sys.request('GET', `/api/stats?site_id=${s.site_id}`, { headers: { cookie } })).status).toBe(200);
      const sites = await sys.request('GET', '/api/sites', { headers: { cookie } });
      expect(sites.json.data.map((s: { site_id: string }) => s.site_id)).toEqual(expect.arrayContaining([a.site_id, b.site_id]));
    });

    it('marks the cookie Secure when the request came over https (X-Forwarded-Proto behind a trusted proxy)', async () => {
      const proxied = new System({ ...sys.env, TRUST_PROXY: 'true' }, mode);
      await proxied.startApi({ RUN_WORKER: 'false' });
      try {
        const res = await proxied.request('POST', '/api/auth/login', { body: { token: ADMIN }, headers: { ...sameOrigin(proxied), 'x-forwarded-proto': 'https' } });
        expect(res.status).toBe(200);
        expect(res.headers.get('set-cookie')).toMatch(/; Secure$/);
      } finally {
        await proxied.api.stop();
      }
    });

    it('logs in with a read key: that site only', async () => {
      const res = await login(sys, a.read_key);
      expect(res.json.data).toEqual({ role: 'site', site_id: a.site_id, expires_at: expect.any(String) });
      const cookie = cookieOf(res);
      expect((await sys.request('GET', `/api/stats?site_id=${a.site_id}`, { headers: { cookie } })).status).toBe(200);
      const other = await sys.request('GET', `/api/stats?site_id=${b.site_id}`, { headers: { cookie } });
      expect(other.status).toBe(403);
      expect(other.json.message).toBe('This session belongs to another site');
      const sites = await sys.request('GET', '/api/sites', { headers: { cookie } });
      expect(sites.json.data).toEqual([{ site_id: a.site_id, name: 'Alpha', timezone: 'Europe/Paris', created_at: expect.any(String), shared: false }]);
      // A site session is not an admin.
      const create = await sys.request('POST', '/api/site/create', { body: { name: 'Nope' }, headers: { cookie, ...sameOrigin(sys) } });
      expect(create.status).toBe(403);
    });

    it('refuses wrong tokens, the ingestion key, and logins without the dashboard header or from another origin', async () => {
      expect((await login(sys, 'wrong')).status).toBe(401);
      const api = await login(sys, a.api_key);
      expect(api.status).toBe(403);
      expect(api.json.message).toMatch(/ingestion API key/);
      const empty = await login(sys, '');
      expect(empty.status).toBe(400);
      expect(empty.json.details).toEqual([{ field: 'token', message: 'token must not be empty' }]);
      expect((await sys.request('POST', '/api/auth/login', { body: { token: ADMIN } })).status).toBe(403);
      const foreign = await sys.request('POST', '/api/auth/login', { body: { token: ADMIN }, headers: { 'x-requested-with': 'x', origin: 'https://evil.example' } });
      expect(foreign.status).toBe(403);
      expect(foreign.headers.get('set-cookie')).toBeNull();
    });

    it('ignores forged and tampered cookies', async () => {
      const cookie = cookieOf(await login(sys, a.read_key));
      const [body, mac] = cookie.slice('wa_session='.length).split('.');
      const payload = JSON.parse(Buffer.from(body!, 'base64url').toString());
      const forged = Buffer.from(JSON.stringify({ ...payload, r: 'admin' })).toString('base64url');
      // Change the MAC's first character to another one (a fixed 'x' was no change when the MAC began with 'x').
      const tampered = `${mac!.startsWith('x') ? 'y' : 'x'}${mac!.slice(1)}`;
      for (const c of [`wa_session=${forged}.${mac}`, `wa_session=${body}.${tampered}`, 'wa_session=garbage']) {
        expect((await sys.request('GET', `/api/stats?site_id=${b.site_id}`, { headers: { cookie: c } })).status, c).toBe(401);
        expect((await sys.request('GET', '/api/auth/session', { headers: { cookie: c } })).json.data.authenticated).toBe(false);
      }
    });

    it('needs the dashboard header and the same Origin for changes made with the cookie (CSRF)', async () => {
      const cookie = cookieOf(await login(sys, ADMIN));
      let res = await sys.request('POST', '/api/site/create', { body: { name: 'Csrf one' }, headers: { cookie } });
      expect(res.status).toBe(403);
      expect(res.json.message).toMatch(/x-requested-with/);
      res = await sys.request('POST', '/api/site/create', { body: { name: 'Csrf two' }, headers: { cookie, 'x-requested-with': 'x', origin: 'https://evil.example' } });
      expect(res.status).toBe(403);
      res = await sys.request('DELETE', `/api/sites/${b.site_id}`, { headers: { cookie, origin: sys.url } });
      expect(res.status).toBe(403);
      expect((await sys.request('GET', '/api/sites', { headers: admin })).json.data.map((s: { site_id: string }) => s.site_id)).toContain(b.site_id);
      res = await sys.request('POST', '/api/site/create', { body: { name: 'Csrf ok' }, headers: { cookie, ...sameOrigin(sys) } });
      expect(res.status).toBe(201);
      // The custom header forces a CORS preflight, which does not allow it.
      const preflight = await fetch(`${sys.url}/api/site/create`, {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-requested-with' },
      });
      expect(preflight.headers.get('access-control-allow-headers') ?? '').not.toMatch(/x-requested-with/);
      expect(preflight.headers.get('access-control-allow-credentials')).toBeNull();
    });

    it('logs out (the cookie is cleared) and sessions expire', async () => {
      const out = await sys.request('POST', '/api/auth/logout', { headers: sameOrigin(sys) });
      expect(out.status).toBe(200);
      expect(out.headers.get('set-cookie')).toMatch(/^wa_session=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict/);
      const short = new System({ ...sys.env, SESSION_TTL_HOURS: '0.0005' }, mode); // 1.8 s
      await short.startApi({ RUN_WORKER: 'false' });
      try {
        const cookie = cookieOf(await login(short, ADMIN));
        expect((await short.request('GET', `/api/stats?site_id=${a.site_id}`, { headers: { cookie } })).status).toBe(200);
        await sleep(2000);
        expect((await short.request('GET', `/api/stats?site_id=${a.site_id}`, { headers: { cookie } })).status).toBe(401);
      } finally {
        await short.api.stop();
      }
    });
  });

  describe('site management', () => {
    it('lists sites for the admin, its own for a read key, and nothing without a credential', async () => {
      const all = await sys.request('GET', '/api/sites', { headers: admin });
      expect(all.status).toBe(200);
      const alpha = all.json.data.find((s: { site_id: string }) => s.site_id === a.site_id);
      expect(alpha).toEqual({ site_id: 'alpha', name: 'Alpha', timezone: 'Europe/Paris', created_at: expect.stringMatching(/^\d{4}-/), shared: false });
      const own = await sys.request('GET', '/api/sites', { headers: { authorization: `Bearer ${b.read_key}` } });
      expect(own.json.data.map((s: { site_id: string }) => s.site_id)).toEqual([b.site_id]);
      expect((await sys.request('GET', '/api/sites')).status).toBe(401);
      expect((await sys.request('GET', '/api/sites', { headers: { authorization: `Bearer ${b.api_key}` } })).status).toBe(403);
    });

    it('rotates keys: new keys shown once, the old ones and their sessions refused at once', async () => {
      const site = await sys.createSite('Rotating', undefined, admin);
      const oldSession = cookieOf(await login(sys, site.read_key));
      expect((await sys.request('POST', `/api/sites/${site.site_id}/rotate-keys`)).status).toBe(401);
      expect((await sys.request('POST', `/api/sites/${site.site_id}/rotate-keys`, { headers: { authorization: `Bearer ${site.read_key}` } })).status).toBe(403);
      const res = await sys.request('POST', `/api/sites/${site.site_id}/rotate-keys`, { headers: admin });
      expect(res.status).toBe(200);
      expect(Object.keys(res.json.data).sort()).toEqual(['api_key', 'created_at', 'name', 'read_key', 'site_id', 'timezone']);
      const fresh = res.json.data as SiteKeys;
      expect(fresh.api_key).not.toBe(site.api_key);
      expect(fresh.read_key).toMatch(/^rk_[A-Za-z0-9_-]{32}$/);
      expect((await sys.sendEvent(site, pageview(site.site_id))).status).toBe(401);
      expect((await sys.stats(site)).status).toBe(401);
      expect((await sys.request('GET', `/api/stats?site_id=${site.site_id}`, { headers: { cookie: oldSession } })).status).toBe(401);
      expect((await sys.sendEvent(fresh, pageview(site.site_id))).status).toBe(202);
      await sys.statsWhen(fresh, `&date=${today()}`, (d) => d.total_views === 1);
      expect((await sys.request('POST', '/api/sites/nope/rotate-keys', { headers: admin })).status).toBe(404);
    });

    it('deletes a site with its events and rollups; its keys are refused and its id is not reused', async () => {
      const site = await sys.createSite('Doomed', undefined, admin);
      expect((await sys.sendEvent(site, pageview(site.site_id))).status).toBe(202);
      await sys.statsWhen(site, `&date=${today()}`, (d) => d.total_views === 1);
      expect((await sys.request('DELETE', `/api/sites/${site.site_id}`, { headers: { authorization: `Bearer ${site.read_key}` } })).status).toBe(403);
      const res = await sys.request('DELETE', `/api/sites/${site.site_id}`, { headers: admin });
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ success: true, data: { site_id: site.site_id, deleted: true } });
      expect((await sys.sendEvent(site, pageview(site.site_id))).status).toBe(401);
      expect((await sys.stats(site)).status).toBe(401);
      expect((await sys.request('GET', `/api/stats?site_id=${site.site_id}`, { headers: admin })).status).toBe(404);
      expect((await sys.request('GET', '/api/sites', { headers: admin })).json.data.map((s: { site_id: string }) => s.site_id)).not.toContain(site.site_id);
      expect((await sys.request('DELETE', `/api/sites/${site.site_id}`, { headers: admin })).status).toBe(404);
      // A new site of the same name gets another id; asking for the old id explicitly is refused.
      const again = await sys.request('POST', '/api/site/create', { body: { name: 'Doomed' }, headers: admin });
      expect(again.status).toBe(201);
      expect(again.json.data.site_id).not.toBe(site.site_id);
      const explicit = await sys.request('POST', '/api/site/create', { body: { name: 'Doomed', site_id: site.site_id }, headers: admin });
      expect(explicit.status).toBe(409);
      expect(explicit.json.message).toMatch(/deleted site and is not reused/);
    });
  });

  describe('share links', () => {
    it('a share token reads its site (stats and name) and nothing else, until it is revoked', async () => {
      expect((await sys.request('POST', `/api/sites/${a.site_id}/share`, { headers: { authorization: `Bearer ${a.read_key}` } })).status).toBe(403);
      const res = await sys.request('POST', `/api/sites/${a.site_id}/share`, { headers: admin });
      expect(res.status).toBe(201);
      const { share_token: token, url } = res.json.data;
      expect(token).toMatch(/^sh_[A-Za-z0-9_-]{32}$/); // 192 random bits
      expect(url).toBe(`${sys.url}/share/${token}`);
      const bearer = { authorization: `Bearer ${token}` };
      expect((await sys.request('GET', `/api/stats?site_id=${a.site_id}`, { headers: bearer })).status).toBe(200);
      expect((await sys.request('GET', `/api/stats?site_id=${a.site_id}&from=2024-01-01&to=2024-01-02`, { headers: bearer })).status).toBe(200);
      const other = await sys.request('GET', `/api/stats?site_id=${b.site_id}`, { headers: bearer });
      expect(other.status).toBe(403);
      expect(other.json.message).toBe('This share token belongs to another site');
      expect((await sys.request('GET', '/api/sites', { headers: bearer })).json.data).toEqual([{ site_id: a.site_id, name: 'Alpha', timezone: 'Europe/Paris' }]);
      expect((await sys.request('POST', `/api/sites/${a.site_id}/rotate-keys`, { headers: bearer })).status).toBe(403);
      expect((await sys.request('POST', '/api/site/create', { body: { name: 'x' }, headers: bearer })).status).toBe(403);
      expect((await login(sys, token)).status).toBe(403);
      expect((await sys.request('GET', '/api/sites', { headers: admin })).json.data.find((s: { site_id: string }) => s.site_id === a.site_id).shared).toBe(true);

      const revoked = await sys.request('DELETE', `/api/sites/${a.site_id}/share`, { headers: admin });
      expect(revoked.json).toEqual({ success: true, data: { site_id: a.site_id, shared: false } });
      const after = await sys.request('GET', `/api/stats?site_id=${a.site_id}`, { headers: bearer });
      expect(after.status).toBe(401);
      expect(after.json.message).toBe('Invalid or revoked share token');
    });

    it('a new link ends the previous one', async () => {
      const first = (await sys.request('POST', `/api/sites/${b.site_id}/share`, { headers: admin })).json.data.share_token;
      const second = (await sys.request('POST', `/api/sites/${b.site_id}/share`, { headers: admin })).json.data.share_token;
      expect((await sys.request('GET', `/api/stats?site_id=${b.site_id}`, { headers: { authorization: `Bearer ${first}` } })).status).toBe(401);
      expect((await sys.request('GET', `/api/stats?site_id=${b.site_id}`, { headers: { authorization: `Bearer ${second}` } })).status).toBe(200);
    });
  });

  describe('dashboard pages', () => {
    it('serves the pages with a CSP that allows exactly their inline scripts by hash', async () => {
      for (const path of ['/', '/sites/alpha', '/share/sh_whatever']) {
        const res = await fetch(sys.url + path);
        expect(res.status, path).toBe(200);
        expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        expect(res.headers.get('referrer-policy')).toBe('no-referrer');
        const csp = res.headers.get('content-security-policy')!;
        expect(csp).toContain("frame-ancestors 'none'");
        expect(csp).toContain("object-src 'none'");
        expect(csp).not.toContain('unsafe-inline');
        expect(csp).not.toContain('unsafe-eval');
        const scriptSrc = csp.split('; ').find((d) => d.startsWith('script-src '))!;
        const html = await res.text();
        const inline = [...html.matchAll(/<script(?![^>]*\ssrc=)[^>]*>([\s\S]*?)<\/script>/g)].map(
          (m) => `'sha256-${createHash('sha256').update(m[1]!).digest('base64')}'`,
        );
        expect(inline.length, path).toBeGreaterThan(0);
        expect(scriptSrc.split(' ').slice(1).sort()).toEqual(["'self'", ...new Set(inline)].sort());
      }
      const asset = /src="(\/_next\/static\/[^"]+\.js)"/.exec(await (await fetch(sys.url + '/')).text())![1]!;
      const js = await fetch(sys.url + asset, { headers: { 'accept-encoding': 'gzip' } });
      expect(js.status).toBe(200);
      expect(js.headers.get('cache-control')).toMatch(/immutable/);
      // The API keeps its JSON answers.
      expect((await sys.request('GET', '/api/nothing')).json).toMatchObject({ success: false, error: 'Not found' });
    });
  });
});

describe.runIf(redisUp)('two API servers sharing Redis', () => {
  let one: System;
  let two: System;
  beforeAll(async () => {
    one = await System.start({ mode: 'bullmq', env: { ADMIN_TOKEN: ADMIN, SITE_CACHE_REFRESH_SECONDS: '3600' } });
    two = new System(one.env, 'bullmq');
    await two.startApi();
  });
  afterAll(async () => {
    await two?.api.stop();
    await one?.stop();
  });

  /** Polls `probe` on the second server until it gives `status`, for at most 10 s. */
  async function within10s(probe: () => Promise<{ status: number }>, status: number): Promise<void> {
    const end = Date.now() + 10_000;
    let last = 0;
    while (Date.now() < end) {
      last = (await probe()).status;
      if (last === status) return;
      await sleep(100);
    }
    throw new Error(`the second server still answered ${last} after 10 s`);
  }

  it('refuses rotated keys, revoked share links and deleted sites on every server within 10 s (periodic refresh off)', async () => {
    const site = await one.createSite('Shared servers', undefined, admin);
    await within10s(() => two.sendEvent(site, pageview(site.site_id)), 202);

    const rotated = (await one.request('POST', `/api/sites/${site.site_id}/rotate-keys`, { headers: admin })).json.data as SiteKeys;
    await within10s(() => two.sendEvent(site, pageview(site.site_id)), 401);
    await within10s(() => two.stats(site), 401);
    await within10s(() => two.sendEvent(rotated, pageview(site.site_id)), 202);

    const token = (await one.request('POST', `/api/sites/${site.site_id}/share`, { headers: admin })).json.data.share_token;
    const viaShare = () => two.request('GET', `/api/stats?site_id=${site.site_id}`, { headers: { authorization: `Bearer ${token}` } });
    await within10s(viaShare, 200);
    await one.request('DELETE', `/api/sites/${site.site_id}/share`, { headers: admin });
    await within10s(viaShare, 401);

    await one.request('DELETE', `/api/sites/${site.site_id}`, { headers: admin });
    await within10s(() => two.sendEvent(rotated, pageview(site.site_id)), 401);
    await within10s(() => two.stats(rotated), 401);
  });
});
