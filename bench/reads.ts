// Reads part of `npm run bench`: /api/stats, /api/stats/breakdown (every dimension) and
// /api/stats/realtime on a site with a day of tracker-like traffic and `rangeDays` days of rollups,
// timed through the built API, next to a baseline measured in the same run: the same day answered
// by SQL from the raw events (what a read costs without rollups).
// Run alone: npx tsx bench/reads.ts [--smoke] [--store=sqlite|postgres]   (after `npm run build`)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { Redis } from 'ioredis';
import { BREAKDOWN_DIMENSIONS } from '../src/core/dimensions.js';
import { DAY } from '../src/core/plan.js';
import { newSite, type Site } from '../src/core/site.js';
import { addDays, dayNumber, localDay } from '../src/core/time.js';
import { openPostgresStore } from '../src/store/sql/postgres.js';
import { openSqliteStore } from '../src/store/sql/sqlite.js';
import type { SqlStore } from '../src/store/sql/store.js';
import { prepareEvent } from '../src/worker/prepare.js';
import { apiFlags, startApi, type Proc } from './processes.js';
import { peakRssMb, percentile, ratio, round, timings } from './lib.js';
import { FULL, SMOKE, target, type Log, type PartResult, type Sizes } from './part.js';
import { trackerTraffic } from './traffic.js';

const DAY_MS = 86_400_000;
const MIN = 60_000;
const SESSION_MS = 30 * MIN;
/** Visits whose last event is past this many days live in `visit_members` (RETENTION_DAYS' default). */
const RETENTION_DAYS = 7;
/** Copied days' visitors are other visitors: ids shifted by this much per day back. */
const VISITOR_SHIFT = 10_000_000;
const SITE = 'bench';

type Db = SqlStore['db'];

interface Dataset {
  store: SqlStore;
  site: Site;
  readKey: string;
  env: Record<string, string>;
  today: string;
  yesterday: string;
  buildSeconds: number;
  events: number;
  rows: Record<string, number>;
  cleanup: () => Promise<void>;
}

/** The dataset's database: `open` gives a store on it (again, with empty caches), `drop` removes it. */
function datasetDb(kind: 'sqlite' | 'postgres', postgresUrl: string): { open: () => SqlStore; env: Record<string, string>; drop: (store: SqlStore) => Promise<void> } {
  if (kind === 'postgres') {
    const schema = `bench_reads_${process.pid}_${Date.now().toString(36)}`;
    const drop = async (store: SqlStore) => {
      await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(store.db);
      await store.close();
    };
    return { open: () => openPostgresStore(postgresUrl, { schema, poolSize: 2 }), env: { DATABASE_URL: postgresUrl, DATABASE_SCHEMA: schema }, drop };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-reads-'));
  const drop = async (store: SqlStore) => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { open: () => openSqliteStore(path.join(dir, 'analytics.db')), env: { DATA_DIR: dir }, drop };
}

/** Prepared events into the store in transactions of 5000, as the worker applies them (no queue). */
async function apply(store: SqlStore, site: Site, events: Iterable<Parameters<typeof prepareEvent>[0]>): Promise<number> {
  let batch: ReturnType<typeof prepareEvent>[] = [];
  let n = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    await store.applyEvents(batch, { now: Date.now(), sessionTimeoutMs: SESSION_MS });
    n += batch.length;
    batch = [];
  };
  for (const e of events) {
    batch.push(prepareEvent(e, site));
    if (batch.length === 5000) await flush();
  }
  await flush();
  return n;
}

/**
 * Days 2 … rangeDays-1 back: copies of yesterday's day-grain rows (rollups, members, and the visits
 * starting yesterday), each day with other visitors (ids shifted), so a range's exact uniques are
 * the union of ~rangeDays different days' visitors. No raw events: they would be past retention.
 * Visits within retention stay in `visits`, older ones are in `visit_members`, as maintenance
 * leaves them.
 */
