// Tables of the SQL stores (SQLite and PostgreSQL share them) and their migrations.
import { randomUUID } from 'node:crypto';
import { sql, type Generated, type Kysely } from 'kysely';
import type { Site } from '../../core/site.js';

export type SitesTable = Site;

/** Raw events, the spec's `events` collection. Kept RETENTION_DAYS. */
export interface EventsTable {
  event_id: string;
  site_id: string;
  event_type: string;
  path: string;
  user_id: string;
  timestamp_ms: number;
  received_at_ms: number;
  processed_at_ms: number;
}

/** Dictionary of paths per site: rollups refer to a path by id, never use it as a key or column. */
export interface PathsTable {
  path_id: Generated<number>;
  site_id: string;
  path_hash: string;
  path: string;
}

/** Dictionary of visitors (user_id) per site. */
export interface VisitorsTable {
  visitor_id: Generated<number>;
  site_id: string;
  visitor_key: string;
}

/** The spec's `daily_stats`: one row per site and local day. */
export interface DailyStatsTable {
  site_id: string;
  day: string;
  total_views: number;
  unique_users: number;
  created_at_ms: number;
  updated_at_ms: number;
}

/** One row per site, local day and visitor: its count is the day's exact unique users. */
export interface DailyVisitorsTable {
  site_id: string;
  day: string;
  visitor_id: number;
}

/** Page views per site, local day and path. */
export interface DailyPathsTable {
  site_id: string;
  day: string;
  path_id: number;
  views: number;
}

export interface HourlyStatsTable {
  site_id: string;
  hour_ms: number;
  total_views: number;
  unique_users: number;
  created_at_ms: number;
  updated_at_ms: number;
}

export interface HourlyVisitorsTable {
  site_id: string;
  hour_ms: number;
  visitor_id: number;
}

export interface HourlyPathsTable {
  site_id: string;
  hour_ms: number;
  path_id: number;
  views: number;
}

/** Key/value facts about the store itself: `store_id`, its random id given at the first migration. */
export interface MetaTable {
  key: string;
  value: string;
}

/** Events the worker set aside (they can never be applied), kept for the operator. */
export interface RejectedEventsTable {
  rejection_key: string;
  site_id: string;
  event_id: string | null;
  event_json: string;
  error: string;
  rejected_at_ms: number;
}

export interface SchemaMigrationsTable {
  version: number;
  applied_at_ms: number;
}

export interface Database {
  sites: SitesTable;
  events: EventsTable;
  paths: PathsTable;
  visitors: VisitorsTable;
  daily_stats: DailyStatsTable;
  daily_visitors: DailyVisitorsTable;
  daily_paths: DailyPathsTable;
  hourly_stats: HourlyStatsTable;
  hourly_visitors: HourlyVisitorsTable;
  hourly_paths: HourlyPathsTable;
  schema_migrations: SchemaMigrationsTable;
  meta: MetaTable;
  rejected_events: RejectedEventsTable;
}

export type Dialect = 'sqlite' | 'postgres';

type Migration = (db: Kysely<Database>, dialect: Dialect) => Promise<void>;

/** Rollup tables are clustered on their key in SQLite (WITHOUT ROWID): smaller and faster. */
function clustered(dialect: Dialect) {
  return dialect === 'sqlite' ? sql`without rowid` : sql``;
}

