// The upgrade: data written by the previous version's schema (six daily/hourly tables, paths and
// raw user ids as visitor keys) is migrated in place and keeps every count; a visitor of before the
// upgrade who comes back after it is the same visitor.
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { newSite } from '../src/core/site.js';
import { rangePeriod, dayReport, last24hReport, rangeReport } from '../src/reports/stats.js';
import { breakdownReport } from '../src/reports/breakdown.js';
import { dimensionByName, VISIT_DIMENSIONS } from '../src/core/dimensions.js';
import { pathHash } from '../src/store/path-hash.js';
import { dayNumber } from '../src/core/time.js';
import type { SqlStore } from '../src/store/sql/store.js';
import { openSqliteStore } from '../src/store/sql/sqlite.js';
import { openPostgresStore } from '../src/store/sql/postgres.js';
import { POSTGRES_URL, serviceAvailable, uniqueName } from './helpers/services.js';
import { dropSchema, tempDir } from './helpers/stores.js';
import { CHROME, event, FIREFOX, SESSION_TIMEOUT_MS } from './store.contract.js';
import path from 'node:path';
import fs from 'node:fs';

const pgUp = await serviceAvailable('PostgreSQL', POSTGRES_URL);

type Open = () => Promise<{ store: SqlStore; cleanup: () => Promise<void> }>;
const stores: [string, Open][] = [
  [
    'SQLite',
    async () => {
      const dir = tempDir();
      const store = openSqliteStore(path.join(dir, 'analytics.db'));
      return { store, cleanup: async () => (await store.close(), fs.rmSync(dir, { recursive: true, force: true })) };
    },
  ],
  ...(pgUp
    ? [
        [
          'PostgreSQL',
          async () => {
            const schema = uniqueName('upgrade');
            const store = openPostgresStore(POSTGRES_URL, { schema, poolSize: 3 });
            return { store, cleanup: async () => (await store.close(), await dropSchema(schema)) };
          },
        ] as [string, Open],
      ]
    : []),
];

const NOW = Date.parse('2024-06-15T12:30:00Z');
const H10 = Date.parse('2024-06-15T10:00:00Z');
const H11 = H10 + 3_600_000;

