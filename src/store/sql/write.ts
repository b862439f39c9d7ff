// The write path of the SQL stores: a batch of events becomes, in one transaction, one bulk write
// per table (see bulk.ts), with increments merged per row first. Work is done per site (a batch
// usually holds one), with numeric keys, because this loop runs for every event.
import { sql, type Kysely, type Transaction } from 'kysely';
import { pathHash } from '../path-hash.js';
import { UnstorableDataError, type ApplyResult, type BucketedEvent } from '../port.js';
import type { Bulk, ColumnType, Table, Value } from './bulk.js';
import type { Database, Dialect } from './schema.js';

type Trx = Transaction<Database>;

/**
 * Bounded, insert-only memory of committed facts that never change, per site (keys without the
 * site in them: no string building on the per-event path).
 */
class CommittedCache<K, V> {
  private sites = new Map<string, Map<K, V>>();
  private size = 0;
  constructor(private limit: number) {}
  of(siteId: string): ReadonlyMap<K, V> {
    return this.sites.get(siteId) ?? (EMPTY as ReadonlyMap<K, V>);
  }
  addAll(siteId: string, entries: [K, V][]): void {
    if (entries.length === 0) return;
    if (this.size + entries.length > this.limit) {
      this.sites.clear();
      this.size = 0;
    }
    let map = this.sites.get(siteId);
    if (!map) this.sites.set(siteId, (map = new Map()));
    for (const [k, v] of entries) {
      if (!map.has(k)) this.size++;
      map.set(k, v);
    }
  }
}
const EMPTY: ReadonlyMap<never, never> = new Map<never, never>();

const DAY = 86_400_000;
const TWO_32 = 4_294_967_296;
/** (bucket index, id) as one number: bucket indexes stay below 2^20, ids below 2^32. */
const pair = (bucketIndex: number, id: number) => bucketIndex * TWO_32 + id;

/** Daily and hourly rollups differ only in their bucket column, tables and bucket index. */
interface Grain {
  of: (e: BucketedEvent) => Value;
  /** A small integer per bucket of these events, for numeric keys. */
  indexer: (events: BucketedEvent[]) => (e: BucketedEvent) => number;
  visitors: Table;
  stats: Table;
  paths: Table;
  /** Remember (bucket, visitor) rows already stored: a day sees each visitor again and again. */
  remember: boolean;
}

function grain(bucket: 'day' | 'hour_ms', prefix: 'daily' | 'hourly', type: ColumnType, of: Grain['of'], indexer: Grain['indexer'], remember: boolean): Grain {
  return {
    of,
    indexer,
    remember,
    visitors: { name: `${prefix}_visitors`, columns: ['site_id', bucket, 'visitor_id'], types: ['text', type, 'bigint'], key: ['site_id', bucket, 'visitor_id'] },
    stats: {
      name: `${prefix}_stats`,
      columns: ['site_id', bucket, 'total_views', 'unique_users', 'created_at_ms', 'updated_at_ms'],
      types: ['text', type, 'bigint', 'bigint', 'bigint', 'bigint'],
      key: ['site_id', bucket],
    },
    paths: { name: `${prefix}_paths`, columns: ['site_id', bucket, 'path_id', 'views'], types: ['text', type, 'bigint', 'bigint'], key: ['site_id', bucket, 'path_id'] },
  };
}

const QUARTER_HOUR = 900_000; // local hours start on quarter hours of UTC in every timezone

const GRAINS: Grain[] = [
  // Days since 1970: stable across batches, so (day, visitor) keys can be remembered.
  grain('day', 'daily', 'text', (e) => e.day, () => (e) => Date.parse(e.day) / DAY, true),
  // Quarter hours since the batch's first hour: small, and unique per local hour.
  grain('hour_ms', 'hourly', 'bigint', (e) => e.hour, (events) => {
    const base = events.reduce((m, e) => Math.min(m, e.hour), Infinity);
    return (e) => (e.hour - base) / QUARTER_HOUR;
  }, false),
];

const VISITORS: Table = { name: 'visitors', columns: ['site_id', 'visitor_key'], types: ['text', 'text'], key: ['site_id', 'visitor_key'] };
const PATHS: Table = { name: 'paths', columns: ['site_id', 'path_hash', 'path'], types: ['text', 'text', 'text'], key: ['site_id', 'path_hash'] };

/** What a transaction learned, per site; remembered only once it has committed. */
interface Learned {
  visitorIds: Map<string, [string, number][]>;
  pathIds: Map<string, [string, number][]>;
  visitorDays: Map<string, [number, true][]>;
}

function learn<K, V>(into: Map<string, [K, V][]>, siteId: string): [K, V][] {
  let list = into.get(siteId);
  if (!list) into.set(siteId, (list = []));
  return list;
}

export class SqlWriter {
  private visitorIds = new CommittedCache<string, number>(500_000);
  private pathIds = new CommittedCache<string, number>(200_000);
  private visitorDays = new CommittedCache<number, true>(2_000_000);
  private events: Table;

