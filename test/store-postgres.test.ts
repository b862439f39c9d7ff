import { describe, expect, it } from 'vitest';
import { POSTGRES_URL, serviceAvailable } from './helpers/services.js';
import { postgresHarness } from './helpers/stores.js';
import { storeContract } from './store.contract.js';

const available = await serviceAvailable('PostgreSQL', POSTGRES_URL);
describe.runIf(available)('PostgreSQL', () => {
  storeContract('PostgreSQL', postgresHarness);
});

// Issue 9, item 2: what PostgreSQL refuses (NUL), and how the worker's search isolates it, for real.
describe.runIf(available)('PostgreSQL refusing a value', () => {
  it('refuses a NUL byte as a data error, and the bisection applies everything else', async () => {
    const { newSite } = await import('../src/core/site.js');
    const { event, SESSION_TIMEOUT_MS } = await import('./store.contract.js');
    const { applyIsolatingBadEvents } = await import('../src/worker/isolate.js');
    const h = await postgresHarness();
    try {
      const now = Date.now();
      const site = newSite('nul-site', 'NUL', 'UTC', now).site;
      await h.store.createSite(site);
      const nul = event(site, { at: now, path: '/bad\u0000path' });
      const err = await h.store.applyEvents([nul], { now, sessionTimeoutMs: SESSION_TIMEOUT_MS }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as { code?: string }).code).toBe('22021');
      expect(h.store.isDataError(err)).toBe(true);
      const good = Array.from({ length: 40 }, (_, i) => event(site, { at: now, path: `/p${i % 3}`, user_id: `u${i}` }));
      const events = [...good.slice(0, 17), nul, ...good.slice(17)];
      const r = await applyIsolatingBadEvents(events, {
        apply: (part) => h.store.applyEvents(part, { now, sessionTimeoutMs: SESSION_TIMEOUT_MS }),
        ping: () => h.store.ping(),
        isDataError: (e) => h.store.isDataError(e),
      });
      expect(r.failure).toBeUndefined();
      expect(r.bad.map((b) => b.event.id)).toEqual([nul.id]);
      expect(r.bad[0]!.error.message).toMatch(/invalid byte sequence for encoding "UTF8": 0x00/);
      expect(r.applied).toBe(40);
      expect(await h.store.countEvents(site.site_id)).toBe(40);
      const today = await h.store.summary(site.site_id, { grain: 2, from: now - 3_600_000, to: now + 3_600_000 });
      expect(today).toMatchObject({ pageviews: 40, visitors: 40, visits: 40 });
    } finally {
      await h.cleanup();
    }
  });
});
