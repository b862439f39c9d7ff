// The worker's drain: tracker events (every dimension, visits on) pre-queued as the API queues
// them, applied by real worker processes into the store. Prints events/s, the worker's peak RSS
// and CPU per event, the rows each table gains per event, the bytes on disk per 1,000,000 events
// (raw events and rollups apart) — and, as baseline in the same run, a plain bulk insert of the
// same number of raw rows into the same database.
import Database from 'better-sqlite3';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { jobPayload, newEventId, type QueuedEvent } from '../src/core/event.js';
import { DAY } from '../src/core/plan.js';
import { newSite } from '../src/core/site.js';
import { addDays, dayNumber, localDay } from '../src/core/time.js';
import { JOB_NAME, jobOptions } from '../src/queue/bullmq.js';
import { EmbeddedEventQueue } from '../src/queue/embedded.js';
import { openStore } from '../src/store/index.js';
import type { AnalyticsStore } from '../src/store/port.js';
import type { SqlStore } from '../src/store/sql/store.js';
import { tempDir } from '../test/helpers/stores.js';
import { sleep } from '../test/helpers/wait.js';
import { peakRssMb, ratio, round } from './lib.js';
import { target, type Log, type PartResult, type Sizes } from './part.js';
import { WORKER_ENTRY, cpuMs, obliterate, spawnNodeWithFlags, type Proc } from './processes.js';
import { trackerTraffic } from './traffic.js';

const HOUR = 3_600_000;
export type StoreKind = 'sqlite' | 'postgres';
const storeName = (s: StoreKind) => (s === 'sqlite' ? 'SQLite' : 'PostgreSQL');

export interface DrainSetup {
  queue: 'bullmq' | 'embedded';
  store: StoreKind;
  redisUrl?: string;
  postgresUrl: string;
  /** Events per job, as the API batched them in the ingestion part. */
  jobSize: number;
  events: number;
  workers: number;
  sizes: Sizes;
  log: Log;
}

export interface Drained {
  events: number;
  seconds: number;
  eventsPerSecond: number;
  prequeueSeconds: number;
  /** The largest peak RSS of the workers, MB. */
  rssMb: number;
  /** Worker CPU (all workers) per event, µs. */
  cpuUsPerEvent: number;
  rowsPerEvent: Record<string, number>;
  /** Bytes on disk of the raw events table (with its indexes) and of everything else the drain wrote. */
  rawBytes: number;
  rollupBytes: number;
  /** The same, compacted (PostgreSQL: VACUUM FULL; SQLite keeps no dead rows: the same). */
  compactRollupBytes: number;
  /** The same number of raw rows bulk-inserted into the same database, rows/s. */
  bulkRowsPerSecond: number;
  /** The drained page views, custom events and visitors equal what was sent. */
  exact: boolean;
  counts: string;
}

