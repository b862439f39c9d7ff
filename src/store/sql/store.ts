// The AnalyticsStore over SQL, one implementation for SQLite and PostgreSQL (Kysely dialects).
import { sql, type Kysely } from 'kysely';
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
import { runMigrations, type Database, type Dialect } from './schema.js';
import { SqlWriter } from './write.js';
import type { Bulk } from './bulk.js';
import { SnapshotCache, pathSnapshot, topCandidates, unionCount, type PathSnapshot, type VisitorSnapshot } from './snapshots.js';

export interface SqlStoreOptions {
  dialect: Dialect;
  /** Bound parameters one statement may carry (SQLite 32766, PostgreSQL 65535). */
  maxParams: number;
  /** Takes a cross-process lock for the duration of `fn` (PostgreSQL advisory lock). */
  withMigrationLock: (db: Kysely<Database>, fn: (trx: Kysely<Database>) => Promise<void>) => Promise<void>;
  isRetryable: (err: unknown) => boolean;
  isUniqueViolation: (err: unknown) => boolean;
  /** Errors about the data written (see AnalyticsStore.isDataError). */
  isDataError: (err: unknown) => boolean;
  /** How this database takes many rows at once (bulk.ts). */
  bulk: Bulk;
}

function chunk<T>(rows: T[], columns: number, maxParams: number): T[][] {
  const size = Math.max(1, Math.floor(maxParams / columns));
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

export class SqlStore implements AnalyticsStore {
  readonly kind: Dialect;
  private writer: SqlWriter;
  /** Per-process memory for range answers; 64 MB holds ~150 days of a 100,000-visitor-a-day site. */
  private snapshots = new SnapshotCache(64 * 1024 * 1024);
  private inflight = new Map<string, Promise<unknown>>();

  constructor(
    readonly db: Kysely<Database>,
    private opts: SqlStoreOptions,
  ) {
    this.kind = opts.dialect;
    this.writer = new SqlWriter(db, opts.dialect, opts.bulk, opts.isRetryable);
  }

  async migrate(): Promise<void> {
    await this.opts.withMigrationLock(this.db, async (trx) => {
      await runMigrations(trx, this.opts.dialect, Date.now());
    });
  }

  async storeId(): Promise<string> {
    const row = await this.db.selectFrom('meta').select('value').where('key', '=', 'store_id').executeTakeFirst();
    if (!row) throw new Error('the store has no id: run its migration first');
    return row.value;
  }

  async createSite(site: Site): Promise<void> {
    try {
      await this.db.insertInto('sites').values(site).execute();
    } catch (err) {
      if (this.opts.isUniqueViolation(err)) {
        const existing = await this.getSite(site.site_id);
        if (existing) throw new SiteExistsError(site.site_id);
      }
      throw err;
    }
  }

  async getSite(siteId: string): Promise<Site | undefined> {
    const row = await this.db.selectFrom('sites').selectAll().where('site_id', '=', siteId).executeTakeFirst();
    return row && { ...row, created_at: Number(row.created_at) };
  }

  async listSites(): Promise<Site[]> {
    const rows = await this.db.selectFrom('sites').selectAll().orderBy('site_id').execute();
    return rows.map((r) => ({ ...r, created_at: Number(r.created_at) }));
  }

  applyEvents(events: BucketedEvent[], now: number): Promise<ApplyResult> {
    return this.writer.apply(events, now);
  }

  isDataError(err: unknown): boolean {
    return err instanceof UnstorableDataError || this.opts.isDataError(err);
  }

  /**
   * Identical reads already in flight share one query: a report asks for its range's counters
   * itself and again through uniqueVisitors and topPaths, concurrently.
   */
  private shared<T>(key: string, read: () => Promise<T>): Promise<T> {
    let p = this.inflight.get(key) as Promise<T> | undefined;
    if (!p) {
      p = read().finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  dailyTotals(siteId: string, from: string, to: string): Promise<DayTotals[]> {
    return this.shared(`d\u0000${siteId}\u0000${from}\u0000${to}`, () => this.readDailyTotals(siteId, from, to));
  }

  hourlyTotals(siteId: string, from: number, to: number): Promise<HourTotals[]> {
    return this.shared(`h\u0000${siteId}\u0000${from}\u0000${to}`, () => this.readHourlyTotals(siteId, from, to));
  }

  private async readDailyTotals(siteId: string, from: string, to: string): Promise<DayTotals[]> {
    const rows = await this.db
      .selectFrom('daily_stats')
      .select(['day', 'total_views', 'unique_users'])
      .where('site_id', '=', siteId)
      .where('day', '>=', from)
      .where('day', '<=', to)
      .orderBy('day')
      .execute();
    return rows.map((r) => ({ day: r.day, views: Number(r.total_views), uniques: Number(r.unique_users) }));
  }

  private async readHourlyTotals(siteId: string, from: number, to: number): Promise<HourTotals[]> {
    const rows = await this.db
      .selectFrom('hourly_stats')
      .select(['hour_ms', 'total_views', 'unique_users'])
      .where('site_id', '=', siteId)
      .where('hour_ms', '>=', from)
      .where('hour_ms', '<', to)
      .orderBy('hour_ms')
      .execute();
    return rows.map((r) => ({ hour: Number(r.hour_ms), views: Number(r.total_views), uniques: Number(r.unique_users) }));
  }

  /** Exact distinct visitors: the union of the range's per-bucket visitor snapshots. */
  async uniqueVisitors(siteId: string, range: BucketRange): Promise<number> {
    const buckets = await this.bucketCounters(siteId, range);
    if (buckets.length <= 1) return buckets[0]?.uniques ?? 0;
    return unionCount(await this.visitorSnapshots(siteId, range, buckets));
  }

  /** Path views summed over the range's per-bucket snapshots; ties broken by path name. */
  async topPaths(siteId: string, range: BucketRange, limit: number): Promise<PathViews[]> {
    const buckets = await this.bucketCounters(siteId, range);
    const candidates = topCandidates(await this.pathSnapshots(siteId, range, buckets), limit);
    if (candidates.length === 0) return [];
    const names = new Map<number, string>();
    for (const part of chunk(candidates, 1, this.opts.maxParams - 1)) {
      const rows = await this.db
        .selectFrom('paths')
        .select(['path_id', 'path'])
        .where('path_id', 'in', part.map(([id]) => id))
        .execute();
      for (const r of rows) names.set(Number(r.path_id), r.path);
    }
    return candidates
      .map(([id, views]) => ({ path: names.get(id)!, views }))
      .sort((a, b) => b.views - a.views || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
      .slice(0, limit);
  }

  /** Each bucket of the range with its counters (which validate the snapshots). */
  private async bucketCounters(siteId: string, range: BucketRange): Promise<{ key: string; views: number; uniques: number }[]> {
    const rows =
      'days' in range
        ? (await this.dailyTotals(siteId, range.days.from, range.days.to)).map((d) => ({ ...d, key: d.day }))
        : (await this.hourlyTotals(siteId, range.hours.from, range.hours.to)).map((h) => ({ ...h, key: String(h.hour) }));
    return rows.filter((r) => r.views > 0 || r.uniques > 0);
  }

  private async visitorSnapshots(siteId: string, range: BucketRange, buckets: { key: string; uniques: number }[]): Promise<Uint32Array[]> {
    return this.snapshotsOf(siteId, range, buckets, 'visitors', (b, e) => e.kind === 'visitors' && e.value.count === b.uniques, async (keys) => {
      const [table, col] = 'days' in range ? ['daily_visitors', 'day'] : ['hourly_visitors', 'hour_ms'];
      const rows = await sql<{ b: string | number; ids: string }>`select ${sql.ref(col)} as b, ${this.concat(sql.ref('visitor_id'))} as ids
        from ${sql.table(table)} where site_id = ${siteId} and ${sql.ref(col)} in (${sql.join(keys.map((k) => bucketValue(range, k)))})
        group by ${sql.ref(col)}`.execute(this.db);
      return rows.rows.map((r) => {
        const ids = parseIds(r.ids).sort();
        return [String(r.b), { kind: 'visitors', value: { count: ids.length, ids } }];
      });
    }).then((entries) => entries.map((e) => (e as { value: VisitorSnapshot }).value.ids));
  }

  private async pathSnapshots(siteId: string, range: BucketRange, buckets: { key: string; views: number }[]): Promise<PathSnapshot[]> {
    return this.snapshotsOf(siteId, range, buckets, 'paths', (b, e) => e.kind === 'paths' && e.value.views === b.views, async (keys) => {
      const [table, col] = 'days' in range ? ['daily_paths', 'day'] : ['hourly_paths', 'hour_ms'];
      const rows = await sql<{ b: string | number; ids: string; counts: string }>`select ${sql.ref(col)} as b,
          ${this.concat(sql.ref('path_id'), 'path_id')} as ids, ${this.concat(sql.ref('views'), 'path_id')} as counts
        from ${sql.table(table)} where site_id = ${siteId} and ${sql.ref(col)} in (${sql.join(keys.map((k) => bucketValue(range, k)))})
        group by ${sql.ref(col)}`.execute(this.db);
      return rows.rows.map((r) => [String(r.b), { kind: 'paths', value: pathSnapshot(parseIds(r.ids), parseIds(r.counts)) }]);
    }).then((entries) => entries.map((e) => (e as { value: PathSnapshot }).value));
  }

  /** Cached snapshots still valid for their bucket's counters; the others are read in one query. */
  private async snapshotsOf<B extends { key: string }>(
    siteId: string,
    range: BucketRange,
    buckets: B[],
    kind: 'visitors' | 'paths',
    valid: (b: B, e: SnapshotEntry) => boolean,
    read: (keys: string[]) => Promise<[string, SnapshotEntry][]>,
  ): Promise<SnapshotEntry[]> {
    const grain = 'days' in range ? 'day' : 'hour';
    const cacheKey = (k: string) => `${kind}\u0000${siteId}\u0000${grain}\u0000${k}`;
    const out: SnapshotEntry[] = [];
    const stale: string[] = [];
    for (const b of buckets) {
      const e = this.snapshots.get(cacheKey(b.key));
      if (e && valid(b, e)) out.push(e);
      else stale.push(b.key);
    }
    for (const part of chunk(stale, 1, 500)) {
      for (const [k, e] of await read(part)) {
        this.snapshots.set(cacheKey(k), e);
        out.push(e);
      }
    }
    return out;
  }

  /**
   * Aggregates a column of integers into one comma-separated string per group. Two aggregates of
   * one query list their rows in the same order (PostgreSQL: made explicit by `orderBy`).
   */
  private concat(column: ReturnType<typeof sql.ref>, orderBy?: string) {
    if (this.kind === 'sqlite') return sql`group_concat(${column}, ',')`;
    return orderBy ? sql`string_agg(${column}::text, ',' order by ${sql.ref(orderBy)})` : sql`string_agg(${column}::text, ',')`;
  }

  async rejectEvents(rows: RejectedEvent[]): Promise<number> {
    let added = 0;
    for (const part of chunk(rows.map(toRejectedRow), 6, this.opts.maxParams)) {
      const res = await this.db
        .insertInto('rejected_events')
        .values(part)
        .onConflict((oc) => oc.column('rejection_key').doNothing())
        .executeTakeFirst();
      added += Number(res.numInsertedOrUpdatedRows ?? 0);
    }
    return added;
  }

  async countRejectedEvents(siteId?: string): Promise<number> {
    let q = this.db.selectFrom('rejected_events').select((eb) => eb.fn.countAll<number>().as('n'));
    if (siteId !== undefined) q = q.where('site_id', '=', siteId);
    return Number((await q.executeTakeFirst())?.n ?? 0);
  }

  async deleteEventsBefore(before: number): Promise<number> {
    let deleted = 0;
    for (const { site_id } of await this.db.selectFrom('sites').select('site_id').execute()) {
      // In slices, so a large purge never holds a long write lock.
      for (;;) {
        const batch = this.db
          .selectFrom('events')
          .select('event_id')
          .where('site_id', '=', site_id)
          .where('timestamp_ms', '<', before)
          .limit(5000);
        const res = await this.db.deleteFrom('events').where('event_id', 'in', batch).executeTakeFirst();
        const n = Number(res.numDeletedRows);
        deleted += n;
        if (n < 5000) break;
      }
    }
    return deleted;
  }

  async createPlaceholders(rows: { site_id: string; day: string }[], now: number): Promise<number> {
    let created = 0;
    for (const part of chunk(rows, 6, this.opts.maxParams)) {
      const res = await this.db
        .insertInto('daily_stats')
        .values(part.map((r) => ({ ...r, total_views: 0, unique_users: 0, created_at_ms: now, updated_at_ms: now })))
        .onConflict((oc) => oc.columns(['site_id', 'day']).doNothing())
        .executeTakeFirst();
      created += Number(res.numInsertedOrUpdatedRows ?? 0);
    }
    return created;
  }

  async countEvents(siteId: string): Promise<number> {
    const row = await this.db
      .selectFrom('events')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('site_id', '=', siteId)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

type SnapshotEntry = Parameters<SnapshotCache['set']>[1];

/** A bucket key back to its column type: days are text, hours bigint. */
function bucketValue(range: BucketRange, key: string): string | number {
  return 'days' in range ? key : Number(key);
}

function parseIds(csv: string | null): Uint32Array {
  if (!csv) return new Uint32Array(0);
  const parts = csv.split(',');
  const out = new Uint32Array(parts.length);
  for (let i = 0; i < parts.length; i++) out[i] = Number(parts[i]);
  return out;
}
