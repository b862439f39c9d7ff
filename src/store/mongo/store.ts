// The store over MongoDB (official driver): every port of port.ts, with the same semantics as the
// SQL store. Writing is write.ts, reading read.ts, the schema and its upgrade schema.ts and
// migrate.ts. Values from events are values everywhere, never field names.
import { MongoClient, type Db, type Document } from 'mongodb';
import { TOTAL } from '../../core/dimensions.js';
import { DAY } from '../../core/plan.js';
import type { Salt } from '../../core/salt.js';
import type { Site } from '../../core/site.js';
import { bucketNumbers, dayNumber } from '../../core/time.js';
import {
  SiteExistsError,
  type AnalyticsStore,
  type ApplyOptions,
  type ApplyResult,
  type BreakdownQuery,
  type BreakdownRow,
  type Period,
  type PreparedEvent,
  type Realtime,
  type SitePatch,
  type Summary,
  type RejectedEvent,
  type WorkerHeartbeat,
  UnstorableDataError,
} from '../port.js';
import { toRejectedRow } from '../rejected.js';
import { randomUUID } from 'node:crypto';
import { assertTransactionsSupported, dbNameFromUri } from './connection.js';
import { migrate, type MigrationTiming } from './migrate.js';
import { MongoReader } from './read.js';
import { collections, NONE, type Collections, type RollupDoc, type SiteDoc } from './schema.js';
import { isDuplicateKey, MongoWriter, RETENTION_CUTOFF, TRANSACTION } from './write.js';

/** Visits moved per transaction by the maintenance. */
const MOVE_CHUNK = 1000;

export interface MongoStoreOptions {
  /** Overrides the database named in the URI (tests use one database per run). */
  dbName?: string;
  /** A client of the caller's: used instead of opening one, and left open by close(). */
  client?: MongoClient;
  /** Transaction attempts per applyEvents (write conflicts between workers retry). Default 30. */
  maxTransactionAttempts?: number;
  /** Migration lock expiry and polling (tests shorten them). */
  migrationTiming?: MigrationTiming;
}

export async function openMongoStore(uri: string, options: MongoStoreOptions = {}): Promise<MongoStore> {
  const owned = !options.client;
  const client = options.client ?? new MongoClient(uri, { appName: 'website-analytics' });
  try {
    await client.connect();
    const db = client.db(options.dbName ?? dbNameFromUri(uri));
    await assertTransactionsSupported(db);
    return new MongoStore(client, db, owned, options);
  } catch (err) {
    if (owned) await client.close().catch(() => {});
    throw err;
  }
}

export class MongoStore implements AnalyticsStore {
  readonly kind = 'mongodb' as const;
  private readonly c: Collections;
  private readonly writer: MongoWriter;
  private readonly reader: MongoReader;

  constructor(
    private readonly client: MongoClient,
    private readonly db: Db,
    private readonly ownsClient: boolean,
    private readonly options: MongoStoreOptions = {},
  ) {
    this.c = collections(db);
    this.writer = new MongoWriter(client, this.c, options.maxTransactionAttempts ?? 30);
    this.reader = new MongoReader(this.c);
  }

  async migrate(): Promise<void> {
    await migrate(this.db, this.c, this.options.migrationTiming);
    // The first migration names the store; $setOnInsert keeps the name on every later one.
    await this.c.meta.updateOne({ _id: 'store_id' }, { $setOnInsert: { value: randomUUID() } }, { upsert: true });
  }

  async storeId(): Promise<string> {
    const doc = await this.c.meta.findOne({ _id: 'store_id' });
    if (!doc) throw new Error('the store has no id: run its migration first');
    return doc.value;
  }

  isDataError(err: unknown): boolean {
    if (err instanceof UnstorableDataError) return true;
    const e = err as { name?: unknown; code?: unknown } | null;
    // BSON cannot encode the document; the server refused a value (BadValue, too large, key too long).
    if (e?.name === 'BSONError' || e?.name === 'BSONVersionError') return true;
    return typeof e?.code === 'number' && [2, 10334, 17280, 17419].includes(e.code);
  }

  async rejectEvents(rows: RejectedEvent[]): Promise<number> {
    if (rows.length === 0) return 0;
    // Upserts with $setOnInsert: an event rejected again (a retried job) is kept once, no error.
    const res = await this.c.rejectedEvents.bulkWrite(
      rows.map(toRejectedRow).map((r) => ({
        updateOne: {
          filter: { _id: r.rejection_key },
          update: {
            $setOnInsert: { site_id: r.site_id, event_id: r.event_id, event: r.event_json, error: r.error, rejected_at: new Date(r.rejected_at_ms) },
          },
          upsert: true,
        },
      })),
      { ordered: false },
    );
    return res.upsertedCount;
  }

  async countRejectedEvents(siteId?: string): Promise<number> {
    return this.c.rejectedEvents.countDocuments(siteId === undefined ? {} : { site_id: siteId });
  }