/** Queues `n` tracker events over the last 24 hours, drains them with `workers` worker processes, measures. */
export async function drain(o: DrainSetup): Promise<Drained> {
  const dataDir = tempDir('bench-drain-');
  const schema = o.store === 'postgres' ? `bench_drain_${process.pid}_${Date.now()}` : undefined;
  const env: Record<string, string> = {
    DATA_DIR: dataDir,
    QUEUE_NAME: `bench_drain_${Date.now()}`,
    LOG_LEVEL: 'warn',
    ...(o.queue === 'bullmq' ? { REDIS_URL: o.redisUrl! } : {}),
    ...(schema ? { DATABASE_URL: o.postgresUrl, DATABASE_SCHEMA: schema } : {}),
  };
  const store = await openStore(loadConfig(env));
  try {
    const now = Date.now();
    await store.createSite(newSite('bench', 'Bench', 'UTC', now).site);
    const events = trackerTraffic({ siteId: 'bench', events: o.events, visitors: o.sizes.visitors, paths: o.sizes.paths, referrers: o.sizes.referrers, countries: o.sizes.countries, from: now - 24 * HOUR, to: now - 60_000 });
    o.log(`  queueing ${o.events} events in jobs of ${o.jobSize}`);
    // What the events hold, counted as they are queued, to check the drained numbers are exact.
    const sent = { pageviews: 0, events: 0, visitors: new Set<string>() };
    const counted = (function* () {
      for (const e of events) {
        if (e.type === 'pageview') sent.pageviews++;
        else sent.events++;
        sent.visitors.add(e.visitor!);
        yield e;
      }
    })();
    const prequeueSeconds = await prequeue(env, counted, o.jobSize);
    const today = localDay(now, 'UTC');
    const run = await drainWith(env, o.workers, store, o.events, addDays(today, -1), today, o.log);
    const got = await store.summary('bench', { grain: DAY, from: dayNumber(addDays(today, -1)), to: dayNumber(today) + 1 });
    const exact = got.pageviews === sent.pageviews && got.events === sent.events && got.visitors === sent.visitors.size;
    const counts = `${got.pageviews} page views, ${got.events} custom events, ${got.visitors} visitors, ${got.visits} visits (sent ${sent.pageviews}, ${sent.events}, ${sent.visitors.size} visitors)`;
    const rowsPerEvent = await rowsPer(store as SqlStore, o.events);
    const { raw, rollups, compactRollups } = o.store === 'sqlite' ? sqliteBytes(dataDir) : await postgresBytes(store as SqlStore);
    const bulk = await bulkInsertBaseline(o.store, dataDir, o.postgresUrl, schema, o.events);
    return {
      events: o.events,
      seconds: round(run.seconds),
      eventsPerSecond: Math.round(o.events / run.seconds),
      prequeueSeconds: round(prequeueSeconds),
      rssMb: run.rss,
      cpuUsPerEvent: round((run.cpuMs * 1000) / o.events, 1),
      rowsPerEvent,
      rawBytes: raw,
      rollupBytes: rollups,
      compactRollupBytes: compactRollups,
      bulkRowsPerSecond: bulk,
      exact,
      counts,
    };
  } finally {
    await store.close();
    if (schema) await dropSchema(o.postgresUrl, schema);
    if (o.queue === 'bullmq') await obliterate(o.redisUrl!, env.QUEUE_NAME!);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The part for one queue + store: the drain next to its bulk-insert baseline, with its targets. */
export async function drainPart(o: Omit<DrainSetup, 'workers' | 'events'>): Promise<{ result: PartResult; drained: Drained }> {
  const label = `${o.queue === 'bullmq' ? 'BullMQ' : 'embedded queue'} + ${storeName(o.store)}`;
  const d = await drain({ ...o, workers: 1, events: o.sizes.drainEvents });
  const goal = o.queue === 'embedded' ? 60_000 : 30_000;
  const r = ratio(d.eventsPerSecond, d.bulkRowsPerSecond);
  const rows = Object.entries(d.rowsPerEvent).map(([t, n]) => `${t} ${n}`).join(', ');
  const total = round(Object.values(d.rowsPerEvent).reduce((a, b) => a + b, 0));
  return {
    drained: d,
    result: {
      name: `Drain: ${label}`,
      figures: {
        events: d.events,
        events_per_job: o.jobSize,
        prequeue_s: d.prequeueSeconds,
        drain_s: d.seconds,
        events_per_s: d.eventsPerSecond,
        baseline_bulk_rows_per_s: d.bulkRowsPerSecond,
        ratio_to_bulk_insert: r,
        worker_peak_rss_mb: d.rssMb,
        worker_cpu_us_per_event: d.cpuUsPerEvent,
        rows_per_event: total,
        ...Object.fromEntries(Object.entries(d.rowsPerEvent).map(([t, n]) => [`rows_per_event_${t}`, n])),
      },
      lines: [
        `baseline, bulk insert of ${d.events} raw event rows into the same database: ${d.bulkRowsPerSecond} rows/s`,
        `${d.events} tracker events (every dimension, visits; ${o.sizes.visitors} visitors, ${o.sizes.paths} paths, last 24 h), jobs of ${o.jobSize}: drained in ${d.seconds} s — ${d.eventsPerSecond} events/s, ${r}× the bulk insert`,
        `  worker peak RSS ${d.rssMb} MB, worker CPU ${d.cpuUsPerEvent} µs per event; rows written per event: ${total} (${rows})`,
        `  counted: ${d.counts} — ${d.exact ? 'exact' : 'NOT EXACT'}`,
      ],
      targets: [
        target(`drain ≥ ${goal.toLocaleString('en-US')} events/s (${label})`, d.eventsPerSecond >= goal, `${d.eventsPerSecond}/s`),
        target(`worker peak RSS ≤ 1 GB (${label})`, d.rssMb <= 1024, `${d.rssMb} MB`),
        target(`page views, custom events and visitors exact (${label})`, d.exact, d.exact ? 'exact' : 'off'),
      ],
    },
  };
}

/** Storage, from a drain of 1,000,000 events (scaled): bytes per 1M events, and a year of a 1M-a-day site. */
export function storagePart(store: StoreKind, d: Drained, retentionDays: number): PartResult {
  const per = (bytes: number) => (bytes * 1_000_000) / d.events;
  const raw = per(d.rawBytes);
  const rollups = per(d.rollupBytes);
  const compact = per(d.compactRollupBytes);
  // Raw events are kept RETENTION_DAYS days (+1, the day being written); rollups stay.
  const rawKept = raw * (retentionDays + 1);
  const year = (r: number) => rawKept + r * 365;
  const mb = (b: number) => round(b / 1e6, 1);
  const gb = (b: number) => round(b / 1e9, 1);
  const dead = compact < rollups * 0.95;
  return {
    name: `Storage: ${storeName(store)}`,
    figures: {
      raw_mb_per_1m_events: mb(raw),
      rollups_mb_per_1m_events: mb(rollups),
      rollups_compact_mb_per_1m_events: mb(compact),
      year_gb_at_1m_events_a_day: gb(year(rollups)),
      year_gb_at_1m_events_a_day_compact: gb(year(compact)),
      retention_days: retentionDays,
    },
    lines: [
      `per 1,000,000 events: raw events ${mb(raw)} MB (deleted after RETENTION_DAYS=${retentionDays}), rollups, visits and visitors ${mb(rollups)} MB (kept)` +
        (dead ? `, ${mb(compact)} MB of it live rows (VACUUM FULL; the rest is the day's dead row versions, reused by the next days)` : ''),
      `a site with 1,000,000 events a day, a year on: ${gb(rawKept)} GB of raw events + ${gb(rollups * 365)} GB of rollups = ${gb(year(rollups))} GB` +
        (dead ? ` (${gb(year(compact))} GB with live rows only)` : ''),
    ],
    targets: [target(`storage per 1M events measured (${storeName(store)})`, raw > 0 && rollups > 0, `${mb(raw + rollups)} MB`)],
  };
}

/** Scale-out: the same drain with one and with two worker processes on BullMQ + PostgreSQL. */
export async function scaleOutPart(o: Omit<DrainSetup, 'workers' | 'events' | 'queue' | 'store'>): Promise<PartResult> {
  const events = o.sizes.drainEvents;
  o.log('scale-out: one worker');
  const one = await drain({ ...o, queue: 'bullmq', store: 'postgres', workers: 1, events });
  o.log('scale-out: two workers');
  const two = await drain({ ...o, queue: 'bullmq', store: 'postgres', workers: 2, events });
  const r = ratio(two.eventsPerSecond, one.eventsPerSecond);
  return {
    name: 'Scale-out: BullMQ + PostgreSQL, one worker process vs two',
    figures: { events, one_worker_events_per_s: one.eventsPerSecond, two_workers_events_per_s: two.eventsPerSecond, ratio: r },
    lines: [
      `baseline, one worker: ${one.eventsPerSecond} events/s (${one.cpuUsPerEvent} µs CPU per event)`,
      `two workers: ${two.eventsPerSecond} events/s — ${r}× (2 cores shared with PostgreSQL and Redis)`,
    ],
    targets: [target('two workers drain faster than one (> 1.0×)', r > 1, `${r}×`)],
  };
}

async function prequeue(env: Record<string, string>, events: Iterable<QueuedEvent>, jobSize: number): Promise<number> {
  const started = performance.now();
  const config = loadConfig(env);
  const jobs = chunks(events, jobSize);
  if (config.queue.kind === 'bullmq') {
    const connection = new Redis(env.REDIS_URL!, { maxRetriesPerRequest: null });
    const queue = new Queue(config.queue.name, { connection, defaultJobOptions: jobOptions(config.queue) });
    let batch: { name: string; data: ReturnType<typeof jobPayload>; opts: { jobId: string } }[] = [];
    for (const job of jobs) {
      batch.push({ name: JOB_NAME, data: jobPayload(job), opts: { jobId: newEventId() } });
      if (batch.length === 500) {
        await queue.addBulk(batch);
        batch = [];
      }
    }
    if (batch.length) await queue.addBulk(batch);
    await queue.close();
    connection.disconnect();
  } else {
    const queue = new EmbeddedEventQueue(path.join(config.dataDir, 'analytics.db'));
    for (const job of jobs) await queue.enqueue(job);
    await queue.close();
  }
  return (performance.now() - started) / 1000;
}

function* chunks<T>(items: Iterable<T>, size: number): Generator<T[]> {
  let chunk: T[] = [];
  for (const item of items) {
    chunk.push(item);
    if (chunk.length === size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length) yield chunk;
}

/** Starts the workers and waits until the rollups hold all `n` events (page views + custom events). */
async function drainWith(env: Record<string, string>, workers: number, store: AnalyticsStore, n: number, from: string, to: string, log: Log) {
  const started = performance.now();
  const procs = Array.from({ length: workers }, (_, i) => spawnWorker(env, `worker-${i + 1}`));
  const rss = new Map<number, number>();
  const sampleRss = () => procs.forEach((p) => rss.set(p.pid, Math.max(rss.get(p.pid) ?? 0, peakRssMb(p.pid) ?? 0)));
  let last = 0;
  let cpu = 0;
  try {
    for (;;) {
      sampleRss();
      const s = await store.summary('bench', { grain: DAY, from: dayNumber(from), to: dayNumber(to) + 1 });
      const applied = s.pageviews + s.events;
      if (applied >= n) break;
      const dead = procs.find((p) => p.child.exitCode !== null);
      if (dead) throw new Error(`${dead.name} exited:\n${dead.output()}`);
      if (performance.now() - started > 30 * 60_000) throw new Error(`drain stuck at ${applied}/${n}`);
      if (applied - last >= n / 5) {
        log(`  ${applied}/${n}`);
        last = applied;
      }
      await sleep(100);
    }
    sampleRss();
    cpu = procs.reduce((ms, p) => ms + cpuMs(p.pid), 0);
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
  }
  return { seconds: (performance.now() - started) / 1000, rss: Math.max(...rss.values()), cpuMs: cpu };
}

/** A worker process; with BENCH_PROFILE_DIR, it writes a V8 CPU profile there when it stops (for tuning). */
function spawnWorker(env: Record<string, string>, name: string): Proc {
  const dir = process.env.BENCH_PROFILE_DIR;
  return spawnNodeWithFlags(WORKER_ENTRY, env, name, dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []);
}

const TABLES = ['events', 'visits', 'visitors', 'dictionary', 'rollups', 'members', 'visit_members'];

async function rowsPer(store: SqlStore, n: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of TABLES) {
    const r = await sql<{ n: number }>`select count(*) as n from ${sql.table(t)}`.execute(store.db);
    out[t] = round(Number(r.rows[0]!.n) / n);
  }
  return out;
}

/** Bytes per table from SQLite's dbstat (indexes counted with their table). */
function sqliteBytes(dataDir: string): { raw: number; rollups: number; compactRollups: number } {
  const db = new Database(path.join(dataDir, 'analytics.db'), { readonly: true });
  try {
    const rows = db.prepare(`select coalesce(m.tbl_name, s.name) as tbl, sum(s.pgsize) as bytes from dbstat s left join sqlite_master m on m.name = s.name group by tbl`).all() as { tbl: string; bytes: number }[];
    const bytes = split(rows.map((r) => [r.tbl, r.bytes]));
    return { ...bytes, compactRollups: bytes.rollups };
  } finally {
    db.close();
  }
}

/**
 * PostgreSQL's tables as the drain left them (after VACUUM: the dead row versions of a day of
 * counter updates are free space the next days reuse), and compacted (VACUUM FULL: live rows only).
 */
async function postgresBytes(store: SqlStore): Promise<{ raw: number; rollups: number; compactRollups: number }> {
  const sizes = async () => {
    const r = await sql<{ tbl: string; bytes: string }>`select c.relname as tbl, pg_total_relation_size(c.oid) as bytes from pg_class c
      join pg_namespace n on n.oid = c.relnamespace where n.nspname = current_schema() and c.relkind = 'r'`.execute(store.db);
    return split(r.rows.map((x) => [x.tbl, Number(x.bytes)]));
  };
  await sql`vacuum analyze`.execute(store.db);
  const written = await sizes();
  await sql`vacuum full`.execute(store.db);
  const compact = await sizes();
  return { ...written, compactRollups: compact.rollups };
}

/** Raw events vs the tables the statistics are read from (sites, salts and bookkeeping are tiny and left out). */
function split(rows: [string, number][]): { raw: number; rollups: number } {
  const bytes = new Map(rows);
  return { raw: bytes.get('events') ?? 0, rollups: TABLES.filter((t) => t !== 'events').reduce((s, t) => s + (bytes.get(t) ?? 0), 0) };
}

async function dropSchema(url: string, schema: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`drop schema if exists "${schema}" cascade`);
  await client.end();
}

/** The fastest plain insert of n raw event rows into a bare table of the same database. */
async function bulkInsertBaseline(store: StoreKind, dataDir: string, postgresUrl: string, schema: string | undefined, n: number): Promise<number> {
  const now = Date.now();
  const row = (i: number) => [newEventId(), 'bench', 'pageview', `/page/${i % 10_000}`, `h:v${i % 100_000}`, now - i, now, now] as const;
  const chunk = 10_000;
  if (store === 'sqlite') {
    const db = new Database(path.join(dataDir, 'analytics.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(`create table bench_bulk (event_id text primary key, site_id text not null, event_type text not null, path text not null,
      visitor text not null, timestamp_ms integer not null, received_at_ms integer not null, processed_at_ms integer not null);
      create index bench_bulk_site_ts on bench_bulk (site_id, timestamp_ms desc)`);
    const insert = db.prepare('insert into bench_bulk values (?, ?, ?, ?, ?, ?, ?, ?)');
    const started = performance.now();
    for (let i = 0; i < n; i += chunk) {
      db.transaction(() => {
        for (let k = i; k < Math.min(n, i + chunk); k++) insert.run(...row(k));
      })();
    }
    const rps = Math.round(n / ((performance.now() - started) / 1000));
    db.exec('drop table bench_bulk');
    db.close();
    return rps;
  }
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  await client.query(`set search_path = "${schema}"`);
  await client.query(`create table bench_bulk (event_id uuid primary key, site_id text not null, event_type text not null, path text not null,
    visitor text not null, timestamp_ms bigint not null, received_at_ms bigint not null, processed_at_ms bigint not null)`);
  await client.query('create index on bench_bulk (site_id, timestamp_ms desc)');
  const started = performance.now();
  for (let i = 0; i < n; i += chunk) {
    const rows = Array.from({ length: Math.min(chunk, n - i) }, (_, k) => row(i + k));
    const cols = rows[0]!.map((_, j) => rows.map((r) => r[j]));
    await client.query(
      'insert into bench_bulk select * from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[])',
      cols,
    );
  }
  const rps = Math.round(n / ((performance.now() - started) / 1000));
  await client.query('drop table bench_bulk');
  await client.end();
  return rps;
}