async function copyDays(db: Db, yesterday: string, days: number, log: Log): Promise<void> {
  const source = dayNumber(yesterday);
  const sourceStart = source * DAY_MS; // the site is UTC
  for (let d = 1; d < days; d++) {
    const day = source - d;
    const shift = d * VISITOR_SHIFT;
    const dt = d * DAY_MS;
    await db.transaction().execute(async (trx) => {
      await sql`insert into rollups (site_id, grain, bucket, dim, scope, value, pageviews, events, visitors, visits, bounces, duration_ms, revision)
        select site_id, grain, ${day}, dim, scope, value, pageviews, events, visitors, visits, bounces, duration_ms, revision
        from rollups where site_id = ${SITE} and grain = ${DAY} and bucket = ${source}`.execute(trx);
      await sql`insert into members (site_id, grain, bucket, dim, scope, value, visitor_id, refs)
        select site_id, grain, ${day}, dim, scope, value, visitor_id + ${shift}, refs
        from members where site_id = ${SITE} and grain = ${DAY} and bucket = ${source}`.execute(trx);
      if (d + 1 <= RETENTION_DAYS) {
        await sql`insert into visits (site_id, visitor_id, start_ms, last_ms, vals, entry_id, entry_ms, exit_id, exit_ms, pageviews, events)
          select site_id, visitor_id + ${shift}, start_ms - ${dt}, last_ms - ${dt}, vals, entry_id, entry_ms - ${dt}, exit_id, exit_ms - ${dt}, pageviews, events
          from visits where site_id = ${SITE} and start_ms >= ${sourceStart} and start_ms < ${sourceStart + DAY_MS}`.execute(trx);
      } else {
        // start_hour: the UTC hour's start, as the maintenance writes it for a UTC site.
        await sql`insert into visit_members (site_id, start_day, start_hour, visitor_id, vals, entry_id, exit_id)
          select site_id, ${day}, start_ms - ${dt} - ((start_ms - ${dt}) % 3600000), visitor_id + ${shift}, vals, entry_id, exit_id
          from visits where site_id = ${SITE} and start_ms >= ${sourceStart} and start_ms < ${sourceStart + DAY_MS}`.execute(trx);
      }
    });
    if (d % 10 === 0) log(`reads: copied ${d} of ${days - 1} days`);
  }
}

async function count(db: Db, table: string): Promise<number> {
  const r = await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(db);
  return Number(r.rows[0]!.n);
}

async function buildDataset(o: { store: 'sqlite' | 'postgres'; postgresUrl: string; sizes: Sizes; log: Log }): Promise<Dataset> {
  const t0 = performance.now();
  const { open, env, drop } = datasetDb(o.store, o.postgresUrl);
  let store = open();
  try {
    await store.migrate();
    const now = Date.now();
    const { site, readKey } = newSite(SITE, 'Bench', 'UTC', now);
    await store.createSite(site);
    const today = localDay(now, 'UTC');
    const yesterday = addDays(today, -1);
    // One stream from yesterday's midnight to a minute ago at dayEvents a day: yesterday is a full
    // day (the `date=` read), the last 24 hours hold a day of raw events and open visits.
    const from = dayNumber(yesterday) * DAY_MS;
    const to = now - MIN;
    const shape = { siteId: SITE, visitors: o.sizes.visitors, paths: o.sizes.paths, referrers: o.sizes.referrers, countries: o.sizes.countries };
    const events = Math.round((o.sizes.dayEvents * (to - from)) / DAY_MS);
    o.log(`reads (${o.store}): applying ${events} events from ${yesterday} 00:00 UTC to a minute ago`);
    let applied = await apply(store, site, trackerTraffic({ ...shape, events, from, to, seed: 1 }));
    const tApplied = performance.now();
    o.log(`reads (${o.store}): applied in ${round((tApplied - t0) / 1000, 1)} s; copying yesterday to ${o.sizes.rangeDays - 2} older days`);
    await copyDays(store.db, yesterday, o.sizes.rangeDays - 1, o.log);
    if (o.store === 'postgres') await sql`analyze`.execute(store.db);
    // The last minutes since the stream ended, at the same rate: realtime reads recent visits.
    const topFrom = to;
    const topTo = Date.now() - 5_000;
    const top = Math.max(1, Math.round((o.sizes.dayEvents * (topTo - topFrom)) / DAY_MS));
    applied += await apply(store, site, trackerTraffic({ ...shape, events: top, from: topFrom, to: topTo, seed: 2 }));
    const rows: Record<string, number> = {};
    for (const t of ['events', 'rollups', 'members', 'visits', 'visit_members']) rows[t] = await count(store.db, t);
    // A fresh store for the live reads: the writer's caches of millions of visitors and members
    // would stay in this process's heap, whose collector pauses would count in the reads it times.
    await store.close();
    store = open();
    const live = store;
    return { store, site, readKey, env, today, yesterday, buildSeconds: round((performance.now() - t0) / 1000, 1), events: applied, rows, cleanup: () => drop(live) };
  } catch (err) {
    await drop(store).catch(() => {});
    throw err;
  }
}

