// The AnalyticsStore over SQL, one implementation for SQLite and PostgreSQL (Kysely dialects).
import { createHash } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
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
} from '../port.js';
import { runMigrations, type Database, type Dialect } from './schema.js';

type Trx = Transaction<Database>;

export interface SqlStoreOptions {
  dialect: Dialect;
  /** Bound parameters one statement may carry (SQLite 32766, PostgreSQL 65535). */
  maxParams: number;
  /** Takes a cross-process lock for the duration of `fn` (PostgreSQL advisory lock). */
  withMigrationLock: (db: Kysely<Database>, fn: (trx: Kysely<Database>) => Promise<void>) => Promise<void>;
  isRetryable: (err: unknown) => boolean;
  isUniqueViolation: (err: unknown) => boolean;
  onClose?: () => Promise<void>;
}

const CACHE_LIMIT = 200_000;

function chunk<T>(rows: T[], columns: number, maxParams: number): T[][] {
  const size = Math.max(1, Math.floor(maxParams / columns));
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

/** Insert-only caches of dictionary ids; ids never change once committed. */
class IdCache {
  private map = new Map<string, number>();
  get(key: string): number | undefined {
    return this.map.get(key);
  }
  setAll(entries: Map<string, number>): void {
    if (this.map.size + entries.size > CACHE_LIMIT) this.map.clear();
    for (const [k, v] of entries) this.map.set(k, v);
  }
}

const keyOf = (siteId: string, value: string) => `${siteId}\u0000${value}`;
export const pathHash = (path: string) => createHash('sha256').update(path).digest('hex');

export class SqlStore implements AnalyticsStore {
  readonly kind: Dialect;
  private visitorIds = new IdCache();
  private pathIds = new IdCache();

  constructor(
    readonly db: Kysely<Database>,
    private opts: SqlStoreOptions,
  ) {
    this.kind = opts.dialect;
  }

  async migrate(): Promise<void> {
    await this.opts.withMigrationLock(this.db, async (trx) => {
      await runMigrations(trx, this.opts.dialect, Date.now());
    });
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

  async applyEvents(events: BucketedEvent[], now: number): Promise<ApplyResult> {
    const unique = [...new Map(events.map((e) => [e.id, e])).values()];
    for (let attempt = 1; ; attempt++) {
      const learned = { visitors: new Map<string, number>(), paths: new Map<string, number>() };
      try {
        const applied = await this.db.transaction().execute((trx) => this.applyInTransaction(trx, unique, now, learned));
        // Only ids of a committed transaction may be cached.
        this.visitorIds.setAll(learned.visitors);
        this.pathIds.setAll(learned.paths);
        return { applied, duplicates: events.length - applied };
      } catch (err) {
        if (attempt >= 5 || !this.opts.isRetryable(err)) throw err;
        await new Promise((r) => setTimeout(r, 10 * attempt + Math.random() * 20));
      }
    }
  }

  private async applyInTransaction(
    trx: Trx,
    events: BucketedEvent[],
    now: number,
    learned: { visitors: Map<string, number>; paths: Map<string, number> },
  ): Promise<number> {
    const fresh = await this.insertRawEvents(trx, events, now);
    const news = events.filter((e) => fresh.has(e.id));
    if (news.length === 0) return 0;

    const visitorIds = await this.resolveIds(trx, 'visitors', news.map((e) => [e.site_id, e.user_id]), learned.visitors);
    const views = news.filter((e) => e.is_pageview);
    const pathIds = await this.resolveIds(trx, 'paths', views.map((e) => [e.site_id, e.path]), learned.paths);
    const vid = (e: BucketedEvent) => visitorIds.get(keyOf(e.site_id, e.user_id))!;
    const pid = (e: BucketedEvent) => pathIds.get(keyOf(e.site_id, e.path))!;

    // Visitors: one row per (site, bucket, visitor); the rows inserted now are the new uniques.
    const newDaily = await this.insertVisitorRows(trx, 'daily_visitors', 'day', news.map((e) => [e.site_id, e.day, vid(e)]));
    const newHourly = await this.insertVisitorRows(trx, 'hourly_visitors', 'hour_ms', news.map((e) => [e.site_id, e.hour, vid(e)]));

    // Totals per bucket.
    const daily = new Map<string, { site_id: string; day: string; views: number }>();
    const hourly = new Map<string, { site_id: string; hour: number; views: number }>();
    for (const e of news) {
      const d = daily.get(keyOf(e.site_id, e.day)) ?? { site_id: e.site_id, day: e.day, views: 0 };
      const h = hourly.get(keyOf(e.site_id, String(e.hour))) ?? { site_id: e.site_id, hour: e.hour, views: 0 };
      if (e.is_pageview) {
        d.views++;
        h.views++;
      }
      daily.set(keyOf(e.site_id, e.day), d);
      hourly.set(keyOf(e.site_id, String(e.hour)), h);
    }
    const dailyRows = [...daily.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, d]) => ({
        site_id: d.site_id,
        day: d.day,
        total_views: d.views,
        unique_users: newDaily.get(k) ?? 0,
        created_at_ms: now,
        updated_at_ms: now,
      }));
    for (const rows of chunk(dailyRows, 6, this.opts.maxParams)) {
      await trx
        .insertInto('daily_stats')
        .values(rows)
        .onConflict((oc) =>
          oc.columns(['site_id', 'day']).doUpdateSet((eb) => ({
            total_views: eb('daily_stats.total_views', '+', eb.ref('excluded.total_views')),
            unique_users: eb('daily_stats.unique_users', '+', eb.ref('excluded.unique_users')),
            updated_at_ms: eb.ref('excluded.updated_at_ms'),
          })),
        )
        .execute();
    }
    const hourlyRows = [...hourly.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, h]) => ({
        site_id: h.site_id,
        hour_ms: h.hour,
        total_views: h.views,
        unique_users: newHourly.get(k) ?? 0,
        updated_at_ms: now,
      }));
    for (const rows of chunk(hourlyRows, 5, this.opts.maxParams)) {
      await trx
        .insertInto('hourly_stats')
        .values(rows)
        .onConflict((oc) =>
          oc.columns(['site_id', 'hour_ms']).doUpdateSet((eb) => ({
            total_views: eb('hourly_stats.total_views', '+', eb.ref('excluded.total_views')),
            unique_users: eb('hourly_stats.unique_users', '+', eb.ref('excluded.unique_users')),
            updated_at_ms: eb.ref('excluded.updated_at_ms'),
          })),
        )
        .execute();
    }

    // Page views per path, merged per row before writing.
    await this.addPathViews(trx, 'daily_paths', 'day', countBy(views, (e) => [e.site_id, e.day, pid(e)]));
    await this.addPathViews(trx, 'hourly_paths', 'hour_ms', countBy(views, (e) => [e.site_id, e.hour, pid(e)]));
    return news.length;
  }

  /** Inserts raw events that are not stored yet; returns the ids inserted now. */
  private async insertRawEvents(trx: Trx, events: BucketedEvent[], now: number): Promise<Set<string>> {
    const fresh = new Set<string>();
    const rows = events.map((e) => ({
      event_id: e.id,
      site_id: e.site_id,
      event_type: e.event_type,
      path: e.path,
      user_id: e.user_id,
      timestamp_ms: e.ts,
      received_at_ms: e.received_at,
      processed_at_ms: now,
    }));
    for (const part of chunk(rows, 8, this.opts.maxParams)) {
      const inserted = await trx
        .insertInto('events')
        .values(part)
        .onConflict((oc) => oc.column('event_id').doNothing())
        .returning('event_id')
        .execute();
      for (const r of inserted) fresh.add(r.event_id);
    }
    return fresh;
  }

  /** Dictionary ids for (site, value) pairs, inserting the values seen for the first time. */
  private async resolveIds(
    trx: Trx,
    table: 'visitors' | 'paths',
    pairs: [string, string][],
    learned: Map<string, number>,
  ): Promise<Map<string, number>> {
    const cache = table === 'visitors' ? this.visitorIds : this.pathIds;
    const ids = new Map<string, number>();
    const missing = new Map<string, [string, string]>();
    for (const [siteId, value] of pairs) {
      const k = keyOf(siteId, value);
      if (ids.has(k) || missing.has(k)) continue;
      const cached = cache.get(k);
      if (cached !== undefined) ids.set(k, cached);
      else missing.set(k, [siteId, value]);
    }
    if (missing.size === 0) return ids;

    const found = (siteId: string, value: string, id: number) => {
      const k = keyOf(siteId, value);
      ids.set(k, Number(id));
      learned.set(k, Number(id));
      missing.delete(k);
    };
    const sorted = [...missing.values()].sort(([s1, v1], [s2, v2]) => (s1 === s2 ? (v1 < v2 ? -1 : 1) : s1 < s2 ? -1 : 1));
    if (table === 'visitors') {
      for (const part of chunk(sorted, 2, this.opts.maxParams)) {
        const rows = await trx
          .insertInto('visitors')
          .values(part.map(([site_id, visitor_key]) => ({ site_id, visitor_key })))
          .onConflict((oc) => oc.columns(['site_id', 'visitor_key']).doNothing())
          .returning(['visitor_id', 'site_id', 'visitor_key'])
          .execute();
        for (const r of rows) found(r.site_id, r.visitor_key, r.visitor_id);
      }
    } else {
      for (const part of chunk(sorted, 3, this.opts.maxParams)) {
        const rows = await trx
          .insertInto('paths')
          .values(part.map(([site_id, path]) => ({ site_id, path, path_hash: pathHash(path) })))
          .onConflict((oc) => oc.columns(['site_id', 'path_hash']).doNothing())
          .returning(['path_id', 'site_id', 'path'])
          .execute();
        for (const r of rows) found(r.site_id, r.path, r.path_id);
      }
    }
    // Values another transaction inserted first: look them up.
    const bySite = new Map<string, string[]>();
    for (const [siteId, value] of missing.values()) bySite.set(siteId, [...(bySite.get(siteId) ?? []), value]);
    for (const [siteId, values] of bySite) {
      for (const part of chunk(values, 1, this.opts.maxParams - 1)) {
        if (table === 'visitors') {
          const rows = await trx
            .selectFrom('visitors')
            .select(['visitor_id', 'visitor_key'])
            .where('site_id', '=', siteId)
            .where('visitor_key', 'in', part)
            .execute();
          for (const r of rows) found(siteId, r.visitor_key, r.visitor_id);
        } else {
          const rows = await trx
            .selectFrom('paths')
            .select(['path_id', 'path'])
            .where('site_id', '=', siteId)
            .where('path_hash', 'in', part.map(pathHash))
            .execute();
          for (const r of rows) found(siteId, r.path, r.path_id);
        }
      }
    }
    if (missing.size > 0) throw new Error(`could not resolve ${missing.size} ${table} ids`);
    return ids;
  }

  /** Inserts (site, bucket, visitor) rows; returns how many were new per (site, bucket). */
  private async insertVisitorRows(
    trx: Trx,
    table: 'daily_visitors' | 'hourly_visitors',
    bucket: 'day' | 'hour_ms',
    triples: [string, string | number, number][],
  ): Promise<Map<string, number>> {
    const distinct = new Map<string, [string, string | number, number]>();
    for (const t of triples) distinct.set(`${t[0]}\u0000${t[1]}\u0000${t[2]}`, t);
    const rows = [...distinct.values()]
      .sort((a, b) => (a[0] === b[0] ? (a[1] === b[1] ? a[2] - b[2] : a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1))
      .map(([site_id, b, visitor_id]) => ({ site_id, [bucket]: b, visitor_id }));
    const fresh = new Map<string, number>();
    for (const part of chunk(rows, 3, this.opts.maxParams)) {
      const inserted = (await trx
        .insertInto(table)
        .values(part as never)
        .onConflict((oc) => oc.columns(['site_id', bucket, 'visitor_id'] as never).doNothing())
        .returning(['site_id', bucket] as never)
        .execute()) as Record<string, string | number>[];
      for (const r of inserted) {
        const k = keyOf(String(r.site_id), String(r[bucket]));
        fresh.set(k, (fresh.get(k) ?? 0) + 1);
      }
    }
    return fresh;
  }

  private async addPathViews(
    trx: Trx,
    table: 'daily_paths' | 'hourly_paths',
    bucket: 'day' | 'hour_ms',
    counts: Map<string, { key: [string, string | number, number]; n: number }>,
  ): Promise<void> {
    const rows = [...counts.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([, { key, n }]) => ({ site_id: key[0], [bucket]: key[1], path_id: key[2], views: n }));
    for (const part of chunk(rows, 4, this.opts.maxParams)) {
      await trx
        .insertInto(table)
        .values(part as never)
        .onConflict((oc) =>
          oc.columns(['site_id', bucket, 'path_id'] as never).doUpdateSet((eb) => ({
            views: eb(`${table}.views` as never, '+', eb.ref('excluded.views' as never)),
          }) as never),
        )
        .execute();
    }
  }

  async dailyTotals(siteId: string, from: string, to: string): Promise<DayTotals[]> {
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

  async hourlyTotals(siteId: string, from: number, to: number): Promise<HourTotals[]> {
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

  async uniqueVisitors(siteId: string, range: BucketRange): Promise<number> {
    const distinct = (eb: { fn: Kysely<Database>['fn'] }) => eb.fn.count<number>('visitor_id').distinct().as('n');
    const row =
      'days' in range
        ? await this.db
            .selectFrom('daily_visitors')
            .select(distinct)
            .where('site_id', '=', siteId)
            .where('day', '>=', range.days.from)
            .where('day', '<=', range.days.to)
            .executeTakeFirst()
        : await this.db
            .selectFrom('hourly_visitors')
            .select(distinct)
            .where('site_id', '=', siteId)
            .where('hour_ms', '>=', range.hours.from)
            .where('hour_ms', '<', range.hours.to)
            .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async topPaths(siteId: string, range: BucketRange, limit: number): Promise<PathViews[]> {
    const sums =
      'days' in range
        ? this.db
            .selectFrom('daily_paths')
            .select(['path_id', (eb) => eb.fn.sum<number>('views').as('views')])
            .where('site_id', '=', siteId)
            .where('day', '>=', range.days.from)
            .where('day', '<=', range.days.to)
            .groupBy('path_id')
        : this.db
            .selectFrom('hourly_paths')
            .select(['path_id', (eb) => eb.fn.sum<number>('views').as('views')])
            .where('site_id', '=', siteId)
            .where('hour_ms', '>=', range.hours.from)
            .where('hour_ms', '<', range.hours.to)
            .groupBy('path_id');
    const rows = await this.db
      .selectFrom(sums.as('s'))
      .innerJoin('paths as p', 'p.path_id', 's.path_id')
      .select(['p.path', 's.views'])
      .orderBy('s.views', 'desc')
      .orderBy('p.path')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ path: r.path, views: Number(r.views) }));
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
    await this.opts.onClose?.();
  }
}

function countBy<T>(
  items: T[],
  key: (item: T) => [string, string | number, number],
): Map<string, { key: [string, string | number, number]; n: number }> {
  const out = new Map<string, { key: [string, string | number, number]; n: number }>();
  for (const item of items) {
    const k = key(item);
    const id = `${k[0]}\u0000${k[1]}\u0000${k[2]}`;
    const entry = out.get(id);
    if (entry) entry.n++;
    else out.set(id, { key: k, n: 1 });
  }
  return out;
}
