// The write path of the SQL stores: a batch of events becomes, in one transaction, one statement
// per table. Rows travel as one parameter (PostgreSQL unnest arrays, SQLite a JSON array), so a
// statement costs the same to build for 10 rows as for 10,000, and increments are merged per row.
import { createHash } from 'node:crypto';
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { ApplyResult, BucketedEvent } from '../port.js';
import type { Database, Dialect } from './schema.js';

type Trx = Transaction<Database>;
type ColumnType = 'text' | 'bigint' | 'uuid';
type Value = string | number;

export const pathHash = (path: string) => createHash('sha256').update(path).digest('hex');

const refs = (names: string[]) => sql.join(names.map((n) => sql.ref(n)));

/** `SELECT` of the given rows, as one bound parameter; `names` labels the columns. */
function rowSource(dialect: Dialect, types: ColumnType[], rows: Value[][], names?: string[]): RawBuilder<unknown> {
  if (dialect === 'postgres') {
    const columns = types.map((t, j) => sql`${rows.map((r) => r[j])}::${sql.raw(t)}[]`);
    return names
      ? sql`select * from unnest(${sql.join(columns)}) as u(${refs(names)})`
      : sql`select * from unnest(${sql.join(columns)})`;
  }
  const select = types.map((_, j) => sql`value ->> ${sql.raw(String(j))}${names ? sql` as ${sql.ref(names[j]!)}` : sql``}`);
  // `WHERE true` keeps SQLite from reading the ON CONFLICT that follows as a join constraint.
  return sql`select ${sql.join(select)} from json_each(${JSON.stringify(rows)}) where true`;
}

/** Bounded, insert-only memory of facts that are committed and never change. */
class CommittedCache<V> {
  private map = new Map<string, V>();
  constructor(private limit: number) {}
  get(key: string): V | undefined {
    return this.map.get(key);
  }
  has(key: string): boolean {
    return this.map.has(key);
  }
  addAll(entries: Iterable<[string, V]>): void {
    for (const [k, v] of entries) {
      if (this.map.size >= this.limit) this.map.clear();
      this.map.set(k, v);
    }
  }
}

const key = (...parts: Value[]) => parts.join('\u0000');

/** Daily and hourly rollups differ only in their bucket column and tables. */
interface Grain {
  bucket: 'day' | 'hour_ms';
  type: ColumnType;
  of: (e: BucketedEvent) => Value;
  visitors: 'daily_visitors' | 'hourly_visitors';
  stats: 'daily_stats' | 'hourly_stats';
  paths: 'daily_paths' | 'hourly_paths';
}
const GRAINS: Grain[] = [
  { bucket: 'day', type: 'text', of: (e) => e.day, visitors: 'daily_visitors', stats: 'daily_stats', paths: 'daily_paths' },
  { bucket: 'hour_ms', type: 'bigint', of: (e) => e.hour, visitors: 'hourly_visitors', stats: 'hourly_stats', paths: 'hourly_paths' },
];

/** What a transaction learned; remembered only once it has committed. */
interface Learned {
  visitorIds: Map<string, number>;
  pathIds: Map<string, number>;
  visitorBuckets: Map<string, true>;
}

export class SqlWriter {
  private visitorIds = new CommittedCache<number>(500_000);
  private pathIds = new CommittedCache<number>(200_000);
  /** (site, bucket, visitor) rows known to exist: skips re-inserting returning visitors. */
  private visitorBuckets = new CommittedCache<true>(2_000_000);

  constructor(
    private db: Kysely<Database>,
    private dialect: Dialect,
    private isRetryable: (err: unknown) => boolean,
  ) {}

  async apply(events: BucketedEvent[], now: number): Promise<ApplyResult> {
    const unique = [...new Map(events.map((e) => [e.id, e])).values()];
    for (let attempt = 1; ; attempt++) {
      const learned: Learned = { visitorIds: new Map(), pathIds: new Map(), visitorBuckets: new Map() };
      try {
        const applied = await this.db.transaction().execute((trx) => this.applyIn(trx, unique, now, learned));
        this.visitorIds.addAll(learned.visitorIds);
        this.pathIds.addAll(learned.pathIds);
        this.visitorBuckets.addAll(learned.visitorBuckets);
        return { applied, duplicates: events.length - applied };
      } catch (err) {
        // Deadlocks and busy files roll the whole transaction back: trying again is safe.
        if (attempt >= 5 || !this.isRetryable(err)) throw err;
        await new Promise((r) => setTimeout(r, 10 * attempt + Math.random() * 20));
      }
    }
  }

