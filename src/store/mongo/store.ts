// The AnalyticsStore over MongoDB (official driver). Same semantics as the SQL store: raw events
// keyed by event id, and rollups whose keys hold paths and visitors as values, never as field names.
import { MongoClient, type Db, type Document, type TransactionOptions } from 'mongodb';
import type { Site } from '../../core/site.js';
import {
  SiteExistsError,
  type AnalyticsStore,
  type ApplyResult,
  type BucketRange,
  type BucketedEvent,
  type DayTotals,
  type HourTotals,
  type PathViews,
  type RejectedEvent,
  UnstorableDataError,
} from '../port.js';
import { toRejectedRow } from '../rejected.js';
import { randomUUID } from 'node:crypto';
import { applyInTransaction } from './apply.js';
import { assertTransactionsSupported, dbNameFromUri } from './connection.js';
import { collections, createIndexes, type Collections, type SiteDoc } from './schema.js';

export interface MongoStoreOptions {
  /** Overrides the database named in the URI (tests use one database per run). */
  dbName?: string;
  /** A client of the caller's: used instead of opening one, and left open by close(). */
  client?: MongoClient;
  /** Transaction attempts per applyEvents (write conflicts between workers retry). Default 30. */
  maxTransactionAttempts?: number;
}

// Snapshot reads make the "already stored?" check and the writes one consistent view; majority
// commit means an applied batch survives a failover, so the queue may forget the job.
const TRANSACTION: TransactionOptions = {
  readConcern: { level: 'snapshot' },
  writeConcern: { w: 'majority' },
  readPreference: 'primary',
};

const isDuplicateKey = (err: unknown) => (err as { code?: unknown } | null)?.code === 11000;

export async function openMongoStore(uri: string, options: MongoStoreOptions = {}): Promise<AnalyticsStore> {
  const owned = !options.client;
  const client = options.client ?? new MongoClient(uri, { appName: 'website-analytics' });
  try {
    await client.connect();
    const db = client.db(options.dbName ?? dbNameFromUri(uri));
    await assertTransactionsSupported(db);
    return new MongoStore(client, db, owned, options.maxTransactionAttempts ?? 30);
  } catch (err) {
    if (owned) await client.close().catch(() => {});
    throw err;
  }
}

export class MongoStore implements AnalyticsStore {
  readonly kind = 'mongodb' as const;
  private readonly c: Collections;

  constructor(
    private readonly client: MongoClient,
    private readonly db: Db,
    private readonly ownsClient: boolean,
    private readonly maxAttempts: number,
  ) {
    this.c = collections(db);
  }

  async migrate(): Promise<void> {
    await createIndexes(this.c);
    // The first migration names the store; $setOnInsert keeps the name on every later one.
    await this.c.meta.updateOne({ _id: 'store_id' }, { $setOnInsert: { value: randomUUID() } }, { upsert: true });
  }

  async storeId(): Promise<string> {
    const doc = await this.c.meta.findOne({ _id: 'store_id' });
    if (!doc) throw new Error('the store has no id: run its migration first');
    return doc.value;
  }

