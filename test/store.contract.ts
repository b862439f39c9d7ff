// The store contract: every adapter runs this suite unchanged. Events go in as the worker prepares
// them (src/worker/prepare.ts) and come out through the reports the API serves.
import { beforeEach, afterEach, describe, expect, it } from 'vitest';
import { dimensionByName } from '../src/core/dimensions.js';
import { newEventId, type QueuedEvent } from '../src/core/event.js';
import { newSite, type Site } from '../src/core/site.js';
import { HOUR, dayStart, hoursOfDay } from '../src/core/time.js';
import { givenVisitor } from '../src/core/visitor.js';
import { breakdownReport } from '../src/reports/breakdown.js';
import { realtimeReport } from '../src/reports/realtime.js';
import { dayReport, last24hPeriod, last24hReport, rangePeriod, rangeReport } from '../src/reports/stats.js';
import { SiteExistsError, type AnalyticsStore, type Period, type PreparedEvent } from '../src/store/port.js';
import { prepareEvent } from '../src/worker/prepare.js';

export interface StoreHarness {
  store: AnalyticsStore;
  /** Drops whatever the store created (schema, file). */
  cleanup(): Promise<void>;
}

export const AWKWARD_PATHS = [
  '/a.b.c',
  '/$where',
  '$',
  '/price.$100',
  '__proto__',
  '/__proto__',
  'constructor',
  '/toString',
  '/héllo/wörld/日本語/😀',
  '/q"uote\\back{brace},comma \'single\'',
  'NULL',
  '/' + 'x'.repeat(1999),
  '/' + 'é'.repeat(1999),
];

const MIN = 60_000;
export const SESSION_TIMEOUT_MS = 30 * MIN;
let seq = 0;

export type EventFields = Partial<Omit<QueuedEvent, 'ts' | 'visitor'>> & { at: number; user_id?: string; visitor?: string; event_type?: string };

/** An event of `site` as the worker prepares it; `user_id` (default: a new one) is a given visitor. */
export function event(site: Site, f: EventFields): PreparedEvent {
  const { at, user_id, event_type, visitor, ...rest } = f;
  const q: QueuedEvent = {
    id: newEventId(),
    site_id: site.site_id,
    type: event_type ?? 'pageview',
    path: '/',
    visitor: visitor ?? givenVisitor(user_id ?? `user-${++seq}`),
    ts: at,
    received_at: at,
    ...rest,
  };
  return prepareEvent(q, site);
}

const dim = (name: string) => dimensionByName(name)!;