  async createSite(site: Site): Promise<void> {
    if (await this.c.deletedSites.findOne({ _id: site.site_id })) throw new SiteExistsError(site.site_id, 'deleted');
    try {
      await this.c.sites.insertOne({
        _id: site.site_id,
        site_id: site.site_id,
        name: site.name,
        timezone: site.timezone,
        api_key_hash: site.api_key_hash,
        read_key_hash: site.read_key_hash,
        created_at: new Date(site.created_at),
        ...(site.share_token_hash ? { share_token_hash: site.share_token_hash } : {}),
      });
    } catch (err) {
      // A duplicate key hash of another site stays the driver's error; only a taken id is SiteExists.
      if (isDuplicateKey(err) && (await this.getSite(site.site_id))) throw new SiteExistsError(site.site_id);
      throw err;
    }
  }

  async getSite(siteId: string): Promise<Site | undefined> {
    const doc = await this.c.sites.findOne({ _id: siteId });
    return doc ? toSite(doc) : undefined;
  }

  async listSites(): Promise<Site[]> {
    return (await this.c.sites.find({}).sort({ _id: 1 }).toArray()).map(toSite);
  }

  async updateSite(siteId: string, patch: SitePatch): Promise<boolean> {
    const $set: Document = {};
    const $unset: Document = {};
    if (patch.api_key_hash !== undefined) $set.api_key_hash = patch.api_key_hash;
    if (patch.read_key_hash !== undefined) $set.read_key_hash = patch.read_key_hash;
    if (patch.share_token_hash === null) $unset.share_token_hash = '';
    else if (patch.share_token_hash !== undefined) $set.share_token_hash = patch.share_token_hash;
    const update: Document = {};
    if (Object.keys($set).length) update.$set = $set;
    if (Object.keys($unset).length) update.$unset = $unset;
    if (Object.keys(update).length === 0) return (await this.getSite(siteId)) !== undefined;
    const res = await this.c.sites.updateOne({ _id: siteId }, update);
    return res.matchedCount > 0;
  }

  async deleteSite(siteId: string, now: number): Promise<boolean> {
    // The tombstone first (the id is never reused), then the site (its keys stop working), then its
    // data in every collection that holds a site_id: a collection added later is purged too.
    await this.c.deletedSites.updateOne({ _id: siteId }, { $setOnInsert: { deleted_at: new Date(now) } }, { upsert: true });
    const res = await this.c.sites.deleteOne({ _id: siteId });
    // Collections only: a view (daily_stats) holds no documents of its own and refuses deletes.
    const names = (await this.db.listCollections({ type: 'collection' }, { nameOnly: true }).toArray()).map((c) => c.name);
    for (const name of names.filter((n) => n !== 'sites' && n !== 'deleted_sites' && !n.startsWith('system.')).sort()) {
      await this.db.collection(name).deleteMany({ site_id: siteId });
    }
    return res.deletedCount > 0;
  }

  applyEvents(events: PreparedEvent[], opts: ApplyOptions): Promise<ApplyResult> {
    return this.writer.apply(events, opts);
  }

  summary(siteId: string, period: Period): Promise<Summary> {
    return this.reader.summary(siteId, period);
  }

  breakdown(siteId: string, period: Period, query: BreakdownQuery): Promise<BreakdownRow[]> {
    return this.reader.breakdown(siteId, period, query);
  }

  realtime(siteId: string, opts: { since: number; pageviewsSince: number; limit: number }): Promise<Realtime> {
    return this.reader.realtime(siteId, opts);
  }

  async listSalts(): Promise<Salt[]> {
    return (await this.c.salts.find({}, { sort: { _id: 1 } }).toArray()).map((d) => ({ day: d._id, salt: d.salt }));
  }

  async ensureSalt(day: string, salt: string, now: number): Promise<string> {
    // One command: inserts this salt unless the date has one, and returns the one that is stored.
    const doc = await this.c.salts.findOneAndUpdate(
      { _id: day },
      { $setOnInsert: { salt, created_at: new Date(now) } },
      { upsert: true, returnDocument: 'after', projection: { _id: 0, salt: 1 } },
    );
    if (!doc) throw new Error(`ensureSalt: no salt stored for ${day}`);
    return doc.salt;
  }

  async deleteSaltsBefore(day: string): Promise<number> {
    return (await this.c.salts.deleteMany({ _id: { $lt: day } })).deletedCount;
  }

