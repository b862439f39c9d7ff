// The parts of `npm run bench`. Each starts the real processes (built API and worker), measures,
// and measures its baseline in the same run.
import Database from 'better-sqlite3';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { jobPayload, type QueuedEvent } from '../src/core/event.js';
import { DAY } from '../src/core/plan.js';
import { uuidv7 } from '../src/core/id.js';
import { newSite, type NewSite } from '../src/core/site.js';
import { addDays, dayNumber, localDay } from '../src/core/time.js';
import { JOB_NAME, jobOptions } from '../src/queue/bullmq.js';
import { EmbeddedEventQueue } from '../src/queue/embedded.js';
import { rangeReport } from '../src/reports/stats.js';
import { openStore } from '../src/store/index.js';
import type { AnalyticsStore } from '../src/store/port.js';
import type { SqlStore } from '../src/store/sql/store.js';
import { tempDir } from '../test/helpers/stores.js';
import { API_ENTRY, WORKER_ENTRY, spawnNode, type Proc } from '../test/helpers/system.js';
import { sleep } from '../test/helpers/wait.js';
import { load, peakRssMb, ratio, round, skewed, timings } from './lib.js';

export interface Target {
  what: string;
  met: boolean;
  value: string;
}
export interface PartResult {
  name: string;
  figures: Record<string, number>;
  lines: string[];
  targets: Target[];
}
interface Sizes {
  ingestSeconds: number;
  warmupSeconds: number;
  drainEvents: number;
  visitors: number;
  paths: number;
  statsRuns: number;
  rangeDays: number;
  uniquesEvents: number;
}
type Log = (msg: string) => void;

const HOUR = 3_600_000;
const target = (what: string, met: boolean, value: string | number): Target => ({ what, met, value: String(value) });