  async createSite(site: Site): Promise<void> {
    try {
      await this.c.sites.insertOne({
        _id: site.site_id,
        site_id: site.site_id,
        name: site.name,
        timezone: site.timezone,
        api_key_hash: site.api_key_hash,
        read_key_hash: site.read_key_hash,
        created_at: new Date(site.created_at),
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

  async applyEvents(events: BucketedEvent[], now: number): Promise<ApplyResult> {
    if (events.length === 0) return { applied: 0, duplicates: 0 };
    const unique = [...new Map(events.map((e) => [e.id, e])).values()];
    let attempts = 0;
    const session = this.client.startSession();
    try {
      for (;;) {
        try {
          // withTransaction retries the callback on TransientTransactionError (write conflicts with
          // another worker) with backoff; the attempt count keeps that bounded.
          const applied = await session.withTransaction(async (s) => {
            if (++attempts > this.maxAttempts) {
              throw new Error(`applyEvents: transaction not committed after ${this.maxAttempts} attempts (write conflicts)`);
            }
            return applyInTransaction(this.c, s, unique, now);
          }, TRANSACTION);
          return { applied, duplicates: events.length - applied };
        } catch (err) {
          // A concurrent transaction committed one of these event ids after our snapshot: retry,
          // and the next attempt sees it as already stored.
          if (isDuplicateKey(err) && attempts < this.maxAttempts) continue;
          throw err;
        }
      }
    } finally {
      await session.endSession();
    }
  }

  isDataError(err: unknown): boolean {
    if (err instanceof UnstorableDataError) return true;
    const e = err as { name?: unknown; code?: unknown } | null;
    // BSON cannot encode the document; the server refused a value (BadValue, too large, key too long).
    if (e?.name === 'BSONError' || e?.name === 'BSONVersionError') return true;
    return typeof e?.code === 'number' && [2, 10334, 17280, 17419].includes(e.code);
  }

  async dailyTotals(siteId: string, from: string, to: string): Promise<DayTotals[]> {
    const docs = await this.c.dailyStats
      .find({ site_id: siteId, date: { $gte: from, $lte: to } }, { projection: { _id: 0, date: 1, total_views: 1, unique_users: 1 } })
      .sort({ date: 1 })
      .toArray();
    return docs.map((d) => ({ day: d.date, views: Number(d.total_views), uniques: Number(d.unique_users) }));
  }

  async hourlyTotals(siteId: string, from: number, to: number): Promise<HourTotals[]> {
    const docs = await this.c.hourlyStats
      .find({ site_id: siteId, hour: { $gte: from, $lt: to } }, { projection: { _id: 0, hour: 1, total_views: 1, unique_users: 1 } })
      .sort({ hour: 1 })
      .toArray();
    return docs.map((d) => ({ hour: Number(d.hour), views: Number(d.total_views), uniques: Number(d.unique_users) }));
  }

  async uniqueVisitors(siteId: string, range: BucketRange): Promise<number> {
    // Distinct visitors over the range: one group per user id, then their count. Exact at any size.
    const pipeline = [{ $match: rangeMatch(siteId, range) }, { $group: { _id: '$user_id' } }, { $count: 'n' }];
    const coll = 'days' in range ? this.c.dailyVisitors : this.c.hourlyVisitors;
    const [row] = await coll.aggregate<{ n: number }>(pipeline).toArray();
    return Number(row?.n ?? 0);
  }

  async topPaths(siteId: string, range: BucketRange, limit: number): Promise<PathViews[]> {
    if (limit <= 0) return [];
    const pipeline = [
      { $match: rangeMatch(siteId, range) },
      { $group: { _id: '$path_hash', path: { $first: '$path' }, views: { $sum: '$views' } } },
      { $sort: { views: -1, path: 1 } },
      { $limit: limit },
      { $project: { _id: 0, path: 1, views: 1 } },
    ];
    const coll = 'days' in range ? this.c.dailyPaths : this.c.hourlyPaths;
    const rows = await coll.aggregate<PathViews>(pipeline).toArray();
    return rows.map((r) => ({ path: r.path, views: Number(r.views) }));
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

  async deleteEventsBefore(before: number): Promise<number> {
    // Per site, so each delete walks the spec's { site_id, timestamp } index. A deleteMany yields
    // as it goes on the server, so no slicing is needed to keep other writers moving.
    let deleted = 0;
    for (const { _id } of await this.c.sites.find({}, { projection: { _id: 1 } }).toArray()) {
      const res = await this.c.events.deleteMany({ site_id: _id, timestamp: { $lt: new Date(before) } });
      deleted += res.deletedCount;
    }
    return deleted;
  }

  async createPlaceholders(rows: { site_id: string; day: string }[], now: number): Promise<number> {
    if (rows.length === 0) return 0;
    const at = new Date(now);
    // $setOnInsert only: an existing rollup is matched and left as it is.
    const res = await this.c.dailyStats.bulkWrite(
      rows.map((r) => ({
        updateOne: {
          filter: { site_id: r.site_id, date: r.day },
          update: { $setOnInsert: { total_views: 0, unique_users: 0, created_at: at, updated_at: at } },
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

  async ping(): Promise<void> {
    await this.db.command({ ping: 1 });
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.client.close();
  }
}

function rangeMatch(siteId: string, range: BucketRange): Document {
  return 'days' in range
    ? { site_id: siteId, date: { $gte: range.days.from, $lte: range.days.to } }
    : { site_id: siteId, hour: { $gte: range.hours.from, $lt: range.hours.to } };
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
  };
}
