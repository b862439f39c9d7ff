// The AnalyticsStore contract: every adapter runs this suite unchanged.
import { beforeEach, afterEach, describe, expect, it } from 'vitest';
import { isPageview, newEventId, type QueuedEvent } from '../src/core/event.js';
import { newSite, type Site } from '../src/core/site.js';
import { HOUR, bucketsOf, dayStart, hoursOfDay } from '../src/core/time.js';
import { dayReport, last24hReport, rangeReport } from '../src/reports/stats.js';
import { SiteExistsError, type AnalyticsStore, type BucketedEvent } from '../src/store/port.js';

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

let seq = 0;

export function event(site: Site, fields: Partial<QueuedEvent> & { at: number }): BucketedEvent {
  const e: QueuedEvent = {
    id: fields.id ?? newEventId(),
    site_id: site.site_id,
    event_type: fields.event_type ?? 'pageview',
    path: fields.path ?? '/',
    user_id: fields.user_id ?? `user-${++seq}`,
    ts: fields.at,
    received_at: fields.at,
  };
  return { ...e, ...bucketsOf(e.ts, site.timezone), is_pageview: isPageview(e.event_type) };
}

export function storeContract(name: string, open: () => Promise<StoreHarness>): void {
  describe(`AnalyticsStore contract: ${name}`, () => {
    let h: StoreHarness;
    let store: AnalyticsStore;
    let site: Site;
    const NOW = Date.parse('2024-06-15T12:30:00Z');

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
    });

    describe('applying events', () => {
      it('counts views, exact unique users and top paths for a day', async () => {
        const events = [
          ...Array.from({ length: 5 }, (_, i) => event(site, { at: NOW, path: '/home', user_id: `u${i % 3}` })),
          ...Array.from({ length: 3 }, () => event(site, { at: NOW, path: '/pricing', user_id: 'u0' })),
          event(site, { at: NOW, path: '/about', user_id: 'u9' }),
        ];
        expect(await store.applyEvents(events, NOW)).toEqual({ applied: 9, duplicates: 0 });
        expect(await dayReport(store, site, '2024-06-15')).toEqual({
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
        const events: BucketedEvent[] = [];
        for (let p = 0; p < 15; p++) {
          for (let n = 0; n < (p % 5) + 1; n++) events.push(event(site, { at: NOW, path: `/p${String(p).padStart(2, '0')}` }));
        }
        await store.applyEvents(events, NOW);
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
        await store.applyEvents(events, NOW);
        const top = await store.topPaths(site.site_id, { days: { from: '2024-06-15', to: '2024-06-15' } }, 20);
        expect(top).toHaveLength(AWKWARD_PATHS.length);
        for (const [i, path] of AWKWARD_PATHS.entries()) expect(top).toContainEqual({ path, views: i + 1 });
        expect(top[0]).toEqual({ path: AWKWARD_PATHS.at(-1), views: AWKWARD_PATHS.length });
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      });

      it('applies an event once: a replayed batch and duplicates inside a batch are skipped', async () => {
        const events = Array.from({ length: 20 }, (_, i) => event(site, { at: NOW, path: `/p${i % 4}`, user_id: `u${i % 7}` }));
        expect(await store.applyEvents(events, NOW)).toEqual({ applied: 20, duplicates: 0 });
        expect(await store.applyEvents(events, NOW)).toEqual({ applied: 0, duplicates: 20 });
        const more = [event(site, { at: NOW, path: '/p0', user_id: 'new' })];
        expect(await store.applyEvents([...events.slice(0, 5), ...more, ...more], NOW)).toEqual({ applied: 1, duplicates: 6 });
        const report = await dayReport(store, site, '2024-06-15');
        expect(report.total_views).toBe(21);
        expect(report.unique_users_count).toBe(8);
        expect(report.top_paths[0]).toEqual({ path: '/p0', views: 6 });
        expect(await store.countEvents(site.site_id)).toBe(21);
      });

      it('stays exact when overlapping batches are applied concurrently', async () => {
        const events = Array.from({ length: 400 }, (_, i) => event(site, { at: NOW + (i % 3) * HOUR, path: `/p${i % 9}`, user_id: `u${i % 50}` }));
        const batches = [events.slice(0, 250), events.slice(150, 400), events.slice(100, 300), events];
        const results = await Promise.all(batches.map((b) => store.applyEvents(b, NOW)));
        expect(results.reduce((n, r) => n + r.applied, 0)).toBe(400);
        const report = await dayReport(store, site, '2024-06-15');
        expect(report.total_views).toBe(400);
        expect(report.unique_users_count).toBe(50);
        const hours = await store.hourlyTotals(site.site_id, NOW - HOUR, NOW + 3 * HOUR);
        expect(hours.map((h) => h.views)).toEqual([134, 133, 133]);
      });

      it('counts custom events toward visitors but not toward views or paths', async () => {
        await store.applyEvents(
          [event(site, { at: NOW, path: '/signup', event_type: 'signup', user_id: 'only-custom' }), event(site, { at: NOW, path: '/home', user_id: 'viewer' })],
          NOW,
        );
        const report = await dayReport(store, site, '2024-06-15');
        expect(report).toMatchObject({ total_views: 1, unique_users_count: 2, top_paths: [{ path: '/home', views: 1 }] });
      });

      it('handles a large batch exactly', async () => {
        const events = Array.from({ length: 6000 }, (_, i) => event(site, { at: NOW, path: `/page/${i % 300}`, user_id: `v${i % 1234}` }));
        expect((await store.applyEvents(events, NOW)).applied).toBe(6000);
        const report = await dayReport(store, site, '2024-06-15');
        expect(report.total_views).toBe(6000);
        expect(report.unique_users_count).toBe(1234);
        expect(report.top_paths).toHaveLength(10);
        expect(report.top_paths[0]).toEqual({ path: '/page/0', views: 20 });
      });
    });

    describe('buckets', () => {
      it('keeps hourly rollups with exact uniques per hour and over hours', async () => {
        const h0 = Date.parse('2024-06-15T10:00:00Z');
        await store.applyEvents(
          [
            event(site, { at: h0 + 60_000, path: '/a', user_id: 'x' }),
            event(site, { at: h0 + 120_000, path: '/a', user_id: 'x' }),
            event(site, { at: h0 + HOUR + 1, path: '/b', user_id: 'x' }),
            event(site, { at: h0 + HOUR + 2, path: '/b', user_id: 'y' }),
          ],
          NOW,
        );
        expect(await store.hourlyTotals(site.site_id, h0, h0 + 2 * HOUR)).toEqual([
          { hour: h0, views: 2, uniques: 1 },
          { hour: h0 + HOUR, views: 2, uniques: 2 },
        ]);
        expect(await store.uniqueVisitors(site.site_id, { hours: { from: h0, to: h0 + 2 * HOUR } })).toBe(2);
        expect(await store.uniqueVisitors(site.site_id, { hours: { from: h0, to: h0 + HOUR } })).toBe(1);
        expect(await store.topPaths(site.site_id, { hours: { from: h0 + HOUR, to: h0 + 2 * HOUR } }, 10)).toEqual([{ path: '/b', views: 2 }]);
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
        await store.applyEvents(events, NOW);
        const days = await store.dailyTotals(ny.site_id, '2024-03-09', '2024-11-05');
        expect(days.map((d) => [d.day, d.views])).toEqual([
          ['2024-03-10', 3],
          ['2024-03-11', 1],
          ['2024-11-02', 1],
          ['2024-11-03', 2],
          ['2024-11-04', 1],
        ]);
        // The two 01:00 hours of Nov 3 are separate buckets.
        const nov3Hours = await store.hourlyTotals(ny.site_id, nov3, nov3 + 25 * HOUR);
        expect(nov3Hours.map((h) => h.hour)).toEqual([nov3, nov3 + 24 * HOUR]);
        const series = await rangeReport(store, ny, '2024-11-03', '2024-11-03', 'hour');
        expect(series.series).toHaveLength(25);
        expect(series.series[0]).toEqual({ hour: '2024-11-03T00:00:00-04:00', views: 1, unique_users: 1 });
        expect(series.series[1]!.hour).toBe('2024-11-03T01:00:00-04:00');
        expect(series.series[2]!.hour).toBe('2024-11-03T01:00:00-05:00');
        expect(series.series[24]).toEqual({ hour: '2024-11-03T23:00:00-05:00', views: 1, unique_users: 1 });
      });

      it('buckets half-hour timezones by their local hours', async () => {
        const india = await addSite('Asia/Kolkata');
        const at = Date.parse('2024-06-15T18:29:00Z'); // 23:59 IST
        await store.applyEvents([event(india, { at }), event(india, { at: at + 60_000 })], NOW);
        const days = await store.dailyTotals(india.site_id, '2024-06-15', '2024-06-16');
        expect(days.map((d) => d.day)).toEqual(['2024-06-15', '2024-06-16']);
        const hours = await store.hourlyTotals(india.site_id, at - 2 * HOUR, at + 2 * HOUR);
        expect(hours.map((h) => new Date(h.hour).toISOString())).toEqual(['2024-06-15T17:30:00.000Z', '2024-06-15T18:30:00.000Z']);
      });
    });

    describe('reports', () => {
      it('answers the last 24 hours from hourly rollups', async () => {
        const now = Date.parse('2024-06-15T12:30:00Z');
        await store.applyEvents(
          [
            event(site, { at: now - 25 * HOUR, path: '/too-old', user_id: 'old' }),
            event(site, { at: Date.parse('2024-06-14T12:00:00Z'), path: '/edge', user_id: 'a' }),
            event(site, { at: now - 2 * HOUR, path: '/x', user_id: 'a' }),
            event(site, { at: now - 60_000, path: '/x', user_id: 'b' }),
          ],
          now,
        );
        expect(await last24hReport(store, site, now)).toEqual({
          site_id: site.site_id,
          period: { from: '2024-06-14T12:00:00Z', to: '2024-06-15T12:30:00Z', timezone: 'UTC' },
          total_views: 3,
          unique_users_count: 2,
          top_paths: [
            { path: '/x', views: 2 },
            { path: '/edge', views: 1 },
          ],
        });
      });

      it('answers date ranges with exact uniques over the range and a daily series', async () => {
        const d = (day: string) => Date.parse(`${day}T10:00:00Z`);
        await store.applyEvents(
          [
            event(site, { at: d('2024-06-01'), path: '/a', user_id: 'alice' }),
            event(site, { at: d('2024-06-02'), path: '/a', user_id: 'alice' }),
            event(site, { at: d('2024-06-02'), path: '/b', user_id: 'bob' }),
            event(site, { at: d('2024-06-04'), path: '/b', user_id: 'carol' }),
            event(site, { at: d('2024-06-04'), path: '/b', user_id: 'alice' }),
            event(site, { at: d('2024-06-05'), path: '/c', user_id: 'dave' }),
          ],
          NOW,
        );
        const r = await rangeReport(store, site, '2024-06-01', '2024-06-04', 'day');
        expect(r).toEqual({
          site_id: site.site_id,
          from: '2024-06-01',
          to: '2024-06-04',
          timezone: 'UTC',
          granularity: 'day',
          total_views: 5,
          unique_users_count: 3,
          top_paths: [
            { path: '/b', views: 3 },
            { path: '/a', views: 2 },
          ],
          series: [
            { date: '2024-06-01', views: 1, unique_users: 1 },
            { date: '2024-06-02', views: 2, unique_users: 2 },
            { date: '2024-06-03', views: 0, unique_users: 0 },
            { date: '2024-06-04', views: 2, unique_users: 2 },
          ],
        });
        expect(await store.uniqueVisitors(site.site_id, { days: { from: '2024-06-01', to: '2024-06-05' } })).toBe(4);
      });

      it('answers zeros for a day without events', async () => {
        expect(await dayReport(store, site, '2023-01-01')).toEqual({
          site_id: site.site_id,
          date: '2023-01-01',
          total_views: 0,
          unique_users_count: 0,
          top_paths: [],
        });
      });
    });

    describe('maintenance', () => {
      it('deletes only raw events older than the cutoff and keeps the rollups', async () => {
        const cutoff = Date.parse('2024-06-08T00:00:00Z');
        await store.applyEvents(
          [
            event(site, { at: cutoff - 86_400_000, path: '/old' }),
            event(site, { at: cutoff - 1, path: '/old' }),
            event(site, { at: cutoff, path: '/new' }),
            event(site, { at: NOW, path: '/new' }),
          ],
          NOW,
        );
        expect(await store.deleteEventsBefore(cutoff)).toBe(2);
        expect(await store.countEvents(site.site_id)).toBe(2);
        expect(await store.deleteEventsBefore(cutoff)).toBe(0);
        expect((await dayReport(store, site, '2024-06-07')).total_views).toBe(2);
      });

      it('creates zero placeholders without touching existing rollups', async () => {
        await store.applyEvents([event(site, { at: NOW, path: '/x' })], NOW);
        const rows = [
          { site_id: site.site_id, day: '2024-06-15' },
          { site_id: site.site_id, day: '2024-06-16' },
        ];
        expect(await store.createPlaceholders(rows, NOW)).toBe(1);
        expect(await store.createPlaceholders(rows, NOW)).toBe(0);
        const days = await store.dailyTotals(site.site_id, '2024-06-15', '2024-06-16');
        expect(days).toEqual([
          { day: '2024-06-15', views: 1, uniques: 1 },
          { day: '2024-06-16', views: 0, uniques: 0 },
        ]);
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

    it('tells errors about the data from failures of the store itself', async () => {
      expect(store.isDataError(new Error('connect ECONNREFUSED 127.0.0.1:5432'))).toBe(false);
      expect(store.isDataError(Object.assign(new Error('relation "x" does not exist'), { code: '42P01' }))).toBe(false);
    });
  });
}