  private async applyIn(trx: Trx, events: BucketedEvent[], now: number, learned: Learned): Promise<number> {
    const fresh = await this.insertRawEvents(trx, events, now);
    const news = fresh.size === events.length ? events : events.filter((e) => fresh.has(e.id));
    if (news.length === 0) return 0;
    const views = news.filter((e) => e.is_pageview);

    const vid = await this.resolveVisitors(trx, news, learned);
    const pid = await this.resolvePaths(trx, views, learned);
    for (const g of GRAINS) {
      const newUniques = await this.insertVisitorBuckets(trx, g, news, vid, learned);
      await this.addTotals(trx, g, news, newUniques, now);
      await this.addPathViews(trx, g, views, pid);
    }
    return news.length;
  }

  /** Inserts the raw events not stored yet; returns the ids inserted now. */
  private async insertRawEvents(trx: Trx, events: BucketedEvent[], now: number): Promise<Set<string>> {
    // Sorted by id: transactions that share events (a replay racing the original) lock them in one order.
    const rows = events.map((e) => [e.id, e.site_id, e.event_type, e.path, e.user_id, e.ts, e.received_at, now]).sort(compareRows);
    const cols = ['event_id', 'site_id', 'event_type', 'path', 'user_id', 'timestamp_ms', 'received_at_ms', 'processed_at_ms'];
    const id: ColumnType = this.dialect === 'postgres' ? 'uuid' : 'text';
    const types: ColumnType[] = [id, 'text', 'text', 'text', 'text', 'bigint', 'bigint', 'bigint'];
    const res = await sql<{ event_id: string }>`insert into events (${refs(cols)}) ${rowSource(this.dialect, types, rows)}
      on conflict (event_id) do nothing returning event_id`.execute(trx);
    return new Set(res.rows.map((r) => r.event_id));
  }

  private async resolveVisitors(trx: Trx, news: BucketedEvent[], learned: Learned) {
    return this.resolveIds(trx, news.map((e) => [e.site_id, e.user_id]), this.visitorIds, learned.visitorIds, {
      table: 'visitors',
      id: 'visitor_id',
      match: 'visitor_key',
      row: (siteId, value) => [siteId, value],
      columns: ['site_id', 'visitor_key'],
      matchValue: (v) => v,
    });
  }

  private async resolvePaths(trx: Trx, views: BucketedEvent[], learned: Learned) {
    return this.resolveIds(trx, views.map((e) => [e.site_id, e.path]), this.pathIds, learned.pathIds, {
      table: 'paths',
      id: 'path_id',
      match: 'path_hash',
      row: (siteId, value) => [siteId, pathHash(value), value],
      columns: ['site_id', 'path_hash', 'path'],
      matchValue: pathHash,
    });
  }

  /** Dictionary ids for (site, value) pairs; values seen for the first time are inserted. */
  private async resolveIds(
    trx: Trx,
    pairs: [string, string][],
    cache: CommittedCache<number>,
    learned: Map<string, number>,
    t: {
      table: 'visitors' | 'paths';
      id: string;
      match: string;
      columns: string[];
      row: (siteId: string, value: string) => Value[];
      matchValue: (value: string) => string;
    },
  ): Promise<(siteId: string, value: string) => number> {
    const ids = new Map<string, number>();
    const missing = new Map<string, [string, string]>();
    for (const [siteId, value] of pairs) {
      const k = key(siteId, value);
      if (ids.has(k) || missing.has(k)) continue;
      const cached = cache.get(k);
      if (cached !== undefined) ids.set(k, cached);
      else missing.set(k, [siteId, value]);
    }
    if (missing.size > 0) {
      const todo = [...missing.values()].sort(compareRows);
      const byMatch = new Map(todo.map(([s, v]) => [key(s, t.matchValue(v)), v]));
      const found = (rows: { site_id: string; m: string; id: number }[]) => {
        for (const r of rows) {
          const value = byMatch.get(key(r.site_id, r.m))!;
          ids.set(key(r.site_id, value), Number(r.id));
          learned.set(key(r.site_id, value), Number(r.id));
          missing.delete(key(r.site_id, value));
        }
      };
      const types = t.columns.map((): ColumnType => 'text');
      const inserted = await sql<{ site_id: string; m: string; id: number }>`insert into ${sql.table(t.table)} (${refs(t.columns)})
        ${rowSource(this.dialect, types, todo.map(([s, v]) => t.row(s, v)))}
        on conflict (site_id, ${sql.ref(t.match)}) do nothing
        returning site_id, ${sql.ref(t.match)} as m, ${sql.ref(t.id)} as id`.execute(trx);
      found(inserted.rows);
      if (missing.size > 0) {
        // Inserted by another transaction first: read their ids.
        const rest = [...missing.values()].map(([s, v]) => [s, t.matchValue(v)]);
        const existing = await sql<{ site_id: string; m: string; id: number }>`select d.site_id, d.${sql.ref(t.match)} as m, d.${sql.ref(t.id)} as id
          from ${sql.table(t.table)} d join (${rowSource(this.dialect, ['text', 'text'], rest, ['site_id', 'm'])}) as r
          on d.site_id = r.site_id and d.${sql.ref(t.match)} = r.m`.execute(trx);
        found(existing.rows);
      }
      if (missing.size > 0) throw new Error(`could not resolve ${missing.size} ${t.table} ids`);
    }
    return (siteId, value) => ids.get(key(siteId, value))!;
  }

