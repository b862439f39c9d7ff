// The store contract on a real MongoDB (a replica set: the store needs transactions). Runs when
// TEST_MONGODB_URI or MONGODB_URI reaches a server; each run works in a database of its own and drops
// it. MongoDB is the one service CI cannot provide, so an unreachable server skips, even in CI.
// Command shapes are tested without a server in test/store-mongo-commands.test.ts.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MongoClient, type Db } from 'mongodb';
import { newSite } from '../src/core/site.js';
import type { EventDoc } from '../src/store/mongo/schema.js';
import { openMongoStore } from '../src/store/mongo/store.js';
import type { AnalyticsStore } from '../src/store/port.js';
import { uniqueName } from './helpers/services.js';
import { AWKWARD_PATHS, event, storeContract, type StoreHarness } from './store.contract.js';

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

    beforeEach(async () => {
      h = await mongoHarness();
      store = h.store;
    });
    afterEach(async () => {
      await h.cleanup();
    });

    it('keeps counts as numbers, paths as values and events under their id', async () => {
      const site = newSite('shape-site', 'Shape', 'UTC', NOW).site;
      await store.createSite(site);
      const events = AWKWARD_PATHS.map((path, i) => event(site, { at: NOW, path, user_id: `u${i % 3}` }));
      await store.applyEvents(events, NOW);

      const day = await h.db.collection('daily_stats').findOne({ site_id: site.site_id, date: '2024-06-15' });
      expect(day).toMatchObject({ total_views: AWKWARD_PATHS.length, unique_users: 3 });
      expect(day!.created_at).toBeInstanceOf(Date);
      expect(day!.updated_at).toBeInstanceOf(Date);
      expect(Object.keys(day!).sort()).toEqual(['_id', 'created_at', 'date', 'site_id', 'total_views', 'unique_users', 'updated_at']);

      const paths = await h.db.collection('daily_paths').find({ site_id: site.site_id }).toArray();
      expect(paths.map((p) => p.path).sort()).toEqual([...AWKWARD_PATHS].sort());
      for (const p of paths) expect(Object.keys(p).sort()).toEqual(['_id', 'date', 'path', 'path_hash', 'site_id', 'views']);

      const raw = await h.db.collection<EventDoc>('events').findOne({ _id: events[0]!.id });
      expect(raw).toMatchObject({ site_id: site.site_id, path: events[0]!.path, timestamp: new Date(NOW), received_at: new Date(NOW) });
      expect(raw!.processed_at).toBeInstanceOf(Date);
      expect(await h.db.collection('daily_visitors').countDocuments({ site_id: site.site_id })).toBe(3);
    });

    it('migrates concurrently and repeatedly without error', async () => {
      await Promise.all([store.migrate(), store.migrate(), store.migrate()]);
      const names = (await h.db.collection('daily_paths').indexes()).map((i) => i.name);
      expect(names).toContain('site_id_1_date_1_path_hash_1');
    });
  });
});
