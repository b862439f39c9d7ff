// The store contract on a real MongoDB (a replica set: the store needs transactions). Runs when
// TEST_MONGODB_URI or MONGODB_URI reaches a server; each run works in a database of its own and drops
// it. MongoDB is the one service CI cannot provide, so an unreachable server skips, even in CI.
// Command shapes are tested without a server in test/store-mongo-commands.test.ts.
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MongoClient, type Db } from 'mongodb';
import { newSite } from '../src/core/site.js';
import { dayNumber } from '../src/core/time.js';
import { dayReport, last24hReport, rangeReport } from '../src/reports/stats.js';
import type { EventDoc } from '../src/store/mongo/schema.js';
import { openMongoStore } from '../src/store/mongo/store.js';
import type { AnalyticsStore } from '../src/store/port.js';
import { uniqueName } from './helpers/services.js';
import { AWKWARD_PATHS, SESSION_TIMEOUT_MS, event, storeContract, type StoreHarness } from './store.contract.js';

const MONGODB_URI = process.env.TEST_MONGODB_URI ?? process.env.MONGODB_URI;

/** Whether the URI reaches a server that can run the store: a replica set member or a mongos. */
async function usable(uri: string | undefined): Promise<'yes' | 'unreachable' | 'standalone'> {
  if (!uri) return 'unreachable';
  let client: MongoClient | undefined;
  try {
    client = new MongoClient(uri, { serverSelectionTimeoutMS: 2000, connectTimeoutMS: 2000 });
    const hello = await client.db('admin').command({ hello: 1 });
    return hello.setName || hello.msg === 'isdbgrid' ? 'yes' : 'standalone';
  } catch {
    return 'unreachable';
  } finally {
    await client?.close().catch(() => {});
  }
}

const server = await usable(MONGODB_URI);
const available = server === 'yes';
if (server === 'unreachable') console.warn('skipped: no MongoDB server reachable');
if (server === 'standalone') console.warn('skipped: the MongoDB server reached is a standalone server; the store needs a replica set (transactions)');

async function mongoHarness(): Promise<StoreHarness & { db: Db }> {
  const client = new MongoClient(MONGODB_URI!);
  const dbName = uniqueName('analytics_test');
  try {
    const store = await openMongoStore(MONGODB_URI!, { client, dbName });
    await store.migrate();
    return {
      store,
      db: client.db(dbName),
      cleanup: async () => {
        try {
          await store.close();
          await client.db(dbName).dropDatabase();
        } finally {
          await client.close();
        }
      },
    };
  } catch (err) {
    await client.close();
    throw err;
  }
}