  /** One row per (site, bucket, visitor); returns how many were new per (site, bucket). */
  private async insertVisitorBuckets(
    trx: Trx,
    g: Grain,
    news: BucketedEvent[],
    vid: (siteId: string, value: string) => number,
    learned: Learned,
  ): Promise<Map<string, number>> {
    const rows = new Map<string, Value[]>();
    for (const e of news) {
      const row = [e.site_id, g.of(e), vid(e.site_id, e.user_id)];
      const k = key(g.bucket, ...row);
      if (!this.visitorBuckets.has(k)) rows.set(k, row);
    }
    const fresh = new Map<string, number>();
    if (rows.size === 0) return fresh;
    const res = await sql<{ site_id: string; b: Value }>`insert into ${sql.table(g.visitors)} (site_id, ${sql.ref(g.bucket)}, visitor_id)
      ${rowSource(this.dialect, ['text', g.type, 'bigint'], [...rows.values()].sort(compareRows))}
      on conflict do nothing returning site_id, ${sql.ref(g.bucket)} as b`.execute(trx);
    for (const r of res.rows) {
      const k = key(r.site_id, String(r.b));
      fresh.set(k, (fresh.get(k) ?? 0) + 1);
    }
    for (const k of rows.keys()) learned.visitorBuckets.set(k, true);
    return fresh;
  }

  private async addTotals(trx: Trx, g: Grain, news: BucketedEvent[], newUniques: Map<string, number>, now: number): Promise<void> {
    const totals = new Map<string, [string, Value, number, number]>();
    for (const e of news) {
      const k = key(e.site_id, g.of(e));
      const t = totals.get(k) ?? [e.site_id, g.of(e), 0, newUniques.get(k) ?? 0];
      if (e.is_pageview) t[2]++;
      totals.set(k, t);
    }
    const rows = [...totals.values()].map((t) => [...t, now, now]).sort(compareRows);
    await sql`insert into ${sql.table(g.stats)} (site_id, ${sql.ref(g.bucket)}, total_views, unique_users, created_at_ms, updated_at_ms)
      ${rowSource(this.dialect, ['text', g.type, 'bigint', 'bigint', 'bigint', 'bigint'], rows)}
      on conflict (site_id, ${sql.ref(g.bucket)}) do update set
        total_views = ${sql.ref(`${g.stats}.total_views`)} + excluded.total_views,
        unique_users = ${sql.ref(`${g.stats}.unique_users`)} + excluded.unique_users,
        updated_at_ms = excluded.updated_at_ms`.execute(trx);
  }

  private async addPathViews(trx: Trx, g: Grain, views: BucketedEvent[], pid: (siteId: string, value: string) => number): Promise<void> {
    if (views.length === 0) return;
    const counts = new Map<string, Value[]>();
    for (const e of views) {
      const row = [e.site_id, g.of(e), pid(e.site_id, e.path), 0];
      const k = key(row[0]!, row[1]!, row[2]!);
      const existing = counts.get(k) ?? row;
      (existing[3] as number)++;
      counts.set(k, existing);
    }
    await sql`insert into ${sql.table(g.paths)} (site_id, ${sql.ref(g.bucket)}, path_id, views)
      ${rowSource(this.dialect, ['text', g.type, 'bigint', 'bigint'], [...counts.values()].sort(compareRows))}
      on conflict (site_id, ${sql.ref(g.bucket)}, path_id) do update set views = ${sql.ref(`${g.paths}.views`)} + excluded.views`.execute(trx);
  }
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
