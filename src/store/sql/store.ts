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
} from '../port.js';
import { runMigrations, type Database, type Dialect } from './schema.js';
import { SqlWriter } from './write.js';

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


function chunk<T>(rows: T[], columns: number, maxParams: number): T[][] {
  const size = Math.max(1, Math.floor(maxParams / columns));
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

export class SqlStore implements AnalyticsStore {
  readonly kind: Dialect;
  private writer: SqlWriter;

  constructor(
    readonly db: Kysely<Database>,
    private opts: SqlStoreOptions,
  ) {
    this.kind = opts.dialect;
    this.writer = new SqlWriter(db, opts.dialect, opts.isRetryable);
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

  applyEvents(events: BucketedEvent[], now: number): Promise<ApplyResult> {
    return this.writer.apply(events, now);
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