/** Baseline: the day's visitors, page views and top pages by SQL straight from the raw events. */
async function rawDay(db: Db, day: string): Promise<void> {
  const from = dayNumber(day) * DAY_MS;
  await sql`select count(*) as views, count(distinct user_id) as uniques from events
    where site_id = ${SITE} and timestamp_ms >= ${from} and timestamp_ms < ${from + DAY_MS} and event_type = 'pageview'`.execute(db);
  await sql`select path, count(*) as views from events
    where site_id = ${SITE} and timestamp_ms >= ${from} and timestamp_ms < ${from + DAY_MS} and event_type = 'pageview'
    group by path order by views desc, path limit 10`.execute(db);
}

interface Endpoint {
  name: string;
  period: 'day' | 'last24h' | 'range' | 'now';
  url: string;
}

function endpoints(ds: Dataset, rangeDays: number): Endpoint[] {
  const periods = {
    day: `&date=${ds.yesterday}`,
    last24h: '',
    range: `&from=${addDays(ds.today, -(rangeDays - 1))}&to=${ds.today}`,
  } as const;
  const out: Endpoint[] = [{ name: 'realtime', period: 'now', url: `/api/stats/realtime?site_id=${SITE}` }];
  for (const [period, q] of Object.entries(periods) as [Endpoint['period'], string][]) {
    out.push({ name: 'stats', period, url: `/api/stats?site_id=${SITE}${q}` });
    for (const d of BREAKDOWN_DIMENSIONS) {
      // Scoped dimensions: the traffic's custom event `signup` and its property `plan`.
      const scope = d.scopeParams?.map((p) => (p === 'event' ? '&event=signup' : '&property=plan')).join('') ?? '';
      out.push({ name: d.name, period, url: `/api/stats/breakdown?site_id=${SITE}&dimension=${d.name}${scope}${q}` });
    }
  }
  return out;
}

/** Wall time one endpoint may take (warm-up and runs): a read of seconds gets a few runs, not readRuns. */
const BUDGET_MS = 5_000;

/** timings() within BUDGET_MS: fewer warm-ups and runs (at least 3) when one request is slow. */
async function budgeted(fn: () => Promise<void>, runs: number, warmup: number, coldMs: number): Promise<{ p50: number; p99: number; runs: number }> {
  const fits = Math.floor(BUDGET_MS / Math.max(coldMs, 1));
  if (fits >= runs + warmup) return timings(fn, runs, warmup);
  const end = performance.now() + BUDGET_MS;
  await fn();
  const samples: number[] = [];
  while (samples.length < runs && (samples.length < 3 || performance.now() < end)) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  return { p50: round(percentile(samples, 50)), p99: round(percentile(samples, 99)), runs: samples.length };
}

const LIVE_BATCH = 20;

/**
 * The reads above repeat a period whose buckets do not change, which the API answers from memory
 * (SqlReader keeps a period's answer while its buckets keep their revisions). A dashboard of today
 * on a live site finds today's bucket changed at every refresh: timed here with a batch of new
 * events applied (in this process, as a worker would) before each read.
 */
