// The store over SQL, one implementation for SQLite and PostgreSQL (Kysely dialects): every port
// of port.ts. Writing is write.ts, reading read.ts.
import { sql, type Kysely } from 'kysely';
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
  type Summary,
  type SitePatch,
  type RejectedEvent,
  type WorkerHeartbeat,
  UnstorableDataError,
} from '../port.js';
import { toRejectedRow } from '../rejected.js';
import type { Bulk } from './bulk.js';
import { SqlReader } from './read.js';
import { runMigrations, type Database, type Dialect } from './schema.js';
import { RETENTION_CUTOFF, SqlWriter } from './write.js';

export interface SqlStoreOptions {
  dialect: Dialect;
  /** Bound parameters one statement may carry (SQLite 32766, PostgreSQL 65535). */
  maxParams: number;
  /** Takes a cross-process lock for the duration of `fn` (PostgreSQL advisory lock). */
  withMigrationLock: (db: Kysely<Database>, fn: (trx: Kysely<Database>) => Promise<void>) => Promise<void>;
  isRetryable: (err: unknown) => boolean;
  isUniqueViolation: (err: unknown) => boolean;
  /** Errors about the data written (see EventSink.isDataError). */
  isDataError: (err: unknown) => boolean;
  /** How this database takes many rows at once (bulk.ts). */
  bulk: Bulk;
}

/** Visits moved per transaction by the maintenance. */
const MOVE_CHUNK = 5000;

