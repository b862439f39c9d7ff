// Schema migrations of the MongoDB store. Version 1 kept six rollup collections (`daily_stats`,
// `daily_visitors`, `daily_paths` and their `hourly_*` twins); version 2 keeps every dimension in
// `rollups` and `members` (schema.ts). An install with version-1 data is migrated in place, once,
// keeping every count: totals become dimension 0 (page views, visitors), paths dimension 1 (page
// views), visitor documents members of dimension 0, and a version-1 visitor (a raw user id) becomes
// the given visitor `u:<id>` (core/visitor.ts). `daily_stats` then becomes a read-only view over
// the daily totals, for operators who look at it the way the spec shows.
//
// Several processes may start at once: one takes the migration lock (a document with an expiry
// that its holder renews as it goes), the others wait until the version is recorded. Every step is
// idempotent (counts are set, not added), so a migration cut short by a crash is simply run again
// by whoever takes the lock next.
import { randomUUID } from 'node:crypto';
import type { AnyBulkWriteOperation, Collection, Db, Document } from 'mongodb';
import { dayNumber } from '../../core/time.js';
import { givenVisitor } from '../../core/visitor.js';
import { createIndexes, NONE, type Collections, type MemberDoc, type RollupDoc, type SchemaMigrationDoc } from './schema.js';

/** The schema version this code writes. */
export const SCHEMA_VERSION = 2;

// Dimension ids and grains of src/core/dimensions.ts and plan.ts that version-1 data maps to
// (ids are stable forever).
const TOTAL = 0;
const PAGE = 1;
const DAY = 1;
const HOUR = 2;

/** Documents per bulk write while copying version-1 data. */
const COPY_CHUNK = 1000;

export interface MigrationTiming {
  /** How long a lock lasts unless renewed (its holder renews it after every chunk). */
  lockTtlMs: number;
  /** How often a waiting process looks again. */
  pollMs: number;
}

const DEFAULT_TIMING: MigrationTiming = { lockTtlMs: 60_000, pollMs: 500 };

/** The view that shows the daily totals as the spec's `daily_stats` documents. */
export const DAILY_STATS_VIEW: Document[] = [
  { $match: { grain: DAY, dim: TOTAL, scope: NONE, value_hash: NONE } },
  {
    $project: {
      site_id: 1,
      date: { $dateToString: { format: '%Y-%m-%d', date: { $add: [new Date(0), { $multiply: ['$bucket', 86_400_000] }] } } },
      total_views: '$pageviews',
      unique_users: '$visitors',
    },
  },
];

export async function migrate(db: Db, c: Collections, timing: MigrationTiming = DEFAULT_TIMING): Promise<void> {
  await createIndexes(c);
  if (await isApplied(c)) return;
  const lock = new MigrationLock(c.schemaMigrations, timing);
  if (!(await lock.acquireOrWait(() => isApplied(c)))) return; // another process migrated meanwhile
  // Renewed by a timer too, so that one long step (the raw events' update) cannot outlast the lock.
  const heartbeat = setInterval(() => void lock.renew().catch(() => {}), Math.max(1, Math.floor(timing.lockTtlMs / 3)));
  heartbeat.unref();
  try {
    if (await isApplied(c)) return;
    await migrateFromVersion1(db, c, () => lock.renew());
    await c.schemaMigrations.updateOne({ _id: SCHEMA_VERSION }, { $setOnInsert: { applied_at: new Date() } }, { upsert: true });
  } finally {
    clearInterval(heartbeat);
    await lock.release();
  }
}

async function isApplied(c: Collections): Promise<boolean> {
  return (await c.schemaMigrations.findOne({ _id: SCHEMA_VERSION }, { projection: { _id: 1 } })) !== null;
}

/**
 * The lock: `{_id: 'lock', owner, expires_at}`. Taking it is one upsert that matches only an
 * expired lock: when a live one exists, the upsert's insert hits the `_id` and fails (E11000).
 */
class MigrationLock {
  private readonly owner = randomUUID();

  constructor(
    private readonly coll: Collection<SchemaMigrationDoc>,
    private readonly timing: MigrationTiming,
  ) {}

  /** Takes the lock (true), or returns false once `done()` says the work was done by another process. */
  async acquireOrWait(done: () => Promise<boolean>): Promise<boolean> {
    for (;;) {
      if (await this.tryAcquire()) return true;
      if (await done()) return false;
      await new Promise((r) => setTimeout(r, this.timing.pollMs));
    }
  }

  private async tryAcquire(): Promise<boolean> {
    const now = Date.now();
    try {
      await this.coll.updateOne(
        { _id: 'lock', expires_at: { $lt: new Date(now) } },
        { $set: { owner: this.owner, expires_at: new Date(now + this.timing.lockTtlMs) } },
        { upsert: true },
      );
      return true;
    } catch (err) {
      if ((err as { code?: unknown }).code === 11000) return false;
      throw err;
    }
  }

