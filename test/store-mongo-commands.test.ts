// Command-shape tests of the MongoDB store: the real driver talks to a wire-protocol capture server
// (test/helpers/mongo-wire-capture.ts), and every command it sends is asserted field by field.
// This proves what the adapter asks of MongoDB, not how a server answers: the server's replies are
// the ones each test scripts. The store contract suite (test/store-mongo.test.ts) runs against a
// real server whenever one is reachable.
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Long, MongoClient, MongoServerError, type Binary, type CommandStartedEvent, type Document } from 'mongodb';
import { loadConfig } from '../src/config.js';
import { VISIT_DIMENSIONS } from '../src/core/dimensions.js';
import type { Site } from '../src/core/site.js';
import { HOUR, dayNumber } from '../src/core/time.js';
import { openStore } from '../src/store/index.js';
import { dbNameFromUri, REPLICA_SET_REQUIRED } from '../src/store/mongo/connection.js';
import { DAILY_STATS_VIEW } from '../src/store/mongo/migrate.js';
import { openMongoStore, type MongoStore } from '../src/store/mongo/store.js';
import { SiteExistsError, type PreparedEvent } from '../src/store/port.js';
import { cursorReply, MongoWireCapture, updateReply, type CapturedCommand } from './helpers/mongo-wire-capture.js';
import { AWKWARD_PATHS, CHROME, event, type EventFields } from './store.contract.js';

const DB = 'analytics_cmd';
const MIN = 60_000;
const NOW = Date.parse('2024-06-15T12:30:00Z');
const AT = new Date(NOW);
const D = dayNumber('2024-06-15');
const H12 = Date.parse('2024-06-15T12:00:00Z');
const H13 = H12 + HOUR;
const SITE = 'site-a';
const OPTS = { now: NOW, sessionTimeoutMs: 30 * MIN };

// Dimension ids as stored (src/core/dimensions.ts: never renumbered).
const TOTAL = 0;
const PAGE = 1;
const EVENT = 2;
const PROPERTY_KEY = 3;
const PROPERTY = 4;
const VISIT_DIMS = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17];
const ENTRY = 18;
const EXIT = 19;
const IGNORED = 20;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const hashOf = (value: string) => (value === '' ? '' : sha256(value));

const site: Site = {
  site_id: SITE,
  name: 'Site A',
  timezone: 'UTC',
  api_key_hash: 'a'.repeat(64),
  read_key_hash: 'b'.repeat(64),
  created_at: NOW,
};

/** An event as the worker prepares it, with a fixed id. */
const ev = (id: string, f: EventFields): PreparedEvent => event(site, { ...f, id });

/** The raw event document the store inserts for an event without derived values. */
function rawDoc(e: PreparedEvent, extra: Document = {}): Document {
  return {
    _id: e.id,
    site_id: e.site_id,
    event_type: e.type,
    path: e.path,
    user_id: e.user_id,
    visitor: e.visitor,
    is_pageview: e.is_pageview,
    timestamp: new Date(e.ts),
    received_at: new Date(e.received_at),
    processed_at: AT,
    ...extra,
  };
}

type Inc = Partial<Record<'pageviews' | 'events' | 'visitors' | 'visits' | 'bounces' | 'duration_ms' | 'revision', number>>;

/** A rollup upsert statement as the store sends it: every counter incremented, the value set on insert. */
const rollup = (grain: number, bucket: number, dim: number, value: string, inc: Inc, scope = '') => ({
  q: { site_id: SITE, grain, dim, scope, bucket, value_hash: hashOf(value) },
  u: { $inc: { pageviews: 0, events: 0, visitors: 0, visits: 0, bounces: 0, duration_ms: 0, revision: 0, ...inc }, $setOnInsert: { value } },
  upsert: true,
});

/** A member upsert statement: refs 0 is insert-if-absent (all the store sends since visit-level members are its visits). */
const member = (grain: number, bucket: number, dim: number, value: string, visitor: string, refs: number, scope = '') => ({
  q: { site_id: SITE, grain, dim, scope, bucket, visitor, value_hash: hashOf(value) },
  u: refs === 0 ? { $setOnInsert: { refs: 1 } } : { $inc: { refs } },
  upsert: true,
});

/** Statements in a stable order, for comparing lists whose order is the plan's. */
const sorted = (statements: Document[]) => [...statements].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));

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