const migrations: Migration[] = [
  async (db, dialect) => {
    const id = (name: 'path_id' | 'visitor_id') =>
      db.schema.createTable(name === 'path_id' ? 'paths' : 'visitors').ifNotExists().addColumn(name, dialect === 'sqlite' ? 'integer' : 'bigint', (c) =>
        dialect === 'sqlite' ? c.primaryKey() : c.primaryKey().generatedByDefaultAsIdentity(),
      );

    await db.schema
      .createTable('sites')
      .ifNotExists()
      .addColumn('site_id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('timezone', 'text', (c) => c.notNull())
      .addColumn('api_key_hash', 'text', (c) => c.notNull().unique())
      .addColumn('read_key_hash', 'text', (c) => c.notNull().unique())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('events')
      .ifNotExists()
      // PostgreSQL stores the UUIDv7 ids natively (16 bytes): a smaller, faster primary key.
      .addColumn('event_id', dialect === 'postgres' ? 'uuid' : 'text', (c) => c.primaryKey())
      .addColumn('site_id', 'text', (c) => c.notNull())
      .addColumn('event_type', 'text', (c) => c.notNull())
      .addColumn('path', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('timestamp_ms', 'bigint', (c) => c.notNull())
      .addColumn('received_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('processed_at_ms', 'bigint', (c) => c.notNull())
      .execute();
    // The spec's index: events { site_id: 1, timestamp: -1 }.
    await db.schema
      .createIndex('events_site_timestamp')
      .ifNotExists()
      .on('events')
      .columns(['site_id', 'timestamp_ms desc'])
      .execute();

    await id('path_id')
      .addColumn('site_id', 'text', (c) => c.notNull())
      .addColumn('path_hash', 'text', (c) => c.notNull())
      .addColumn('path', 'text', (c) => c.notNull())
      .addUniqueConstraint('paths_site_hash', ['site_id', 'path_hash'])
      .execute();

    await id('visitor_id')
      .addColumn('site_id', 'text', (c) => c.notNull())
      .addColumn('visitor_key', 'text', (c) => c.notNull())
      .addUniqueConstraint('visitors_site_key', ['site_id', 'visitor_key'])
      .execute();

    // The spec's daily_stats { site_id: 1, date: 1 } unique index is this primary key.
    await db.schema
      .createTable('daily_stats')
      .ifNotExists()
      .addColumn('site_id', 'text', (c) => c.notNull())
      .addColumn('day', 'text', (c) => c.notNull())
      .addColumn('total_views', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('unique_users', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('daily_stats_pk', ['site_id', 'day'])
      .modifyEnd(clustered(dialect))
      .execute();

    await db.schema
      .createTable('daily_visitors')
      .ifNotExists()
      .addColumn('site_id', 'text', (c) => c.notNull())
      .addColumn('day', 'text', (c) => c.notNull())
      .addColumn('visitor_id', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('daily_visitors_pk', ['site_id', 'day', 'visitor_id'])
      .modifyEnd(clustered(dialect))
      .execute();

    await db.schema
      .createTable('daily_paths')
      .ifNotExists()
      .addColumn('site_id', 'text', (c) => c.notNull())
      .addColumn('day', 'text', (c) => c.notNull())
      .addColumn('path_id', 'bigint', (c) => c.notNull())
      .addColumn('views', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('daily_paths_pk', ['site_id', 'day', 'path_id'])
      .modifyEnd(clustered(dialect))
      .execute();

    await db.schema
      .createTable('hourly_stats')
      .ifNotExists()
      .addColumn('site_id', 'text', (c) => c.notNull())
      .addColumn('hour_ms', 'bigint', (c) => c.notNull())
      .addColumn('total_views', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('unique_users', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('hourly_stats_pk', ['site_id', 'hour_ms'])
      .modifyEnd(clustered(dialect))
      .execute();

    await db.schema
      .createTable('hourly_visitors')
      .ifNotExists()
      .addColumn('site_id', 'text', (c) => c.notNull())
      .addColumn('hour_ms', 'bigint', (c) => c.notNull())
      .addColumn('visitor_id', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('hourly_visitors_pk', ['site_id', 'hour_ms', 'visitor_id'])
      .modifyEnd(clustered(dialect))
      .execute();

    await db.schema
      .createTable('hourly_paths')
      .ifNotExists()
      .addColumn('site_id', 'text', (c) => c.notNull())
      .addColumn('hour_ms', 'bigint', (c) => c.notNull())
      .addColumn('path_id', 'bigint', (c) => c.notNull())
      .addColumn('views', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('hourly_paths_pk', ['site_id', 'hour_ms', 'path_id'])
      .modifyEnd(clustered(dialect))
      .execute();
  },
  // 2: the store's own id (queue binding) and the events the worker sets aside.
  async (db) => {
    await db.schema
      .createTable('meta')
      .ifNotExists()
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('rejected_events')
      .ifNotExists()
      .addColumn('rejection_key', 'text', (c) => c.primaryKey())
      .addColumn('site_id', 'text', (c) => c.notNull())
      .addColumn('event_id', 'text')
      .addColumn('event_json', 'text', (c) => c.notNull())
      .addColumn('error', 'text', (c) => c.notNull())
      .addColumn('rejected_at_ms', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('rejected_events_site').ifNotExists().on('rejected_events').columns(['site_id', 'rejected_at_ms']).execute();
  },
];

/** Applies the migrations not yet recorded, inside one transaction (the caller holds the lock). */
export async function runMigrations(db: Kysely<Database>, dialect: Dialect, now: number): Promise<number[]> {
  await db.schema
    .createTable('schema_migrations')
    .ifNotExists()
    .addColumn('version', 'integer', (c) => c.primaryKey())
    .addColumn('applied_at_ms', 'bigint', (c) => c.notNull())
    .execute();
  const done = new Set((await db.selectFrom('schema_migrations').select('version').execute()).map((r) => Number(r.version)));
  const applied: number[] = [];
  for (const [i, migrate] of migrations.entries()) {
    const version = i + 1;
    if (done.has(version)) continue;
    await migrate(db, dialect);
    await db.insertInto('schema_migrations').values({ version, applied_at_ms: now }).execute();
    applied.push(version);
  }
  // The first migration names the store; later ones keep the name (on conflict: nothing).
  await db.insertInto('meta').values({ key: 'store_id', value: randomUUID() }).onConflict((oc) => oc.column('key').doNothing()).execute();
  return applied;
}
