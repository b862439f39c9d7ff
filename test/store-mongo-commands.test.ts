// Command-shape tests of the MongoDB store: the real driver talks to a wire-protocol capture server
// (test/helpers/mongo-wire-capture.ts), and every command it sends is asserted field by field.
// This proves what the adapter asks of MongoDB, not how a server answers; the store contract suite
// (test/store-mongo.test.ts) runs against a real server whenever one is reachable.
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Long, MongoClient, MongoServerError, type Binary, type CommandStartedEvent, type Document } from 'mongodb';
import { loadConfig } from '../src/config.js';
import type { Site } from '../src/core/site.js';
import { bucketsOf, HOUR } from '../src/core/time.js';
import { openStore } from '../src/store/index.js';
import { dbNameFromUri, REPLICA_SET_REQUIRED } from '../src/store/mongo/connection.js';
import { openMongoStore } from '../src/store/mongo/store.js';
import { SiteExistsError, type AnalyticsStore, type BucketedEvent } from '../src/store/port.js';
import { cursorReply, MongoWireCapture, updateReply, type CapturedCommand } from './helpers/mongo-wire-capture.js';
import { AWKWARD_PATHS } from './store.contract.js';

const DB = 'analytics_cmd';
const NOW = Date.parse('2024-06-15T12:30:00Z');
const AT = new Date(NOW);
const H12 = Date.parse('2024-06-15T12:00:00Z');
const H13 = H12 + HOUR;
const SITE = 'site-a';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function ev(id: string, path: string, user_id: string, ts = NOW, event_type = 'pageview'): BucketedEvent {
  return { id, site_id: SITE, event_type, path, user_id, ts, received_at: ts - 5, ...bucketsOf(ts, 'UTC'), is_pageview: event_type === 'pageview' };
}

function rawDoc(e: BucketedEvent): Document {
  return {
    _id: e.id,
    site_id: e.site_id,
    event_type: e.event_type,
    path: e.path,
    user_id: e.user_id,
    timestamp: new Date(e.ts),
    received_at: new Date(e.received_at),
    processed_at: AT,
  };
}

/** The command without its session and transaction fields, which tests check on their own. */
function shape(cmd: CapturedCommand): Document {
  const { lsid: _l, txnNumber: _t, autocommit: _a, startTransaction: _s, readConcern: _r, ...rest } = cmd.command;
  return rest;
}

const lsidOf = (cmd: CapturedCommand) => (cmd.command.lsid?.id as Binary | undefined)?.toString('hex');
const txnOf = (cmd: CapturedCommand) => Number(cmd.command.txnNumber);
const target = (cmd: CapturedCommand) => `${cmd.name} ${String(cmd.command[cmd.name])}`;

/** Every key of every (nested) document, array elements included. */
function keysOf(value: unknown, out: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) for (const v of value) keysOf(v, out);
  else if (value && typeof value === 'object' && !(value instanceof Date) && !('_bsontype' in value)) {
    for (const [k, v] of Object.entries(value)) {
      out.add(k);
      keysOf(v, out);
    }
  }
  return out;
}

const transientConflict = {
  ok: 0,
  errmsg: 'WriteConflict error: this operation conflicted with another operation. Please retry your operation or multi-document transaction.',
  code: 112,
  codeName: 'WriteConflict',
  errorLabels: ['TransientTransactionError'],
};

const duplicateKey = (index: number, what: string) => ({
  ok: 1,
  n: 0,
  writeErrors: [{ index, code: 11000, errmsg: `E11000 duplicate key error collection: ${what}` }],
});