async function startApi(env: Record<string, string>): Promise<{ proc: Proc; url: string }> {
  const proc = spawnNode(API_ENTRY, { HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', RATE_LIMIT_MAX: '0', READ_RATE_LIMIT_MAX: '0', ...env }, 'api');
  const m = await proc.waitForLine(/API listening on (http:\/\/\S+)/, 60_000);
  return { proc, url: m[1]! };
}

async function obliterate(redisUrl: string, name: string) {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(name, { connection });
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  connection.disconnect();
}

// ---------------------------------------------------------------------------------------------
// 1. Ingestion

export async function ingestionPart(o: { redisUrl: string; sizes: Sizes; log: Log }): Promise<PartResult> {
  const run = { seconds: o.sizes.ingestSeconds, warmupSeconds: o.sizes.warmupSeconds };
  const body = (siteId: string) => JSON.stringify({ site_id: siteId, event_type: 'pageview', path: '/pricing', user_id: 'user-123' });

  const baseline = spawnTsx('bench/baseline-server.ts', { REDIS_URL: o.redisUrl });
  const baseUrl = (await baseline.waitForLine(/baseline listening on (http:\/\/\S+)/))[1]!;
  const base = await load(baseUrl, { body: body('bench'), ...run });
  await baseline.stop();
  const cleaner = new Redis(o.redisUrl);
  await cleaner.del('baseline:events');
  cleaner.disconnect();

  const queueName = `bench_ingest_${Date.now()}`;
  const dataDir = tempDir('bench-ingest-');
  const { proc, url } = await startApi({ REDIS_URL: o.redisUrl, QUEUE_NAME: queueName, DATA_DIR: dataDir });
  const site = await createSite(url);
  const api = await load(`${url}/api/event`, { body: body(site.site_id), headers: { 'x-api-key': site.api_key }, ...run });
  const rss = peakRssMb(proc.pid) ?? NaN;
  await proc.stop();
  const jobs = await countJobs(o.redisUrl, queueName);
  const accepted = api.ok + api.warmupOk;
  await obliterate(o.redisUrl, queueName);
  fs.rmSync(dataDir, { recursive: true, force: true });

  // The embedded mode, for information: API and worker thread share this process's two cores.
  const embeddedDir = tempDir('bench-ingest-embedded-');
  const emb = await startApi({ DATA_DIR: embeddedDir });
  const embSite = await createSite(emb.url);
  const embedded = await load(`${emb.url}/api/event`, { body: body(embSite.site_id), headers: { 'x-api-key': embSite.api_key }, ...run });
  await emb.proc.stop();
  fs.rmSync(embeddedDir, { recursive: true, force: true });

  const r = ratio(api.rps, base.rps);
  const errors = api.errors + api.non2xx;
  return {
    name: 'Ingestion: POST /api/event, 50 connections',
    figures: {
      baseline_rps: base.rps,
      baseline_p50_ms: base.p50,
      baseline_p99_ms: base.p99,
      api_rps: api.rps,
      api_p50_ms: api.p50,
      api_p99_ms: api.p99,
      api_errors: errors,
      api_ratio_to_baseline: r,
      api_peak_rss_mb: rss,
      api_events_per_job: round(accepted / Math.max(1, jobs), 1),
      embedded_rps: embedded.rps,
      embedded_p99_ms: embedded.p99,
      embedded_errors: embedded.errors + embedded.non2xx,
    },
    lines: [
      `baseline (node:http + zod + LPUSH): ${base.rps} req/s, p50 ${base.p50} ms, p99 ${base.p99} ms, errors ${base.errors + base.non2xx}`,
      `API (BullMQ on Redis):              ${api.rps} req/s, p50 ${api.p50} ms, p99 ${api.p99} ms, errors ${errors} — ${r}× baseline`,
      `  ${accepted} events in ${jobs} jobs (${round(accepted / Math.max(1, jobs), 1)} events per job); API peak RSS ${rss} MB`,
      `API embedded (SQLite queue, worker thread running): ${embedded.rps} req/s, p99 ${embedded.p99} ms, errors ${embedded.errors + embedded.non2xx}`,
    ],
    targets: [
      target('ingestion ≥ 0.6× baseline req/s', r >= 0.6, `${r}×`),
      target('ingestion p99 ≤ 15 ms', api.p99 <= 15, `${api.p99} ms`),
      target('ingestion 0 errors', errors === 0, errors),
      target('API server RSS < 300 MB under load', rss < 300, `${rss} MB`),
    ],
  };
}

function spawnTsx(file: string, env: Record<string, string>): Proc {
  // Same Node, TypeScript stripped at load by tsx: no cost once running.
  return spawnNode(file, { ...env, NODE_OPTIONS: '--import tsx' }, path.basename(file));
}

async function createSite(url: string, name = `Bench ${Date.now()}`): Promise<{ site_id: string; api_key: string; read_key: string }> {
  const res = await fetch(`${url}/api/site/create`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
  if (res.status !== 201) throw new Error(`site creation failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { data: { site_id: string; api_key: string; read_key: string } }).data;
}

async function countJobs(redisUrl: string, name: string): Promise<number> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(name, { connection });
  const counts = await queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
  await queue.close();
  connection.disconnect();
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

// ---------------------------------------------------------------------------------------------
// 2. Worker drain

interface KeptStore {
  store: AnalyticsStore;
  site: NewSite;
  env: Record<string, string>;
  cleanup: () => Promise<void>;
}

/**
 * Event i of n: times follow queue order across the last 24 hours (with a minute of jitter), as
 * live traffic arrives; visitors uniform, paths skewed (a few popular, a long tail).
 */
function makeEvents(site: string, n: number, now: number, visitors: number, paths: number, userOf?: (i: number) => string): (i: number) => QueuedEvent {
  const span = 23.5 * HOUR;
  return (i) => {
    const ts = Math.min(now - 60_000, now - span + Math.floor((i / n) * span + (Math.random() - 0.5) * 60_000));
    return {
      id: uuidv7(),
      site_id: site,
      type: 'pageview',
      path: `/page/${skewed(paths, Math.random())}`,
      visitor: `u:${userOf ? userOf(i) : `v${Math.floor(Math.random() * visitors)}`}`,
      ts,
      received_at: now,
    };
  };
}

async function prequeue(
  env: Record<string, string>,
  n: number,
  jobSize: number,
  event: (i: number) => QueuedEvent,
): Promise<number> {
  const started = performance.now();
  const config = loadConfig(env);
  if (config.queue.kind === 'bullmq') {
    const connection = new Redis(env.REDIS_URL!, { maxRetriesPerRequest: null });
    const queue = new Queue(config.queue.name, { connection, defaultJobOptions: jobOptions(config.queue) });
    let batch: { name: string; data: ReturnType<typeof jobPayload>; opts: { jobId: string } }[] = [];
    for (let i = 0; i < n; i += jobSize) {
      const events = Array.from({ length: Math.min(jobSize, n - i) }, (_, k) => event(i + k));
      batch.push({ name: JOB_NAME, data: jobPayload(events), opts: { jobId: uuidv7() } });
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
    for (let i = 0; i < n; i += jobSize) await queue.enqueue(Array.from({ length: Math.min(jobSize, n - i) }, (_, k) => event(i + k)));
    await queue.close();
  }
  return (performance.now() - started) / 1000;
}

/** Starts a worker process and waits until the rollups hold `n` page views on [from, to]. */
async function drainWith(env: Record<string, string>, store: AnalyticsStore, siteId: string, n: number, from: string, to: string, log: Log) {
  const started = performance.now();
  const worker = spawnNode(WORKER_ENTRY, { LOG_LEVEL: 'warn', ...env }, 'worker');
  let rss = 0;
  let last = 0;
  for (;;) {
    rss = Math.max(rss, peakRssMb(worker.pid) ?? 0);
    const views = (await store.summary(siteId, { grain: DAY, from: dayNumber(from), to: dayNumber(to) + 1 })).pageviews;
    if (views >= n) break;
    if (worker.child.exitCode !== null) throw new Error(`worker exited:\n${worker.output()}`);
    if (performance.now() - started > 30 * 60_000) throw new Error(`drain stuck at ${views}/${n}`);
    if (views - last >= n / 10) {
      log(`  ${views}/${n}`);
      last = views;
    }
    await sleep(200);
  }
  const seconds = (performance.now() - started) / 1000;
  rss = Math.max(rss, peakRssMb(worker.pid) ?? 0);
  await worker.stop();
  return { seconds, rss };
}

export async function drainPart(o: {
  redisUrl: string | undefined;
  postgresUrl: string;
  store: 'sqlite' | 'postgres';
  jobSize: number;
  sizes: Sizes;
  log: Log;
  keep: boolean;
}): Promise<{ result: PartResult; keep?: KeptStore }> {
  const dataDir = tempDir('bench-drain-');
  const schema = o.store === 'postgres' ? `bench_${Date.now()}` : undefined;
  const env: Record<string, string> = {
    DATA_DIR: dataDir,
    QUEUE_NAME: `bench_drain_${Date.now()}`,
    ...(o.redisUrl ? { REDIS_URL: o.redisUrl } : {}),
    ...(schema ? { DATABASE_URL: o.postgresUrl, DATABASE_SCHEMA: schema } : {}),
  };
  const store = await openStore(loadConfig(env));
  const now = Date.now();
  const site = newSite('bench', 'Bench', 'UTC', now);
  await store.createSite(site.site);
  const n = o.sizes.drainEvents;
  const prequeueSeconds = await prequeue(env, n, o.jobSize, makeEvents('bench', n, now, o.sizes.visitors, o.sizes.paths));
  const today = localDay(now, 'UTC');
  const { seconds, rss } = await drainWith(env, store, 'bench', n, addDays(today, -1), today, o.log);
  const eps = Math.round(n / seconds);
  const bulk = await bulkInsertBaseline(o.store, dataDir, o.postgresUrl, schema, n);
  const r = ratio(eps, bulk);
  const label = `${o.redisUrl ? 'BullMQ' : 'embedded queue'} + ${o.store === 'sqlite' ? 'SQLite' : 'PostgreSQL'}`;
  const cleanup = async () => {
    await store.close();
    if (schema) await dropSchemaAt(o.postgresUrl, schema);
    if (o.redisUrl) await obliterate(o.redisUrl, env.QUEUE_NAME!);
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  const result: PartResult = {
    name: `Worker drain: ${label}`,
    figures: { events: n, events_per_job: o.jobSize, prequeue_s: round(prequeueSeconds), drain_s: round(seconds), events_per_s: eps, baseline_bulk_rows_per_s: bulk, ratio_to_bulk_insert: r, worker_peak_rss_mb: rss },
    lines: [
      `${n} events (${o.sizes.visitors} visitors, ${o.sizes.paths} paths, last 24 h) pre-queued in jobs of ${o.jobSize} in ${round(prequeueSeconds, 1)} s`,
      `drained into rollups in ${round(seconds, 1)} s: ${eps} events/s; worker peak RSS ${rss} MB`,
      `baseline, bulk insert of the same rows into the same store (raw table only): ${bulk} rows/s — drain is ${r}× of it`,
    ],
    targets: [target(`worker ≥ 20,000 events/s (${label})`, eps >= 20_000, `${eps}/s`)],
  };
  if (o.keep) return { result, keep: { store, site, env, cleanup } };
  await cleanup();
  return { result };
}

async function dropSchemaAt(url: string, schema: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`drop schema if exists "${schema}" cascade`);
  await client.end();
}

/** The fastest plain insert of n event rows into a copy of the events table, same store. */
async function bulkInsertBaseline(store: 'sqlite' | 'postgres', dataDir: string, postgresUrl: string, schema: string | undefined, n: number): Promise<number> {
  const now = Date.now();
  const row = (i: number) => [uuidv7(), 'bench', 'pageview', `/page/${i % 10_000}`, `v${i % 100_000}`, now - i, now, now] as const;
  const chunk = 10_000;
  if (store === 'sqlite') {
    const db = new Database(path.join(dataDir, 'analytics.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(`create table bench_bulk (event_id text primary key, site_id text not null, event_type text not null, path text not null,
      user_id text not null, timestamp_ms integer not null, received_at_ms integer not null, processed_at_ms integer not null);
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
    user_id text not null, timestamp_ms bigint not null, received_at_ms bigint not null, processed_at_ms bigint not null)`);
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

// ---------------------------------------------------------------------------------------------
// 3. Statistics

export async function statsPart(o: { redisUrl: string; store: 'sqlite' | 'postgres'; target: KeptStore; sizes: Sizes; log: Log }): Promise<PartResult> {
  const { store, site, env } = o.target;
  const db = (store as SqlStore).db;
  const now = Date.now();
  const today = localDay(now, 'UTC');
  const yesterday = addDays(today, -1);
  // Older days: copies of yesterday's rollups, each with its own visitors (ids shifted), so the
  // range's exact uniques union ~3,000,000 distinct visitors, the hardest case for a range.
  const source = dayNumber(yesterday);
  for (let d = 2; d < o.sizes.rangeDays; d++) {
    const day = dayNumber(addDays(today, -d));
    await sql`insert into rollups (site_id, grain, bucket, dim, scope, value, pageviews, events, visitors, visits, bounces, duration_ms, revision)
      select site_id, grain, ${day}, dim, scope, value, pageviews, events, visitors, visits, bounces, duration_ms, revision
      from rollups where site_id = 'bench' and grain = ${DAY} and bucket = ${source}`.execute(db);
    await sql`insert into members (site_id, grain, bucket, dim, scope, value, visitor_id, refs)
      select site_id, grain, ${day}, dim, scope, value, visitor_id + ${d * 10_000_000}, refs
      from members where site_id = 'bench' and grain = ${DAY} and bucket = ${source}`.execute(db);
  }
  const { proc, url } = await startApi(env);
  const headers = { authorization: `Bearer ${site.readKey}` };
  const get = (query: string) => async () => {
    const res = await fetch(`${url}/api/stats?site_id=bench${query}`, { headers });
    if (res.status !== 200) throw new Error(`stats ${query}: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  };
  const q = {
    day: `&date=${today}`,
    last24h: '',
    range: `&from=${addDays(today, -(o.sizes.rangeDays - 1))}&to=${today}`,
  };
  const sample = async (query: string) => ((await (await fetch(`${url}/api/stats?site_id=bench${query}`, { headers })).json()) as { data: Record<string, unknown> }).data;
  const day = await timings(get(q.day), o.sizes.statsRuns, 20);
  const last24h = await timings(get(q.last24h), o.sizes.statsRuns, 20);
  const range = await timings(get(q.range), Math.max(10, Math.round(o.sizes.statsRuns / 2)), 5);
  const shown = { day: await sample(q.day), last24h: await sample(q.last24h), range: await sample(q.range) };
  const rss = peakRssMb(proc.pid) ?? NaN;
  await proc.stop();
  // Baseline: what a reporting query costs without rollups — the same day answered from raw events.
  const from = Date.parse(`${today}T00:00:00Z`);
  const rawScan = await timings(
    async () => {
      await sql`select count(*) as views, count(distinct user_id) as uniques from events where site_id = 'bench' and timestamp_ms >= ${from} and timestamp_ms < ${from + 24 * HOUR}`.execute(db);
      await sql`select path, count(*) as views from events where site_id = 'bench' and timestamp_ms >= ${from} and timestamp_ms < ${from + 24 * HOUR}
        group by path order by views desc, path limit 10`.execute(db);
    },
    Math.max(5, Math.round(o.sizes.statsRuns / 20)),
    2,
  );
  const storeName = o.store === 'sqlite' ? 'SQLite' : 'PostgreSQL';
  return {
    name: `Stats: GET /api/stats on ${storeName} (site with ${o.sizes.drainEvents} events in 24 h, ${o.sizes.visitors} visitors, ${o.sizes.paths} paths; ${o.sizes.rangeDays} days of rollups)`,
    figures: {
      day_p50_ms: day.p50,
      day_p99_ms: day.p99,
      last24h_p50_ms: last24h.p50,
      last24h_p99_ms: last24h.p99,
      range_p50_ms: range.p50,
      range_p99_ms: range.p99,
      raw_scan_day_p50_ms: rawScan.p50,
      day_speedup_vs_raw_scan: ratio(rawScan.p50, day.p50),
      range_unique_users: Number(shown.range.unique_users_count),
      api_peak_rss_mb: rss,
    },
    lines: [
      `one day:        p50 ${day.p50} ms, p99 ${day.p99} ms (${shown.day.total_views} views, ${shown.day.unique_users_count} uniques)`,
      `last 24 hours:  p50 ${last24h.p50} ms, p99 ${last24h.p99} ms (${shown.last24h.total_views} views, ${shown.last24h.unique_users_count} uniques)`,
      `${o.sizes.rangeDays}-day range:   p50 ${range.p50} ms, p99 ${range.p99} ms (${shown.range.total_views} views, ${shown.range.unique_users_count} exact uniques)`,
      `baseline, the same day from raw events (no rollups): p50 ${rawScan.p50} ms — rollups answer ${ratio(rawScan.p50, day.p50)}× faster`,
    ],
    targets: [
      target(`stats p99 ≤ 20 ms, one day (${storeName})`, day.p99 <= 20, `${day.p99} ms`),
      target(`stats p99 ≤ 20 ms, last 24 hours (${storeName})`, last24h.p99 <= 20, `${last24h.p99} ms`),
      target(`stats p99 ≤ 100 ms, ${o.sizes.rangeDays} days (${storeName})`, range.p99 <= 100, `${range.p99} ms`),
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// 4. One day with N distinct visitors, counted exactly

export async function uniquesPart(o: { redisUrl: string; sizes: Sizes; log: Log }): Promise<PartResult> {
  const dataDir = tempDir('bench-uniques-');
  const env = { DATA_DIR: dataDir, QUEUE_NAME: `bench_uniques_${Date.now()}`, REDIS_URL: o.redisUrl };
  const store = await openStore(loadConfig(env));
  const now = Date.now();
  await store.createSite(newSite('bench', 'Bench', 'UTC', now).site);
  const day = addDays(localDay(now, 'UTC'), -1);
  const dayStart = Date.parse(`${day}T00:00:00Z`);
  const n = o.sizes.uniquesEvents;
  const event = (i: number): QueuedEvent => {
    const ts = dayStart + Math.floor((i / n) * 24 * HOUR);
    return { id: uuidv7(ts), site_id: 'bench', type: 'pageview', path: `/page/${i % 1000}`, visitor: `u:visitor-${i}`, ts, received_at: ts };
  };
  await prequeue(env, n, 500, event);
  const { seconds, rss } = await drainWith(env, store, 'bench', n, day, day, o.log);
  const dayTotals = await store.summary('bench', { grain: DAY, from: dayNumber(day), to: dayNumber(day) + 1 });
  const totals = { uniques: dayTotals.visitors };
  const overHours = (await store.summary('bench', { grain: 2, from: dayStart, to: dayStart + 24 * HOUR })).visitors;
  const site = (await store.getSite('bench'))!;
  const range = await rangeReport(store, site, addDays(day, -1), addDays(day, 1), 'day');
  await store.close();
  await obliterate(o.redisUrl, env.QUEUE_NAME);
  fs.rmSync(dataDir, { recursive: true, force: true });
  const exact = totals?.uniques === n && overHours === n && range.unique_users_count === n;
  return {
    name: `Exact uniques: one day with ${n} distinct visitors (BullMQ + SQLite)`,
    figures: { visitors: n, day_uniques: totals?.uniques ?? 0, hourly_union_uniques: overHours, range_uniques: range.unique_users_count, drain_s: round(seconds), worker_peak_rss_mb: rss },
    lines: [
      `daily unique_users ${totals?.uniques}, union of the day's hourly visitors ${overHours}, 3-day range ${range.unique_users_count} — ${exact ? 'exact' : 'NOT EXACT'}`,
      `applied in ${round(seconds, 1)} s (${Math.round(n / seconds)} events/s); worker peak RSS ${rss} MB`,
    ],
    targets: [target(`${n} distinct visitors counted exactly`, exact, exact ? 'exact' : 'off')],
  };
}
