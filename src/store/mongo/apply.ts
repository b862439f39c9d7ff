// applyEvents inside one MongoDB transaction: raw events, visitors, totals and path views commit
// together or not at all. The caller runs this in `session.withTransaction`, which retries it whole.
import type { AnyBulkWriteOperation, ClientSession, Collection, Document } from 'mongodb';
import type { BucketedEvent } from '../port.js';
import { pathHash, type Collections, type EventDoc } from './schema.js';

/** Ids per `find` on raw events: keeps each command far below the 16 MB document limit. */
const ID_CHUNK = 10_000;

type Bucket = string | number;

/** Daily and hourly rollups differ only in their bucket field and collections. */
interface Grain {
  field: 'date' | 'hour';
  bucket: (e: BucketedEvent) => Bucket;
  visitors: Collection<Document>;
  stats: Collection<Document>;
  paths: Collection<Document>;
}

// Only ever joined for Map keys in memory, never used as a field name.
const key = (...parts: Bucket[]) => parts.join('\u0000');

function grains(c: Collections): Grain[] {
  const doc = <T extends Document>(coll: Collection<T>) => coll as unknown as Collection<Document>;
  return [
    { field: 'date', bucket: (e) => e.day, visitors: doc(c.dailyVisitors), stats: doc(c.dailyStats), paths: doc(c.dailyPaths) },
    { field: 'hour', bucket: (e) => e.hour, visitors: doc(c.hourlyVisitors), stats: doc(c.hourlyStats), paths: doc(c.hourlyPaths) },
  ];
}

/** Applies the events not stored yet (ids must be distinct); returns how many that was. */
export async function applyInTransaction(c: Collections, session: ClientSession, events: BucketedEvent[], now: number): Promise<number> {
  const stored = await storedEventIds(c, session, events.map((e) => e.id));
  const news = events.filter((e) => !stored.has(e.id));
  if (news.length === 0) return 0;
  const at = new Date(now);

  await c.events.insertMany(news.map((e) => eventDoc(e, at)), { session, ordered: true });
  const gs = grains(c);
  const newUniques: Map<string, number>[] = [];
  for (const g of gs) newUniques.push(await upsertVisitors(g, session, news, at));
  for (const [i, g] of gs.entries()) await addTotals(g, session, news, newUniques[i]!, at);
  const views = news.filter((e) => e.is_pageview);
  for (const g of gs) await addPathViews(g, session, views);
  return news.length;
}

async function storedEventIds(c: Collections, session: ClientSession, ids: string[]): Promise<Set<string>> {
  const stored = new Set<string>();
  for (let i = 0; i < ids.length; i += ID_CHUNK) {
    const part = ids.slice(i, i + ID_CHUNK);
    const docs = await c.events.find({ _id: { $in: part } }, { session, projection: { _id: 1 }, batchSize: part.length }).toArray();
    for (const d of docs) stored.add(d._id);
  }
  return stored;
}

function eventDoc(e: BucketedEvent, processedAt: Date): EventDoc {
  return {
    _id: e.id,
    site_id: e.site_id,
    event_type: e.event_type,
    path: e.path,
    user_id: e.user_id,
    timestamp: new Date(e.ts),
    received_at: new Date(e.received_at),
    processed_at: processedAt,
  };
}

async function bulk(coll: Collection<Document>, session: ClientSession, ops: AnyBulkWriteOperation<Document>[]) {
  // The driver refuses an empty bulk; a batch without page views has no path ops.
  return ops.length === 0 ? undefined : coll.bulkWrite(ops, { session, ordered: true });
}

/**
 * Upserts one document per (site, bucket, visitor). The upserts that inserted are the visitors
 * seen for the first time in that bucket; returns their count per (site, bucket).
 */
async function upsertVisitors(g: Grain, session: ClientSession, news: BucketedEvent[], at: Date): Promise<Map<string, number>> {
  const triples = new Map<string, { site_id: string; bucket: Bucket; user_id: string }>();
  for (const e of news) {
    const bucket = g.bucket(e);
    triples.set(key(e.site_id, bucket, e.user_id), { site_id: e.site_id, bucket, user_id: e.user_id });
  }
  const list = [...triples.values()];
  const res = await bulk(
    g.visitors,
    session,
    list.map((t) => ({
      updateOne: {
        filter: { site_id: t.site_id, [g.field]: t.bucket, user_id: t.user_id },
        update: { $setOnInsert: { created_at: at } },
        upsert: true,
      },
    })),
  );
  const fresh = new Map<string, number>();
  for (const index of Object.keys(res?.upsertedIds ?? {})) {
    const t = list[Number(index)]!;
    const k = key(t.site_id, t.bucket);
    fresh.set(k, (fresh.get(k) ?? 0) + 1);
  }
  return fresh;
}

/** Adds page views and new unique visitors to each touched (site, bucket) counter. */
async function addTotals(g: Grain, session: ClientSession, news: BucketedEvent[], newUniques: Map<string, number>, at: Date): Promise<void> {
  const totals = new Map<string, { site_id: string; bucket: Bucket; views: number }>();
  for (const e of news) {
    const bucket = g.bucket(e);
    const k = key(e.site_id, bucket);
    const t = totals.get(k) ?? { site_id: e.site_id, bucket, views: 0 };
    if (e.is_pageview) t.views++;
    totals.set(k, t);
  }
  await bulk(
    g.stats,
    session,
    [...totals].map(([k, t]) => ({
      updateOne: {
        filter: { site_id: t.site_id, [g.field]: t.bucket },
        update: {
          $inc: { total_views: t.views, unique_users: newUniques.get(k) ?? 0 },
          $set: { updated_at: at },
          $setOnInsert: { created_at: at },
        },
        upsert: true,
      },
    })),
  );
}

/** Adds page views per (site, bucket, path); the path is matched by its hash and stored as a value. */
async function addPathViews(g: Grain, session: ClientSession, views: BucketedEvent[]): Promise<void> {
  const counts = new Map<string, { site_id: string; bucket: Bucket; path: string; views: number }>();
  for (const e of views) {
    const bucket = g.bucket(e);
    const k = key(e.site_id, bucket, e.path);
    const c = counts.get(k) ?? { site_id: e.site_id, bucket, path: e.path, views: 0 };
    c.views++;
    counts.set(k, c);
  }
  await bulk(
    g.paths,
    session,
    [...counts.values()].map((c) => ({
      updateOne: {
        filter: { site_id: c.site_id, [g.field]: c.bucket, path_hash: pathHash(c.path) },
        update: { $inc: { views: c.views }, $setOnInsert: { path: c.path } },
        upsert: true,
      },
    })),
  );
}