  async deleteEventsBefore(before: number, beforeDay: number): Promise<number> {
    // The cutoff first (kept at its highest): a worker applying events from now on refuses those
    // older (write.ts storeRaw).
    const recorded = await this.c.meta.findOne({ _id: RETENTION_CUTOFF });
    if (!recorded || Number(recorded.value) < before) {
      await this.c.meta.updateOne({ _id: RETENTION_CUTOFF }, { $set: { value: String(before) } }, { upsert: true });
    }
    // Per site, so each delete walks an index that starts with site_id. A deleteMany yields as it
    // goes on the server, so no slicing is needed to keep other writers moving.
    let deleted = 0;
    const cutoff = new Date(before);
    for (const { _id: siteId } of await this.c.sites.find({}, { projection: { _id: 1 } }).toArray()) {
      deleted += (await this.c.events.deleteMany({ site_id: siteId, timestamp: { $lt: cutoff } })).deletedCount;
      await this.c.ignoredEvents.deleteMany({ site_id: siteId, timestamp: { $lt: cutoff } });
      // Hashed visitors belong to one salt date: once it is past retention nothing can match them
      // again. (Given visitors have day null, which `$lt` on a number never matches.)
      await this.c.visitors.deleteMany({ site_id: siteId, day: { $lt: beforeDay } });
    }
    return deleted;
  }

  async moveVisitsBefore(before: number): Promise<number> {
    let moved = 0;
    const session = this.client.startSession();
    try {
      for (const site of await this.c.sites.find({}, { projection: { _id: 1, timezone: 1 } }).toArray()) {
        for (;;) {
          // One transaction per chunk: a visit is in `visits` or in `visit_members`, never both or neither.
          const n = await session.withTransaction(async (s) => {
            const docs = await this.c.visits
              .find({ site_id: site._id, last_ms: { $lt: before } }, { session: s, sort: { last_ms: 1 }, limit: MOVE_CHUNK, projection: { _id: 1, visitor: 1, start_ms: 1, vals: 1, entry: 1, exit: 1 } })
              .toArray();
            if (docs.length === 0) return 0;
            await this.c.visitMembers.insertMany(
              docs.map((d) => {
                const at = bucketNumbers(Number(d.start_ms), site.timezone);
                return { site_id: site._id, start_day: at.day, start_hour: at.hour, visitor: d.visitor, vals: d.vals, entry: d.entry, exit: d.exit };
              }),
              { session: s, ordered: true },
            );
            await this.c.visits.deleteMany({ _id: { $in: docs.map((d) => d._id) } }, { session: s });
            return docs.length;
          }, TRANSACTION);
          moved += n;
          if (n < MOVE_CHUNK) break;
        }
      }
    } finally {
      await session.endSession();
    }
    return moved;
  }

  async createPlaceholders(rows: { site_id: string; day: string }[], _now: number): Promise<number> {
    if (rows.length === 0) return 0;
    const zero: Omit<RollupDoc, 'site_id' | 'grain' | 'dim' | 'scope' | 'bucket' | 'value_hash'> = {
      value: NONE,
      pageviews: 0,
      events: 0,
      visitors: 0,
      visits: 0,
      bounces: 0,
      duration_ms: 0,
      revision: 0,
    };
    // $setOnInsert only: an existing totals document is matched and left as it is.
    const res = await this.c.rollups.bulkWrite(
      rows.map((r) => ({
        updateOne: {
          filter: { site_id: r.site_id, grain: DAY, dim: TOTAL.id, scope: NONE, bucket: dayNumber(r.day), value_hash: NONE },
          update: { $setOnInsert: zero },
          upsert: true,
        },
      })),
      { ordered: false },
    );
    return res.upsertedCount;
  }

  async countEvents(siteId: string): Promise<number> {
    return this.c.events.countDocuments({ site_id: siteId });
  }

  async recordHeartbeat(hb: WorkerHeartbeat, pruneBefore: number): Promise<void> {
    // A handful of documents, found by _id or by a scan of the few there are: no index needed.
    await this.c.workerHeartbeats.updateOne(
      { _id: hb.worker_id },
      { $set: { seen_at: hb.seen_at }, $setOnInsert: { host: hb.host, pid: hb.pid, started_at: hb.started_at } },
      { upsert: true },
    );
    await this.c.workerHeartbeats.deleteMany({ seen_at: { $lt: pruneBefore } });
  }

  async listHeartbeats(since: number): Promise<WorkerHeartbeat[]> {
    const docs = await this.c.workerHeartbeats.find({ seen_at: { $gte: since } }).sort({ seen_at: -1 }).toArray();
    return docs.map((d) => ({ worker_id: d._id, host: d.host, pid: d.pid, started_at: d.started_at, seen_at: d.seen_at }));
  }

  async deleteHeartbeat(workerId: string): Promise<void> {
    await this.c.workerHeartbeats.deleteOne({ _id: workerId });
  }

  async ping(): Promise<void> {
    await this.db.command({ ping: 1 });
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.client.close();
  }
}

/** The port's Site, exactly: no `_id`, created_at in epoch ms. */
function toSite(doc: SiteDoc): Site {
  return {
    site_id: doc.site_id,
    name: doc.name,
    timezone: doc.timezone,
    api_key_hash: doc.api_key_hash,
    read_key_hash: doc.read_key_hash,
    created_at: doc.created_at.getTime(),
    ...(doc.share_token_hash ? { share_token_hash: doc.share_token_hash } : {}),
  };
}