async function liveReads(ds: Dataset, sizes: Sizes, fetchJson: (url: string) => Promise<unknown>): Promise<Map<string, { p50: number; p99: number }>> {
  const runs = Math.max(5, Math.round(sizes.readRuns / 4));
  const reads = {
    today_stats: `/api/stats?site_id=${SITE}&date=${ds.today}`,
    today_page: `/api/stats/breakdown?site_id=${SITE}&dimension=page&date=${ds.today}`,
    today_source: `/api/stats/breakdown?site_id=${SITE}&dimension=source&date=${ds.today}`,
    last24h_stats: `/api/stats?site_id=${SITE}`,
  };
  const shape = { siteId: SITE, visitors: sizes.visitors, paths: sizes.paths, referrers: sizes.referrers, countries: sizes.countries };
  const now = Date.now();
  const stream = trackerTraffic({ ...shape, events: LIVE_BATCH * (runs + 1) * Object.keys(reads).length, from: now - 60_000, to: now, seed: 3 })[Symbol.iterator]();
  const next = function* () {
    for (let i = 0; i < LIVE_BATCH; i++) {
      const e = stream.next();
      if (e.done) return;
      yield e.value;
    }
  };
  const out = new Map<string, { p50: number; p99: number }>();
  for (const [name, url] of Object.entries(reads)) {
    const samples: number[] = [];
    for (let i = 0; i <= runs; i++) {
      await apply(ds.store, ds.site, next());
      const t = performance.now();
      await fetchJson(url);
      if (i > 0) samples.push(performance.now() - t); // the first read: the period's first, cold
    }
    samples.sort((a, b) => a - b);
    out.set(name, { p50: round(percentile(samples, 50)), p99: round(percentile(samples, 99)) });
  }
  return out;
}