  /** Extends the lock; throws if it expired and another process took it (the migration then stops). */
  async renew(): Promise<void> {
    const res = await this.coll.updateOne({ _id: 'lock', owner: this.owner }, { $set: { expires_at: new Date(Date.now() + this.timing.lockTtlMs) } });
    if (res.matchedCount === 0) throw new Error('MongoDB migration: the migration lock expired and was taken by another process');
  }

  async release(): Promise<void> {
    await this.coll.deleteOne({ _id: 'lock', owner: this.owner });
  }
}

/** The version-1 collections and how each document of theirs becomes a version-2 write. */
const VERSION_1: { name: string; into: 'rollups' | 'members'; write: (d: Document) => AnyBulkWriteOperation<Document> }[] = [
  { name: 'daily_stats', into: 'rollups', write: (d) => setRollup(d, DAY, dayNumber(d.date), TOTAL, NONE, NONE, { pageviews: d.total_views, visitors: d.unique_users }) },
  { name: 'hourly_stats', into: 'rollups', write: (d) => setRollup(d, HOUR, Number(d.hour), TOTAL, NONE, NONE, { pageviews: d.total_views, visitors: d.unique_users }) },
  { name: 'daily_paths', into: 'rollups', write: (d) => setRollup(d, DAY, dayNumber(d.date), PAGE, d.path_hash, d.path, { pageviews: d.views, visitors: 0 }) },
  { name: 'hourly_paths', into: 'rollups', write: (d) => setRollup(d, HOUR, Number(d.hour), PAGE, d.path_hash, d.path, { pageviews: d.views, visitors: 0 }) },
  { name: 'daily_visitors', into: 'members', write: (d) => setMember(d, DAY, dayNumber(d.date)) },
  { name: 'hourly_visitors', into: 'members', write: (d) => setMember(d, HOUR, Number(d.hour)) },
];

/**
 * A version-1 counter as a rollup document, its counts set (not added): copying twice gives the
 * same document. Version 1 had no visits, and no visitors per path. Its path hash is the same
 * SHA-256 as the value hash of version 2.
 */
function setRollup(d: Document, grain: number, bucket: number, dim: number, hash: string, value: string, counts: { pageviews: unknown; visitors: unknown }): AnyBulkWriteOperation<Document> {
  const set: Omit<RollupDoc, 'site_id' | 'grain' | 'dim' | 'scope' | 'bucket' | 'value_hash'> = {
    value,
    pageviews: Number(counts.pageviews ?? 0),
    events: 0,
    visitors: Number(counts.visitors ?? 0),
    visits: 0,
    bounces: 0,
    duration_ms: 0,
    revision: 1,
  };
  return { updateOne: { filter: { site_id: d.site_id, grain, dim, scope: NONE, bucket, value_hash: hash }, update: { $set: set }, upsert: true } };
}

function setMember(d: Document, grain: number, bucket: number): AnyBulkWriteOperation<Document> {
  const set: Pick<MemberDoc, 'refs'> = { refs: 1 };
  return {
    updateOne: {
      filter: { site_id: d.site_id, grain, dim: TOTAL, scope: NONE, bucket, visitor: givenVisitor(String(d.user_id)), value_hash: NONE },
      update: { $set: set },
      upsert: true,
    },
  };
}

/**
 * Copies every version-1 collection into the version-2 ones, completes the raw events, drops the
 * version-1 collections and puts the `daily_stats` view in their place. A fresh install has none
 * of them and only gets the view.
 */
async function migrateFromVersion1(db: Db, c: Collections, renew: () => Promise<void>): Promise<void> {
  const names = [...VERSION_1.map((v) => v.name)];
  const existing = new Map(
    (await db.listCollections({ name: { $in: names } }, { nameOnly: false }).toArray()).map((i) => [i.name, (i as { type?: string }).type ?? 'collection']),
  );
  const isCollection = (name: string) => existing.get(name) === 'collection';

  for (const v of VERSION_1) {
    if (!isCollection(v.name)) continue;
    const into = (v.into === 'rollups' ? c.rollups : c.members) as unknown as Collection<Document>;
    const cursor = db.collection(v.name).find({}, { projection: { _id: 0 }, batchSize: COPY_CHUNK });
    let ops: AnyBulkWriteOperation<Document>[] = [];
    const flush = async () => {
      if (ops.length === 0) return;
      await into.bulkWrite(ops, { ordered: false });
      ops = [];
      await renew();
    };
    for await (const d of cursor) {
      ops.push(v.write(d));
      if (ops.length >= COPY_CHUNK) await flush();
    }
    await flush();
  }

  // Raw events of version 1: their visitor and whether they are page views (realtime reads it).
  // ASCII case folding is exact here: no other character lower-cases to a letter of "pageview".
  await renew();
  await c.events.updateMany({ is_pageview: { $exists: false } }, [
    { $set: { visitor: { $concat: ['u:', '$user_id'] }, is_pageview: { $eq: [{ $toLower: '$event_type' }, 'pageview'] } } },
  ]);

  await renew();
  for (const v of VERSION_1) if (isCollection(v.name)) await db.dropCollection(v.name);
  if (existing.get('daily_stats') !== 'view') await db.createCollection('daily_stats', { viewOn: c.rollups.collectionName, pipeline: DAILY_STATS_VIEW });
}