  constructor(
    private db: Kysely<Database>,
    private dialect: Dialect,
    private bulk: Bulk,
    private isRetryable: (err: unknown) => boolean,
  ) {
    this.events = {
      name: 'events',
      columns: ['event_id', 'site_id', 'event_type', 'path', 'user_id', 'timestamp_ms', 'received_at_ms', 'processed_at_ms'],
      // PostgreSQL keeps the UUIDv7 ids natively (16 bytes).
      types: [dialect === 'postgres' ? 'uuid' : 'text', 'text', 'text', 'text', 'text', 'bigint', 'bigint', 'bigint'],
      key: ['event_id'],
    };
  }

  async apply(events: BucketedEvent[], now: number): Promise<ApplyResult> {
    const unique = [...new Map(events.map((e) => [e.id, e])).values()];
    for (let attempt = 1; ; attempt++) {
      const learned: Learned = { visitorIds: new Map(), pathIds: new Map(), visitorDays: new Map() };
      try {
        const applied = await this.db.transaction().execute((trx) => this.applyIn(trx, unique, now, learned));
        for (const [site, entries] of learned.visitorIds) this.visitorIds.addAll(site, entries);
        for (const [site, entries] of learned.pathIds) this.pathIds.addAll(site, entries);
        for (const [site, entries] of learned.visitorDays) this.visitorDays.addAll(site, entries);
        return { applied, duplicates: events.length - applied };
      } catch (err) {
        // Deadlocks and busy files roll the whole transaction back: trying again is safe.
        if (attempt >= 5 || !this.isRetryable(err)) throw err;
        await new Promise((r) => setTimeout(r, 10 * attempt + Math.random() * 20));
      }
    }
  }

  /**
   * PostgreSQL locks rows in the order a statement writes them: writing every statement's rows in
   * one total order keeps concurrent workers from deadlocking. SQLite has a single writer.
   */
  private ordered<T extends Value[]>(rows: T[]): T[] {
    return this.dialect === 'postgres' ? rows.sort(compareRows) : rows;
  }

  /** Numeric (bucket, id) keys, in ascending order for PostgreSQL (the lock order), as they come for SQLite. */
  private keysInOrder(rows: Map<number, unknown>): number[] {
    if (this.dialect !== 'postgres') return [...rows.keys()];
    return Array.from(Float64Array.from(rows.keys()).sort());
  }

  private async applyIn(trx: Trx, events: BucketedEvent[], now: number, learned: Learned): Promise<number> {
    const rows = this.ordered(events.map((e) => [e.id, e.site_id, e.event_type, e.path, e.user_id, e.ts, e.received_at, now]));
    const inserted = await this.bulk.insertNew(trx, this.events, rows);
    let news = events;
    if (inserted.some((ok) => !ok)) {
      const fresh = new Set(rows.filter((_, i) => inserted[i]).map((r) => r[0] as string));
      news = events.filter((e) => fresh.has(e.id));
    }
    const bySite = new Map<string, BucketedEvent[]>();
    for (const e of news) {
      const list = bySite.get(e.site_id);
      if (list) list.push(e);
      else bySite.set(e.site_id, [e]);
    }
    for (const [siteId, siteEvents] of [...bySite].sort(([a], [b]) => (a < b ? -1 : 1))) {
      await this.applySite(trx, siteId, siteEvents, now, learned);
    }
    return news.length;
  }

  private async applySite(trx: Trx, siteId: string, news: BucketedEvent[], now: number, learned: Learned): Promise<void> {
    const views = news.filter((e) => e.is_pageview);
    const vid = await this.resolveIds(trx, siteId, VISITORS, 'visitor_id', unique(news.map((e) => e.user_id)), this.visitorIds.of(siteId), learn(learned.visitorIds, siteId), (v) => [siteId, v], (v) => v);
    const pid = await this.resolveIds(trx, siteId, PATHS, 'path_id', unique(views.map((e) => e.path)), this.pathIds.of(siteId), learn(learned.pathIds, siteId), (v) => [siteId, pathHash(v), v], pathHash);
    const visitorOf = news.map((e) => vid.get(e.user_id)!);
    const pathOf = views.map((e) => pid.get(e.path)!);
    // Rows every batch touches (a popular path, the day's totals) are locked until commit: write
    // them last, so concurrent transactions overlap for everything else.
    const indexes = GRAINS.map((g) => g.indexer(news));
    const newUniques = [];
    for (const [i, g] of GRAINS.entries()) newUniques.push(await this.insertVisitorBuckets(trx, siteId, g, indexes[i]!, news, visitorOf, learned));
    for (const [i, g] of GRAINS.entries()) await this.addPathViews(trx, siteId, g, indexes[i]!, views, pathOf);
    for (const [i, g] of GRAINS.entries()) await this.addTotals(trx, siteId, g, indexes[i]!, news, newUniques[i]!, now);
  }