function chunk<T>(rows: T[], columns: number, maxParams: number): T[][] {
  const size = Math.max(1, Math.floor(maxParams / columns));
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

export class SqlStore implements AnalyticsStore {
  readonly kind: Dialect;
  private writer: SqlWriter;
  private reader: SqlReader;

  constructor(
    readonly db: Kysely<Database>,
    private opts: SqlStoreOptions,
  ) {
    this.kind = opts.dialect;
    this.writer = new SqlWriter(db, opts.dialect, opts.bulk, opts.isRetryable);
    this.reader = new SqlReader(db, opts.dialect);
  }

  /** `upTo` stops at a schema version (tests of the upgrade path). */
  async migrate(upTo?: number): Promise<void> {
    await this.opts.withMigrationLock(this.db, async (trx) => {
      await runMigrations(trx, this.opts.dialect, Date.now(), upTo);
    });
  }

  async storeId(): Promise<string> {
    const row = await this.db.selectFrom('meta').select('value').where('key', '=', 'store_id').executeTakeFirst();
    if (!row) throw new Error('the store has no id: run its migration first');
    return row.value;
  }

  async createSite(site: Site): Promise<void> {
    try {
      await this.db.transaction().execute(async (trx) => {
        const deleted = await trx.selectFrom('deleted_sites').select('site_id').where('site_id', '=', site.site_id).executeTakeFirst();
        if (deleted) throw new SiteExistsError(site.site_id, 'deleted');
        await trx.insertInto('sites').values({ ...site, share_token_hash: site.share_token_hash ?? null }).execute();
      });
    } catch (err) {
      if (err instanceof SiteExistsError) throw err;
      if (this.opts.isUniqueViolation(err)) {
        const existing = await this.getSite(site.site_id);
        if (existing) throw new SiteExistsError(site.site_id);
      }
      throw err;
    }
  }

  async getSite(siteId: string): Promise<Site | undefined> {
    const row = await this.db.selectFrom('sites').selectAll().where('site_id', '=', siteId).executeTakeFirst();
    return row && toSite(row);
  }

  async listSites(): Promise<Site[]> {
    const rows = await this.db.selectFrom('sites').selectAll().orderBy('site_id').execute();
    return rows.map(toSite);
  }

  async updateSite(siteId: string, patch: SitePatch): Promise<boolean> {
    if (Object.keys(patch).length === 0) return (await this.getSite(siteId)) !== undefined;
    const res = await this.db.updateTable('sites').set(patch).where('site_id', '=', siteId).executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async deleteSite(siteId: string, now: number): Promise<boolean> {
    // The site first (its keys stop working), then its data, table by table: one short
    // transaction each, so a large site never holds the writer for all of it.
    const existed = await this.db.transaction().execute(async (trx) => {
      const res = await trx.deleteFrom('sites').where('site_id', '=', siteId).executeTakeFirst();
      await trx
        .insertInto('deleted_sites')
        .values({ site_id: siteId, deleted_at_ms: now })
        .onConflict((oc) => oc.column('site_id').doNothing())
        .execute();
      return Number(res.numDeletedRows) > 0;
    });
    for (const table of await this.tablesWithSiteId()) {
      await sql`delete from ${sql.table(table)} where site_id = ${siteId}`.execute(this.db);
    }
    return existed;
  }

  /**
   * Every table holding rows of a site, found in the catalogue rather than listed here, so a table
   * added by a later migration is purged too.
   */
  private async tablesWithSiteId(): Promise<string[]> {
    const keep = new Set(['sites', 'deleted_sites']);
    let tables: string[];
    if (this.kind === 'sqlite') {
      const res = await sql<{ name: string }>`select m.name as name from sqlite_master m, pragma_table_info(m.name) c
        where m.type = 'table' and c.name = 'site_id'`.execute(this.db);
      tables = res.rows.map((r) => r.name);
    } else {
      // Base tables only: views (daily_stats) hold no rows of their own.
      const res = await sql<{ name: string }>`select c.table_name as name from information_schema.columns c
        join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
        where c.table_schema = current_schema() and c.column_name = 'site_id' and t.table_type = 'BASE TABLE'`.execute(this.db);
      tables = res.rows.map((r) => r.name);
    }
    return tables.filter((t) => !keep.has(t)).sort();
  }

  applyEvents(events: PreparedEvent[], opts: ApplyOptions): Promise<ApplyResult> {
    return this.writer.apply(events, opts);
  }

  isDataError(err: unknown): boolean {
    return err instanceof UnstorableDataError || this.opts.isDataError(err);
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
    return (await this.db.selectFrom('salts').select(['day', 'salt']).orderBy('day').execute()).map((r) => ({ day: r.day, salt: r.salt }));
  }

  async ensureSalt(day: string, salt: string, now: number): Promise<string> {
    await this.db
      .insertInto('salts')
      .values({ day, salt, created_at_ms: now })
      .onConflict((oc) => oc.column('day').doNothing())
      .execute();
    const row = await this.db.selectFrom('salts').select('salt').where('day', '=', day).executeTakeFirstOrThrow();
    return row.salt;
  }

  async deleteSaltsBefore(day: string): Promise<number> {
    const res = await this.db.deleteFrom('salts').where('day', '<', day).executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  async deleteEventsBefore(before: number, beforeDay: number): Promise<number> {
    // The cutoff first: a worker applying events from now on refuses those older (write.ts).
    await this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('meta').select('value').where('key', '=', RETENTION_CUTOFF).executeTakeFirst();
      if (row && Number(row.value) >= before) return;
      await trx
        .insertInto('meta')
        .values({ key: RETENTION_CUTOFF, value: String(before) })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value: String(before) }))
        .execute();
    });
    let deleted = 0;
    for (const { site_id } of await this.db.selectFrom('sites').select('site_id').execute()) {
      // In slices, so a large purge never holds a long write lock.
      for (const table of ['events', 'ignored_events'] as const) {
        for (;;) {
          const batch = this.db.selectFrom(table).select('event_id').where('site_id', '=', site_id).where('timestamp_ms', '<', before).limit(5000);
          const res = await this.db.deleteFrom(table).where('event_id', 'in', batch).executeTakeFirst();
          const n = Number(res.numDeletedRows);
          if (table === 'events') deleted += n;
          if (n < 5000) break;
        }
      }
      // Hashed visitors belong to one salt date: once it is past retention nothing can match them again.
      await this.db.deleteFrom('visitors').where('site_id', '=', site_id).where('day', 'is not', null).where('day', '<', beforeDay).execute();
    }
    return deleted;
  }

  async moveVisitsBefore(before: number): Promise<number> {
    let moved = 0;
    for (const { site_id, timezone } of await this.db.selectFrom('sites').select(['site_id', 'timezone']).execute()) {
      for (;;) {
        // One transaction per chunk: a visit is in `visits` or in `visit_members`, never both or neither.
        const n = await this.db.transaction().execute(async (trx) => {
          const rows = await trx
            .selectFrom('visits')
            .select(['visitor_id', 'start_ms', 'vals', 'entry_id', 'exit_id'])
            .where('site_id', '=', site_id)
            .where('last_ms', '<', before)
            .orderBy('visitor_id')
            .orderBy('start_ms')
            .limit(MOVE_CHUNK)
            .execute();
          if (rows.length === 0) return 0;
          const members = rows.map((r) => {
            const at = bucketNumbers(Number(r.start_ms), timezone);
            return { site_id, start_day: at.day, start_hour: at.hour, visitor_id: Number(r.visitor_id), vals: r.vals, entry_id: Number(r.entry_id), exit_id: Number(r.exit_id) };
          });
          for (const part of chunk(members, 7, this.opts.maxParams)) await trx.insertInto('visit_members').values(part).execute();
          for (const part of chunk(rows, 2, Math.min(this.opts.maxParams, 10_000))) {
            await sql`delete from visits where site_id = ${site_id} and (visitor_id, start_ms) in (${sql.join(part.map((r) => sql`(${r.visitor_id}, ${r.start_ms})`))})`.execute(trx);
          }
          return rows.length;
        });
        moved += n;
        if (n < MOVE_CHUNK) break;
      }
    }
    return moved;
  }

  async createPlaceholders(rows: { site_id: string; day: string }[], _now: number): Promise<number> {
    let created = 0;
    for (const part of chunk(rows, 13, this.opts.maxParams)) {
      const res = await this.db
        .insertInto('rollups')
        .values(
          part.map((r) => ({
            site_id: r.site_id,
            grain: DAY,
            bucket: dayNumber(r.day),
            dim: TOTAL.id,
            scope: 0,
            value: 0,
            pageviews: 0,
            events: 0,
            visitors: 0,
            visits: 0,
            bounces: 0,
            duration_ms: 0,
            revision: 0,
          })),
        )
        .onConflict((oc) => oc.columns(['site_id', 'grain', 'bucket', 'dim', 'scope', 'value']).doNothing())
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

  async recordHeartbeat(hb: WorkerHeartbeat, pruneBefore: number): Promise<void> {
    await this.db
      .insertInto('worker_heartbeats')
      .values({ worker_id: hb.worker_id, host: hb.host, pid: hb.pid, started_at_ms: hb.started_at, seen_at_ms: hb.seen_at })
      .onConflict((oc) => oc.column('worker_id').doUpdateSet({ seen_at_ms: hb.seen_at }))
      .execute();
    await this.db.deleteFrom('worker_heartbeats').where('seen_at_ms', '<', pruneBefore).execute();
  }

  async listHeartbeats(since: number): Promise<WorkerHeartbeat[]> {
    const rows = await this.db.selectFrom('worker_heartbeats').selectAll().where('seen_at_ms', '>=', since).orderBy('seen_at_ms', 'desc').execute();
    return rows.map((r) => ({ worker_id: r.worker_id, host: r.host, pid: r.pid, started_at: Number(r.started_at_ms), seen_at: Number(r.seen_at_ms) }));
  }

  async deleteHeartbeat(workerId: string): Promise<void> {
    await this.db.deleteFrom('worker_heartbeats').where('worker_id', '=', workerId).execute();
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

function toSite(row: Database['sites']): Site {
  const { share_token_hash, ...rest } = row;
  return { ...rest, created_at: Number(row.created_at), ...(share_token_hash ? { share_token_hash } : {}) };
}
