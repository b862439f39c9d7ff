// Schema version 2, in place: the six daily/hourly tables of version 1 become one `rollups` table
// (counters of every dimension, src/core/dimensions.ts) and one `members` table (which visitors
// each counter row counts), with their data copied over so every count survives the upgrade. The
// path dictionary becomes the dictionary of every value; visitor keys gain their kind prefix
// (`u:` = a given user id, src/core/visitor.ts). `daily_stats` remains, as a view, for operators
// who look at it the way the spec shows.
import { sql, type Kysely } from 'kysely';
import type { Dialect } from './schema.js';
import { clustered } from './schema.js';

// Dimension ids of src/core/dimensions.ts that version-1 data maps to (ids are stable forever).
const TOTAL = 0;
const PAGE = 1;
const DAY = 1;
const HOUR = 2;

export async function migrateToVersion2(db: Kysely<any>, dialect: Dialect): Promise<void> {
  const int = dialect === 'sqlite' ? 'integer' : 'bigint';
  const exec = (q: string) => sql.raw(q).execute(db);

  // The dictionary: paths, and from now on every other value too.
  await exec('alter table paths rename to dictionary');
  await exec('alter table dictionary rename column path_id to value_id');
  await exec('alter table dictionary rename column path_hash to value_hash');
  await exec('alter table dictionary rename column path to value');

  // Visitors with their kind in the key; rebuilt rather than updated in place, so that no
  // intermediate state can collide with the unique key. Ids are kept: rollups refer to them.
  await db.schema
    .createTable('visitors_v2')
    .addColumn('visitor_id', int, (c) => (dialect === 'sqlite' ? c.primaryKey() : c.primaryKey().generatedByDefaultAsIdentity()))
    .addColumn('site_id', 'text', (c) => c.notNull())
    .addColumn('visitor_key', 'text', (c) => c.notNull())
    .addColumn('day', 'integer')
    .addUniqueConstraint('visitors_v2_site_key', ['site_id', 'visitor_key'])
    .execute();
  await exec(`insert into visitors_v2 (visitor_id, site_id, visitor_key) select visitor_id, site_id, 'u:' || visitor_key from visitors`);
  await exec('drop table visitors');
  await exec('alter table visitors_v2 rename to visitors');
  if (dialect === 'postgres') {
    // Identity sequences continue after the highest id kept (data restored by hand included).
    for (const [table, column] of [['visitors', 'visitor_id'], ['dictionary', 'value_id']]) {
      const { rows } = await sql<{ next: number }>`select coalesce(max(${sql.ref(column!)}), 0) + 1 as next from ${sql.table(table!)}`.execute(db);
      await exec(`alter table ${table} alter column ${column} restart with ${Number(rows[0]!.next)}`);
    }
  }

  // Raw events: the visitor by id, properties and derived dimension values as JSON.
  await exec(`alter table events add column visitor_id ${int}`);
  await exec('alter table events add column props text');
  await exec('alter table events add column dims text');

  await db.schema
    .createTable('rollups')
    .addColumn('site_id', 'text', (c) => c.notNull())
    .addColumn('grain', 'integer', (c) => c.notNull())
    .addColumn('bucket', 'bigint', (c) => c.notNull())
    .addColumn('dim', 'integer', (c) => c.notNull())
    .addColumn('scope', 'bigint', (c) => c.notNull())
    .addColumn('value', 'bigint', (c) => c.notNull())
    .addColumn('pageviews', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('events', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('visitors', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('visits', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('bounces', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('duration_ms', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('revision', 'bigint', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('rollups_pk', ['site_id', 'grain', 'bucket', 'dim', 'scope', 'value'])
    .modifyEnd(clustered(dialect))
    .execute();

  await db.schema
    .createTable('members')
    .addColumn('site_id', 'text', (c) => c.notNull())
    .addColumn('grain', 'integer', (c) => c.notNull())
    .addColumn('bucket', 'bigint', (c) => c.notNull())
    .addColumn('dim', 'integer', (c) => c.notNull())
    .addColumn('scope', 'bigint', (c) => c.notNull())
    .addColumn('value', 'bigint', (c) => c.notNull())
    .addColumn('visitor_id', 'bigint', (c) => c.notNull())
    .addColumn('refs', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('members_pk', ['site_id', 'grain', 'bucket', 'dim', 'scope', 'value', 'visitor_id'])
    .modifyEnd(clustered(dialect))
    .execute();

  await db.schema
    .createTable('visits')
    .addColumn('site_id', 'text', (c) => c.notNull())
    .addColumn('visitor_id', 'bigint', (c) => c.notNull())
    .addColumn('start_ms', 'bigint', (c) => c.notNull())
    .addColumn('last_ms', 'bigint', (c) => c.notNull())
    .addColumn('vals', 'text', (c) => c.notNull())
    .addColumn('entry_id', 'bigint', (c) => c.notNull())
    .addColumn('entry_ms', 'bigint', (c) => c.notNull())
    .addColumn('exit_id', 'bigint', (c) => c.notNull())
    .addColumn('exit_ms', 'bigint', (c) => c.notNull())
    .addColumn('pageviews', 'bigint', (c) => c.notNull())
    .addColumn('events', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('visits_pk', ['site_id', 'visitor_id', 'start_ms'])
    .modifyEnd(clustered(dialect))
    .execute();
  await db.schema.createIndex('visits_site_last').on('visits').columns(['site_id', 'last_ms']).execute();

  await db.schema
    .createTable('salts')
    .addColumn('day', 'text', (c) => c.primaryKey())
    .addColumn('salt', 'text', (c) => c.notNull())
    .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('ignored_events')
    .addColumn('event_id', dialect === 'postgres' ? 'uuid' : 'text', (c) => c.primaryKey())
    .addColumn('site_id', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('event_type', 'text', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('timestamp_ms', 'bigint', (c) => c.notNull())
    .addColumn('received_at_ms', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('ignored_events_site_timestamp').on('ignored_events').columns(['site_id', 'timestamp_ms']).execute();

  // Version-1 data into the new tables: totals (dim 0), their visitors, page views per path (dim 1).
  const dayNumber = dialect === 'sqlite' ? `cast(round(julianday(day) - 2440587.5) as integer)` : `(day::date - date '1970-01-01')`;
  const counters = 'site_id, grain, bucket, dim, scope, value, pageviews, visitors, revision';
  await exec(`insert into rollups (${counters}) select site_id, ${DAY}, ${dayNumber}, ${TOTAL}, 0, 0, total_views, unique_users, 1 from daily_stats`);
  await exec(`insert into rollups (${counters}) select site_id, ${HOUR}, hour_ms, ${TOTAL}, 0, 0, total_views, unique_users, 1 from hourly_stats`);
  await exec(`insert into rollups (${counters}) select site_id, ${DAY}, ${dayNumber}, ${PAGE}, 0, path_id, views, 0, 0 from daily_paths`);
  await exec(`insert into rollups (${counters}) select site_id, ${HOUR}, hour_ms, ${PAGE}, 0, path_id, views, 0, 0 from hourly_paths`);
  const members = 'site_id, grain, bucket, dim, scope, value, visitor_id, refs';
  await exec(`insert into members (${members}) select site_id, ${DAY}, ${dayNumber}, ${TOTAL}, 0, 0, visitor_id, 1 from daily_visitors`);
  await exec(`insert into members (${members}) select site_id, ${HOUR}, hour_ms, ${TOTAL}, 0, 0, visitor_id, 1 from hourly_visitors`);
  for (const t of ['daily_stats', 'daily_visitors', 'daily_paths', 'hourly_stats', 'hourly_visitors', 'hourly_paths']) await exec(`drop table ${t}`);

  const date = dialect === 'sqlite' ? `date(bucket * 86400, 'unixepoch')` : `to_char(date '1970-01-01' + bucket::int, 'YYYY-MM-DD')`;
  await exec(
    `create view daily_stats as select site_id, ${date} as date, pageviews as total_views, visitors as unique_users
     from rollups where grain = ${DAY} and dim = ${TOTAL} and scope = 0 and value = 0`,
  );
}