/** Every string value of every (nested) document. */
function stringsOf(value: unknown, out: Set<string> = new Set()): Set<string> {
  if (typeof value === 'string') out.add(value);
  else if (Array.isArray(value)) for (const v of value) stringsOf(v, out);
  else if (value && typeof value === 'object' && !(value instanceof Date) && !('_bsontype' in value)) for (const v of Object.values(value)) stringsOf(v, out);
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
  let store: MongoStore;
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
    // The driver's own command monitoring saw the same commands (reads may run concurrently on
    // several connections, so as a multiset; each test checks the order it relies on).
    const appStarted = started.filter((e) => e.commandName !== 'hello');
    expect(appStarted.map((e) => `${e.commandName} ${e.databaseName}`).sort()).toEqual(
      server
        .sent()
        .filter((c) => c.name !== 'hello')
        .map((c) => `${c.name} ${c.db}`)
        .sort(),
    );
  });

  /** Replies to `find`/`aggregate` on `collection` with these documents, once. */
  const cursorOnce = (name: string, collection: string, docs: Document[]) =>
    server.replyOnce((c) => (c.name === name && c.command[name] === collection ? cursorReply(c, docs) : undefined));
  const sentTo = (t: string) => server.sent().filter((c) => target(c) === t);

  it('uses the dimension ids this file spells out', () => {
    expect(VISIT_DIMENSIONS.map((d) => d.id)).toEqual(VISIT_DIMS);
  });

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
        const indexes = sent.filter((c) => c.name === 'createIndexes');
        expect(indexes.map((c) => c.command.createIndexes)).toEqual(['sites', 'events', 'ignored_events', 'visitors', 'rollups', 'members', 'visits', 'visit_members', 'rejected_events']);
        expect(indexes.every((c) => c.db === 'from_config')).toBe(true);
        expect(sent.map(target)).toContain('create daily_stats');
      } finally {
        await s.close();
      }
    });
  });

  describe('migrate', () => {
    const INDEX_COMMANDS = [
      {
        createIndexes: 'sites',
        indexes: [
          { key: { api_key_hash: 1 }, name: 'api_key_hash_1', unique: true },
          { key: { read_key_hash: 1 }, name: 'read_key_hash_1', unique: true },
        ],
        $db: DB,
      },
      { createIndexes: 'events', indexes: [{ key: { site_id: 1, timestamp: -1 }, name: 'site_id_1_timestamp_-1' }], $db: DB },
      { createIndexes: 'ignored_events', indexes: [{ key: { site_id: 1, timestamp: -1 }, name: 'site_id_1_timestamp_-1' }], $db: DB },
      {
        createIndexes: 'visitors',
        indexes: [
          { key: { site_id: 1, visitor: 1 }, name: 'site_id_1_visitor_1', unique: true },
          { key: { site_id: 1, day: 1 }, name: 'site_id_1_day_1' },
        ],
        $db: DB,
      },
      {
        createIndexes: 'rollups',
        indexes: [
          {
            key: { site_id: 1, grain: 1, dim: 1, scope: 1, bucket: 1, value_hash: 1 },
            name: 'site_id_1_grain_1_dim_1_scope_1_bucket_1_value_hash_1',
            unique: true,
          },
        ],
        $db: DB,
      },
      {
        createIndexes: 'members',
        indexes: [
          {
            key: { site_id: 1, grain: 1, dim: 1, scope: 1, bucket: 1, visitor: 1, value_hash: 1 },
            name: 'site_id_1_grain_1_dim_1_scope_1_bucket_1_visitor_1_value_hash_1',
            unique: true,
          },
        ],
        $db: DB,
      },
      {
        createIndexes: 'visits',
        indexes: [
          { key: { site_id: 1, visitor: 1, start_ms: 1 }, name: 'site_id_1_visitor_1_start_ms_1', unique: true },
          { key: { site_id: 1, last_ms: 1 }, name: 'site_id_1_last_ms_1' },
          // The members of visit-level values: visits by the bucket they start in.
          { key: { site_id: 1, start_ms: 1 }, name: 'site_id_1_start_ms_1' },
        ],
        $db: DB,
      },
      // Visits past retention, by the day and the hour they started in.
      {
        createIndexes: 'visit_members',
        indexes: [
          { key: { site_id: 1, start_day: 1 }, name: 'site_id_1_start_day_1' },
          { key: { site_id: 1, start_hour: 1 }, name: 'site_id_1_start_hour_1' },
        ],
        $db: DB,
      },
      // The events the worker sets aside, counted per site.
      { createIndexes: 'rejected_events', indexes: [{ key: { site_id: 1, rejected_at: 1 }, name: 'site_id_1_rejected_at_1' }], $db: DB },
    ];
    // The store's id, written by the first migration only ($setOnInsert).
    const storeIdWrite = {
      update: 'meta',
      ordered: true,
      updates: [{ q: { _id: 'store_id' }, u: { $setOnInsert: { value: expect.stringMatching(/^[0-9a-f-]{36}$/) } }, upsert: true }],
      $db: DB,
    };
    const V1 = ['daily_stats', 'hourly_stats', 'daily_paths', 'hourly_paths', 'daily_visitors', 'hourly_visitors'];
    const markerFind = { find: 'schema_migrations', filter: { _id: 2 }, projection: { _id: 1 }, limit: 1, singleBatch: true, $db: DB };
    const listV1 = { listCollections: 1, filter: { name: { $in: V1 } }, cursor: {}, nameOnly: false, authorizedCollections: false, $db: DB };
    const completeEvents = {
      update: 'events',
      ordered: true,
      updates: [
        {
          q: { is_pageview: { $exists: false } },
          u: [{ $set: { visitor: { $concat: ['u:', '$user_id'] }, is_pageview: { $eq: [{ $toLower: '$event_type' }, 'pageview'] } } }],
          multi: true,
        },
      ],
      $db: DB,
    };
    const createView = { create: 'daily_stats', viewOn: 'rollups', pipeline: DAILY_STATS_VIEW, $db: DB };
    const lockOf = (cmd: CapturedCommand) => cmd.command.updates[0].u.$set.owner as string;

    it('creates the indexes, then under the lock migrates once and records version 2', async () => {
      await store.migrate();
      const sent = server.sent();
      expect(sent.map(target)).toEqual([
        ...INDEX_COMMANDS.map((c) => `createIndexes ${c.createIndexes}`),
        'find schema_migrations',
        'update schema_migrations',
        'find schema_migrations',
        'listCollections 1',
        'update schema_migrations',
        'update events',
        'update schema_migrations',
        'create daily_stats',
        'update schema_migrations',
        'delete schema_migrations',
        'update meta',
      ]);
      const n = INDEX_COMMANDS.length;
      expect(sent.slice(0, n).map(shape)).toEqual(INDEX_COMMANDS);
      expect(shape(sent[n]!)).toEqual(markerFind);
      const owner = lockOf(sent[n + 1]!);
      expect(owner).toMatch(/^[0-9a-f-]{36}$/);
      const lock = shape(sent[n + 1]!).updates[0];
      expect(lock).toEqual({
        q: { _id: 'lock', expires_at: { $lt: expect.any(Date) } },
        u: { $set: { owner, expires_at: expect.any(Date) } },
        upsert: true,
      });
      expect(lock.u.$set.expires_at.getTime() - lock.q.expires_at.$lt.getTime()).toBe(60_000);
      expect(shape(sent[n + 2]!)).toEqual(markerFind);
      expect(shape(sent[n + 3]!)).toEqual(listV1);
      // The lock is renewed by its owner before each long step.
      const renew = { update: 'schema_migrations', ordered: true, updates: [{ q: { _id: 'lock', owner }, u: { $set: { expires_at: expect.any(Date) } } }], $db: DB };
      expect(shape(sent[n + 4]!)).toEqual(renew);
      expect(shape(sent[n + 5]!)).toEqual(completeEvents);
      expect(shape(sent[n + 6]!)).toEqual(renew);
      expect(shape(sent[n + 7]!)).toEqual(createView);
      expect(shape(sent[n + 8]!)).toEqual({
        update: 'schema_migrations',
        ordered: true,
        updates: [{ q: { _id: 2 }, u: { $setOnInsert: { applied_at: expect.any(Date) } }, upsert: true }],
        $db: DB,
      });
      expect(shape(sent[n + 9]!)).toEqual({ delete: 'schema_migrations', ordered: true, deletes: [{ q: { _id: 'lock', owner }, limit: 1 }], $db: DB });
      // Key order is part of an index: site_id first, then what reads fix, then the bucket range.
      const keys = sent.slice(0, n).flatMap((c) => (c.command.indexes as Document[]).map((i) => Object.keys(i.key).join(',')));
      expect(keys).toEqual([
        'api_key_hash',
        'read_key_hash',
        'site_id,timestamp',
        'site_id,timestamp',
        'site_id,visitor',
        'site_id,day',
        'site_id,grain,dim,scope,bucket,value_hash',
        'site_id,grain,dim,scope,bucket,visitor,value_hash',
        'site_id,visitor,start_ms',
        'site_id,last_ms',
        'site_id,start_ms',
        'site_id,start_day',
        'site_id,start_hour',
        'site_id,rejected_at',
      ]);
      expect(shape(sent[n + 10]!)).toEqual(storeIdWrite);
      // No migration step runs inside a transaction.
      expect(sent.some((c) => c.command.startTransaction)).toBe(false);
    });

    it('does nothing but the indexes once version 2 is recorded', async () => {
      cursorOnce('find', 'schema_migrations', [{ _id: 2 }]);
      await store.migrate();
      expect(server.sent().map(target)).toEqual([
        ...INDEX_COMMANDS.map((c) => `createIndexes ${c.createIndexes}`),
        'find schema_migrations',
        'update meta',
      ]);
    });

    it('storeId reads the id the migration wrote', async () => {
      cursorOnce('find', 'meta', [{ _id: 'store_id', value: '6f1c2a5e-0000-4000-8000-000000000001' }]);
      expect(await store.storeId()).toBe('6f1c2a5e-0000-4000-8000-000000000001');
      expect(server.sent().map(shape)).toEqual([{ find: 'meta', filter: { _id: 'store_id' }, limit: 1, singleBatch: true, $db: DB }]);
      await expect(store.storeId()).rejects.toThrow(/no id/);
    });

    it('copies version-1 documents with every count, drops them and puts the view in their place', async () => {
      server.replyOnce((c) =>
        c.name === 'listCollections' ? cursorReply(c, [...V1, 'sites', 'events'].map((name) => ({ name, type: 'collection', options: {}, info: {} }))) : undefined,
      );
      const at = new Date(NOW);
      cursorOnce('find', 'daily_stats', [
        { site_id: SITE, date: '2024-06-15', total_views: 5, unique_users: 2, created_at: at, updated_at: at },
        { site_id: SITE, date: '2024-06-16', total_views: Long.fromNumber(0), unique_users: 0, created_at: at, updated_at: at },
      ]);
      cursorOnce('find', 'hourly_stats', [{ site_id: SITE, hour: H12, total_views: 5, unique_users: 2, created_at: at, updated_at: at }]);
      cursorOnce('find', 'daily_paths', [
        { site_id: SITE, date: '2024-06-15', path_hash: sha256('/a.b'), path: '/a.b', views: 3 },
        { site_id: SITE, date: '2024-06-15', path_hash: sha256('__proto__'), path: '__proto__', views: 2 },
      ]);
      cursorOnce('find', 'hourly_paths', [{ site_id: SITE, hour: H12, path_hash: sha256('/a.b'), path: '/a.b', views: 3 }]);
      cursorOnce('find', 'daily_visitors', [
        { site_id: SITE, date: '2024-06-15', user_id: 'a.b', created_at: at },
        { site_id: SITE, date: '2024-06-15', user_id: '$x', created_at: at },
      ]);
      cursorOnce('find', 'hourly_visitors', [{ site_id: SITE, hour: H12, user_id: 'a.b', created_at: at }]);

      await store.migrate();
      const sent = server.sent();
      const copy = (name: string, into: string) => [`find ${name}`, `update ${into}`, 'update schema_migrations'];
      expect(sent.map(target).slice(INDEX_COMMANDS.length)).toEqual([
        'find schema_migrations',
        'update schema_migrations',
        'find schema_migrations',
        'listCollections 1',
        ...copy('daily_stats', 'rollups'),
        ...copy('hourly_stats', 'rollups'),
        ...copy('daily_paths', 'rollups'),
        ...copy('hourly_paths', 'rollups'),
        ...copy('daily_visitors', 'members'),
        ...copy('hourly_visitors', 'members'),
        'update schema_migrations',
        'update events',
        'update schema_migrations',
        ...V1.map((name) => `drop ${name}`),
        'create daily_stats',
        'update schema_migrations',
        'delete schema_migrations',
        'update meta',
      ]);
      const owner = lockOf(sentTo('update schema_migrations')[0]!);
      for (const name of V1) expect(shape(sentTo(`find ${name}`)[0]!)).toEqual({ find: name, filter: {}, projection: { _id: 0 }, batchSize: 1000, $db: DB });

      // Counts are set, not added: a copy cut short and run again gives the same documents.
      const set = (grain: number, bucket: number, dim: number, value: string, pageviews: number, visitors: number) => ({
        q: { site_id: SITE, grain, dim, scope: '', bucket, value_hash: hashOf(value) },
        u: { $set: { value, pageviews, events: 0, visitors, visits: 0, bounces: 0, duration_ms: 0, revision: 1 } },
        upsert: true,
      });
      const rollupCopies = sentTo('update rollups');
      expect(rollupCopies.map(shape)).toEqual([
        { update: 'rollups', ordered: false, updates: [set(1, D, TOTAL, '', 5, 2), set(1, D + 1, TOTAL, '', 0, 0)], $db: DB },
        { update: 'rollups', ordered: false, updates: [set(2, H12, TOTAL, '', 5, 2)], $db: DB },
        { update: 'rollups', ordered: false, updates: [set(1, D, PAGE, '/a.b', 3, 0), set(1, D, PAGE, '__proto__', 2, 0)], $db: DB },
        { update: 'rollups', ordered: false, updates: [set(2, H12, PAGE, '/a.b', 3, 0)], $db: DB },
      ]);
      // Version-1 visitors are raw user ids: given visitors `u:<id>` now, members of the totals.
      const memberSet = (grain: number, bucket: number, visitor: string) => ({
        q: { site_id: SITE, grain, dim: TOTAL, scope: '', bucket, visitor, value_hash: '' },
        u: { $set: { refs: 1 } },
        upsert: true,
      });
      expect(sentTo('update members').map(shape)).toEqual([
        { update: 'members', ordered: false, updates: [memberSet(1, D, 'u:a.b'), memberSet(1, D, 'u:$x')], $db: DB },
        { update: 'members', ordered: false, updates: [memberSet(2, H12, 'u:a.b')], $db: DB },
      ]);
      // The lock is renewed after every chunk and before each long step, by its owner only.
      const renewals = sentTo('update schema_migrations').slice(1, -1);
      expect(renewals).toHaveLength(8);
      for (const r of renewals) expect(shape(r).updates).toEqual([{ q: { _id: 'lock', owner }, u: { $set: { expires_at: expect.any(Date) } } }]);
      for (const name of V1) expect(shape(sentTo(`drop ${name}`)[0]!)).toEqual({ drop: name, $db: DB });
      expect(shape(sentTo('create daily_stats')[0]!)).toEqual(createView);
      // The marker comes after the last step, the lock's release after the marker.
      expect(sent.at(-3)!.command.updates[0].q).toEqual({ _id: 2 });
    });

    it('leaves a view already in place alone (a migration run again after a crash)', async () => {
      server.replyOnce((c) =>
        c.name === 'listCollections'
          ? cursorReply(c, [
              { name: 'daily_stats', type: 'view', options: { viewOn: 'rollups', pipeline: DAILY_STATS_VIEW }, info: {} },
              { name: 'hourly_paths', type: 'collection', options: {}, info: {} },
            ])
          : undefined,
      );
      await store.migrate();
      expect(server.sent().map(target).slice(INDEX_COMMANDS.length + 4)).toEqual([
        'find hourly_paths', // empty: nothing to copy
        'update schema_migrations',
        'update events',
        'update schema_migrations',
        'drop hourly_paths',
        'update schema_migrations',
        'delete schema_migrations',
        'update meta',
      ]);
    });

    it('waits while another process holds the lock, and stops once that one recorded the version', async () => {
      const waiting = await openMongoStore(server.uri(DB), { client, migrationTiming: { lockTtlMs: 60_000, pollMs: 5 } });
      server.reset();
      started.length = 0;
      const held = (c: CapturedCommand) =>
        c.name === 'update' && c.command.update === 'schema_migrations' && c.command.updates[0].q._id === 'lock'
          ? duplicateKey(0, `${DB}.schema_migrations index: _id_ dup key: { _id: "lock" }`)
          : undefined;
      server.replyOnce(held);
      server.replyOnce(held);
      cursorOnce('find', 'schema_migrations', []); // before the lock
      cursorOnce('find', 'schema_migrations', []); // still migrating
      cursorOnce('find', 'schema_migrations', [{ _id: 2 }]); // done by the other process
      await waiting.migrate();
      expect(server.sent().map(target).slice(INDEX_COMMANDS.length)).toEqual([
        'find schema_migrations',
        'update schema_migrations',
        'find schema_migrations',
        'update schema_migrations',
        'find schema_migrations',
        'update meta',
      ]);
    });

    it('stops with an error when its lock expired and was taken over', async () => {
      server.replyOnce((c) => (c.name === 'listCollections' ? cursorReply(c, [{ name: 'daily_stats', type: 'collection' }]) : undefined));
      cursorOnce('find', 'daily_stats', [{ site_id: SITE, date: '2024-06-15', total_views: 1, unique_users: 1 }]);
      let locks = 0;
      // The first statement on the lock takes it; the renewal then matches nothing.
      server.reply((c) =>
        c.command.update === 'schema_migrations' && ++locks === 2 ? { ok: 1, n: 0, nModified: 0 } : undefined,
      );
      await expect(store.migrate()).rejects.toThrow(/migration lock expired/);
      const names = server.sent().map(target);
      expect(names).not.toContain('drop daily_stats');
      expect(names).not.toContain('create daily_stats');
      expect(server.sent().filter((c) => c.command.update === 'schema_migrations').map((c) => c.command.updates[0].q._id)).toEqual(['lock', 'lock']);
      expect(names.at(-1)).toBe('delete schema_migrations');
    });
  });

  describe('sites', () => {
    const siteDoc = { _id: SITE, ...site, created_at: AT };

    const tombstoneCheck = { find: 'deleted_sites', filter: { _id: SITE }, limit: 1, singleBatch: true, $db: DB };

    it('createSite checks the deleted ids, then inserts one document with _id = site_id and created_at as a Date', async () => {
      await store.createSite(site);
      expect(server.sent().map(shape)).toEqual([tombstoneCheck, { insert: 'sites', ordered: true, documents: [siteDoc], $db: DB }]);
    });

    it('createSite refuses the id of a deleted site without inserting', async () => {
      cursorOnce('find', 'deleted_sites', [{ _id: SITE, deleted_at: AT }]);
      const err = await store.createSite(site).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SiteExistsError);
      expect((err as SiteExistsError).reason).toBe('deleted');
      expect(server.sent().map(shape)).toEqual([tombstoneCheck]);
    });

    it('createSite turns a duplicate _id into SiteExistsError', async () => {
      server.replyOnce((c) => (c.name === 'insert' ? duplicateKey(0, `${DB}.sites index: _id_ dup key: { _id: "${SITE}" }`) : undefined));
      cursorOnce('find', 'sites', [siteDoc]);
      await expect(store.createSite(site)).rejects.toBeInstanceOf(SiteExistsError);
      expect(server.sent().map(target)).toEqual(['find deleted_sites', 'insert sites', 'find sites']);
      expect(shape(server.sent()[2]!)).toEqual({ find: 'sites', filter: { _id: SITE }, limit: 1, singleBatch: true, $db: DB });
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

    it('createSite and getSite carry a share token hash only when there is one', async () => {
      await store.createSite({ ...site, share_token_hash: 'c'.repeat(64) });
      expect(shape(server.sent()[1]!).documents).toEqual([{ ...siteDoc, share_token_hash: 'c'.repeat(64) }]);
      cursorOnce('find', 'sites', [{ ...siteDoc, share_token_hash: 'c'.repeat(64) }]);
      expect(await store.getSite(SITE)).toStrictEqual({ ...site, share_token_hash: 'c'.repeat(64) });
    });

    it('updateSite sets new key hashes with one updateOne by _id', async () => {
      server.replyOnce((c) => (c.name === 'update' ? { ok: 1, n: 1, nModified: 1 } : undefined));
      expect(await store.updateSite(SITE, { api_key_hash: 'd'.repeat(64), read_key_hash: 'e'.repeat(64) })).toBe(true);
      expect(server.sent().map(shape)).toEqual([
        {
          update: 'sites',
          ordered: true,
          updates: [{ q: { _id: SITE }, u: { $set: { api_key_hash: 'd'.repeat(64), read_key_hash: 'e'.repeat(64) } } }],
          $db: DB,
        },
      ]);
    });

    it('updateSite sets or unsets the share token hash, and says when no site matched', async () => {
      server.replyOnce((c) => (c.name === 'update' ? { ok: 1, n: 1, nModified: 1 } : undefined));
      server.replyOnce((c) => (c.name === 'update' ? { ok: 1, n: 0, nModified: 0 } : undefined));
      expect(await store.updateSite(SITE, { share_token_hash: 'f'.repeat(64) })).toBe(true);
      expect(await store.updateSite('missing', { share_token_hash: null })).toBe(false);
      expect(server.sent().map((c) => shape(c).updates)).toEqual([
        [{ q: { _id: SITE }, u: { $set: { share_token_hash: 'f'.repeat(64) } } }],
        [{ q: { _id: 'missing' }, u: { $unset: { share_token_hash: '' } } }],
      ]);
    });

    it('deleteSite writes the tombstone, deletes the site, then its documents in every other collection', async () => {
      server.replyOnce((c) => (c.name === 'delete' && c.command.delete === 'sites' ? { ok: 1, n: 1 } : undefined));
      server.replyOnce((c) =>
        c.name === 'listCollections'
          ? {
              ok: 1,
              cursor: {
                id: Long.fromNumber(0),
                ns: `${DB}.$cmd.listCollections`,
                firstBatch: ['sites', 'deleted_sites', 'events', 'rollups', 'members', 'system.views'].map((name) => ({ name, type: 'collection' })),
              },
            }
          : undefined,
      );
      expect(await store.deleteSite(SITE, NOW)).toBe(true);
      const sent = server.sent().map(shape);
      expect(sent[0]).toEqual({
        update: 'deleted_sites',
        ordered: true,
        updates: [{ q: { _id: SITE }, u: { $setOnInsert: { deleted_at: AT } }, upsert: true }],
        $db: DB,
      });
      expect(sent[1]).toEqual({ delete: 'sites', ordered: true, deletes: [{ q: { _id: SITE }, limit: 1 }], $db: DB });
      // Collections only: the daily_stats view refuses deletes.
      expect(sent[2]).toMatchObject({ listCollections: 1, filter: { type: 'collection' }, nameOnly: true, $db: DB });
      // The site id is a value in each filter, never a field name; sites and tombstones are kept apart.
      expect(sent.slice(3)).toEqual(
        ['events', 'members', 'rollups'].map((name) => ({ delete: name, ordered: true, deletes: [{ q: { site_id: SITE }, limit: 0 }], $db: DB })),
      );
    });
  });

  describe('applyEvents', () => {
    // u1: a page view and, a minute later, a custom event with a property: one visit, not a bounce.
    // u2: one page view 40 minutes later, in the next hour: a bounce.
    const e1 = ev('e1', { at: NOW, path: '/a.b', user_id: 'u1' });
    const e2 = ev('e2', { at: NOW + MIN, path: '/a.b', user_id: 'u1', event_type: 'signup', props: { plan: 'pro' } });
    const e3 = ev('e3', { at: NOW + 40 * MIN, path: '__proto__', user_id: 'u2' });
    const V1 = 'u:u1';
    const V2 = 'u:u2';
    const NO_VALUES = VISIT_DIMS.map(() => '');

    const visitDoc = (visitor: string, start: number, last: number, entry: [string, number], exit: [string, number], pageviews: number, events: number) => ({
      site_id: SITE,
      visitor,
      start_ms: start,
      last_ms: last,
      vals: NO_VALUES,
      entry: entry[0],
      entry_ms: entry[1],
      exit: exit[0],
      exit_ms: exit[1],
      pageviews,
      events,
    });
    /** The retention cutoff, read in the transaction once it has new events. */
    const metaFind = { find: 'meta', filter: { _id: 'retention_cutoff_ms' }, limit: 1, singleBatch: true, $db: DB };
    const TXN = [
      'find events',
      'find meta',
      'insert events',
      'update visitors',
      'find visits',
      'update members',
      'update rollups',
      'update visits',
      'commitTransaction 1',
    ];

    it('sends one transaction: events, the cutoff, the visitor locks, visits, members, rollups, visits, commit', async () => {
      expect(await store.applyEvents([e1, e2, e3, e1], OPTS)).toEqual({ applied: 3, duplicates: 1 });
      const sent = server.sent();
      expect(sent.map(target)).toEqual(TXN);
      const [findEvents, findMeta, insertEvents, lock, findVisits, members, rollups, visits, commit] = sent.map(shape);

      expect(findEvents).toEqual({ find: 'events', filter: { _id: { $in: ['e1', 'e2', 'e3'] } }, projection: { _id: 1 }, batchSize: 3, $db: DB });
      expect(findMeta).toEqual(metaFind);
      expect(insertEvents).toEqual({
        insert: 'events',
        ordered: true,
        documents: [rawDoc(e1), rawDoc(e2, { props: [{ key: 'plan', value: 'pro' }] }), rawDoc(e3)],
        $db: DB,
      });
      // The lock: one document per visitor, in visitor order, written before anything is read.
      expect(lock).toEqual({
        update: 'visitors',
        ordered: true,
        updates: [V1, V2].map((visitor) => ({ q: { site_id: SITE, visitor }, u: { $inc: { batches: 1 }, $setOnInsert: { day: null } }, upsert: true })),
        $db: DB,
      });
      // Every visit an event can touch (ends after the first event − 30 min, starts before the last
      // + 30 min), and every visit starting within 25 hours of those: visitors of visit-level values
      // compare a visitor's visits per bucket. One read, unless a visit of more than 6 hours overlaps.
      expect(findVisits).toEqual({
        find: 'visits',
        filter: {
          site_id: SITE,
          visitor: { $in: [V1, V2] },
          start_ms: { $lt: NOW + 70 * MIN + 25 * HOUR },
          $or: [{ start_ms: { $gte: NOW - 30 * MIN - 31 * HOUR } }, { last_ms: { $gt: NOW - 30 * MIN } }],
        },
        projection: { _id: 0, site_id: 0 },
        $db: DB,
      });

      // Members: insert-if-absent, for event-level values only (visit-level values take their
      // visitors from the visits).
      const u1Events = (grain: number, bucket: number) => [
        member(grain, bucket, TOTAL, '', V1, 0),
        member(grain, bucket, PAGE, '/a.b', V1, 0),
        member(grain, bucket, EVENT, 'signup', V1, 0),
        member(grain, bucket, PROPERTY_KEY, 'plan', V1, 0, '["signup"]'),
        member(grain, bucket, PROPERTY, 'pro', V1, 0, '["signup","plan"]'),
      ];
      const u2Events = (grain: number, bucket: number) => [member(grain, bucket, TOTAL, '', V2, 0), member(grain, bucket, PAGE, '__proto__', V2, 0)];
      expect(members).toMatchObject({ update: 'members', ordered: true, $db: DB });
      expect(sorted(members!.updates)).toEqual(
        sorted([
          ...u1Events(1, D),
          ...u1Events(2, H12),
          ...u2Events(1, D),
          ...u2Events(2, H13),
        ]),
      );
      expect(members!.updates.some((u: Document) => [...VISIT_DIMS, ENTRY, EXIT].includes(u.q.dim))).toBe(false);

      // Rollups: every new member counted once (the capture server reports every upsert as an
      // insert); visit-level rows count each new visit's visitor.
      const day = [
        rollup(1, D, PAGE, '/a.b', { pageviews: 1, visitors: 1 }),
        rollup(1, D, PAGE, '__proto__', { pageviews: 1, visitors: 1 }),
        rollup(1, D, EVENT, 'signup', { events: 1, visitors: 1 }),
        rollup(1, D, PROPERTY_KEY, 'plan', { events: 1, visitors: 1 }, '["signup"]'),
        rollup(1, D, PROPERTY, 'pro', { events: 1, visitors: 1 }, '["signup","plan"]'),
        ...VISIT_DIMS.map((dim) => rollup(1, D, dim, '', { visits: 2, pageviews: 2, events: 1, visitors: 2 })),
        rollup(1, D, ENTRY, '/a.b', { visits: 1, visitors: 1 }),
        rollup(1, D, ENTRY, '__proto__', { visits: 1, visitors: 1 }),
        rollup(1, D, EXIT, '/a.b', { visits: 1, visitors: 1 }),
        rollup(1, D, EXIT, '__proto__', { visits: 1, visitors: 1 }),
      ];
      const h12 = [
        rollup(2, H12, PAGE, '/a.b', { pageviews: 1, visitors: 1 }),
        rollup(2, H12, EVENT, 'signup', { events: 1, visitors: 1 }),
        rollup(2, H12, PROPERTY_KEY, 'plan', { events: 1, visitors: 1 }, '["signup"]'),
        rollup(2, H12, PROPERTY, 'pro', { events: 1, visitors: 1 }, '["signup","plan"]'),
        ...VISIT_DIMS.map((dim) => rollup(2, H12, dim, '', { visits: 1, pageviews: 1, events: 1, visitors: 1 })),
        rollup(2, H12, ENTRY, '/a.b', { visits: 1, visitors: 1 }),
        rollup(2, H12, EXIT, '/a.b', { visits: 1, visitors: 1 }),
      ];
      const h13 = [
        rollup(2, H13, PAGE, '__proto__', { pageviews: 1, visitors: 1 }),
        ...VISIT_DIMS.map((dim) => rollup(2, H13, dim, '', { visits: 1, pageviews: 1, visitors: 1 })),
        rollup(2, H13, ENTRY, '__proto__', { visits: 1, visitors: 1 }),
        rollup(2, H13, EXIT, '__proto__', { visits: 1, visitors: 1 }),
      ];
      // Totals: 2 page views, 1 custom event, 2 visits of which 1 bounce, 60 s; the revision bumped.
      const totals = [
        rollup(1, D, TOTAL, '', { pageviews: 2, events: 1, visitors: 2, visits: 2, bounces: 1, duration_ms: 60_000, revision: 1 }),
        rollup(2, H12, TOTAL, '', { pageviews: 1, events: 1, visitors: 1, visits: 1, duration_ms: 60_000, revision: 1 }),
        rollup(2, H13, TOTAL, '', { pageviews: 1, visitors: 1, visits: 1, bounces: 1, revision: 1 }),
      ];
      expect(rollups).toMatchObject({ update: 'rollups', ordered: true, $db: DB });
      const statements = rollups!.updates as Document[];
      expect(sorted(statements)).toEqual(sorted([...day, ...h12, ...h13, ...totals]));
      // The totals, which every batch of the site touches, are written last.
      expect(sorted(statements.slice(-3))).toEqual(sorted(totals));

      // The visit records, replacing any with the same start.
      expect(visits).toEqual({
        update: 'visits',
        ordered: true,
        updates: [
          { q: { site_id: SITE, visitor: V1, start_ms: NOW }, u: visitDoc(V1, NOW, NOW + MIN, ['/a.b', NOW], ['/a.b', NOW], 1, 1), upsert: true },
          {
            q: { site_id: SITE, visitor: V2, start_ms: NOW + 40 * MIN },
            u: visitDoc(V2, NOW + 40 * MIN, NOW + 40 * MIN, ['__proto__', NOW + 40 * MIN], ['__proto__', NOW + 40 * MIN], 1, 0),
            upsert: true,
          },
        ],
        $db: DB,
      });
      expect(commit).toEqual({ commitTransaction: 1, writeConcern: { w: 'majority', wtimeout: 10_000 }, $db: 'admin' });

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
      expect(Object.keys(sent[2]!.sequences)).toEqual(['documents']);
      expect(Object.keys(sent[5]!.sequences)).toEqual(['updates']);
      // And the driver's command monitoring reports the same documents.
      const monitored = started.filter((e) => e.commandName !== 'hello');
      expect(monitored[2]!.command.documents).toEqual(sent[2]!.command.documents);
      expect(monitored[6]!.command.updates).toEqual(sent[6]!.command.updates);
    });

    it('merges an event into the stored visit it falls in: gives the old one back, adds the new one', async () => {
      // Stored: u1 bounced on /old ten minutes ago. Now u1 views /new: one visit of two page views.
      const stored = visitDoc(V1, NOW - 10 * MIN, NOW - 10 * MIN, ['/old', NOW - 10 * MIN], ['/old', NOW - 10 * MIN], 1, 0);
      const { site_id: _s, ...storedFields } = stored;
      cursorOnce('find', 'visits', [storedFields]);
      // u1 was a member of the totals already.
      server.replyOnce((c) =>
        c.command.update === 'members' ? updateReply(c.command.updates, (i) => c.command.updates[i].q.dim === PAGE) : undefined,
      );
      const e5 = ev('e5', { at: NOW, path: '/new', user_id: 'u1' });
      expect(await store.applyEvents([e5], OPTS)).toEqual({ applied: 1, duplicates: 0 });
      expect(server.sent().map(target)).toEqual(TXN);

      const members = sentTo('update members')[0]!.command.updates as Document[];
      // Memberships of event-level values only.
      expect(sorted(members)).toEqual(
        sorted([
          member(1, D, TOTAL, '', V1, 0),
          member(1, D, PAGE, '/new', V1, 0),
          member(2, H12, TOTAL, '', V1, 0),
          member(2, H12, PAGE, '/new', V1, 0),
        ]),
      );
      const rollups = sentTo('update rollups')[0]!.command.updates as Document[];
      const of = (grain: number, bucket: number) => [
        rollup(grain, bucket, PAGE, '/new', { pageviews: 1, visitors: 1 }),
        // Unchanged visit dimensions and entry page: the same visitor, one more page view.
        ...VISIT_DIMS.map((dim) => rollup(grain, bucket, dim, '', { pageviews: 1 })),
        // The exit page moves: u1's only visit of the bucket leaves /old (one visitor less) for /new.
        rollup(grain, bucket, EXIT, '/old', { visits: -1, visitors: -1 }),
        rollup(grain, bucket, EXIT, '/new', { visits: 1, visitors: 1 }),
        // No longer a bounce, 10 minutes long; u1 was already counted.
        rollup(grain, bucket, TOTAL, '', { pageviews: 1, bounces: -1, duration_ms: 10 * MIN, revision: 1 }),
      ];
      expect(sorted(rollups)).toEqual(sorted([...of(1, D), ...of(2, H12)]));
      // The record keeps its start: replaced in place, nothing deleted.
      expect(shape(sentTo('update visits')[0]!).updates).toEqual([
        {
          q: { site_id: SITE, visitor: V1, start_ms: NOW - 10 * MIN },
          u: visitDoc(V1, NOW - 10 * MIN, NOW, ['/old', NOW - 10 * MIN], ['/new', NOW], 2, 0),
          upsert: true,
        },
      ]);
    });

    it('deletes the records a merge replaces under a new start', async () => {
      // Stored: two visits of u1, 40 minutes apart; an event between them joins them into one.
      const a = visitDoc(V1, NOW - 40 * MIN, NOW - 40 * MIN, ['/a', NOW - 40 * MIN], ['/a', NOW - 40 * MIN], 1, 0);
      const b = visitDoc(V1, NOW, NOW, ['/b', NOW], ['/b', NOW], 1, 0);
      cursorOnce('find', 'visits', [a, b]);
      await store.applyEvents([ev('e6', { at: NOW - 20 * MIN, path: '/between', user_id: 'u1' })], OPTS);
      expect(shape(sentTo('delete visits')[0]!)).toEqual({
        delete: 'visits',
        ordered: true,
        deletes: [{ q: { site_id: SITE, visitor: V1, start_ms: NOW }, limit: 1 }],
        $db: DB,
      });
      expect(shape(sentTo('update visits')[0]!).updates).toEqual([
        { q: { site_id: SITE, visitor: V1, start_ms: NOW - 40 * MIN }, u: visitDoc(V1, NOW - 40 * MIN, NOW, ['/a', NOW - 40 * MIN], ['/b', NOW], 3, 0), upsert: true },
      ]);
      expect(server.sent().map(target).slice(-3)).toEqual(['delete visits', 'update visits', 'commitTransaction 1']);
    });

    it('reads the visits of the days before a long visit that overlaps the batch, in a second read', async () => {
      // Stored: u1's visit of eight hours, still going 10 minutes ago. The days of its start need reading too.
      const long = visitDoc(V1, NOW - 8 * HOUR, NOW - 10 * MIN, ['/a', NOW - 8 * HOUR], ['/b', NOW - 10 * MIN], 40, 0);
      const { site_id: _s, ...longFields } = long;
      cursorOnce('find', 'visits', [longFields]);
      // Its start's day holds another visit of u1, from the morning before: Chrome then as now.
      const morning = visitDoc(V1, NOW - 33 * HOUR, NOW - 33 * HOUR, ['/m', NOW - 33 * HOUR], ['/m', NOW - 33 * HOUR], 1, 0);
      const { site_id: _m, ...morningFields } = morning;
      cursorOnce('find', 'visits', [morningFields]);
      await store.applyEvents([ev('e8', { at: NOW, path: '/c', user_id: 'u1' })], OPTS);
      const reads = sentTo('find visits').map(shape);
      expect(reads).toHaveLength(2);
      expect(reads[1]).toEqual({
        find: 'visits',
        filter: { site_id: SITE, visitor: { $in: [V1] }, start_ms: { $gte: NOW - 8 * HOUR - 25 * HOUR, $lt: NOW - 30 * MIN - 31 * HOUR }, last_ms: { $lte: NOW - 30 * MIN } },
        projection: { _id: 0, site_id: 0 },
        $db: DB,
      });
      expect(shape(sentTo('update visits')[0]!).updates).toEqual([
        { q: { site_id: SITE, visitor: V1, start_ms: NOW - 8 * HOUR }, u: visitDoc(V1, NOW - 8 * HOUR, NOW, ['/a', NOW - 8 * HOUR], ['/c', NOW], 41, 0), upsert: true },
      ]);
    });

    it('does not apply new events older than the recorded retention cutoff, and says which', async () => {
      cursorOnce('find', 'meta', [{ _id: 'retention_cutoff_ms', value: String(NOW - 10 * 86_400_000) }]);
      const old = ev('e9', { at: NOW - 11 * 86_400_000, path: '/old', user_id: 'u1' });
      const edge = ev('e10', { at: NOW - 10 * 86_400_000, path: '/edge', user_id: 'u2' });
      expect(await store.applyEvents([old, edge], OPTS)).toEqual({ applied: 1, duplicates: 0, expired: ['e9'] });
      expect(sentTo('insert events')[0]!.command.documents).toEqual([rawDoc(edge)]);
      const pages = (sentTo('update rollups')[0]!.command.updates as Document[]).filter((u) => u.q.dim === PAGE).map((u) => u.u.$setOnInsert.value);
      expect(pages).toEqual(['/edge', '/edge']);
      // Only expired events: nothing is written.
      server.reset();
      started.length = 0;
      cursorOnce('find', 'meta', [{ _id: 'retention_cutoff_ms', value: String(NOW - 10 * 86_400_000) }]);
      const again = ev('e11', { at: NOW - 11 * 86_400_000, path: '/old', user_id: 'u3' });
      expect(await store.applyEvents([again], OPTS)).toEqual({ applied: 0, duplicates: 0, expired: ['e11'] });
      expect(server.sent().map(target)).toEqual(['find events', 'find meta', 'commitTransaction 1']);
    });

    it('keeps the salt date of a hashed visitor on its lock document', async () => {
      const hashed = ev('e7', { at: NOW, path: '/', visitor: 'h:abcdefghijklmnopqrstuv' });
      await store.applyEvents([hashed], OPTS);
      expect(shape(sentTo('update visitors')[0]!).updates).toEqual([
        { q: { site_id: SITE, visitor: 'h:abcdefghijklmnopqrstuv' }, u: { $inc: { batches: 1 }, $setOnInsert: { day: D } }, upsert: true },
      ]);
      expect(sentTo('insert events')[0]!.command.documents[0]).toMatchObject({ user_id: null, visitor: 'h:abcdefghijklmnopqrstuv' });
    });

    it('stores ignored events apart and counts them per reason, without visitors or visits', async () => {
      const bot = ev('b1', { at: NOW, path: '/', ignored: 'bot', visitor: undefined });
      expect(await store.applyEvents([bot], OPTS)).toEqual({ applied: 1, duplicates: 0 });
      const sent = server.sent();
      expect(sent.map(target)).toEqual(['find ignored_events', 'find meta', 'insert ignored_events', 'update rollups', 'commitTransaction 1']);
      expect(shape(sent[0]!)).toEqual({ find: 'ignored_events', filter: { _id: { $in: ['b1'] } }, projection: { _id: 1 }, batchSize: 1, $db: DB });
      expect(shape(sent[2]!).documents).toEqual([
        { _id: 'b1', site_id: SITE, reason: 'bot', event_type: 'pageview', path: '/', timestamp: AT, received_at: AT },
      ]);
      expect(sorted(shape(sent[3]!).updates)).toEqual(
        sorted([
          rollup(1, D, IGNORED, 'bot', { events: 1 }),
          rollup(2, H12, IGNORED, 'bot', { events: 1 }),
          rollup(1, D, TOTAL, '', { revision: 1 }),
          rollup(2, H12, TOTAL, '', { revision: 1 }),
        ]),
      );
    });

    it('skips stored events, and counts only the member upserts that inserted as new visitors', async () => {
      cursorOnce('find', 'events', [{ _id: 'e1' }]);
      // u2's totals membership of the day existed already; every other upsert inserted.
      server.replyOnce((c) =>
        c.command.update === 'members'
          ? updateReply(c.command.updates, (i) => {
              const q = c.command.updates[i].q;
              return !(q.dim === TOTAL && q.grain === 1);
            })
          : undefined,
      );
      expect(await store.applyEvents([e1, e3], OPTS)).toEqual({ applied: 1, duplicates: 1 });
      expect(sentTo('find events')[0]!.command.filter).toEqual({ _id: { $in: ['e1', 'e3'] } });
      expect(sentTo('insert events')[0]!.command.documents).toEqual([rawDoc(e3)]);
      expect(sentTo('update visitors')[0]!.command.updates.map((u: Document) => u.q.visitor)).toEqual([V2]);
      const totals = (sentTo('update rollups')[0]!.command.updates as Document[]).filter((u) => u.q.dim === TOTAL);
      expect(sorted(totals)).toEqual(
        sorted([
          rollup(1, D, TOTAL, '', { pageviews: 1, visitors: 0, visits: 1, bounces: 1, revision: 1 }),
          rollup(2, H13, TOTAL, '', { pageviews: 1, visitors: 1, visits: 1, bounces: 1, revision: 1 }),
        ]),
      );
    });

    it('writes nothing for a replayed batch: one find, then an empty commit', async () => {
      cursorOnce('find', 'events', [{ _id: 'e1' }, { _id: 'e2' }]);
      expect(await store.applyEvents([e1, e2, e1], OPTS)).toEqual({ applied: 0, duplicates: 3 });
      expect(server.sent().map(target)).toEqual(['find events', 'commitTransaction 1']);
    });

    it('sends nothing for an empty batch', async () => {
      expect(await store.applyEvents([], OPTS)).toEqual({ applied: 0, duplicates: 0 });
      expect(server.sent()).toEqual([]);
    });

    it('aborts and retries the whole transaction on a TransientTransactionError', async () => {
      server.replyOnce((c) => (c.name === 'insert' ? transientConflict : undefined));
      expect(await store.applyEvents([e1], OPTS)).toEqual({ applied: 1, duplicates: 0 });
      const sent = server.sent();
      expect(sent.map(target)).toEqual(['find events', 'find meta', 'insert events', 'abortTransaction 1', ...TXN]);
      const first = txnOf(sent[0]!);
      expect(sent.slice(0, 4).map(txnOf)).toEqual([first, first, first, first]);
      expect(sent.slice(4).every((c) => txnOf(c) === first + 1)).toBe(true);
      expect(sent[4]!.command).toMatchObject({ startTransaction: true, autocommit: false });
      expect(new Set(sent.map(lsidOf)).size).toBe(1);
    });

    it('makes two transactions on one visitor conflict at its lock: the second starts again and reads the visits anew', async () => {
      // What a server answers the second of two concurrent transactions that write u1's lock.
      server.replyOnce((c) => (c.command.update === 'visitors' ? transientConflict : undefined));
      await store.applyEvents([e1], OPTS);
      const names = server.sent().map(target);
      expect(names.slice(0, 5)).toEqual(['find events', 'find meta', 'insert events', 'update visitors', 'abortTransaction 1']);
      // Nothing was read from the visits before the lock was held; the retry reads them in its own snapshot.
      expect(names.slice(5)).toEqual(TXN);
      expect(server.sent()[5]!.command).toMatchObject({ startTransaction: true, readConcern: { level: 'snapshot' } });
    });

    it('gives up after maxTransactionAttempts conflicting attempts', async () => {
      const bounded = await openMongoStore(server.uri(DB), { client, maxTransactionAttempts: 3 });
      server.reset();
      started.length = 0;
      server.reply((c) => (c.name === 'insert' ? transientConflict : undefined));
      await expect(bounded.applyEvents([e1], OPTS)).rejects.toThrow(/not committed after 3 attempts/);
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
      expect(await store.applyEvents([e1, e3], OPTS)).toEqual({ applied: 1, duplicates: 1 });
      const sent = server.sent();
      expect(sent.slice(0, 6).map(target)).toEqual(['find events', 'find meta', 'insert events', 'abortTransaction 1', 'find events', 'find meta']);
      expect(sent[2]!.command.documents).toEqual([rawDoc(e1), rawDoc(e3)]);
      expect(sent[6]!.command.documents).toEqual([rawDoc(e3)]);
      expect(sent.at(-1)!.name).toBe('commitTransaction');
    });

    it('keeps every input a value: no field name is ever built from an event', async () => {
      const users = ['a.b', '$gt', '__proto__', 'constructor', 'x'.repeat(256)];
      // Property names that would be operators, paths or the prototype if they were keys.
      const props = JSON.parse('{"a.b": "$set", "$inc": 1, "__proto__": "polluted", "constructor": true}') as Record<string, string | number | boolean>;
      const events = AWKWARD_PATHS.map((path, i) =>
        ev(`w${i}`, {
          at: NOW + (i % 2) * HOUR,
          path,
          user_id: users[i % users.length]!,
          ...(i % 3 === 0 ? { event_type: '$where.x', props } : {}),
          referrer: 'https://$x.a.b.example/__proto__',
          utm_source: '__proto__.$x',
          utm_campaign: 'a.b',
          ua: CHROME,
        }),
      );
      await store.applyEvents(events, OPTS);
      const sent = server.sent();

      // Every key of every command is a fixed name of the store or of the protocol.
      const allowed = new Set([
        ...['find', 'filter', 'projection', 'batchSize', 'insert', 'ordered', 'documents', 'update', 'updates', 'q', 'u', 'upsert', 'delete', 'deletes', 'limit', 'singleBatch'],
        ...['commitTransaction', 'writeConcern', 'w', 'wtimeout', 'lsid', 'id', 'txnNumber', 'autocommit', 'startTransaction', 'readConcern', 'level', '$db'],
        ...['$in', '$gt', '$gte', '$lt', '$or', '$inc', '$setOnInsert'],
        ...['_id', 'site_id', 'event_type', 'path', 'user_id', 'visitor', 'is_pageview', 'timestamp', 'received_at', 'processed_at', 'props', 'key', 'value', 'dims'],
        ...['source', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content', 'browser', 'os', 'device', 'country', 'language', 'screen'],
        ...['batches', 'day', 'grain', 'dim', 'scope', 'bucket', 'value_hash', 'refs'],
        ...['pageviews', 'events', 'visitors', 'visits', 'bounces', 'duration_ms', 'revision'],
        ...['start_ms', 'last_ms', 'vals', 'entry', 'entry_ms', 'exit', 'exit_ms'],
      ]);
      const keys = keysOf(sent.map((c) => c.command));
      expect([...keys].filter((k) => !allowed.has(k))).toEqual([]);
      for (const input of [...AWKWARD_PATHS, ...users, ...Object.keys(props), '$where.x']) {
        if (!allowed.has(input)) expect(keys.has(input)).toBe(false);
      }
      // The inputs are there, as values.
      const values = stringsOf(sent.map((c) => c.command));
      for (const input of [...AWKWARD_PATHS, ...Object.keys(props), '$where.x', '__proto__.$x', 'a.b']) expect(values.has(input)).toBe(true);
      const raw = sentTo('insert events')[0]!.command.documents as Document[];
      expect(raw[0]!.props).toEqual([
        { key: 'a.b', value: '$set' },
        { key: '$inc', value: 1 },
        { key: '__proto__', value: 'polluted' },
        { key: 'constructor', value: true },
      ]);
      expect(raw[0]!.dims).toMatchObject({ referrer: '$x.a.b.example', utm_source: '__proto__.$x', utm_campaign: 'a.b', browser: 'Chrome' });
      expect(raw.map((d) => d.path)).toEqual(AWKWARD_PATHS);

      // The update operators are the fixed two, and $inc only ever targets counters (and the lock).
      const updates = sent.flatMap((c) => (c.command.updates as Document[] | undefined) ?? []).filter((u) => !('site_id' in u.u));
      expect(new Set(updates.flatMap((u) => Object.keys(u.u)))).toEqual(new Set(['$inc', '$setOnInsert']));
      expect(new Set(updates.flatMap((u) => Object.keys(u.u.$inc ?? {})))).toEqual(
        new Set(['batches', 'pageviews', 'events', 'visitors', 'visits', 'bounces', 'duration_ms', 'revision']),
      );

      // Unique keys hold a value's SHA-256; the value itself (2,000 characters) is stored next to it.
      const pages = (sentTo('update rollups')[0]!.command.updates as Document[]).filter((u) => u.q.dim === PAGE && u.q.grain === 1);
      expect(pages.map((u) => u.u.$setOnInsert.value).sort()).toEqual([...AWKWARD_PATHS].filter((_, i) => i % 3 !== 0).sort());
      for (const u of pages) expect(u.q.value_hash).toBe(sha256(u.u.$setOnInsert.value));
      const memberKeys = (sentTo('update members')[0]!.command.updates as Document[]).map((u) => u.q.value_hash as string);
      expect(memberKeys.every((h) => h === '' || /^[0-9a-f]{64}$/.test(h))).toBe(true);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  });

  describe('reads', () => {
    const DAY_PERIOD = { grain: 1 as const, from: D, to: D + 1 };
    const RANGE = { grain: 1 as const, from: D - 6, to: D + 1 };
    const totalsFind = (p: { grain: number; from: number; to: number }) => ({
      find: 'rollups',
      filter: { site_id: SITE, grain: p.grain, dim: TOTAL, scope: '', bucket: { $gte: p.from, $lt: p.to }, value_hash: '' },
      sort: { bucket: 1 },
      projection: { _id: 0, bucket: 1, pageviews: 1, events: 1, visitors: 1, visits: 1, bounces: 1, duration_ms: 1 },
      $db: DB,
    });
    const ignoredAggregate = (p: { grain: number; from: number; to: number }) => ({
      aggregate: 'rollups',
      pipeline: [
        { $match: { site_id: SITE, grain: p.grain, dim: IGNORED, scope: '', bucket: { $gte: p.from, $lt: p.to } } },
        { $group: { _id: '$value', events: { $sum: '$events' } } },
      ],
      cursor: {},
      $db: DB,
    });
    const totalsDoc = (bucket: number, c: Document) => ({ bucket, pageviews: 0, events: 0, visitors: 0, visits: 0, bounces: 0, duration_ms: 0, ...c });
    const byTarget = () => server.sent().map(shape).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));

    it('summary of one bucket: its totals document and the ignored events, no member read', async () => {
      cursorOnce('find', 'rollups', [totalsDoc(D, { pageviews: Long.fromNumber(7), events: 1, visitors: 4, visits: 5, bounces: 3, duration_ms: 360_000 })]);
      cursorOnce('aggregate', 'rollups', [{ _id: 'bot', events: 2 }]);
      expect(await store.summary(SITE, DAY_PERIOD)).toEqual({
        pageviews: 7,
        events: 1,
        visitors: 4,
        visits: 5,
        bounces: 3,
        durationMs: 360_000,
        series: [{ bucket: D, pageviews: 7, events: 1, visitors: 4, visits: 5, bounces: 3, durationMs: 360_000 }],
        ignored: { bot: 2 },
      });
      expect(byTarget()).toEqual([ignoredAggregate(DAY_PERIOD), totalsFind(DAY_PERIOD)].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)));
    });

    it('summary of several buckets: sums the counters and counts distinct members of the totals', async () => {
      cursorOnce('find', 'rollups', [totalsDoc(D - 1, { pageviews: 2, visitors: 2, visits: 2 }), totalsDoc(D, { pageviews: 3, visitors: 2, visits: 2 })]);
      cursorOnce('aggregate', 'members', [{ visitors: 3 }]);
      const s = await store.summary(SITE, RANGE);
      expect(s).toMatchObject({ pageviews: 5, visitors: 3, visits: 4, ignored: {} });
      expect(s.series.map((p) => [p.bucket, p.visitors])).toEqual([
        [D - 1, 2],
        [D, 2],
      ]);
      expect(shape(sentTo('aggregate members')[0]!)).toEqual({
        aggregate: 'members',
        pipeline: [
          { $match: { site_id: SITE, grain: 1, dim: TOTAL, scope: '', bucket: { $gte: D - 6, $lt: D + 1 }, refs: { $gt: 0 } } },
          { $group: { _id: '$visitor' } },
          { $count: 'visitors' },
        ],
        allowDiskUse: true,
        cursor: {},
        $db: DB,
      });
    });

    const groupStage = {
      $group: {
        _id: '$value_hash',
        value: { $first: '$value' },
        pageviews: { $sum: '$pageviews' },
        events: { $sum: '$events' },
        visitors: { $sum: '$visitors' },
        visits: { $sum: '$visits' },
        bounces: { $sum: '$bounces' },
        duration_ms: { $sum: '$duration_ms' },
        buckets: { $sum: 1 },
      },
    };
    const valueGroup = (value: string, buckets: number, c: Document) => ({
      _id: hashOf(value),
      value,
      pageviews: 0,
      events: 0,
      visitors: 0,
      visits: 0,
      bounces: 0,
      duration_ms: 0,
      buckets,
      ...c,
    });
    const membersByValue = (match: Document) => ({
      aggregate: 'members',
      pipeline: [
        { $match: match },
        { $group: { _id: { value_hash: '$value_hash', visitor: '$visitor' } } },
        { $group: { _id: '$_id.value_hash', visitors: { $sum: 1 } } },
      ],
      allowDiskUse: true,
      cursor: {},
      $db: DB,
    });

    it('breakdown of one bucket: counters grouped per value, ordered by visitors then value with none first', async () => {
      cursorOnce('aggregate', 'rollups', [
        valueGroup('Firefox', 1, { visitors: 2, visits: 3, pageviews: 4 }),
        valueGroup('', 1, { visitors: 5, visits: 5, pageviews: 5 }),
        valueGroup('Chrome', 1, { visitors: 5, visits: 6, pageviews: 9 }),
        valueGroup('Safari', 1, { visitors: 0, visits: 0, pageviews: 0 }), // given back to zero: no row
      ]);
      const rows = await store.breakdown(SITE, DAY_PERIOD, { dim: 12, scope: [], limit: 2, order: 'visitors' });
      expect(rows).toEqual([
        { value: null, pageviews: 5, events: 0, visitors: 5, visits: 5, bounces: 0, durationMs: 0 },
        { value: 'Chrome', pageviews: 9, events: 0, visitors: 5, visits: 6, bounces: 0, durationMs: 0 },
      ]);
      expect(server.sent().map(shape)).toEqual([
        {
          aggregate: 'rollups',
          pipeline: [{ $match: { site_id: SITE, grain: 1, dim: 12, scope: '', bucket: { $gte: D, $lt: D + 1 } } }, groupStage],
          allowDiskUse: true,
          cursor: {},
          $db: DB,
        },
      ]);
    });

    it('breakdown over several buckets counts each value\'s visitors exactly from its members', async () => {
      cursorOnce('aggregate', 'rollups', [
        valueGroup('/shared', 2, { visitors: 10, pageviews: 10 }), // 5 visitors on each of two days: the same 5
        valueGroup('/d1', 1, { visitors: 4, pageviews: 4 }),
        valueGroup('/d2', 1, { visitors: 4, pageviews: 4 }),
      ]);
      cursorOnce('aggregate', 'members', [
        { _id: sha256('/shared'), visitors: 5 },
        { _id: sha256('/d1'), visitors: 4 },
        { _id: sha256('/d2'), visitors: 4 },
      ]);
      const rows = await store.breakdown(SITE, RANGE, { dim: PAGE, scope: [], limit: 2, order: 'visitors' });
      expect(rows.map((r) => [r.value, r.visitors, r.pageviews])).toEqual([
        ['/shared', 5, 10],
        ['/d1', 4, 4],
      ]);
      expect(shape(sentTo('aggregate members')[0]!)).toEqual(
        membersByValue({ site_id: SITE, grain: 1, dim: PAGE, scope: '', bucket: { $gte: D - 6, $lt: D + 1 }, refs: { $gt: 0 } }),
      );
    });

    /** The distinct visitors per value of a visit-level dimension: visits, moved visits, legacy members. */
    const visitsByValue = (value: Document | string, bucketField: 'start_day' | 'start_hour', p: { grain: number; from: number; to: number }, from: number, to: number, dim: number, tail: Document[]) => ({
      aggregate: 'visits',
      pipeline: [
        { $match: { site_id: SITE, start_ms: { $gte: from, $lt: to } } },
        { $project: { _id: 0, visitor: 1, v: value } },
        { $unionWith: { coll: 'visit_members', pipeline: [{ $match: { site_id: SITE, [bucketField]: { $gte: p.from, $lt: p.to } } }, { $project: { _id: 0, visitor: 1, v: value } }] } },
        {
          $unionWith: {
            coll: 'members',
            pipeline: [
              { $match: { site_id: SITE, grain: p.grain, dim, scope: '', bucket: { $gte: p.from, $lt: p.to }, refs: { $gt: 0 } } },
              {
                $lookup: {
                  from: 'rollups',
                  let: { site: '$site_id', grain: '$grain', dim: '$dim', scope: '$scope', bucket: '$bucket', hash: '$value_hash' },
                  pipeline: [
                    {
                      $match: {
                        $expr: {
                          $and: [
                            { $eq: ['$site_id', '$$site'] },
                            { $eq: ['$grain', '$$grain'] },
                            { $eq: ['$dim', '$$dim'] },
                            { $eq: ['$scope', '$$scope'] },
                            { $eq: ['$bucket', '$$bucket'] },
                            { $eq: ['$value_hash', '$$hash'] },
                          ],
                        },
                      },
                    },
                    { $limit: 1 },
                    { $project: { _id: 0, value: 1 } },
                  ],
                  as: 'rollup',
                },
              },
              { $project: { _id: 0, visitor: 1, v: { $arrayElemAt: ['$rollup.value', 0] } } },
            ],
          },
        },
        ...tail,
        { $group: { _id: { v: '$v', visitor: '$visitor' } } },
        { $group: { _id: '$_id.v', visitors: { $sum: 1 } } },
      ],
      allowDiskUse: true,
      cursor: {},
      $db: DB,
    });

    it('breakdown of a visit dimension over several buckets counts visitors from the visits that began in the period', async () => {
      cursorOnce('find', 'sites', [{ _id: SITE, timezone: 'America/New_York' }]);
      cursorOnce('aggregate', 'rollups', [valueGroup('Chrome', 2, { visitors: 6, visits: 7, pageviews: 9 }), valueGroup('', 1, { visitors: 1, visits: 1, pageviews: 1 })]);
      cursorOnce('aggregate', 'visits', [
        { _id: 'Chrome', visitors: 4 },
        { _id: '', visitors: 1 },
      ]);
      const rows = await store.breakdown(SITE, RANGE, { dim: 12, scope: [], limit: 10, order: 'visitors' });
      expect(rows.map((r) => [r.value, r.visitors, r.visits])).toEqual([
        ['Chrome', 4, 7],
        [null, 1, 1],
      ]);
      // The period's local days in time: New York midnights (EDT), the first and the one after the last.
      const from = Date.parse('2024-06-09T04:00:00Z');
      const to = Date.parse('2024-06-16T04:00:00Z');
      const browser = VISIT_DIMS.indexOf(12);
      expect(shape(sentTo('aggregate visits')[0]!)).toEqual(visitsByValue({ $ifNull: [{ $arrayElemAt: ['$vals', browser] }, ''] }, 'start_day', RANGE, from, to, 12, []));
      expect(sentTo('aggregate members')).toHaveLength(0);
      // The timezone is read once per site.
      cursorOnce('aggregate', 'rollups', [valueGroup('Chrome', 2, { visitors: 6 })]);
      await store.breakdown(SITE, RANGE, { dim: 12, scope: [], limit: 10, order: 'visitors' });
      expect(sentTo('find sites')).toHaveLength(1);
    });

    it('exit pages over hours ordered by another metric: exact visitors of the rows kept only, without "no page"', async () => {
      const hours = { grain: 2 as const, from: H12 - 3 * HOUR, to: H13 + HOUR };
      cursorOnce('find', 'sites', [{ _id: SITE, timezone: 'UTC' }]);
      cursorOnce('aggregate', 'rollups', [valueGroup('/a.b', 2, { visits: 5, visitors: 5, pageviews: 5 }), valueGroup('$x', 1, { visits: 1, visitors: 1, pageviews: 1 })]);
      cursorOnce('aggregate', 'visits', [{ _id: '/a.b', visitors: 3 }]);
      const rows = await store.breakdown(SITE, hours, { dim: EXIT, scope: [], limit: 1, order: 'pageviews' });
      expect(rows.map((r) => [r.value, r.visitors])).toEqual([['/a.b', 3]]);
      expect(shape(sentTo('aggregate visits')[0]!)).toEqual(
        visitsByValue('$exit', 'start_hour', hours, hours.from, hours.to, EXIT, [{ $match: { v: { $ne: '' } } }, { $match: { v: { $in: ['/a.b'] } } }]),
      );
    });

    it('breakdown of a property: the scope is the JSON of event and key', async () => {
      cursorOnce('aggregate', 'rollups', [valueGroup('pro', 1, { visitors: 2, events: 2 })]);
      expect(await store.breakdown(SITE, DAY_PERIOD, { dim: PROPERTY, scope: ['sign.up', '$plan'], limit: 10, order: 'visitors' })).toEqual([
        { value: 'pro', pageviews: 0, events: 2, visitors: 2, visits: 0, bounces: 0, durationMs: 0 },
      ]);
      expect(server.sent()[0]!.command.pipeline[0].$match.scope).toBe('["sign.up","$plan"]');
    });

    it('top paths by page views over several buckets: no visitors asked, or exact ones for the rows kept', async () => {
      const groups = [valueGroup('/a', 2, { pageviews: 9, visitors: 9 }), valueGroup('/c', 1, { pageviews: 3, visitors: 3 }), valueGroup('/b', 1, { pageviews: 3, visitors: 2 })];
      cursorOnce('aggregate', 'rollups', groups);
      const top = await store.breakdown(SITE, RANGE, { dim: PAGE, scope: [], limit: 2, order: 'pageviews', withVisitors: false });
      expect(top.map((r) => [r.value, r.pageviews, r.visitors])).toEqual([
        ['/a', 9, 0],
        ['/b', 3, 0],
      ]);
      expect(sentTo('aggregate members')).toHaveLength(0);

      server.reset();
      started.length = 0;
      cursorOnce('aggregate', 'rollups', groups);
      cursorOnce('aggregate', 'members', [
        { _id: sha256('/a'), visitors: 6 },
        { _id: sha256('/b'), visitors: 2 },
      ]);
      const exact = await store.breakdown(SITE, RANGE, { dim: PAGE, scope: [], limit: 2, order: 'pageviews' });
      expect(exact.map((r) => [r.value, r.pageviews, r.visitors])).toEqual([
        ['/a', 9, 6],
        ['/b', 3, 2],
      ]);
      expect(shape(sentTo('aggregate members')[0]!)).toEqual(
        membersByValue({
          site_id: SITE,
          grain: 1,
          dim: PAGE,
          scope: '',
          bucket: { $gte: D - 6, $lt: D + 1 },
          refs: { $gt: 0 },
          value_hash: { $in: [sha256('/a'), sha256('/b')] },
        }),
      );
    });

    it('realtime: recent visits by their last event, page views of 30 minutes by the spec index', async () => {
      const since = NOW - 5 * MIN;
      const pvSince = NOW - 30 * MIN;
      cursorOnce('aggregate', 'events', [{ pageviews: 4 }]);
      server.replyOnce((c) => (c.command.aggregate === 'visits' && c.command.pipeline.length === 3 && c.command.pipeline[2].$count ? cursorReply(c, [{ visitors: 3 }]) : undefined));
      server.replyOnce((c) =>
        c.command.aggregate === 'visits' && c.command.pipeline.length === 3 && c.command.pipeline[2].$group
          ? cursorReply(c, [
              { _id: '/a', visitors: 1 },
              { _id: '/b', visitors: 2 },
              { _id: '/$c', visitors: 1 },
            ])
          : undefined,
      );
      expect(await store.realtime(SITE, { since, pageviewsSince: pvSince, limit: 2 })).toEqual({
        visitors: 3,
        pageviews: 4,
        pages: [
          { value: '/b', visitors: 2 },
          { value: '/$c', visitors: 1 },
        ],
      });
      const sent = server.sent().map(shape);
      expect(sent).toHaveLength(3);
      expect(sent).toContainEqual({
        aggregate: 'visits',
        pipeline: [{ $match: { site_id: SITE, last_ms: { $gte: since } } }, { $group: { _id: '$visitor' } }, { $count: 'visitors' }],
        cursor: {},
        $db: DB,
      });
      expect(sent).toContainEqual({
        aggregate: 'events',
        pipeline: [{ $match: { site_id: SITE, timestamp: { $gte: new Date(pvSince) }, is_pageview: true } }, { $count: 'pageviews' }],
        hint: { site_id: 1, timestamp: -1 },
        cursor: {},
        $db: DB,
      });
      expect(sent).toContainEqual({
        aggregate: 'visits',
        pipeline: [
          { $match: { site_id: SITE, last_ms: { $gte: since }, exit: { $ne: '' } } },
          { $group: { _id: { exit: '$exit', visitor: '$visitor' } } },
          { $group: { _id: '$_id.exit', visitors: { $sum: 1 } } },
        ],
        cursor: {},
        $db: DB,
      });
    });

    it('countEvents counts raw events of the site', async () => {
      cursorOnce('aggregate', 'events', [{ _id: 1, n: 3 }]);
      expect(await store.countEvents(SITE)).toBe(3);
      expect(server.sent().map(shape)).toEqual([
        { aggregate: 'events', pipeline: [{ $match: { site_id: SITE } }, { $group: { _id: 1, n: { $sum: 1 } } }], cursor: {}, $db: DB },
      ]);
    });

    it('ping runs ping on the store database', async () => {
      await store.ping();
      expect(server.sent().map(shape)).toEqual([{ ping: 1, $db: DB }]);
    });
  });

  describe('salts', () => {
    it('ensureSalt inserts the salt unless the date has one, and returns the stored one, in one command', async () => {
      server.replyOnce((c) => (c.name === 'findAndModify' ? { ok: 1, value: { salt: 'first' }, lastErrorObject: { n: 1, updatedExisting: true } } : undefined));
      expect(await store.ensureSalt('2024-06-15', 'second', NOW)).toBe('first');
      expect(server.sent().map(shape)).toEqual([
        {
          findAndModify: 'salts',
          query: { _id: '2024-06-15' },
          remove: false,
          update: { $setOnInsert: { salt: 'second', created_at: AT } },
          new: true,
          upsert: true,
          fields: { _id: 0, salt: 1 },
          $db: DB,
        },
      ]);
    });

    it('listSalts reads them by date; deleteSaltsBefore deletes older dates', async () => {
      cursorOnce('find', 'salts', [
        { _id: '2024-06-15', salt: 's1', created_at: AT },
        { _id: '2024-06-16', salt: 's2', created_at: AT },
      ]);
      expect(await store.listSalts()).toEqual([
        { day: '2024-06-15', salt: 's1' },
        { day: '2024-06-16', salt: 's2' },
      ]);
      server.replyOnce((c) => (c.name === 'delete' ? { ok: 1, n: 1 } : undefined));
      expect(await store.deleteSaltsBefore('2024-06-16')).toBe(1);
      expect(server.sent().map(shape)).toEqual([
        { find: 'salts', filter: {}, sort: { _id: 1 }, $db: DB },
        { delete: 'salts', ordered: true, deletes: [{ q: { _id: { $lt: '2024-06-16' } }, limit: 0 }], $db: DB },
      ]);
    });
  });

  describe('maintenance', () => {
    it('deleteEventsBefore records the cutoff first, then deletes per site raw and ignored events and past hashed visitors', async () => {
      const cutoff = Date.parse('2024-06-08T00:00:00Z');
      const beforeDay = dayNumber('2024-06-07');
      cursorOnce('find', 'meta', [{ _id: 'retention_cutoff_ms', value: String(cutoff - 86_400_000) }]);
      cursorOnce('find', 'sites', [{ _id: 'site-a' }, { _id: 'site-b' }]);
      server.replyOnce((c) => (c.command.delete === 'events' ? { ok: 1, n: 3 } : undefined));
      server.replyOnce((c) => (c.command.delete === 'ignored_events' ? { ok: 1, n: 5 } : undefined));
      server.replyOnce((c) => (c.command.delete === 'events' ? { ok: 1, n: 1 } : undefined));
      expect(await store.deleteEventsBefore(cutoff, beforeDay)).toBe(4);
      const del = (collection: string, q: Document) => ({ delete: collection, ordered: true, deletes: [{ q, limit: 0 }], $db: DB });
      const perSite = (site_id: string) => [
        del('events', { site_id, timestamp: { $lt: new Date(cutoff) } }),
        del('ignored_events', { site_id, timestamp: { $lt: new Date(cutoff) } }),
        del('visitors', { site_id, day: { $lt: beforeDay } }),
      ];
      expect(server.sent().map(shape)).toEqual([
        { find: 'meta', filter: { _id: 'retention_cutoff_ms' }, limit: 1, singleBatch: true, $db: DB },
        { update: 'meta', ordered: true, updates: [{ q: { _id: 'retention_cutoff_ms' }, u: { $set: { value: String(cutoff) } }, upsert: true }], $db: DB },
        { find: 'sites', filter: {}, projection: { _id: 1 }, $db: DB },
        ...perSite('site-a'),
        ...perSite('site-b'),
      ]);
      // Rollups, members and visits are kept.
      expect(server.sent().map(target).filter((t) => /rollups|members|visits/.test(t))).toEqual([]);
      // A lower cutoff never replaces a higher one.
      server.reset();
      started.length = 0;
      cursorOnce('find', 'meta', [{ _id: 'retention_cutoff_ms', value: String(cutoff) }]);
      await store.deleteEventsBefore(cutoff - 86_400_000, beforeDay - 1);
      expect(server.sent().map(target).slice(0, 2)).toEqual(['find meta', 'find sites']);
    });

    it('moveVisitsBefore moves old visits to visit_members by their local start day and hour, in one transaction per chunk', async () => {
      cursorOnce('find', 'sites', [{ _id: SITE, timezone: 'Asia/Kolkata' }]);
      const start = Date.parse('2024-06-01T18:45:00Z'); // 00:15 on June 2 in India
      cursorOnce('find', 'visits', [
        { _id: 'v-1', visitor: 'u:__proto__', start_ms: start, vals: ['$x', 'a.b'], entry: '/a.b', exit: '$' },
        { _id: 'v-2', visitor: 'h:abc', start_ms: start - HOUR, vals: [], entry: '', exit: '' },
      ]);
      const before = Date.parse('2024-06-05T00:00:00Z');
      expect(await store.moveVisitsBefore(before)).toBe(2);
      const sent = server.sent();
      expect(sent.map(target)).toEqual(['find sites', 'find visits', 'insert visit_members', 'delete visits', 'commitTransaction 1']);
      expect(shape(sent[1]!)).toEqual({
        find: 'visits',
        filter: { site_id: SITE, last_ms: { $lt: before } },
        sort: { last_ms: 1 },
        projection: { _id: 1, visitor: 1, start_ms: 1, vals: 1, entry: 1, exit: 1 },
        limit: 1000,
        $db: DB,
      });
      const june2 = dayNumber('2024-06-02');
      // (The driver gives each inserted document an ObjectId.)
      expect(shape(sent[2]!).documents).toEqual([
        { _id: expect.anything(), site_id: SITE, start_day: june2, start_hour: Date.parse('2024-06-01T18:30:00Z'), visitor: 'u:__proto__', vals: ['$x', 'a.b'], entry: '/a.b', exit: '$' },
        { _id: expect.anything(), site_id: SITE, start_day: june2 - 1, start_hour: Date.parse('2024-06-01T17:30:00Z'), visitor: 'h:abc', vals: [], entry: '', exit: '' },
      ]);
      expect(shape(sent[3]!).deletes).toEqual([{ q: { _id: { $in: ['v-1', 'v-2'] } }, limit: 0 }]);
      // The read, the insert and the delete are one transaction.
      expect(sent[1]!.command).toMatchObject({ startTransaction: true, readConcern: { level: 'snapshot' } });
      expect(new Set(sent.slice(1).map(txnOf)).size).toBe(1);
      expect(shape(sent[4]!)).toMatchObject({ commitTransaction: 1, writeConcern: { w: 'majority' } });
    });

    it('countRejectedEvents counts all, or one site', async () => {
      cursorOnce('aggregate', 'rejected_events', [{ _id: 1, n: 4 }]);
      cursorOnce('aggregate', 'rejected_events', [{ _id: 1, n: 1 }]);
      expect(await store.countRejectedEvents()).toBe(4);
      expect(await store.countRejectedEvents(SITE)).toBe(1);
      const count = (match: Document) => ({ aggregate: 'rejected_events', pipeline: [{ $match: match }, { $group: { _id: 1, n: { $sum: 1 } } }], cursor: {}, $db: DB });
      expect(server.sent().map(shape)).toEqual([count({}), count({ site_id: SITE })]);
    });

    // Set-aside events: kept once each, values as escaped JSON text, never as keys.
    it('rejectEvents upserts one document per event, keyed by a hash of its JSON ($setOnInsert only)', async () => {
      server.replyOnce((c) => (c.command.update === 'rejected_events' ? updateReply(c.command.updates, (i) => i === 0) : undefined));
      const bad = { id: 'e-bad', site_id: SITE, type: 'pageview', path: '/a.b\u0000$x', visitor: 'u:__proto__\ud800', ts: NOW, received_at: NOW };
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

    it('createPlaceholders upserts zero daily totals only where missing ($setOnInsert only)', async () => {
      server.replyOnce((c) => (c.command.update === 'rollups' ? updateReply(c.command.updates, (i) => i === 1) : undefined));
      const rows = [
        { site_id: SITE, day: '2024-06-15' },
        { site_id: SITE, day: '2024-06-16' },
      ];
      expect(await store.createPlaceholders(rows, NOW)).toBe(1);
      expect(await store.createPlaceholders([], NOW)).toBe(0);
      const zero = (bucket: number) => ({
        q: { site_id: SITE, grain: 1, dim: TOTAL, scope: '', bucket, value_hash: '' },
        u: { $setOnInsert: { value: '', pageviews: 0, events: 0, visitors: 0, visits: 0, bounces: 0, duration_ms: 0, revision: 0 } },
        upsert: true,
      });
      expect(server.sent().map(shape)).toEqual([{ update: 'rollups', ordered: false, updates: [zero(D), zero(D + 1)], $db: DB }]);
      // Not in a transaction: a retryable write of its own.
      expect(server.sent()[0]!.command).not.toHaveProperty('startTransaction');
    });
  });
});