describe.runIf(available)('MongoDB', () => {
  storeContract('MongoDB', mongoHarness);

  describe('documents as stored on the server', () => {
    let h: StoreHarness & { db: Db };
    let store: AnalyticsStore;
    const NOW = Date.parse('2024-06-15T12:30:00Z');
    const D = dayNumber('2024-06-15');

    beforeEach(async () => {
      h = await mongoHarness();
      store = h.store;
    });
    afterEach(async () => {
      await h.cleanup();
    });

    it('keeps counts as numbers, values next to their hash, and events under their id', async () => {
      const site = newSite('shape-site', 'Shape', 'UTC', NOW).site;
      await store.createSite(site);
      const events = AWKWARD_PATHS.map((path, i) => event(site, { at: NOW, path, user_id: `u${i % 3}` }));
      await store.applyEvents(events, { now: NOW, sessionTimeoutMs: SESSION_TIMEOUT_MS });

      const totals = await h.db.collection('rollups').findOne({ site_id: site.site_id, grain: 1, dim: 0, bucket: D });
      expect(totals).toMatchObject({ scope: '', value_hash: '', value: '', pageviews: AWKWARD_PATHS.length, visitors: 3, visits: 3 });
      expect(Object.keys(totals!).sort()).toEqual(
        ['_id', 'bounces', 'bucket', 'dim', 'duration_ms', 'events', 'grain', 'pageviews', 'revision', 'scope', 'site_id', 'value', 'value_hash', 'visitors', 'visits'].sort(),
      );
      const pages = await h.db.collection('rollups').find({ site_id: site.site_id, grain: 1, dim: 1 }).toArray();
      expect(pages.map((p) => p.value).sort()).toEqual([...AWKWARD_PATHS].sort());
      for (const p of pages) expect(p.value_hash).toBe(createHash('sha256').update(p.value).digest('hex'));
      expect(await h.db.collection('members').countDocuments({ site_id: site.site_id, grain: 1, dim: 0, refs: { $gt: 0 } })).toBe(3);
      expect(await h.db.collection('visits').countDocuments({ site_id: site.site_id })).toBe(3);
      expect(await h.db.collection('visitors').countDocuments({ site_id: site.site_id })).toBe(3);

      const raw = await h.db.collection<EventDoc>('events').findOne({ _id: events[0]!.id });
      expect(raw).toMatchObject({ site_id: site.site_id, path: events[0]!.path, visitor: 'u:u0', is_pageview: true, timestamp: new Date(NOW), received_at: new Date(NOW) });
      expect(raw!.processed_at).toBeInstanceOf(Date);
      // The spec's monitoring query reads the daily totals through the view.
      expect(await h.db.collection('daily_stats').findOne({ site_id: site.site_id }, { projection: { _id: 0 } })).toEqual({
        site_id: site.site_id,
        date: '2024-06-15',
        total_views: AWKWARD_PATHS.length,
        unique_users: 3,
      });
    });

    it('migrates concurrently and repeatedly without error', async () => {
      await Promise.all([store.migrate(), store.migrate(), store.migrate()]);
      const names = (await h.db.collection('rollups').indexes()).map((i) => i.name);
      expect(names).toContain('site_id_1_grain_1_dim_1_scope_1_bucket_1_value_hash_1');
      expect(await h.db.collection('schema_migrations').find().toArray()).toEqual([{ _id: 2, applied_at: expect.any(Date) }]);
      const [view] = await h.db.listCollections({ name: 'daily_stats' }).toArray();
      expect(view).toMatchObject({ type: 'view', options: { viewOn: 'rollups' } });
    });
  });

  describe('upgrade from version 1', () => {
    it('migrates the version-1 collections in place, once, with several processes starting at once', async () => {
      const client = new MongoClient(MONGODB_URI!);
      const dbName = uniqueName('analytics_v1');
      const db = client.db(dbName);
      const stores: AnalyticsStore[] = [];
      try {
        const site = newSite('v1-site', 'V1', 'UTC', Date.parse('2024-06-01T00:00:00Z')).site;
        const at = new Date('2024-06-16T00:00:00Z');
        const H10 = Date.parse('2024-06-15T10:00:00Z');
        const hash = (p: string) => createHash('sha256').update(p).digest('hex');
        // What version 1 wrote for: alice and bob on the 14th, alice and carol on the 15th.
        await db.collection('sites').insertOne({ _id: site.site_id as never, ...site, created_at: new Date(site.created_at) });
        await db.collection('daily_stats').insertMany([
          { site_id: site.site_id, date: '2024-06-14', total_views: 3, unique_users: 2, created_at: at, updated_at: at },
          { site_id: site.site_id, date: '2024-06-15', total_views: 4, unique_users: 2, created_at: at, updated_at: at },
        ]);
        await db.collection('daily_visitors').insertMany(
          [
            ['2024-06-14', 'alice'],
            ['2024-06-14', 'bob'],
            ['2024-06-15', 'alice'],
            ['2024-06-15', 'carol'],
          ].map(([date, user_id]) => ({ site_id: site.site_id, date, user_id, created_at: at })),
        );
        await db.collection('daily_paths').insertMany([
          { site_id: site.site_id, date: '2024-06-14', path_hash: hash('/a.b'), path: '/a.b', views: 3 },
          { site_id: site.site_id, date: '2024-06-15', path_hash: hash('/a.b'), path: '/a.b', views: 1 },
          { site_id: site.site_id, date: '2024-06-15', path_hash: hash('__proto__'), path: '__proto__', views: 3 },
        ]);
        await db.collection('hourly_stats').insertOne({ site_id: site.site_id, hour: H10, total_views: 4, unique_users: 2, created_at: at, updated_at: at });
        await db.collection('hourly_visitors').insertMany(['alice', 'carol'].map((user_id) => ({ site_id: site.site_id, hour: H10, user_id, created_at: at })));
        await db.collection('hourly_paths').insertMany([
          { site_id: site.site_id, hour: H10, path_hash: hash('/a.b'), path: '/a.b', views: 1 },
          { site_id: site.site_id, hour: H10, path_hash: hash('__proto__'), path: '__proto__', views: 3 },
        ]);
        await db.collection('daily_stats').createIndex({ site_id: 1, date: 1 }, { unique: true });

        for (let i = 0; i < 3; i++) stores.push(await openMongoStore(MONGODB_URI!, { client, dbName, migrationTiming: { lockTtlMs: 10_000, pollMs: 20 } }));
        await Promise.all(stores.map((s) => s.migrate()));
        const store = stores[0]!;

        expect(await dayReport(store, site, '2024-06-15')).toMatchObject({
          total_views: 4,
          unique_users_count: 2,
          top_paths: [
            { path: '__proto__', views: 3 },
            { path: '/a.b', views: 1 },
          ],
        });
        expect(await rangeReport(store, site, '2024-06-14', '2024-06-15', 'day')).toMatchObject({ total_views: 7, unique_users_count: 3 });
        expect(await last24hReport(store, site, Date.parse('2024-06-15T12:00:00Z'))).toMatchObject({ total_views: 4, unique_users_count: 2 });
        for (const name of ['daily_visitors', 'daily_paths', 'hourly_stats', 'hourly_visitors', 'hourly_paths']) {
          expect(await db.listCollections({ name }).toArray()).toEqual([]);
        }
        expect(await db.collection('daily_stats').find({}, { projection: { _id: 0 } }).sort({ date: 1 }).toArray()).toEqual([
          { site_id: site.site_id, date: '2024-06-14', total_views: 3, unique_users: 2 },
          { site_id: site.site_id, date: '2024-06-15', total_views: 4, unique_users: 2 },
        ]);
        // A version-1 visitor is the given visitor of its user id: alice again on the 15th is no new visitor.
        await store.applyEvents([event(site, { at: Date.parse('2024-06-15T11:00:00Z'), path: '/a.b', user_id: 'alice' })], {
          now: Date.parse('2024-06-15T11:00:00Z'),
          sessionTimeoutMs: SESSION_TIMEOUT_MS,
        });
        expect(await dayReport(store, site, '2024-06-15')).toMatchObject({ total_views: 5, unique_users_count: 2 });
        // Once recorded, a later start changes nothing.
        await stores[1]!.migrate();
        expect((await dayReport(store, site, '2024-06-15')).total_views).toBe(5);
      } finally {
        for (const s of stores) await s.close();
        await db.dropDatabase().catch(() => {});
        await client.close();
      }
    });
  });
});