export async function readsPart(o: { store: 'sqlite' | 'postgres'; postgresUrl: string; redisUrl?: string; sizes: Sizes; log: Log }): Promise<PartResult> {
  const started = performance.now();
  const storeName = o.store === 'sqlite' ? 'SQLite' : 'PostgreSQL';
  const ds = await buildDataset(o);
  const redisUrl = o.redisUrl ?? process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const queue = `bench_reads_${process.pid}_${Date.now().toString(36)}`;
  let proc: Proc | undefined;
  try {
    o.log(`reads (${o.store}): dataset in ${ds.buildSeconds} s (${Object.entries(ds.rows).map(([t, n]) => `${t} ${n}`).join(', ')})`);
    const raw = await timings(() => rawDay(ds.store.db, ds.yesterday), Math.max(5, Math.round(o.sizes.readRuns / 20)), 1);

    // A queue of its own on Redis: the API runs no worker thread, nothing drains or writes.
    const api = await startApi({ ...ds.env, REDIS_URL: redisUrl, QUEUE_NAME: queue }, apiFlags());
    proc = api.proc;
    const headers = { authorization: `Bearer ${ds.readKey}` };
    const fetchJson = async (url: string) => {
      const res = await fetch(api.url + url, { headers });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`${url}: ${res.status} ${text}`);
      return JSON.parse(text) as { data: any };
    };
    const list = endpoints(ds, o.sizes.rangeDays);
    const results = new Map<string, { p50: number; p99: number; cold: number; runs: number }>();
    const warmup = Math.max(3, Math.round(o.sizes.readRuns / 10));
    // Realtime first: its window (the last 5 minutes) is closest to the traffic's end now; its
    // answer is the one of this first read (the window is empty once the other reads are timed).
    let realtimeAnswer: any;
    for (const e of list) {
      if (e.name === 'stats' || e.name === 'realtime') o.log(`reads (${o.store}): timing ${e.period === 'now' ? 'realtime' : e.period}`);
      const t = performance.now();
      const first = await fetchJson(e.url);
      const cold = round(performance.now() - t);
      if (e.name === 'realtime') realtimeAnswer = first.data;
      const r = await budgeted(async () => void (await fetchJson(e.url)), o.sizes.readRuns, warmup, cold);
      results.set(`${e.period}:${e.name}`, { p50: r.p50, p99: r.p99, cold, runs: r.runs });
      // Every endpoint as it is timed: a run stopped midway still tells where the time goes.
      o.log(`reads (${o.store}): ${e.period} ${e.name}: p50 ${r.p50} / p99 ${r.p99} ms, cold ${cold} ms${r.runs < o.sizes.readRuns ? ` (${r.runs} runs only: ${BUDGET_MS / 1000} s budget)` : ''}`);
    }
    const answers = {
      day: (await fetchJson(list.find((e) => e.period === 'day' && e.name === 'stats')!.url)).data,
      last24h: (await fetchJson(list.find((e) => e.period === 'last24h' && e.name === 'stats')!.url)).data,
      range: (await fetchJson(list.find((e) => e.period === 'range' && e.name === 'stats')!.url)).data,
    };
    const rangeCountries = (await fetchJson(`${list.find((e) => e.period === 'range' && e.name === 'country')!.url}&limit=1000`)).data.results.length;
    o.log(`reads (${o.store}): timing live reads (events applied before each read)`);
    const live = await liveReads(ds, o.sizes, (url) => fetchJson(url));
    const rss = peakRssMb(proc.pid) ?? NaN;
    await proc.stop();
    proc = undefined;

    const figures: Record<string, number> = {
      dataset_build_s: ds.buildSeconds,
      dataset_events: ds.events,
      ...Object.fromEntries(Object.entries(ds.rows).map(([t, n]) => [`rows_${t}`, n])),
      baseline_raw_day_p50_ms: raw.p50,
      baseline_raw_day_p99_ms: raw.p99,
      day_visitors: Number(answers.day.unique_users_count),
      day_pageviews: Number(answers.day.total_views),
      last24h_visitors: Number(answers.last24h.unique_users_count),
      range_visitors: Number(answers.range.unique_users_count),
      range_pageviews: Number(answers.range.total_views),
      realtime_visitors: Number(realtimeAnswer.visitors),
      realtime_pageviews: Number(realtimeAnswer.pageviews),
      api_peak_rss_mb: rss,
    };
    for (const [k, r] of live) {
      figures[`live_${k}_p50_ms`] = r.p50;
      figures[`live_${k}_p99_ms`] = r.p99;
    }
    for (const [k, r] of results) {
      const key = k.replace(':', '_');
      figures[`${key}_p50_ms`] = r.p50;
      figures[`${key}_p99_ms`] = r.p99;
      figures[`${key}_cold_ms`] = r.cold;
      if (r.runs < o.sizes.readRuns) figures[`${key}_runs`] = r.runs;
    }
    const worst = (period: Endpoint['period']) => {
      let w = { name: '', p99: -1, p50: 0 };
      for (const [k, r] of results) if (k.startsWith(`${period}:`) && r.p99 > w.p99) w = { name: k.slice(period.length + 1), p99: r.p99, p50: r.p50 };
      return w;
    };
    const worstBreakdown = (period: Endpoint['period']) => {
      let w = { name: '', p99: -1 };
      for (const [k, r] of results) if (k.startsWith(`${period}:`) && k !== `${period}:stats` && r.p99 > w.p99) w = { name: k.slice(period.length + 1), p99: r.p99 };
      return w;
    };
    const rangeLabel = `${o.sizes.rangeDays} days`;
    const label = { day: 'one day', last24h: 'last 24 hours', range: rangeLabel } as const;
    const periodLine = (p: 'day' | 'last24h' | 'range') => {
      const s = results.get(`${p}:stats`)!;
      const b = worstBreakdown(p);
      const a = answers[p];
      const few = [...results].filter(([k, r]) => k.startsWith(`${p}:`) && r.runs < o.sizes.readRuns).map(([k, r]) => `${k.slice(p.length + 1)} ${r.runs}`);
      return `${label[p].padEnd(14)} stats p50 ${s.p50} / p99 ${s.p99} ms (cold ${s.cold}); worst breakdown p99 ${b.p99} ms (${b.name})${few.length ? ` [runs cut by the ${BUDGET_MS / 1000} s budget: ${few.join(', ')}]` : ''} — ${a.total_views} views, ${a.unique_users_count} visitors, ${a.visits} visits, bounce ${a.bounce_rate}%, ${a.visit_duration} s`;
    };
    const rt = results.get('now:realtime')!;
    const dayStats = results.get('day:stats')!;
    const targets = (['day', 'last24h', 'range'] as const).map((p) => {
      const limit = { day: 5, last24h: 10, range: 25 }[p];
      const w = worst(p);
      return target(`reads p99 ≤ ${limit} ms, ${label[p]}, stats and every breakdown (${storeName})`, w.p99 <= limit, `${w.p99} ms (worst: ${w.name === 'stats' ? '/api/stats' : `breakdown ${w.name}`})`);
    });
    targets.push(target(`realtime p99 ≤ 10 ms (${storeName})`, rt.p99 <= 10, `${rt.p99} ms`));
    const perDay = figures.day_visitors > 0 ? round(figures.range_visitors / figures.day_visitors, 1) : NaN;
    return {
      name: `Reads on ${storeName}: /api/stats, /api/stats/breakdown (${BREAKDOWN_DIMENSIONS.length} dimensions), /api/stats/realtime — ${o.sizes.dayEvents} events/day, ${o.sizes.visitors} visitors, ${o.sizes.paths} paths, ${o.sizes.referrers} referrers, ${o.sizes.countries} countries, ${o.sizes.rangeDays} days of rollups`,
      figures,
      lines: [
        `baseline, the day from raw events by SQL (visitors, page views, top pages): p50 ${raw.p50} ms, p99 ${raw.p99} ms — /api/stats for the day p50 ${dayStats.p50} ms, ${ratio(raw.p50, dayStats.p50)}× faster`,
        `dataset: ${ds.events} events applied, ${o.sizes.rangeDays - 2} days copied in ${ds.buildSeconds} s; rows ${Object.entries(ds.rows).map(([t, n]) => `${t} ${n}`).join(', ')}`,
        `check: ${rangeLabel} ${figures.range_visitors} visitors = ${perDay}× the day's ${figures.day_visitors}; ${figures.range_pageviews} views = ${ratio(figures.range_pageviews, figures.day_pageviews)}× the day's ${figures.day_pageviews}; ${rangeCountries} countries`,
        periodLine('day'),
        periodLine('last24h'),
        periodLine('range'),
        `realtime       p50 ${rt.p50} / p99 ${rt.p99} ms (cold ${rt.cold}) — ${realtimeAnswer.visitors} visitors, ${realtimeAnswer.pageviews} views in 30 min`,
        `live (${LIVE_BATCH} new events applied before each read, so each finds today changed; no target): ${[...live].map(([k, r]) => `${k} p50 ${r.p50} / p99 ${r.p99} ms`).join(', ')}`,
        `${o.sizes.readRuns} sequential requests per endpoint after ${warmup} warm-up; API peak RSS ${rss} MB; part took ${round((performance.now() - started) / 1000, 1)} s`,
      ],
      targets,
    };
  } finally {
    await proc?.stop();
    await ds.cleanup();
    await dropQueueKeys(redisUrl, queue);
  }
}

/** The keys the API left under its private queue name (the queue's binding to the store). */
async function dropQueueKeys(redisUrl: string, queue: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `*${queue}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } catch {
    // Redis gone: nothing to clean
  } finally {
    redis.disconnect();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2);
  const sizes = argv.includes('--smoke') ? SMOKE : FULL;
  const store = (argv.find((a) => a.startsWith('--store='))?.slice(8) ?? 'sqlite') as 'sqlite' | 'postgres';
  const postgresUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const part = await readsPart({ store, postgresUrl, sizes, log: (m) => console.error(`[bench] ${m}`) });
  console.log(part.name);
  for (const l of part.lines) console.log(`  ${l}`);
  for (const t of part.targets) console.log(`  ${t.met ? 'met    ' : 'NOT MET'} ${t.what}: ${t.value}`);
}