describe.each(stores)('upgrade from the previous schema (%s)', (_name, open) => {
  it('keeps every count of version-1 data and goes on counting the same visitors', async () => {
    const { store, cleanup } = await open();
    try {
      await store.migrate(1); // the schema of the previous version
      const site = newSite('old-site', 'Old site', 'UTC', NOW).site;
      const db = store.db as any;
      await db.insertInto('sites').values(site).execute();
      // What version 1 wrote for: /a viewed by alice (10:00) and bob (11:00), /b by alice (11:00),
      // a signup by carol (11:00), and /a by alice the day before.
      await db.insertInto('paths').values([{ path_id: 1, site_id: site.site_id, path_hash: pathHash('/a'), path: '/a' }, { path_id: 2, site_id: site.site_id, path_hash: pathHash('/b'), path: '/b' }]).execute();
      await db.insertInto('visitors').values([{ visitor_id: 1, site_id: site.site_id, visitor_key: 'alice' }, { visitor_id: 2, site_id: site.site_id, visitor_key: 'bob' }, { visitor_id: 3, site_id: site.site_id, visitor_key: 'carol' }]).execute();
      const stats = (day: string, views: number, uniques: number) => ({ site_id: site.site_id, day, total_views: views, unique_users: uniques, created_at_ms: NOW, updated_at_ms: NOW });
      await db.insertInto('daily_stats').values([stats('2024-06-14', 1, 1), stats('2024-06-15', 3, 3)]).execute();
      await db.insertInto('daily_visitors').values([{ site_id: site.site_id, day: '2024-06-14', visitor_id: 1 }, ...[1, 2, 3].map((v) => ({ site_id: site.site_id, day: '2024-06-15', visitor_id: v }))]).execute();
      await db.insertInto('daily_paths').values([{ site_id: site.site_id, day: '2024-06-14', path_id: 1, views: 1 }, { site_id: site.site_id, day: '2024-06-15', path_id: 1, views: 2 }, { site_id: site.site_id, day: '2024-06-15', path_id: 2, views: 1 }]).execute();
      const hourly = (hour: number, views: number, uniques: number) => ({ site_id: site.site_id, hour_ms: hour, total_views: views, unique_users: uniques, created_at_ms: NOW, updated_at_ms: NOW });
      await db.insertInto('hourly_stats').values([hourly(H10 - 86_400_000, 1, 1), hourly(H10, 1, 1), hourly(H11, 2, 3)]).execute();
      await db.insertInto('hourly_visitors').values([{ site_id: site.site_id, hour_ms: H10 - 86_400_000, visitor_id: 1 }, { site_id: site.site_id, hour_ms: H10, visitor_id: 1 }, ...[1, 2, 3].map((v) => ({ site_id: site.site_id, hour_ms: H11, visitor_id: v }))]).execute();
      await db.insertInto('hourly_paths').values([{ site_id: site.site_id, hour_ms: H10 - 86_400_000, path_id: 1, views: 1 }, { site_id: site.site_id, hour_ms: H10, path_id: 1, views: 1 }, { site_id: site.site_id, hour_ms: H11, path_id: 1, views: 1 }, { site_id: site.site_id, hour_ms: H11, path_id: 2, views: 1 }]).execute();
      await db.insertInto('events').values({ event_id: '0190a0a0-0000-7000-8000-000000000001', site_id: site.site_id, event_type: 'pageview', path: '/a', user_id: 'alice', timestamp_ms: H10, received_at_ms: H10, processed_at_ms: H10 }).execute();

      await store.migrate(); // the upgrade, then once more: a no-op
      await store.migrate();

      const top = [
        { path: '/a', views: 2 },
        { path: '/b', views: 1 },
      ];
      expect(await dayReport(store, site, '2024-06-15')).toMatchObject({ total_views: 3, unique_users_count: 3, top_paths: top });
      expect(await dayReport(store, site, '2024-06-14')).toMatchObject({ total_views: 1, unique_users_count: 1, top_paths: [{ path: '/a', views: 1 }] });
      expect(await rangeReport(store, site, '2024-06-14', '2024-06-15', 'day')).toMatchObject({ total_views: 4, unique_users_count: 3 });
      expect(await last24hReport(store, site, NOW)).toMatchObject({ total_views: 3, unique_users_count: 3, top_paths: top });
      const hours = await rangeReport(store, site, '2024-06-15', '2024-06-15', 'hour');
      expect(hours.series.filter((p) => p.views > 0)).toEqual([
        { hour: '2024-06-15T10:00:00Z', views: 1, unique_users: 1, visits: 0 },
        { hour: '2024-06-15T11:00:00Z', views: 2, unique_users: 3, visits: 0 },
      ]);
      expect(await store.countEvents(site.site_id)).toBe(1);
      // The spec's daily_stats remains readable, as a view.
      const view = await sql<{ date: string; total_views: number; unique_users: number }>`select date, total_views, unique_users from daily_stats where site_id = ${site.site_id} order by date`.execute(store.db);
      expect(view.rows.map((r) => [String(r.date).slice(0, 10), Number(r.total_views), Number(r.unique_users)])).toEqual([
        ['2024-06-14', 1, 1],
        ['2024-06-15', 3, 3],
      ]);

      // alice comes back after the upgrade the same day: still 3 visitors that day; dave is new.
      const later = Date.parse('2024-06-15T12:00:00Z');
      await store.applyEvents([event(site, { at: later, path: '/a', user_id: 'alice' }), event(site, { at: later, path: '/c', user_id: 'dave' })], { now: NOW, sessionTimeoutMs: SESSION_TIMEOUT_MS });
      expect(await dayReport(store, site, '2024-06-15')).toMatchObject({ total_views: 5, unique_users_count: 4, top_paths: [{ path: '/a', views: 3 }, { path: '/b', views: 1 }, { path: '/c', views: 1 }] });
      expect(await rangeReport(store, site, '2024-06-14', '2024-06-15', 'day')).toMatchObject({ total_views: 6, unique_users_count: 4 });
      const day = rangePeriod(site, '2024-06-15', '2024-06-15', 'day');
      expect((await breakdownReport(store, site, day, dimensionByName('page')!, [], 10)).map((r) => [r.value, r.pageviews])).toEqual([
        ['/a', 3],
        ['/c', 1],
        ['/b', 1],
      ]);
    } finally {
      await cleanup();
    }
  });


  it('keeps the numbers of a schema-4 store (reference-counted members of visit-level values) and counts new events on top', async () => {
    const { store, cleanup } = await open();
    try {
      await store.migrate(4); // the schema of the previous version: visit-level members as reference counts
      const site = newSite('v4-site', 'V4 site', 'UTC', NOW).site;
      const db = store.db as any;
      await db.insertInto('sites').values(site).execute();
      const S = site.site_id;
      // Dictionary and visitors as version 4 wrote them.
      const values = ['/a', '/b', 'Chrome', 'Firefox'];
      const idOf = async (table: string, column: string, values: Record<string, unknown>) =>
        Number((await db.insertInto(table).values(values).returning(column).executeTakeFirstOrThrow())[column]);
      const [A, B, CHROME_ID, FIREFOX_ID] = await Promise.all(values.map((value) => idOf('dictionary', 'value_id', { site_id: S, value_hash: pathHash(value), value })));
      const ALICE = await idOf('visitors', 'visitor_id', { site_id: S, visitor_key: 'u:alice', day: null });
      const BOB = await idOf('visitors', 'visitor_id', { site_id: S, visitor_key: 'u:bob', day: null });
      const D14 = dayNumber('2024-06-14');
      const D15 = D14 + 1;
      const BROWSER = dimensionByName('browser')!.id;
      const ENTRY = dimensionByName('entry_page')!.id;
      const EXIT = dimensionByName('exit_page')!.id;
      const PAGE = dimensionByName('page')!.id;
      const rollup = (grain: number, bucket: number, dim: number, value: number, c: { pageviews?: number; visitors: number; visits?: number; revision?: number }) => ({
        site_id: S, grain, bucket, dim, scope: 0, value, pageviews: c.pageviews ?? 0, events: 0, visitors: c.visitors, visits: c.visits ?? 0, bounces: 0, duration_ms: 0, revision: c.revision ?? 0,
      });
      const member = (grain: number, bucket: number, dim: number, value: number, visitor: number, refs = 1) => ({ site_id: S, grain, bucket, dim, scope: 0, value, visitor_id: visitor, refs });
      // June 14 (past retention: its visits are gone): alice (Chrome) /a → /b, bob (Firefox) /a.
      // Bob's exit page had been /b for a moment: its reference count went back to 0.
      // June 15 (in retention): alice (Chrome) /a at 10:00, her visit record kept.
      await db.insertInto('rollups').values([
        rollup(1, D14, 0, 0, { pageviews: 3, visitors: 2, visits: 2, revision: 5 }),
        rollup(1, D14, PAGE, A, { pageviews: 2, visitors: 2 }),
        rollup(1, D14, PAGE, B, { pageviews: 1, visitors: 1 }),
        rollup(1, D14, BROWSER, CHROME_ID, { pageviews: 2, visitors: 1, visits: 1 }),
        rollup(1, D14, BROWSER, FIREFOX_ID, { pageviews: 1, visitors: 1, visits: 1 }),
        rollup(1, D14, ENTRY, A, { visitors: 2, visits: 2 }),
        rollup(1, D14, EXIT, B, { visitors: 1, visits: 1 }),
        rollup(1, D14, EXIT, A, { visitors: 1, visits: 1 }),
        rollup(1, D15, 0, 0, { pageviews: 1, visitors: 1, visits: 1, revision: 2 }),
        rollup(1, D15, PAGE, A, { pageviews: 1, visitors: 1 }),
        rollup(1, D15, BROWSER, CHROME_ID, { pageviews: 1, visitors: 1, visits: 1 }),
        rollup(1, D15, ENTRY, A, { visitors: 1, visits: 1 }),
        rollup(1, D15, EXIT, A, { visitors: 1, visits: 1 }),
        rollup(2, H10, 0, 0, { pageviews: 1, visitors: 1, visits: 1, revision: 2 }),
        rollup(2, H10, BROWSER, CHROME_ID, { pageviews: 1, visitors: 1, visits: 1 }),
        rollup(2, H10 - 86_400_000, 0, 0, { pageviews: 3, visitors: 2, visits: 2, revision: 5 }),
        rollup(2, H10 - 86_400_000, BROWSER, CHROME_ID, { pageviews: 2, visitors: 1, visits: 1 }),
        rollup(2, H10 - 86_400_000, BROWSER, FIREFOX_ID, { pageviews: 1, visitors: 1, visits: 1 }),
      ]).execute();
      await db.insertInto('members').values([
        member(1, D14, 0, 0, ALICE), member(1, D14, 0, 0, BOB),
        member(1, D14, PAGE, A, ALICE), member(1, D14, PAGE, A, BOB), member(1, D14, PAGE, B, ALICE),
        member(1, D14, BROWSER, CHROME_ID, ALICE), member(1, D14, BROWSER, FIREFOX_ID, BOB),
        member(1, D14, ENTRY, A, ALICE), member(1, D14, ENTRY, A, BOB),
        member(1, D14, EXIT, B, ALICE), member(1, D14, EXIT, A, BOB), member(1, D14, EXIT, B, BOB, 0),
        member(1, D15, 0, 0, ALICE), member(1, D15, PAGE, A, ALICE), member(1, D15, BROWSER, CHROME_ID, ALICE),
        member(1, D15, ENTRY, A, ALICE), member(1, D15, EXIT, A, ALICE),
        member(2, H10, 0, 0, ALICE), member(2, H10, BROWSER, CHROME_ID, ALICE),
        member(2, H10 - 86_400_000, 0, 0, ALICE), member(2, H10 - 86_400_000, 0, 0, BOB),
        member(2, H10 - 86_400_000, BROWSER, CHROME_ID, ALICE), member(2, H10 - 86_400_000, BROWSER, FIREFOX_ID, BOB),
      ]).execute();
      const vals = VISIT_DIMENSIONS.map((d) => (d.name === 'browser' ? CHROME_ID : 0)).join(',');
      await db.insertInto('visits').values({ site_id: S, visitor_id: ALICE, start_ms: H10, last_ms: H10, vals, entry_id: A, entry_ms: H10, exit_id: A, exit_ms: H10, pageviews: 1, events: 0 }).execute();

      await store.migrate(); // migration 5, then once more: a no-op
      await store.migrate();

      const two = rangePeriod(site, '2024-06-14', '2024-06-15', 'day');
      const rows = async (name: string, p = two) => (await breakdownReport(store, site, p, dimensionByName(name)!, [], 10)).map((r) => [r.value, r.visitors, r.visits]);
      const check = async (extra: { chrome: number; firefox: [number, number]; entryA: [number, number]; views: number; uniques: number }) => {
        expect(await rows('browser')).toEqual(
          [
            ['Chrome', 1, extra.chrome],
            ['Firefox', ...extra.firefox],
          ].sort((x, y) => Number(y[1]) - Number(x[1]) || String(x[0]).localeCompare(String(y[0]))),
        );
        expect((await rows('entry_page'))[0]).toEqual(['/a', ...extra.entryA]);
        expect(await rangeReport(store, site, '2024-06-14', '2024-06-15', 'day')).toMatchObject({ total_views: extra.views, unique_users_count: extra.uniques });
      };
      // Exactly as before the upgrade, from the member rows of June 14 and the visit of June 15.
      await check({ chrome: 2, firefox: [1, 1], entryA: [2, 3], views: 4, uniques: 2 });
      // Bob's reference count of 0 does not make him a /b exit visitor.
      expect(await rows('exit_page')).toEqual([
        ['/a', 2, 2],
        ['/b', 1, 1],
      ]);
      const hours = { grain: 2 as const, from: H10 - 86_400_000, to: H11 };
      expect(await rows('browser', hours)).toEqual([
        ['Chrome', 1, 2],
        ['Firefox', 1, 1],
      ]);

      // New events on top: alice again on the 15th (a new visit, Chrome), and carol (Firefox).
      await store.applyEvents(
        [
          event(site, { at: Date.parse('2024-06-15T12:00:00Z'), path: '/a', user_id: 'alice', ua: CHROME }),
          event(site, { at: Date.parse('2024-06-15T12:00:00Z'), path: '/b', user_id: 'carol', ua: FIREFOX }),
        ],
        { now: NOW, sessionTimeoutMs: SESSION_TIMEOUT_MS },
      );
      expect(await dayReport(store, site, '2024-06-15')).toMatchObject({ total_views: 3, unique_users_count: 2, visits: 3 });
      const day15 = rangePeriod(site, '2024-06-15', '2024-06-15', 'day');
      expect(await rows('browser', day15)).toEqual([
        ['Chrome', 1, 2],
        ['Firefox', 1, 1],
      ]);
      await check({ chrome: 3, firefox: [2, 2], entryA: [2, 4], views: 6, uniques: 3 });
    } finally {
      await cleanup();
    }
  });
});