export function storeContract(name: string, open: () => Promise<StoreHarness>): void {
  describe(`store contract: ${name}`, () => {
    let h: StoreHarness;
    let store: AnalyticsStore;
    let site: Site;
    const NOW = Date.parse('2024-06-15T12:30:00Z');
    const apply = (events: PreparedEvent[], now = NOW) => store.applyEvents(events, { now, sessionTimeoutMs: SESSION_TIMEOUT_MS });

    beforeEach(async () => {
      h = await open();
      store = h.store;
      await store.migrate(); // a second run of the migrations is a no-op
      site = newSite(`site-${Math.random().toString(36).slice(2, 8)}`, 'Test site', 'UTC', NOW).site;
      await store.createSite(site);
    });

    afterEach(async () => {
      await h.cleanup();
    });

    async function addSite(timezone: string): Promise<Site> {
      const s = newSite(`tz-${Math.random().toString(36).slice(2, 8)}`, 'TZ site', timezone, NOW).site;
      await store.createSite(s);
      return s;
    }

    describe('sites', () => {
      it('stores a site and finds it by id and in the list', async () => {
        expect(await store.getSite(site.site_id)).toEqual(site);
        expect((await store.listSites()).map((s) => s.site_id)).toContain(site.site_id);
        expect(await store.getSite('no-such-site')).toBeUndefined();
      });

      it('refuses a second site with the same id', async () => {
        const again = newSite(site.site_id, 'Other', 'UTC', NOW).site;
        await expect(store.createSite(again)).rejects.toBeInstanceOf(SiteExistsError);
      });

      it('updates key hashes and the share token hash, and says when the site is unknown', async () => {
        expect(await store.updateSite(site.site_id, { api_key_hash: 'a'.repeat(64), read_key_hash: 'b'.repeat(64) })).toBe(true);
        expect(await store.getSite(site.site_id)).toEqual({ ...site, api_key_hash: 'a'.repeat(64), read_key_hash: 'b'.repeat(64) });
        expect(await store.updateSite(site.site_id, { share_token_hash: 'c'.repeat(64) })).toBe(true);
        expect((await store.getSite(site.site_id))?.share_token_hash).toBe('c'.repeat(64));
        expect((await store.listSites()).find((s) => s.site_id === site.site_id)?.share_token_hash).toBe('c'.repeat(64));
        expect(await store.updateSite(site.site_id, { share_token_hash: null })).toBe(true);
        expect(await store.getSite(site.site_id)).not.toHaveProperty('share_token_hash');
        expect(await store.updateSite('no-such-site', { share_token_hash: null })).toBe(false);
      });

      it('deletes a site with its raw events and rollups, keeps other sites, and never reuses the id', async () => {
        const other = await addSite('UTC');
        const at = NOW - HOUR;
        await apply([
          event(site, { at, path: '/gone', user_id: 'u1' }),
          event(site, { at, path: '/gone', user_id: 'u2', event_type: 'signup' }),
          event(other, { at, path: '/kept', user_id: 'u1' }),
        ]);
        expect(await store.deleteSite(site.site_id, NOW)).toBe(true);
        expect(await store.getSite(site.site_id)).toBeUndefined();
        expect((await store.listSites()).map((s) => s.site_id)).not.toContain(site.site_id);
        expect(await store.countEvents(site.site_id)).toBe(0);
        expect(await dayReport(store, site, '2024-06-15')).toMatchObject({ total_views: 0, unique_users_count: 0, visits: 0, top_paths: [] });
        expect((await store.summary(site.site_id, { grain: 2, from: at - HOUR, to: NOW + HOUR })).series).toEqual([]);
        const day = rangePeriod(site, '2024-06-15', '2024-06-15', 'day');
        expect(await breakdownReport(store, site, day, dim('event'), [], 10)).toEqual([]);
        expect(await realtimeReport(store, site, at + MIN)).toMatchObject({ visitors: 0, pageviews: 0 });
        // The other site is untouched.
        expect(await store.countEvents(other.site_id)).toBe(1);
        expect((await dayReport(store, other, '2024-06-15')).top_paths).toEqual([{ path: '/kept', views: 1 }]);
        // The id stays taken; deleting again finds nothing.
        const again = newSite(site.site_id, 'Again', 'UTC', NOW).site;
        const err = await store.createSite(again).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(SiteExistsError);
        expect((err as SiteExistsError).reason).toBe('deleted');
        expect(await store.deleteSite(site.site_id, NOW)).toBe(false);
      });
    });

    describe('applying events', () => {
      it('counts views, exact unique users and top paths for a day', async () => {
        const events = [
          ...Array.from({ length: 5 }, (_, i) => event(site, { at: NOW, path: '/home', user_id: `u${i % 3}` })),
          ...Array.from({ length: 3 }, () => event(site, { at: NOW, path: '/pricing', user_id: 'u0' })),
          event(site, { at: NOW, path: '/about', user_id: 'u9' }),
        ];
        expect(await apply(events)).toEqual({ applied: 9, duplicates: 0 });
        expect(await dayReport(store, site, '2024-06-15')).toMatchObject({
          site_id: site.site_id,
          date: '2024-06-15',
          total_views: 9,
          unique_users_count: 4,
          top_paths: [
            { path: '/home', views: 5 },
            { path: '/pricing', views: 3 },
            { path: '/about', views: 1 },
          ],
        });
        expect(await store.countEvents(site.site_id)).toBe(9);
      });

      it('keeps the top 10 ordered by views, then by path', async () => {
        const events: PreparedEvent[] = [];
        for (let p = 0; p < 15; p++) {
          for (let n = 0; n < (p % 5) + 1; n++) events.push(event(site, { at: NOW, path: `/p${String(p).padStart(2, '0')}` }));
        }
        await apply(events);
        const report = await dayReport(store, site, '2024-06-15');
        expect(report.top_paths).toEqual([
          { path: '/p04', views: 5 },
          { path: '/p09', views: 5 },
          { path: '/p14', views: 5 },
          { path: '/p03', views: 4 },
          { path: '/p08', views: 4 },
          { path: '/p13', views: 4 },
          { path: '/p02', views: 3 },
          { path: '/p07', views: 3 },
          { path: '/p12', views: 3 },
          { path: '/p01', views: 2 },
        ]);
      });

      it('counts awkward paths as values: dots, dollars, __proto__, unicode, 2,000 characters', async () => {
        const events = AWKWARD_PATHS.flatMap((path, i) => Array.from({ length: i + 1 }, () => event(site, { at: NOW, path })));
        await apply(events);
        const day = rangePeriod(site, '2024-06-15', '2024-06-15', 'day');
        const top = await breakdownReport(store, site, day, dim('page'), [], 20);
        expect(top).toHaveLength(AWKWARD_PATHS.length);
        for (const [i, path] of AWKWARD_PATHS.entries()) expect(top).toContainEqual({ value: path, visitors: i + 1, pageviews: i + 1 });
        expect(top[0]).toEqual({ value: AWKWARD_PATHS.at(-1), visitors: AWKWARD_PATHS.length, pageviews: AWKWARD_PATHS.length });
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      });

      it('applies an event once: a replayed batch and duplicates inside a batch are skipped', async () => {
        const events = Array.from({ length: 20 }, (_, i) => event(site, { at: NOW + i * 1000, path: `/p${i % 4}`, user_id: `u${i % 7}` }));
        expect(await apply(events)).toEqual({ applied: 20, duplicates: 0 });
        expect(await apply(events)).toEqual({ applied: 0, duplicates: 20 });
        const more = [event(site, { at: NOW, path: '/p0', user_id: 'new' })];
        expect(await apply([...events.slice(0, 5), ...more, ...more])).toEqual({ applied: 1, duplicates: 6 });
        const report = await dayReport(store, site, '2024-06-15');
        expect(report).toMatchObject({ total_views: 21, unique_users_count: 8, visits: 8 });
        expect(report.top_paths[0]).toEqual({ path: '/p0', views: 6 });
        expect(await store.countEvents(site.site_id)).toBe(21);
      });

      it('stays exact, visits included, when overlapping batches are applied concurrently', async () => {
        // 50 visitors, 8 events each a minute apart: one visit of 7 minutes per visitor.
        const events = Array.from({ length: 400 }, (_, i) => event(site, { at: NOW + Math.floor(i / 50) * MIN, path: `/p${i % 9}`, user_id: `u${i % 50}` }));
        const batches = [events.slice(0, 250), events.slice(150, 400), events.slice(100, 300), events, events.slice(0, 50)];
        const results = await Promise.all(batches.map((b) => apply(b)));
        expect(results.reduce((n, r) => n + r.applied, 0)).toBe(400);
        const report = await dayReport(store, site, '2024-06-15');
        expect(report).toMatchObject({ total_views: 400, unique_users_count: 50, visits: 50, bounce_rate: 0 });
        // Batches applied out of time order still make one visit per visitor (late events join).
        expect(report.visit_duration).toBeLessThanOrEqual(7 * 60);
      });

      it('counts custom events toward visitors but not toward views or paths', async () => {
        await apply([event(site, { at: NOW, path: '/signup', event_type: 'signup', user_id: 'only-custom' }), event(site, { at: NOW, path: '/home', user_id: 'viewer' })]);
        const report = await dayReport(store, site, '2024-06-15');
        expect(report).toMatchObject({ total_views: 1, unique_users_count: 2, top_paths: [{ path: '/home', views: 1 }] });
      });

      it('handles a large batch exactly', async () => {
        const events = Array.from({ length: 6000 }, (_, i) => event(site, { at: NOW, path: `/page/${i % 300}`, user_id: `v${i % 1234}` }));
        expect((await apply(events)).applied).toBe(6000);
        const report = await dayReport(store, site, '2024-06-15');
        expect(report.total_views).toBe(6000);
        expect(report.unique_users_count).toBe(1234);
        expect(report.visits).toBe(1234);
        expect(report.top_paths).toHaveLength(10);
        expect(report.top_paths[0]).toEqual({ path: '/page/0', views: 20 });
      });
    });

    describe('buckets', () => {
      it('keeps hourly rollups with exact uniques per hour and over hours', async () => {
        const h0 = Date.parse('2024-06-15T10:00:00Z');
        await apply([
          event(site, { at: h0 + 60_000, path: '/a', user_id: 'x' }),
          event(site, { at: h0 + 120_000, path: '/a', user_id: 'x' }),
          event(site, { at: h0 + HOUR + 1, path: '/b', user_id: 'x' }),
          event(site, { at: h0 + HOUR + 2, path: '/b', user_id: 'y' }),
        ]);
        const r = await rangeReport(store, site, '2024-06-15', '2024-06-15', 'hour');
        expect(r.series.filter((p) => p.views > 0)).toEqual([
          { hour: '2024-06-15T10:00:00Z', views: 2, unique_users: 1, visits: 1 },
          { hour: '2024-06-15T11:00:00Z', views: 2, unique_users: 2, visits: 2 },
        ]);
        const over = (from: number, to: number) => store.summary(site.site_id, { grain: 2, from, to });
        expect((await over(h0, h0 + 2 * HOUR)).visitors).toBe(2);
        expect((await over(h0, h0 + HOUR)).visitors).toBe(1);
        const b = await breakdownReport(store, site, { grain: 2, from: h0 + HOUR, to: h0 + 2 * HOUR }, dim('page'), [], 10);
        expect(b).toEqual([{ value: '/b', visitors: 2, pageviews: 2 }]);
      });

      it('cuts days at local midnight in the site timezone, DST days included', async () => {
        const ny = await addSite('America/New_York');
        // 2024-03-10 has 23 local hours, 2024-11-03 has 25.
        expect(hoursOfDay('2024-03-10', ny.timezone)).toHaveLength(23);
        expect(hoursOfDay('2024-11-03', ny.timezone)).toHaveLength(25);
        const nov3 = dayStart('2024-11-03', ny.timezone); // 04:00Z
        const events = [
          event(ny, { at: nov3 - 1, path: '/late-nov-2' }), // 23:59:59.999 on Nov 2
          event(ny, { at: nov3, path: '/nov-3' }),
          event(ny, { at: nov3 + 25 * HOUR - 1, path: '/nov-3' }), // last instant of the 25-hour day
          event(ny, { at: nov3 + 25 * HOUR, path: '/nov-4' }),
          event(ny, { at: Date.parse('2024-03-10T06:59:59Z'), path: '/mar-10' }), // 01:59:59 EST
          event(ny, { at: Date.parse('2024-03-10T07:00:00Z'), path: '/mar-10' }), // 03:00:00 EDT
          event(ny, { at: Date.parse('2024-03-11T03:59:59Z'), path: '/mar-10' }), // 23:59:59 EDT
          event(ny, { at: Date.parse('2024-03-11T04:00:00Z'), path: '/mar-11' }),
        ];
        await apply(events);
        const views = async (day: string) => (await dayReport(store, ny, day)).total_views;
        expect([await views('2024-03-10'), await views('2024-03-11'), await views('2024-11-02'), await views('2024-11-03'), await views('2024-11-04')]).toEqual([3, 1, 1, 2, 1]);
        const series = await rangeReport(store, ny, '2024-11-03', '2024-11-03', 'hour');
        expect(series.series).toHaveLength(25);
        expect(series.series[0]).toEqual({ hour: '2024-11-03T00:00:00-04:00', views: 1, unique_users: 1, visits: 1 });
        expect(series.series[1]!.hour).toBe('2024-11-03T01:00:00-04:00');
        expect(series.series[2]!.hour).toBe('2024-11-03T01:00:00-05:00');
        expect(series.series[24]).toEqual({ hour: '2024-11-03T23:00:00-05:00', views: 1, unique_users: 1, visits: 1 });
      });

      it('buckets half-hour timezones by their local hours', async () => {
        const india = await addSite('Asia/Kolkata');
        const at = Date.parse('2024-06-15T18:29:00Z'); // 23:59 IST
        await apply([event(india, { at }), event(india, { at: at + 60_000 })]);
        expect((await dayReport(store, india, '2024-06-15')).total_views).toBe(1);
        expect((await dayReport(store, india, '2024-06-16')).total_views).toBe(1);
        const s = await store.summary(india.site_id, { grain: 2, from: at - 2 * HOUR, to: at + 2 * HOUR });
        expect(s.series.map((p) => new Date(p.bucket).toISOString())).toEqual(['2024-06-15T17:30:00.000Z', '2024-06-15T18:30:00.000Z']);
      });
    });

    describe('reports', () => {
      it('answers the last 24 hours from hourly rollups', async () => {
        const now = Date.parse('2024-06-15T12:30:00Z');
        await apply(
          [
            event(site, { at: now - 25 * HOUR, path: '/too-old', user_id: 'old' }),
            event(site, { at: Date.parse('2024-06-14T12:00:00Z'), path: '/edge', user_id: 'a' }),
            event(site, { at: now - 2 * HOUR, path: '/x', user_id: 'a' }),
            event(site, { at: now - 60_000, path: '/x', user_id: 'b' }),
          ],
          now,
        );
        const r = await last24hReport(store, site, now);
        expect(r).toMatchObject({
          site_id: site.site_id,
          period: { from: '2024-06-14T12:00:00Z', to: '2024-06-15T12:30:00Z', timezone: 'UTC' },
          total_views: 3,
          unique_users_count: 2,
          top_paths: [
            { path: '/x', views: 2 },
            { path: '/edge', views: 1 },
          ],
          visits: 3,
          bounce_rate: 100,
        });
        expect(r.series).toHaveLength(25);
        expect(r.series.reduce((n, p) => n + p.views, 0)).toBe(3);
      });

      it('answers date ranges with exact uniques over the range and a daily series', async () => {
        const d = (day: string) => Date.parse(`${day}T10:00:00Z`);
        await apply([
          event(site, { at: d('2024-06-01'), path: '/a', user_id: 'alice' }),
          event(site, { at: d('2024-06-02'), path: '/a', user_id: 'alice' }),
          event(site, { at: d('2024-06-02'), path: '/b', user_id: 'bob' }),
          event(site, { at: d('2024-06-04'), path: '/b', user_id: 'carol' }),
          event(site, { at: d('2024-06-04'), path: '/b', user_id: 'alice' }),
          event(site, { at: d('2024-06-05'), path: '/c', user_id: 'dave' }),
        ]);
        const r = await rangeReport(store, site, '2024-06-01', '2024-06-04', 'day');
        expect(r).toMatchObject({
          site_id: site.site_id,
          from: '2024-06-01',
          to: '2024-06-04',
          timezone: 'UTC',
          granularity: 'day',
          total_views: 5,
          unique_users_count: 3,
          visits: 5,
          top_paths: [
            { path: '/b', views: 3 },
            { path: '/a', views: 2 },
          ],
          series: [
            { date: '2024-06-01', views: 1, unique_users: 1, visits: 1 },
            { date: '2024-06-02', views: 2, unique_users: 2, visits: 2 },
            { date: '2024-06-03', views: 0, unique_users: 0, visits: 0 },
            { date: '2024-06-04', views: 2, unique_users: 2, visits: 2 },
          ],
        });
        expect((await rangeReport(store, site, '2024-06-01', '2024-06-05', 'day')).unique_users_count).toBe(4);
        const pages = await breakdownReport(store, site, rangePeriod(site, '2024-06-01', '2024-06-05', 'day'), dim('page'), [], 10);
        expect(pages).toEqual([
          { value: '/b', visitors: 3, pageviews: 3 },
          { value: '/a', visitors: 1, pageviews: 2 },
          { value: '/c', visitors: 1, pageviews: 1 },
        ]);
      });

      it('answers zeros for a day without events', async () => {
        expect(await dayReport(store, site, '2023-01-01')).toEqual({
          site_id: site.site_id,
          date: '2023-01-01',
          total_views: 0,
          unique_users_count: 0,
          top_paths: [],
          visits: 0,
          bounce_rate: 0,
          visit_duration: 0,
          views_per_visit: 0,
          ignored: {},
        });
      });
    });

    describe('visits', () => {
      const t0 = Date.parse('2024-06-15T10:00:00Z');
      // The fixed script of the visits issue (its cross-midnight visit has its own test below).
      const script = () => [
        event(site, { at: t0, path: '/', user_id: 'a' }),
        event(site, { at: t0 + 2 * MIN, path: '/pricing', user_id: 'a' }),
        event(site, { at: t0 + 5 * MIN, path: '/signup', user_id: 'a' }),
        event(site, { at: t0 + MIN, path: '/blog', user_id: 'b' }),
        event(site, { at: t0, path: '/', user_id: 'c' }),
        event(site, { at: t0 + 40 * MIN, path: '/docs', user_id: 'c' }),
        event(site, { at: t0 + 10 * MIN, path: '/pricing', user_id: 'd' }),
        event(site, { at: t0 + 11 * MIN, path: '/pricing', event_type: 'signup', user_id: 'd' }),
      ];
      const expected = { total_views: 7, unique_users_count: 4, visits: 5, bounce_rate: 60, visit_duration: 72, views_per_visit: 1.4 };

      async function check(s: Site) {
        expect(await dayReport(store, s, '2024-06-15')).toMatchObject(expected);
        expect(await last24hReport(store, s, t0 + HOUR)).toMatchObject(expected);
        expect(await rangeReport(store, s, '2024-06-14', '2024-06-15', 'day')).toMatchObject(expected);
        const day = rangePeriod(s, '2024-06-15', '2024-06-15', 'day');
        const range = rangePeriod(s, '2024-06-14', '2024-06-16', 'day');
        const hours = last24hPeriod(s, t0 + HOUR);
        for (const p of [day, range, hours]) {
          expect(await breakdownReport(store, s, p, dim('entry_page'), [], 10)).toEqual([
            { value: '/', visitors: 2, visits: 2 },
            { value: '/blog', visitors: 1, visits: 1 },
            { value: '/docs', visitors: 1, visits: 1 },
            { value: '/pricing', visitors: 1, visits: 1 },
          ]);
          expect(await breakdownReport(store, s, p, dim('exit_page'), [], 10)).toEqual([
            { value: '/', visitors: 1, visits: 1 },
            { value: '/blog', visitors: 1, visits: 1 },
            { value: '/docs', visitors: 1, visits: 1 },
            { value: '/pricing', visitors: 1, visits: 1 },
            { value: '/signup', visitors: 1, visits: 1 },
          ]);
        }
      }

      it('counts the fixed script exactly for the day, the last 24 hours and a range', async () => {
        await apply(script());
        await check(site);
      });

      it('gives the same answer for the script shuffled in one batch and event by event', async () => {
        const events = script();
        for (let i = events.length - 1; i > 0; i--) {
          const j = (i * 7 + 3) % (i + 1);
          [events[i], events[j]] = [events[j]!, events[i]!];
        }
        await apply(events);
        await check(site);
        const other = await addSite('UTC');
        for (const e of script().sort((a, b) => a.ts - b.ts)) await apply([{ ...e, site_id: other.site_id }]);
        await check(other);
      });

      it('keeps a visit that crosses midnight in the site timezone on the day it began', async () => {
        const paris = await addSite('Europe/Paris');
        const late = Date.parse('2024-06-15T21:50:00Z'); // 23:50 in Paris
        await apply([event(paris, { at: late, path: '/a', user_id: 'm' })]);
        await apply([event(paris, { at: late + 20 * MIN, path: '/b', user_id: 'm' })]);
        expect(await dayReport(store, paris, '2024-06-15')).toMatchObject({ total_views: 1, visits: 1, bounce_rate: 0, visit_duration: 1200 });
        expect(await dayReport(store, paris, '2024-06-16')).toMatchObject({ total_views: 1, visits: 0, unique_users_count: 1 });
        expect(await rangeReport(store, paris, '2024-06-15', '2024-06-16', 'day')).toMatchObject({ total_views: 2, visits: 1, unique_users_count: 1, views_per_visit: 2 });
      });

      it('merges late events into the visit they fall in, at either end, and counts far older ones as visits of their own', async () => {
        await apply([event(site, { at: t0, path: '/a', user_id: 'l' }), event(site, { at: t0 + 10 * MIN, path: '/c', user_id: 'l' })]);
        await apply([event(site, { at: t0 + 5 * MIN, path: '/b', user_id: 'l' })]);
        expect(await dayReport(store, site, '2024-06-15')).toMatchObject({ visits: 1, total_views: 3, visit_duration: 600 });
        await apply([event(site, { at: t0 - 10 * MIN, path: '/early', user_id: 'l' })]); // within the timeout before its start
        expect(await dayReport(store, site, '2024-06-15')).toMatchObject({ visits: 1, total_views: 4, bounce_rate: 0, visit_duration: 1200 });
        const day = rangePeriod(site, '2024-06-15', '2024-06-15', 'day');
        expect(await breakdownReport(store, site, day, dim('entry_page'), [], 10)).toEqual([{ value: '/early', visitors: 1, visits: 1 }]);
        await apply([event(site, { at: t0 - 50 * MIN, path: '/earlier', user_id: 'l' })]); // 40 minutes before it
        expect(await dayReport(store, site, '2024-06-15')).toMatchObject({ visits: 2, total_views: 5, bounce_rate: 50, visit_duration: 600 });
      });

      it('attributes visit dimensions to the first event of the visit', async () => {
        await apply([
          event(site, { at: t0, path: '/', user_id: 'v1', referrer: 'https://www.google.com/search', ua: CHROME }),
          event(site, { at: t0 + MIN, path: '/x', user_id: 'v1', referrer: 'https://news.ycombinator.com/', ua: CHROME }),
          event(site, { at: t0, path: '/', user_id: 'v2', ua: FIREFOX, utm_source: 'newsletter' }),
          event(site, { at: t0 + 2 * HOUR, path: '/', user_id: 'v2', ua: FIREFOX }),
        ]);
        const day = rangePeriod(site, '2024-06-15', '2024-06-15', 'day');
        expect(await breakdownReport(store, site, day, dim('source'), [], 10)).toEqual([
          { value: null, visitors: 1, visits: 1, pageviews: 1 },
          { value: 'Google', visitors: 1, visits: 1, pageviews: 2 },
          { value: 'newsletter', visitors: 1, visits: 1, pageviews: 1 },
        ]);
        expect(await breakdownReport(store, site, day, dim('referrer'), [], 10)).toEqual([
          { value: null, visitors: 1, visits: 2, pageviews: 2 },
          { value: 'google.com', visitors: 1, visits: 1, pageviews: 2 },
        ]);
        expect((await breakdownReport(store, site, day, dim('browser'), [], 10)).map((r) => [r.value, r.visitors, r.visits])).toEqual([
          ['Chrome', 1, 1],
          ['Firefox', 1, 2],
        ]);
      });
    });

    describe('breakdowns', () => {
      const t = Date.parse('2024-06-15T09:00:00Z');

      it('counts custom events and the values of one property of one event', async () => {
        await apply([
          event(site, { at: t, path: '/', event_type: 'signup', user_id: 'p1', props: { plan: 'pro', seats: 3 } }),
          event(site, { at: t, path: '/', event_type: 'signup', user_id: 'p2', props: { plan: 'pro' } }),
          event(site, { at: t, path: '/', event_type: 'signup', user_id: 'p2', props: { plan: 'free' } }),
          event(site, { at: t, path: '/', event_type: 'download', user_id: 'p3', props: { plan: 'pro' } }),
        ]);
        const day = rangePeriod(site, '2024-06-15', '2024-06-15', 'day');
        expect(await breakdownReport(store, site, day, dim('event'), [], 10)).toEqual([
          { value: 'signup', visitors: 2, events: 3 },
          { value: 'download', visitors: 1, events: 1 },
        ]);
        expect(await breakdownReport(store, site, day, dim('property'), ['signup', 'plan'], 10)).toEqual([
          { value: 'pro', visitors: 2, events: 2 },
          { value: 'free', visitors: 1, events: 1 },
        ]);
        expect(await breakdownReport(store, site, day, dim('property_key'), ['signup'], 10)).toEqual([
          { value: 'plan', visitors: 2, events: 3 },
          { value: 'seats', visitors: 1, events: 1 },
        ]);
        expect(await breakdownReport(store, site, day, dim('property'), ['signup', 'nope'], 10)).toEqual([]);
        expect(await breakdownReport(store, site, day, dim('property'), ['nope', 'plan'], 10)).toEqual([]);
      });

      it('orders by visitors, then value with none first, and keeps exact visitors over ranges and hours', async () => {
        const events: PreparedEvent[] = [];
        // Day 1 and day 2 share visitors 0..4 on /shared; /d1 and /d2 have their own.
        for (let d = 0; d < 2; d++) {
          const at = t + d * 24 * HOUR;
          for (let i = 0; i < 5; i++) events.push(event(site, { at, path: '/shared', user_id: `s${i}` }));
          for (let i = 0; i < 4; i++) events.push(event(site, { at, path: `/d${d + 1}`, user_id: `d${d}-${i}` }));
        }
        await apply(events);
        const two = rangePeriod(site, '2024-06-15', '2024-06-16', 'day');
        expect(await breakdownReport(store, site, two, dim('page'), [], 2)).toEqual([
          { value: '/shared', visitors: 5, pageviews: 10 },
          { value: '/d1', visitors: 4, pageviews: 4 },
        ]);
        expect(await breakdownReport(store, site, two, dim('page'), [], 10)).toHaveLength(3);
        const hours = { grain: 2 as const, from: t, to: t + 25 * HOUR };
        expect((await breakdownReport(store, site, hours, dim('page'), [], 1))[0]).toEqual({ value: '/shared', visitors: 5, pageviews: 10 });
        expect(await breakdownReport(store, site, two, dim('country'), [], 10)).toEqual([{ value: null, visitors: 13, visits: 18, pageviews: 18 }]);
      });

      it('answers a period read again with what was applied in between, for one bucket and for several', async () => {
        await apply([event(site, { at: t, path: '/a', user_id: 'x' }), event(site, { at: t + 24 * HOUR, path: '/b', user_id: 'y' })]);
        const day = rangePeriod(site, '2024-06-15', '2024-06-15', 'day');
        const two = rangePeriod(site, '2024-06-15', '2024-06-16', 'day');
        expect(await breakdownReport(store, site, day, dim('page'), [], 10)).toEqual([{ value: '/a', visitors: 1, pageviews: 1 }]);
        expect(await breakdownReport(store, site, two, dim('page'), [], 10)).toEqual([
          { value: '/a', visitors: 1, pageviews: 1 },
          { value: '/b', visitors: 1, pageviews: 1 },
        ]);
        // Read twice (the second from memory), then one new event in each day changes both answers.
        expect(await breakdownReport(store, site, two, dim('page'), [], 1)).toEqual([{ value: '/a', visitors: 1, pageviews: 1 }]);
        await apply([event(site, { at: t + 1000, path: '/b', user_id: 'z' }), event(site, { at: t + 24 * HOUR + 1000, path: '/b', user_id: 'y' })]);
        expect(await breakdownReport(store, site, day, dim('page'), [], 10)).toEqual([
          { value: '/a', visitors: 1, pageviews: 1 },
          { value: '/b', visitors: 1, pageviews: 1 },
        ]);
        expect(await breakdownReport(store, site, two, dim('page'), [], 10)).toEqual([
          { value: '/b', visitors: 2, pageviews: 3 },
          { value: '/a', visitors: 1, pageviews: 1 },
        ]);
        expect((await rangeReport(store, site, '2024-06-15', '2024-06-16', 'day')).top_paths).toEqual([{ path: '/b', views: 3 }, { path: '/a', views: 1 }]);
      });
    });

    describe('visit-level values over several buckets', () => {
      const t = Date.parse('2024-06-15T09:00:00Z');
      const rows = (r: { value: string | null; visitors: number; visits?: number }[]) => r.map((x) => [x.value, x.visitors, x.visits]);

      it('counts each visitor once per value from the visits that began in the period', async () => {
        await apply([
          // v1: two Chrome visits on the 15th (hours apart), one on the 16th; v2: one Firefox visit a day.
          event(site, { at: t, path: '/a', user_id: 'v1', ua: CHROME }),
          event(site, { at: t + 3 * HOUR, path: '/b', user_id: 'v1', ua: CHROME }),
          event(site, { at: t + 24 * HOUR, path: '/a', user_id: 'v1', ua: CHROME }),
          event(site, { at: t, path: '/b', user_id: 'v2', ua: FIREFOX }),
          event(site, { at: t + 24 * HOUR, path: '/b', user_id: 'v2', ua: FIREFOX }),
        ]);
        const two = rangePeriod(site, '2024-06-15', '2024-06-16', 'day');
        expect(rows(await breakdownReport(store, site, two, dim('browser'), [], 10))).toEqual([
          ['Chrome', 1, 3],
          ['Firefox', 1, 2],
        ]);
        expect(rows(await breakdownReport(store, site, two, dim('entry_page'), [], 10))).toEqual([
          ['/a', 1, 2],
          ['/b', 2, 3],
        ].sort((x, y) => Number(y[1]) - Number(x[1]))); // by visitors
        const hours = { grain: 2 as const, from: t, to: t + 25 * HOUR };
        expect(rows(await breakdownReport(store, site, hours, dim('browser'), [], 10))).toEqual([
          ['Chrome', 1, 3],
          ['Firefox', 1, 2],
        ]);
        // A later event changes the bucket: its snapshot is read again, exactly.
        await apply([event(site, { at: t + 24 * HOUR + MIN, path: '/c', user_id: 'v2', ua: FIREFOX })]);
        expect(rows(await breakdownReport(store, site, two, dim('exit_page'), [], 10))).toEqual([
          ['/b', 2, 2],
          ['/a', 1, 2],
          ['/c', 1, 1],
        ]);
      });

      it('cuts visits into local days of the site, DST days included', async () => {
        const ny = await addSite('America/New_York');
        const nov3 = dayStart('2024-11-03', ny.timezone); // 04:00Z, a day of 25 hours
        await apply([
          event(ny, { at: nov3 - 30 * MIN, path: '/nov-2', user_id: 'a' }), // 23:30 on Nov 2, 03:30Z on Nov 3
          event(ny, { at: nov3 + 30 * MIN, path: '/nov-3', user_id: 'b' }),
          event(ny, { at: nov3 + 25 * HOUR - MIN, path: '/nov-3-late', user_id: 'c' }), // 23:59 on Nov 3
          event(ny, { at: nov3 + 25 * HOUR + 30 * MIN, path: '/nov-4', user_id: 'd' }),
        ]);
        const entries = async (p: Period) => (await breakdownReport(store, ny, p, dim('entry_page'), [], 10)).map((r) => `${r.value} ${r.visitors}`).sort();
        expect(await entries(rangePeriod(ny, '2024-11-03', '2024-11-04', 'day'))).toEqual(['/nov-3 1', '/nov-3-late 1', '/nov-4 1']);
        expect(await entries(rangePeriod(ny, '2024-11-02', '2024-11-03', 'day'))).toEqual(['/nov-2 1', '/nov-3 1', '/nov-3-late 1']);
        expect(await entries({ grain: 2, from: nov3 - HOUR, to: nov3 + 2 * HOUR })).toEqual(['/nov-2 1', '/nov-3 1']);
        // And half-hour offsets without DST: days and hours begin at :30 UTC.
        const india = await addSite('Asia/Kolkata');
        await apply([
          event(india, { at: Date.parse('2024-06-15T18:00:00Z'), path: '/15th', user_id: 'a' }), // 23:30 IST
          event(india, { at: Date.parse('2024-06-15T19:00:00Z'), path: '/16th', user_id: 'b' }), // 00:30 IST
          event(india, { at: Date.parse('2024-06-16T19:00:00Z'), path: '/17th', user_id: 'c' }),
        ]);
        const inIndia = async (p: Period) => (await breakdownReport(store, india, p, dim('entry_page'), [], 10)).map((r) => `${r.value} ${r.visitors}`).sort();
        expect(await inIndia(rangePeriod(india, '2024-06-16', '2024-06-17', 'day'))).toEqual(['/16th 1', '/17th 1']);
        expect(await inIndia({ grain: 2, from: Date.parse('2024-06-15T17:30:00Z'), to: Date.parse('2024-06-15T19:30:00Z') })).toEqual(['/15th 1', '/16th 1']);
      });
    });

    describe('realtime', () => {
      it('counts visitors of the last 5 minutes, page views of the last 30, and where they are', async () => {
        const now = Date.parse('2024-06-15T12:00:00Z');
        await apply(
          [
            event(site, { at: now - 40 * MIN, path: '/gone', user_id: 'r0' }),
            event(site, { at: now - 20 * MIN, path: '/a', user_id: 'r1' }),
            event(site, { at: now - 4 * MIN, path: '/a', user_id: 'r2' }),
            event(site, { at: now - 3 * MIN, path: '/b', user_id: 'r2' }),
            event(site, { at: now - MIN, path: '/b', user_id: 'r3' }),
            event(site, { at: now - MIN, path: '/b', event_type: 'click', user_id: 'r4' }),
          ],
          now,
        );
        const r = await realtimeReport(store, site, now);
        expect(r).toMatchObject({ visitors: 3, pageviews: 4, top_pages: [{ path: '/b', visitors: 2 }] });
        // Later, by an injected clock: r2's last event is 6 minutes old, then r3's and r4's too.
        expect(await realtimeReport(store, site, now + 3 * MIN)).toMatchObject({ visitors: 2, top_pages: [{ path: '/b', visitors: 1 }] });
        expect(await realtimeReport(store, site, now + 5 * MIN)).toMatchObject({ visitors: 0, top_pages: [] });
      });
    });

    describe('ignored events', () => {
      it('counts ignored events per reason, once, without counting them as traffic', async () => {
        const bot = (at: number) => event(site, { at, path: '/', ignored: 'bot', visitor: undefined });
        const events = [bot(NOW), bot(NOW), event(site, { at: NOW, path: '/' })];
        expect(await apply(events)).toEqual({ applied: 3, duplicates: 0 });
        expect(await apply(events)).toEqual({ applied: 0, duplicates: 3 });
        expect(await dayReport(store, site, '2024-06-15')).toMatchObject({ total_views: 1, unique_users_count: 1, ignored: { bot: 2 } });
      });
    });

    describe('maintenance', () => {
      it('deletes only raw events older than the cutoff and keeps the rollups', async () => {
        const cutoff = Date.parse('2024-06-08T00:00:00Z');
        await apply([
          event(site, { at: cutoff - 86_400_000, path: '/old' }),
          event(site, { at: cutoff - 1, path: '/old' }),
          event(site, { at: cutoff, path: '/new' }),
          event(site, { at: NOW, path: '/new' }),
        ]);
        expect(await store.deleteEventsBefore(cutoff, 0)).toBe(2);
        expect(await store.countEvents(site.site_id)).toBe(2);
        expect(await store.deleteEventsBefore(cutoff, 0)).toBe(0);
        expect((await dayReport(store, site, '2024-06-07')).total_views).toBe(2);
      });

      it('records the retention cutoff: a new event older than it is not applied, so a replay after the purge counts once', async () => {
        const cutoff = Date.parse('2024-06-08T00:00:00Z');
        const replayed = event(site, { at: cutoff - HOUR, path: '/old', user_id: 'r' });
        const kept = event(site, { at: cutoff + HOUR, path: '/kept', user_id: 'k' });
        expect(await apply([replayed, kept])).toEqual({ applied: 2, duplicates: 0 });
        expect(await store.deleteEventsBefore(cutoff, 0)).toBe(1);
        const late = event(site, { at: cutoff - 2 * HOUR, path: '/late', user_id: 'l' });
        const bot = event(site, { at: cutoff - HOUR, path: '/', ignored: 'bot', visitor: undefined });
        const fresh = event(site, { at: cutoff, path: '/fresh', user_id: 'f' });
        const r = await apply([replayed, late, kept, bot, fresh]);
        expect({ ...r, expired: [...(r.expired ?? [])].sort() }).toEqual({ applied: 1, duplicates: 1, expired: [replayed.id, late.id, bot.id].sort() });
        // The replayed event counted once, the late one and the bot not at all; the raw events of the refused ones are not kept.
        expect(await dayReport(store, site, '2024-06-07')).toMatchObject({ total_views: 1, unique_users_count: 1, visits: 1, ignored: {} });
        expect(await dayReport(store, site, '2024-06-08')).toMatchObject({ total_views: 2, unique_users_count: 2 });
        expect(await store.countEvents(site.site_id)).toBe(2);
        // The cutoff only ever rises: a smaller one recorded later changes nothing.
        await store.deleteEventsBefore(cutoff - 86_400_000, 0);
        expect((await apply([event(site, { at: cutoff - MIN, path: '/late', user_id: 'l' })])).expired).toHaveLength(1);
        expect((await apply([event(site, { at: cutoff + MIN, path: '/later', user_id: 'l' })])).applied).toBe(1);
      });

      it('moves visits past the horizon to the visit members, keeping exact visitors of visit-level values over ranges', async () => {
        const d1 = Date.parse('2024-06-01T10:00:00Z');
        const d2 = Date.parse('2024-06-02T10:00:00Z');
        await apply([
          event(site, { at: d1, path: '/a', user_id: 'm1', ua: CHROME }),
          event(site, { at: d1 + MIN, path: '/b', user_id: 'm1', ua: CHROME }),
          event(site, { at: d1, path: '/a', user_id: 'm2', ua: FIREFOX }),
          event(site, { at: d2, path: '/a', user_id: 'm1', ua: CHROME }),
          event(site, { at: d2 + 10 * HOUR, path: '/c', user_id: 'm3', ua: FIREFOX }), // after the horizon
        ]);
        const horizon = Date.parse('2024-06-02T12:00:00Z');
        expect(await store.moveVisitsBefore(horizon)).toBe(3);
        expect(await store.moveVisitsBefore(horizon)).toBe(0);
        const range = rangePeriod(site, '2024-06-01', '2024-06-02', 'day');
        const rows = async (name: string) => (await breakdownReport(store, site, range, dim(name), [], 10)).map((r) => [r.value, r.visitors, r.visits]);
        expect(await rows('browser')).toEqual([
          ['Firefox', 2, 2],
          ['Chrome', 1, 2],
        ]);
        expect(await rows('entry_page')).toEqual([
          ['/a', 2, 3],
          ['/c', 1, 1],
        ]);
        expect(await rows('exit_page')).toEqual([
          ['/a', 2, 2],
          ['/b', 1, 1],
          ['/c', 1, 1],
        ]);
        const hours = { grain: 2 as const, from: d1, to: d2 + 11 * HOUR };
        expect((await breakdownReport(store, site, hours, dim('browser'), [], 10)).map((r) => [r.value, r.visitors])).toEqual([
          ['Firefox', 2],
          ['Chrome', 1],
        ]);
        // The rollups are as they were, and a late event of a moved visit's day still counts.
        expect(await rangeReport(store, site, '2024-06-01', '2024-06-02', 'day')).toMatchObject({ total_views: 5, unique_users_count: 3, visits: 4 });
        await apply([event(site, { at: d1 + 2 * HOUR, path: '/a', user_id: 'm2', ua: FIREFOX })]);
        expect(await rows('browser')).toEqual([
          ['Firefox', 2, 3],
          ['Chrome', 1, 2],
        ]);
      });

      it('creates zero placeholders without touching existing rollups', async () => {
        await apply([event(site, { at: NOW, path: '/x' })]);
        const rows = [
          { site_id: site.site_id, day: '2024-06-15' },
          { site_id: site.site_id, day: '2024-06-16' },
        ];
        expect(await store.createPlaceholders(rows, NOW)).toBe(1);
        expect(await store.createPlaceholders(rows, NOW)).toBe(0);
        expect((await dayReport(store, site, '2024-06-15')).total_views).toBe(1);
        expect((await dayReport(store, site, '2024-06-16')).total_views).toBe(0);
      });

      it('keeps one salt per date whoever creates it first, and deletes old ones', async () => {
        expect(await store.ensureSalt('2024-06-15', 'first', NOW)).toBe('first');
        expect(await store.ensureSalt('2024-06-15', 'second', NOW)).toBe('first');
        await store.ensureSalt('2024-06-16', 'next', NOW);
        expect(await store.listSalts()).toEqual([
          { day: '2024-06-15', salt: 'first' },
          { day: '2024-06-16', salt: 'next' },
        ]);
        expect(await store.deleteSaltsBefore('2024-06-16')).toBe(1);
        expect((await store.listSalts()).map((s) => s.day)).toEqual(['2024-06-16']);
      });
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    // Issue 9, item 4: the store's own id, given by its first migration and kept.
    it('has an id of its own that later migrations keep', async () => {
      const id = await store.storeId();
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      await store.migrate();
      expect(await store.storeId()).toBe(id);
      const other = await open();
      try {
        expect(await other.store.storeId()).not.toBe(id);
      } finally {
        await other.cleanup();
      }
    });

    // Issue 9, item 2: events set aside by the worker are kept, once, and counted.
    it('keeps rejected events once each, with their exact values, and counts them per site', async () => {
      const bad = { id: newEventId(), site_id: site.site_id, event_type: 'pageview', path: '/nul\u0000here', user_id: 'lone\ud800', ts: NOW, received_at: NOW };
      const rows = [
        { event: bad, site_id: site.site_id, reason: 'path must not contain a NUL character', rejected_at: NOW },
        { event: { id: 42, junk: true }, site_id: 'other\u0000site', reason: 'invalid event: id: expected a UUID', rejected_at: NOW },
      ];
      expect(await store.rejectEvents(rows)).toBe(2);
      expect(await store.rejectEvents(rows)).toBe(0); // a retried job rejects the same events again
      expect(await store.countRejectedEvents()).toBe(2);
      expect(await store.countRejectedEvents(site.site_id)).toBe(1);
      expect(await store.countRejectedEvents('other\\u0000site')).toBe(1);
      expect(await store.rejectEvents([])).toBe(0);
      // Rejections are not events: nothing was counted.
      expect(await store.countEvents(site.site_id)).toBe(0);
    });

    // Issue 13: worker heartbeats for queues with no place of their own (SQS).
    it('keeps one heartbeat per worker, newest first, prunes old ones, and deletes on request', async () => {
      const hb = (id: string, seen: number) => ({ worker_id: id, host: `host-${id}`, pid: '4711', started_at: NOW - 60_000, seen_at: seen });
      await store.recordHeartbeat(hb('a', NOW - 5000), NOW - 100_000);
      await store.recordHeartbeat(hb('b', NOW - 2000), NOW - 100_000);
      await store.recordHeartbeat(hb('a', NOW - 1000), NOW - 100_000); // a's next beat: updated, not added
      expect(await store.listHeartbeats(NOW - 10_000)).toEqual([hb('a', NOW - 1000), hb('b', NOW - 2000)]);
      expect((await store.listHeartbeats(NOW - 1500)).map((h) => h.worker_id)).toEqual(['a']);
      // A beat prunes the workers not seen since `pruneBefore`.
      await store.recordHeartbeat(hb('c', NOW), NOW - 1500);
      expect((await store.listHeartbeats(0)).map((h) => h.worker_id)).toEqual(['c', 'a']);
      await store.deleteHeartbeat('a');
      await store.deleteHeartbeat('never-there');
      expect(await store.listHeartbeats(0)).toEqual([hb('c', NOW)]);
      await store.deleteHeartbeat('c');
    });

    it('tells errors about the data from failures of the store itself', async () => {
      expect(store.isDataError(new Error('connect ECONNREFUSED 127.0.0.1:5432'))).toBe(false);
      expect(store.isDataError(Object.assign(new Error('relation "x" does not exist'), { code: '42P01' }))).toBe(false);
    });
  });
}

export const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
export const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0';