  /** Dictionary ids of a site's values; values seen for the first time are inserted. */
  private async resolveIds(
    trx: Trx,
    siteId: string,
    table: Table,
    idColumn: string,
    values: string[],
    cache: ReadonlyMap<string, number>,
    learned: [string, number][],
    row: (value: string) => Value[],
    match: (value: string) => string,
  ): Promise<Map<string, number>> {
    const ids = new Map<string, number>();
    const missing: string[] = [];
    for (const v of values) {
      const cached = cache.get(v);
      if (cached !== undefined) ids.set(v, cached);
      else missing.push(v);
    }
    if (missing.length === 0) return ids;
    if (this.dialect === 'postgres') missing.sort();
    const found = (v: string, id: number) => {
      ids.set(v, id);
      learned.push([v, id]);
    };
    const inserted = await this.bulk.insertNewIds(trx, table, idColumn, missing.map(row));
    const taken: string[] = [];
    missing.forEach((v, i) => (inserted[i] === undefined ? taken.push(v) : found(v, inserted[i]!)));
    if (taken.length > 0) {
      // Inserted by another transaction first: read their ids.
      const byMatch = new Map(taken.map((v) => [match(v), v]));
      const matchCol = table.key[1]!;
      for (let i = 0; i < taken.length; i += 10_000) {
        const part = taken.slice(i, i + 10_000).map(match);
        const res = await sql<{ m: string; id: number }>`select ${sql.ref(matchCol)} as m, ${sql.ref(idColumn)} as id from ${sql.table(table.name)}
          where site_id = ${siteId} and ${sql.ref(matchCol)} in (${sql.join(part)})`.execute(trx);
        for (const r of res.rows) found(byMatch.get(r.m)!, Number(r.id));
      }
      const unresolved = taken.filter((v) => !ids.has(v)).length;
      // A value that does not read back as written (text the database changed on the way in).
      if (unresolved > 0) throw new UnstorableDataError(`could not resolve ${unresolved} ${table.name} ids: a value did not read back as it was written`);
    }
    return ids;
  }

  /** One row per (site, bucket, visitor); returns how many were new per bucket index. */
  private async insertVisitorBuckets(
    trx: Trx,
    siteId: string,
    g: Grain,
    index: (e: BucketedEvent) => number,
    news: BucketedEvent[],
    visitorOf: number[],
    learned: Learned,
  ): Promise<Map<number, number>> {
    const rows = new Map<number, [string, Value, number]>();
    const known: ReadonlyMap<number, true> = g.remember ? this.visitorDays.of(siteId) : (EMPTY as ReadonlyMap<number, true>);
    for (let i = 0; i < news.length; i++) {
      const e = news[i]!;
      const k = pair(index(e), visitorOf[i]!);
      if (rows.has(k) || known.has(k)) continue;
      rows.set(k, [siteId, g.of(e), visitorOf[i]!]);
    }
    const fresh = new Map<number, number>();
    const keys = this.keysInOrder(rows);
    const list = keys.map((k) => rows.get(k)!);
    const inserted = await this.bulk.insertNew(trx, g.visitors, list);
    for (let i = 0; i < keys.length; i++) {
      if (!inserted[i]) continue;
      const b = Math.floor(keys[i]! / TWO_32);
      fresh.set(b, (fresh.get(b) ?? 0) + 1);
    }
    if (g.remember) {
      const list = learn(learned.visitorDays, siteId);
      for (const k of keys) list.push([k, true]);
    }
    return fresh;
  }

  private async addTotals(
    trx: Trx,
    siteId: string,
    g: Grain,
    index: (e: BucketedEvent) => number,
    news: BucketedEvent[],
    newUniques: Map<number, number>,
    now: number,
  ): Promise<void> {
    const totals = new Map<number, [string, Value, number, number, number, number]>();
    for (const e of news) {
      const b = index(e);
      let t = totals.get(b);
      if (!t) totals.set(b, (t = [siteId, g.of(e), 0, newUniques.get(b) ?? 0, now, now]));
      if (e.is_pageview) t[2]++;
    }
    await this.bulk.upsertAdd(trx, g.stats, this.ordered([...totals.values()]), ['total_views', 'unique_users'], ['updated_at_ms']);
  }

  private async addPathViews(
    trx: Trx,
    siteId: string,
    g: Grain,
    index: (e: BucketedEvent) => number,
    views: BucketedEvent[],
    pathOf: number[],
  ): Promise<void> {
    if (views.length === 0) return;
    const counts = new Map<number, [string, Value, number, number]>();
    for (let i = 0; i < views.length; i++) {
      const e = views[i]!;
      const k = pair(index(e), pathOf[i]!);
      let c = counts.get(k);
      if (!c) counts.set(k, (c = [siteId, g.of(e), pathOf[i]!, 0]));
      c[3]++;
    }
    await this.bulk.upsertAdd(trx, g.paths, this.keysInOrder(counts).map((k) => counts.get(k)!), ['views']);
  }
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

/** A total order on rows, so concurrent transactions lock rows in the same order (no deadlocks). */
function compareRows(a: Value[], b: Value[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}