describe('MongoDB store: commands sent to the server', () => {
  let server: MongoWireCapture;
  let client: MongoClient;
  let store: AnalyticsStore;
  const started: CommandStartedEvent[] = [];
  /** Off in tests whose commands come from clients of their own, which are not monitored. */
  let monitoredClientOnly = true;

  beforeAll(async () => {
    server = await MongoWireCapture.start('replicaSet');
    client = new MongoClient(server.uri(DB), { monitorCommands: true, serverSelectionTimeoutMS: 5000 });
    client.on('commandStarted', (e) => started.push(e));
    store = await openMongoStore(server.uri(DB), { client });
  });

  afterAll(async () => {
    await store?.close();
    await client?.close();
    await server?.stop();
  });

  beforeEach(() => {
    server.reset();
    started.length = 0;
    monitoredClientOnly = true;
  });

  afterEach(() => {
    if (!monitoredClientOnly) return;
    // The driver's own command monitoring saw the same commands, in the same order.
    const appStarted = started.filter((e) => e.commandName !== 'hello');
    expect(appStarted.map((e) => `${e.commandName} ${e.databaseName}`)).toEqual(
      server.sent().filter((c) => c.name !== 'hello').map((c) => `${c.name} ${c.db}`),
    );
  });

  /** Replies to `find`/`aggregate` on `collection` with these documents, once. */
  const cursorOnce = (name: string, collection: string, docs: Document[]) =>
    server.replyOnce((c) => (c.name === name && c.command[name] === collection ? cursorReply(c, docs) : undefined));

  describe('opening', () => {
    beforeEach(() => {
      monitoredClientOnly = false;
    });

    it('asks the admin database for hello and uses the database named in the URI', async () => {
      const s = await openMongoStore(server.uri('custom_db'));
      await s.ping();
      await s.close();
      const sent = server.sent();
      expect(sent.map((c) => [c.name, c.db])).toEqual([
        ['hello', 'admin'],
        ['ping', 'custom_db'],
      ]);
      expect(shape(sent[0]!)).toEqual({ hello: 1, $db: 'admin' });
      expect(shape(sent[1]!)).toEqual({ ping: 1, $db: 'custom_db' });
    });

    it('defaults to the database "analytics"', async () => {
      const s = await openMongoStore(`mongodb://${server.address}/?appName=x`);
      await s.ping();
      await s.close();
      expect(server.sent().find((c) => c.name === 'ping')!.db).toBe('analytics');
      expect(dbNameFromUri('mongodb://h1:27017,h2:27018/site_stats?replicaSet=rs0')).toBe('site_stats');
      expect(dbNameFromUri('mongodb+srv://user:p%2Fw@cluster0.example.net/prod?retryWrites=true')).toBe('prod');
      expect(dbNameFromUri('mongodb://user:pw@localhost')).toBe('analytics');
      expect(dbNameFromUri('mongodb://localhost:27017/')).toBe('analytics');
    });

    it('refuses a standalone server with how to get a replica set', async () => {
      const standalone = await MongoWireCapture.start('standalone');
      try {
        const opening = openMongoStore(standalone.uri('x'));
        await expect(opening).rejects.toThrow(REPLICA_SET_REQUIRED);
        await opening.catch((err: Error) => {
          expect(err.message).toMatch(/needs a replica set/);
          expect(err.message).toContain('--replSet rs0');
          expect(err.message).toContain('rs.initiate()');
        });
        expect(standalone.sent().map((c) => [c.name, c.db])).toContainEqual(['hello', 'admin']);
        expect(standalone.sent().map((c) => c.name)).not.toContain('createIndexes');
      } finally {
        await standalone.stop();
      }
    });

    it('accepts a mongos (msg "isdbgrid")', async () => {
      const mongos = await MongoWireCapture.start('mongos');
      try {
        const s = await openMongoStore(mongos.uri('x'));
        expect(s.kind).toBe('mongodb');
        await s.close();
      } finally {
        await mongos.stop();
      }
    });

    it('is what openStore opens, and migrates, when MONGODB_URI is set', async () => {
      const s = await openStore(loadConfig({ MONGODB_URI: server.uri('from_config') }));
      try {
        expect(s.kind).toBe('mongodb');
        const sent = server.sent();
        expect(sent[0]!.name).toBe('hello');
        expect(sent.filter((c) => c.name === 'createIndexes').map((c) => [c.db, c.command.createIndexes])).toHaveLength(9);
        expect(sent.filter((c) => c.name === 'createIndexes').every((c) => c.db === 'from_config')).toBe(true);
      } finally {
        await s.close();
      }
    });
  });

  describe('migrate', () => {
    it('creates the spec indexes and one unique index per rollup key', async () => {
      await store.migrate();
      expect(server.sent().map(shape)).toEqual([
        {
          createIndexes: 'sites',
          indexes: [
            { key: { api_key_hash: 1 }, name: 'api_key_hash_1', unique: true },
            { key: { read_key_hash: 1 }, name: 'read_key_hash_1', unique: true },
          ],
          $db: DB,
        },
        { createIndexes: 'events', indexes: [{ key: { site_id: 1, timestamp: -1 }, name: 'site_id_1_timestamp_-1' }], $db: DB },
        { createIndexes: 'daily_stats', indexes: [{ key: { site_id: 1, date: 1 }, name: 'site_id_1_date_1', unique: true }], $db: DB },
        {
          createIndexes: 'daily_visitors',
          indexes: [{ key: { site_id: 1, date: 1, user_id: 1 }, name: 'site_id_1_date_1_user_id_1', unique: true }],
          $db: DB,
        },
        {
          createIndexes: 'daily_paths',
          indexes: [{ key: { site_id: 1, date: 1, path_hash: 1 }, name: 'site_id_1_date_1_path_hash_1', unique: true }],
          $db: DB,
        },
        { createIndexes: 'hourly_stats', indexes: [{ key: { site_id: 1, hour: 1 }, name: 'site_id_1_hour_1', unique: true }], $db: DB },
        {
          createIndexes: 'hourly_visitors',
          indexes: [{ key: { site_id: 1, hour: 1, user_id: 1 }, name: 'site_id_1_hour_1_user_id_1', unique: true }],
          $db: DB,
        },
        {
          createIndexes: 'hourly_paths',
          indexes: [{ key: { site_id: 1, hour: 1, path_hash: 1 }, name: 'site_id_1_hour_1_path_hash_1', unique: true }],
          $db: DB,
        },
        // Issue 9, item 2: the events the worker sets aside, counted per site.
        { createIndexes: 'rejected_events', indexes: [{ key: { site_id: 1, rejected_at: 1 }, name: 'site_id_1_rejected_at_1' }], $db: DB },
        // Issue 9, item 4: the store's id, written by the first migration only ($setOnInsert).
        {
          update: 'meta',
          ordered: true,
          updates: [{ q: { _id: 'store_id' }, u: { $setOnInsert: { value: expect.stringMatching(/^[0-9a-f-]{36}$/) } }, upsert: true }],
          $db: DB,
        },
      ]);
      // Key order is part of an index: site_id first, then the bucket, then the member.
      const keys = server.sent().flatMap((c) => ((c.command.indexes ?? []) as Document[]).map((i) => Object.keys(i.key).join(',')));
      expect(keys).toEqual([
        'api_key_hash',
        'read_key_hash',
        'site_id,timestamp',
        'site_id,date',
        'site_id,date,user_id',
        'site_id,date,path_hash',
        'site_id,hour',
        'site_id,hour,user_id',
        'site_id,hour,path_hash',
        'site_id,rejected_at',
      ]);
    });

    it('storeId reads the id the migration wrote', async () => {
      cursorOnce('find', 'meta', [{ _id: 'store_id', value: '6f1c2a5e-0000-4000-8000-000000000001' }]);
      expect(await store.storeId()).toBe('6f1c2a5e-0000-4000-8000-000000000001');
      expect(server.sent().map(shape)).toEqual([{ find: 'meta', filter: { _id: 'store_id' }, limit: 1, singleBatch: true, $db: DB }]);
      await expect(store.storeId()).rejects.toThrow(/no id/);
    });
  });

  describe('sites', () => {
    const site: Site = {
      site_id: SITE,
      name: 'Site A',
      timezone: 'Europe/Paris',
      api_key_hash: 'a'.repeat(64),
      read_key_hash: 'b'.repeat(64),
      created_at: NOW,
    };
    const siteDoc = { _id: SITE, ...site, created_at: AT };

    it('createSite inserts one document with _id = site_id and created_at as a Date', async () => {
      await store.createSite(site);
      expect(server.sent().map(shape)).toEqual([{ insert: 'sites', ordered: true, documents: [siteDoc], $db: DB }]);
    });

    it('createSite turns a duplicate _id into SiteExistsError', async () => {
      server.replyOnce((c) => (c.name === 'insert' ? duplicateKey(0, `${DB}.sites index: _id_ dup key: { _id: "${SITE}" }`) : undefined));
      cursorOnce('find', 'sites', [siteDoc]);
      await expect(store.createSite(site)).rejects.toBeInstanceOf(SiteExistsError);
      expect(server.sent().map(target)).toEqual(['insert sites', 'find sites']);
      expect(shape(server.sent()[1]!)).toEqual({ find: 'sites', filter: { _id: SITE }, limit: 1, singleBatch: true, $db: DB });
    });

    it('createSite rethrows a duplicate key hash of another site as it is', async () => {
      server.replyOnce((c) => (c.name === 'insert' ? duplicateKey(0, `${DB}.sites index: api_key_hash_1`) : undefined));
      const err = await store.createSite(site).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MongoServerError);
      expect(err).not.toBeInstanceOf(SiteExistsError);
      expect((err as MongoServerError).code).toBe(11000);
    });

    it('getSite finds by _id and returns the Site shape exactly', async () => {
      cursorOnce('find', 'sites', [{ ...siteDoc, unexpected: 'field' }]);
      const found = await store.getSite(SITE);
      expect(found).toStrictEqual(site);
      expect(await store.getSite('missing')).toBeUndefined();
      expect(server.sent().map(shape)).toEqual([
        { find: 'sites', filter: { _id: SITE }, limit: 1, singleBatch: true, $db: DB },
        { find: 'sites', filter: { _id: 'missing' }, limit: 1, singleBatch: true, $db: DB },
      ]);
    });

    it('listSites reads all sites ordered by _id', async () => {
      const other = { ...siteDoc, _id: 'site-b', site_id: 'site-b', created_at: new Date(NOW + 1) };
      cursorOnce('find', 'sites', [siteDoc, other]);
      expect(await store.listSites()).toStrictEqual([site, { ...site, site_id: 'site-b', created_at: NOW + 1 }]);
      expect(server.sent().map(shape)).toEqual([{ find: 'sites', filter: {}, sort: { _id: 1 }, $db: DB }]);
    });
  });

  describe('applyEvents', () => {
    const e1 = ev('e1', '/a.b', 'u1');
    const e2 = ev('e2', '/$x', 'u1', NOW + 40 * 60_000); // 13:10, the next hour
    const e3 = ev('e3', '__proto__', 'u2');
    const e4 = ev('e4', '/a.b', 'u2', NOW, 'signup'); // a custom event: a visitor, not a view

    const visitorUpsert = (field: 'date' | 'hour', bucket: string | number, user_id: string) => ({
      q: { site_id: SITE, [field]: bucket, user_id },
      u: { $setOnInsert: { created_at: AT } },
      upsert: true,
    });
    const statsInc = (field: 'date' | 'hour', bucket: string | number, total_views: number, unique_users: number) => ({
      q: { site_id: SITE, [field]: bucket },
      u: { $inc: { total_views, unique_users }, $set: { updated_at: AT }, $setOnInsert: { created_at: AT } },
      upsert: true,
    });
    // Every rollup write of a transaction, in the order the adapter sends them.
    const ROLLUP_UPDATES = [
      'update daily_visitors',
      'update hourly_visitors',
      'update daily_stats',
      'update hourly_stats',
      'update daily_paths',
      'update hourly_paths',
    ];
    const pathInc = (field: 'date' | 'hour', bucket: string | number, path: string, views: number) => ({
      q: { site_id: SITE, [field]: bucket, path_hash: sha256(path) },
      u: { $inc: { views }, $setOnInsert: { path } },
      upsert: true,
    });

    it('stores new events and updates every rollup inside one transaction', async () => {
      expect(await store.applyEvents([e1, e2, e3, e4, e1], NOW)).toEqual({ applied: 4, duplicates: 1 });
      const sent = server.sent();
      expect(sent.map(target)).toEqual([
        'find events',
        'insert events',
        ...ROLLUP_UPDATES,
        'commitTransaction 1',
      ]);
      expect(sent.map(shape)).toEqual([
        { find: 'events', filter: { _id: { $in: ['e1', 'e2', 'e3', 'e4'] } }, projection: { _id: 1 }, batchSize: 4, $db: DB },
        { insert: 'events', ordered: true, documents: [e1, e2, e3, e4].map(rawDoc), $db: DB },
        {
          update: 'daily_visitors',
          ordered: true,
          updates: [visitorUpsert('date', '2024-06-15', 'u1'), visitorUpsert('date', '2024-06-15', 'u2')],
          $db: DB,
        },
        {
          update: 'hourly_visitors',
          ordered: true,
          updates: [visitorUpsert('hour', H12, 'u1'), visitorUpsert('hour', H13, 'u1'), visitorUpsert('hour', H12, 'u2')],
          $db: DB,
        },
        // e4 is not a page view: 3 views; u1 and u2 are new: 2 uniques.
        { update: 'daily_stats', ordered: true, updates: [statsInc('date', '2024-06-15', 3, 2)], $db: DB },
        { update: 'hourly_stats', ordered: true, updates: [statsInc('hour', H12, 2, 2), statsInc('hour', H13, 1, 1)], $db: DB },
        {
          update: 'daily_paths',
          ordered: true,
          updates: [pathInc('date', '2024-06-15', '/a.b', 1), pathInc('date', '2024-06-15', '/$x', 1), pathInc('date', '2024-06-15', '__proto__', 1)],
          $db: DB,
        },
        {
          update: 'hourly_paths',
          ordered: true,
          updates: [pathInc('hour', H12, '/a.b', 1), pathInc('hour', H13, '/$x', 1), pathInc('hour', H12, '__proto__', 1)],
          $db: DB,
        },
        { commitTransaction: 1, writeConcern: { w: 'majority', wtimeout: 10_000 }, $db: 'admin' },
      ]);

      // One session, one transaction: started by the first command, committed by the last.
      const lsid = lsidOf(sent[0]!);
      expect(lsid).toMatch(/^[0-9a-f]{32}$/);
      expect(sent.every((c) => lsidOf(c) === lsid && txnOf(c) === txnOf(sent[0]!) && c.command.autocommit === false)).toBe(true);
      expect(sent[0]!.command).toMatchObject({ startTransaction: true, readConcern: { level: 'snapshot' } });
      for (const c of sent.slice(1)) {
        expect(c.command).not.toHaveProperty('startTransaction');
        expect(c.command).not.toHaveProperty('readConcern');
      }
      // Writes in a transaction carry no write concern of their own; the commit has it.
      for (const c of sent.slice(0, -1)) expect(c.command).not.toHaveProperty('writeConcern');

      // Big arrays travel as OP_MSG document sequences, as the driver sends them.
      expect(Object.keys(sent[1]!.sequences)).toEqual(['documents']);
      expect(Object.keys(sent[2]!.sequences)).toEqual(['updates']);

      // And the driver's command monitoring reports the same documents.
      const monitored = started.filter((e) => e.commandName !== 'hello');
      expect(monitored[1]!.command.documents).toEqual(sent[1]!.command.documents);
      expect(monitored[4]!.command.updates).toEqual(sent[4]!.command.updates);
    });

    it('skips stored events and counts only the visitors its upserts inserted as new uniques', async () => {
      const a = ev('a', '/p', 'known');
      const b = ev('b', '/p', 'new');
      cursorOnce('find', 'events', [{ _id: 'e1' }]);
      // daily: 'known' matched an existing document, 'new' was inserted. hourly: both existed.
      server.replyOnce((c) => (c.command.update === 'daily_visitors' ? updateReply(c.command.updates, (i) => i === 1) : undefined));
      server.replyOnce((c) => (c.command.update === 'hourly_visitors' ? updateReply(c.command.updates, () => false) : undefined));

      expect(await store.applyEvents([e1, a, b], NOW)).toEqual({ applied: 2, duplicates: 1 });
      const byTarget = new Map(server.sent().map((c) => [target(c), c]));
      expect(byTarget.get('find events')!.command.filter).toEqual({ _id: { $in: ['e1', 'a', 'b'] } });
      expect(byTarget.get('insert events')!.command.documents).toEqual([rawDoc(a), rawDoc(b)]);
      expect(byTarget.get('update daily_visitors')!.command.updates).toEqual([
        visitorUpsert('date', '2024-06-15', 'known'),
        visitorUpsert('date', '2024-06-15', 'new'),
      ]);
      expect(byTarget.get('update daily_stats')!.command.updates).toEqual([statsInc('date', '2024-06-15', 2, 1)]);
      expect(byTarget.get('update hourly_stats')!.command.updates).toEqual([statsInc('hour', H12, 2, 0)]);
      expect(byTarget.get('update daily_paths')!.command.updates).toEqual([pathInc('date', '2024-06-15', '/p', 2)]);
      expect(byTarget.get('update hourly_paths')!.command.updates).toEqual([pathInc('hour', H12, '/p', 2)]);
    });

    it('writes nothing for a replayed batch: one find, then an empty commit', async () => {
      cursorOnce('find', 'events', [{ _id: 'e1' }, { _id: 'e2' }]);
      expect(await store.applyEvents([e1, e2, e1], NOW)).toEqual({ applied: 0, duplicates: 3 });
      expect(server.sent().map(target)).toEqual(['find events', 'commitTransaction 1']);
    });

    it('sends no path updates for a batch without page views', async () => {
      expect(await store.applyEvents([e4], NOW)).toEqual({ applied: 1, duplicates: 0 });
      const sent = server.sent();
      expect(sent.map(target)).not.toContain('update daily_paths');
      expect(sent.map(target)).not.toContain('update hourly_paths');
      expect(sent.find((c) => target(c) === 'update daily_stats')!.command.updates).toEqual([statsInc('date', '2024-06-15', 0, 1)]);
    });

    it('sends nothing for an empty batch', async () => {
      expect(await store.applyEvents([], NOW)).toEqual({ applied: 0, duplicates: 0 });
      expect(server.sent()).toEqual([]);
    });

    it('aborts and retries the whole transaction on a TransientTransactionError', async () => {
      server.replyOnce((c) => (c.name === 'insert' ? transientConflict : undefined));
      expect(await store.applyEvents([e1], NOW)).toEqual({ applied: 1, duplicates: 0 });
      const sent = server.sent();
      expect(sent.map(target)).toEqual([
        'find events',
        'insert events',
        'abortTransaction 1',
        'find events',
        'insert events',
        ...ROLLUP_UPDATES,
        'commitTransaction 1',
      ]);
      const first = txnOf(sent[0]!);
      expect(sent.slice(0, 3).map(txnOf)).toEqual([first, first, first]);
      expect(sent.slice(3).every((c) => txnOf(c) === first + 1)).toBe(true);
      expect(sent[3]!.command).toMatchObject({ startTransaction: true, autocommit: false });
      expect(new Set(sent.map(lsidOf)).size).toBe(1);
    });

    it('gives up after maxTransactionAttempts conflicting attempts', async () => {
      const bounded = await openMongoStore(server.uri(DB), { client, maxTransactionAttempts: 3 });
      server.reset();
      started.length = 0;
      server.reply((c) => (c.name === 'insert' ? transientConflict : undefined));
      await expect(bounded.applyEvents([e1], NOW)).rejects.toThrow(/not committed after 3 attempts/);
      const names = server.sent().map(target);
      expect(names.filter((n) => n === 'find events')).toHaveLength(3);
      expect(names.filter((n) => n === 'abortTransaction 1')).toHaveLength(3);
      expect(names).not.toContain('commitTransaction 1');
      expect(server.sent().find((c) => c.name === 'find')!.command.startTransaction).toBe(true);
      await bounded.close();
    });

    it('retries when a concurrent transaction committed one of the ids first (duplicate key)', async () => {
      server.replyOnce((c) => (c.name === 'insert' ? duplicateKey(0, `${DB}.events index: _id_ dup key: { _id: "e1" }`) : undefined));
      let finds = 0;
      server.reply((c) => (c.command.find === 'events' && ++finds === 2 ? cursorReply(c, [{ _id: 'e1' }]) : undefined));
      expect(await store.applyEvents([e1, e2], NOW)).toEqual({ applied: 1, duplicates: 1 });
      const sent = server.sent();
      expect(sent.slice(0, 4).map(target)).toEqual(['find events', 'insert events', 'abortTransaction 1', 'find events']);
      expect(sent[1]!.command.documents).toEqual([rawDoc(e1), rawDoc(e2)]);
      expect(sent[4]!.command.documents).toEqual([rawDoc(e2)]);
      expect(sent.at(-1)!.name).toBe('commitTransaction');
    });

    it('keeps paths and user ids as values: no field name is ever built from input', async () => {
      const users = ['a.b', '$gt', '__proto__', 'constructor', 'x'.repeat(256)];
      const events = AWKWARD_PATHS.map((path, i) => ev(`w${i}`, path, users[i % users.length]!, NOW + (i % 2) * HOUR));
      await store.applyEvents(events, NOW);
      const sent = server.sent();

      // Every key of every command is a fixed name of the store or of the protocol.
      const allowed = new Set([
        ...['find', 'filter', '_id', '$in', 'projection', 'batchSize', 'insert', 'ordered', 'documents', 'update', 'updates', 'q', 'u', 'upsert'],
        ...['commitTransaction', 'writeConcern', 'w', 'wtimeout', 'lsid', 'id', 'txnNumber', 'autocommit', 'startTransaction', 'readConcern', 'level', '$db'],
        ...['site_id', 'event_type', 'path', 'user_id', 'timestamp', 'received_at', 'processed_at', 'date', 'hour', 'path_hash', 'views'],
        ...['total_views', 'unique_users', 'created_at', 'updated_at', '$inc', '$set', '$setOnInsert'],
      ]);
      const keys = keysOf(sent.map((c) => c.command));
      expect([...keys].filter((k) => !allowed.has(k))).toEqual([]);
      for (const input of [...AWKWARD_PATHS, ...users]) {
        if (!allowed.has(input)) expect(keys.has(input)).toBe(false);
      }

      // $inc only ever targets the three counters; the update operators are the fixed three.
      const updates = sent.flatMap((c) => (c.command.updates as Document[] | undefined) ?? []);
      expect(new Set(updates.flatMap((u) => Object.keys(u.u)))).toEqual(new Set(['$inc', '$set', '$setOnInsert']));
      expect(new Set(updates.flatMap((u) => Object.keys(u.u.$inc ?? {})))).toEqual(new Set(['total_views', 'unique_users', 'views']));

      // Paths appear as values: the key holds their hash, the document the path itself.
      const dailyPaths = sent.find((c) => c.command.update === 'daily_paths')!.command.updates as Document[];
      expect(dailyPaths.map((u) => u.u.$setOnInsert.path)).toEqual(AWKWARD_PATHS);
      expect(dailyPaths.map((u) => u.q.path_hash)).toEqual(AWKWARD_PATHS.map(sha256));
      expect(dailyPaths.every((u) => /^[0-9a-f]{64}$/.test(u.q.path_hash))).toBe(true);
      const raw = sent.find((c) => c.name === 'insert')!.command.documents as Document[];
      expect(raw.map((d) => d.path)).toEqual(AWKWARD_PATHS);
      expect(raw.find((d) => d.path === '__proto__')).toHaveProperty('path', '__proto__');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  });

  describe('reads', () => {
    it('dailyTotals finds daily_stats by site and inclusive date range, in date order', async () => {
      cursorOnce('find', 'daily_stats', [
        { date: '2024-06-01', total_views: Long.fromNumber(5), unique_users: 2 },
        { date: '2024-06-03', total_views: 0, unique_users: 0 },
      ]);
      expect(await store.dailyTotals(SITE, '2024-06-01', '2024-06-15')).toEqual([
        { day: '2024-06-01', views: 5, uniques: 2 },
        { day: '2024-06-03', views: 0, uniques: 0 },
      ]);
      expect(server.sent().map(shape)).toEqual([
        {
          find: 'daily_stats',
          filter: { site_id: SITE, date: { $gte: '2024-06-01', $lte: '2024-06-15' } },
          sort: { date: 1 },
          projection: { _id: 0, date: 1, total_views: 1, unique_users: 1 },
          $db: DB,
        },
      ]);
    });

    it('hourlyTotals finds hourly_stats by site and [from, to) hours, in hour order', async () => {
      cursorOnce('find', 'hourly_stats', [{ hour: H12, total_views: 3, unique_users: Long.fromNumber(2) }]);
      expect(await store.hourlyTotals(SITE, H12, H12 + 24 * HOUR)).toEqual([{ hour: H12, views: 3, uniques: 2 }]);
      expect(server.sent().map(shape)).toEqual([
        {
          find: 'hourly_stats',
          filter: { site_id: SITE, hour: { $gte: H12, $lt: H12 + 24 * HOUR } },
          sort: { hour: 1 },
          projection: { _id: 0, hour: 1, total_views: 1, unique_users: 1 },
          $db: DB,
        },
      ]);
    });

    it('uniqueVisitors groups visitor documents by user id and counts the groups', async () => {
      cursorOnce('aggregate', 'daily_visitors', [{ n: 7 }]);
      expect(await store.uniqueVisitors(SITE, { days: { from: '2024-06-01', to: '2024-06-15' } })).toBe(7);
      expect(await store.uniqueVisitors(SITE, { hours: { from: H12, to: H13 } })).toBe(0);
      expect(server.sent().map(shape)).toEqual([
        {
          aggregate: 'daily_visitors',
          pipeline: [
            { $match: { site_id: SITE, date: { $gte: '2024-06-01', $lte: '2024-06-15' } } },
            { $group: { _id: '$user_id' } },
            { $count: 'n' },
          ],
          cursor: {},
          $db: DB,
        },
        {
          aggregate: 'hourly_visitors',
          pipeline: [{ $match: { site_id: SITE, hour: { $gte: H12, $lt: H13 } } }, { $group: { _id: '$user_id' } }, { $count: 'n' }],
          cursor: {},
          $db: DB,
        },
      ]);
    });

    it('topPaths sums views per path hash, sorts by views then path, and limits', async () => {
      cursorOnce('aggregate', 'daily_paths', [
        { path: '/a.b', views: 3 },
        { path: '__proto__', views: Long.fromNumber(2) },
      ]);
      expect(await store.topPaths(SITE, { days: { from: '2024-06-01', to: '2024-06-15' } }, 10)).toStrictEqual([
        { path: '/a.b', views: 3 },
        { path: '__proto__', views: 2 },
      ]);
      expect(await store.topPaths(SITE, { hours: { from: H12, to: H13 } }, 5)).toEqual([]);
      expect(await store.topPaths(SITE, { hours: { from: H12, to: H13 } }, 0)).toEqual([]);
      const rest = [
        { $group: { _id: '$path_hash', path: { $first: '$path' }, views: { $sum: '$views' } } },
        { $sort: { views: -1, path: 1 } },
      ];
      expect(server.sent().map(shape)).toEqual([
        {
          aggregate: 'daily_paths',
          pipeline: [
            { $match: { site_id: SITE, date: { $gte: '2024-06-01', $lte: '2024-06-15' } } },
            ...rest,
            { $limit: 10 },
            { $project: { _id: 0, path: 1, views: 1 } },
          ],
          cursor: {},
          $db: DB,
        },
        {
          aggregate: 'hourly_paths',
          pipeline: [{ $match: { site_id: SITE, hour: { $gte: H12, $lt: H13 } } }, ...rest, { $limit: 5 }, { $project: { _id: 0, path: 1, views: 1 } }],
          cursor: {},
          $db: DB,
        },
      ]);
      // The sort keys in order: views first, the path only breaks ties.
      expect(Object.keys(server.sent()[0]!.command.pipeline[2].$sort)).toEqual(['views', 'path']);
    });

    it('countEvents counts raw events of the site', async () => {
      cursorOnce('aggregate', 'events', [{ _id: 1, n: 3 }]);
      expect(await store.countEvents(SITE)).toBe(3);
      expect(server.sent().map(shape)).toEqual([
        { aggregate: 'events', pipeline: [{ $match: { site_id: SITE } }, { $group: { _id: 1, n: { $sum: 1 } } }], cursor: {}, $db: DB },
      ]);
    });

    it('countRejectedEvents counts all, or one site', async () => {
      cursorOnce('aggregate', 'rejected_events', [{ _id: 1, n: 4 }]);
      cursorOnce('aggregate', 'rejected_events', [{ _id: 1, n: 1 }]);
      expect(await store.countRejectedEvents()).toBe(4);
      expect(await store.countRejectedEvents(SITE)).toBe(1);
      const count = (match: Document) => ({ aggregate: 'rejected_events', pipeline: [{ $match: match }, { $group: { _id: 1, n: { $sum: 1 } } }], cursor: {}, $db: DB });
      expect(server.sent().map(shape)).toEqual([count({}), count({ site_id: SITE })]);
    });

    it('ping runs ping on the store database', async () => {
      await store.ping();
      expect(server.sent().map(shape)).toEqual([{ ping: 1, $db: DB }]);
    });
  });

  describe('maintenance', () => {
    it('deleteEventsBefore deletes raw events per site by timestamp and sums the counts', async () => {
      const cutoff = Date.parse('2024-06-08T00:00:00Z');
      cursorOnce('find', 'sites', [{ _id: 'site-a' }, { _id: 'site-b' }]);
      server.replyOnce((c) => (c.name === 'delete' ? { ok: 1, n: 3 } : undefined));
      server.replyOnce((c) => (c.name === 'delete' ? { ok: 1, n: 0 } : undefined));
      expect(await store.deleteEventsBefore(cutoff)).toBe(3);
      const del = (site_id: string) => ({
        delete: 'events',
        ordered: true,
        deletes: [{ q: { site_id, timestamp: { $lt: new Date(cutoff) } }, limit: 0 }],
        $db: DB,
      });
      expect(server.sent().map(shape)).toEqual([{ find: 'sites', filter: {}, projection: { _id: 1 }, $db: DB }, del('site-a'), del('site-b')]);
    });

    // Issue 9, item 2: set-aside events, kept once each, values as escaped JSON text, never as keys.
    it('rejectEvents upserts one document per event, keyed by a hash of its JSON ($setOnInsert only)', async () => {
      server.replyOnce((c) => (c.command.update === 'rejected_events' ? updateReply(c.command.updates, (i) => i === 0) : undefined));
      const bad = { id: 'e-bad', site_id: SITE, event_type: 'pageview', path: '/a.b\u0000$x', user_id: '__proto__\ud800', ts: NOW, received_at: NOW };
      const json = JSON.stringify(bad);
      expect(json).toContain('\\u0000');
      expect(json).toContain('\\ud800');
      expect(await store.rejectEvents([{ event: bad, site_id: SITE, reason: 'refused: \u0000', rejected_at: NOW }])).toBe(1);
      expect(await store.rejectEvents([])).toBe(0);
      expect(server.sent().map(shape)).toEqual([
        {
          update: 'rejected_events',
          ordered: false,
          updates: [
            {
              q: { _id: sha256(json) },
              u: { $setOnInsert: { site_id: SITE, event_id: 'e-bad', event: json, error: 'refused: \\u0000', rejected_at: AT } },
              upsert: true,
            },
          ],
          $db: DB,
        },
      ]);
      // Field names are fixed: the event's values never become keys.
      const keys = keysOf(server.sent()[0]!.command.updates);
      for (const k of ['__proto__', '/a.b', '$x', 'e-bad']) expect(keys.has(k)).toBe(false);
      expect(server.sent()[0]!.command).not.toHaveProperty('startTransaction');
    });

    it('isDataError: BSON and value errors are the data, network errors the store', () => {
      expect(store.isDataError(Object.assign(new Error('x'), { name: 'BSONError' }))).toBe(true);
      expect(store.isDataError(Object.assign(new Error('BadValue'), { code: 2 }))).toBe(true);
      expect(store.isDataError(Object.assign(new Error('too large'), { code: 10334 }))).toBe(true);
      expect(store.isDataError(Object.assign(new Error('no primary'), { name: 'MongoServerSelectionError' }))).toBe(false);
      expect(store.isDataError(Object.assign(new Error('conflict'), { code: 112 }))).toBe(false);
    });

    it('createPlaceholders upserts zero daily_stats only where missing ($setOnInsert only)', async () => {
      server.replyOnce((c) => (c.command.update === 'daily_stats' ? updateReply(c.command.updates, (i) => i === 1) : undefined));
      const rows = [
        { site_id: SITE, day: '2024-06-15' },
        { site_id: SITE, day: '2024-06-16' },
      ];
      expect(await store.createPlaceholders(rows, NOW)).toBe(1);
      expect(await store.createPlaceholders([], NOW)).toBe(0);
      const zero = (date: string) => ({
        q: { site_id: SITE, date },
        u: { $setOnInsert: { total_views: 0, unique_users: 0, created_at: AT, updated_at: AT } },
        upsert: true,
      });
      expect(server.sent().map(shape)).toEqual([
        { update: 'daily_stats', ordered: false, updates: [zero('2024-06-15'), zero('2024-06-16')], $db: DB },
      ]);
      // Not in a transaction: a retryable write of its own.
      expect(server.sent()[0]!.command).not.toHaveProperty('startTransaction');
    });
  });
});
