// The worker's write path alone: tracker-like events (every dimension, visits of several page views)
// prepared and applied in batches, straight into a store, without a queue. Prints events/s, CPU per
// event (this process; the PostgreSQL server's processes when local) and the rows each table holds
// per event. For tuning the write path; `npm run bench` measures the system.
// Run: npx tsx bench/dev/apply.ts   (N=events, BATCH=events per transaction, STORE=sqlite|postgres)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { newSite } from '../../src/core/site.js';
import { newEventId, type QueuedEvent } from '../../src/core/event.js';
import { prepareEvent } from '../../src/worker/prepare.js';
import { openSqliteStore } from '../../src/store/sql/sqlite.js';
import { openPostgresStore } from '../../src/store/sql/postgres.js';
import type { SqlStore } from '../../src/store/sql/store.js';
import { BROWSERS, REFERRERS } from '../../test/helpers/enrich-table.js';

const N = Number(process.env.N ?? 100_000);
const BATCH = Number(process.env.BATCH ?? 5000);
const STORE = process.env.STORE ?? 'sqlite';
const PG = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const COUNTRIES = ['US', 'DE', 'FR', 'GB', 'IN', 'BR', 'JP', 'CA', 'NL', 'ES'];
const LANGS = ['en-US', 'de-DE', 'fr-FR', 'en-GB', 'hi-IN', 'pt-BR', 'ja-JP'];
const WIDTHS = [390, 768, 1280, 1920];
const MIN = 60_000;

/** Visitors with visits of 1–6 page views a minute apart; queue order follows time, as live traffic does. */
function traffic(siteId: string, n: number, now: number): QueuedEvent[] {
  const out: QueuedEvent[] = [];
  const span = 20 * 60 * MIN;
  let v = 0;
  while (out.length < n) {
    const visitor = `h:${(v++).toString(36)}`;
    const start = now - span + Math.floor(Math.random() * span);
    const views = 1 + Math.floor(Math.random() * 6);
    const ua = BROWSERS[v % BROWSERS.length]!.ua;
    const ref = REFERRERS[v % REFERRERS.length]!.referrer;
    for (let k = 0; k < views && out.length < n; k++) {
      out.push({
        id: newEventId(),
        site_id: siteId,
        type: 'pageview',
        path: `/page/${Math.floor(Math.random() ** 3 * 2000)}`,
        visitor,
        host: 'example.com',
        ...(k === 0 && ref ? { referrer: ref } : {}),
        ...(k === 0 && v % 7 === 0 ? { utm_source: 'newsletter', utm_medium: 'email', utm_campaign: `c${v % 5}` } : {}),
        screen_width: WIDTHS[v % WIDTHS.length]!,
        language: LANGS[v % LANGS.length]!,
        country: COUNTRIES[v % COUNTRIES.length]!,
        ua,
        ts: start + k * MIN,
        received_at: now,
      });
    }
  }
  return out.sort((a, b) => a.ts - b.ts);
}

/** CPU ms used so far by each of these local processes (from /proc); a process gone (an idle pool connection closed) is left out. */
function serverCpuMs(pids: number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      out.set(pid, (Number(fields[11]) + Number(fields[12])) * 10); // clock ticks of 10 ms (USER_HZ 100)
    } catch {
      // not on this machine, or gone
    }
  }
  return out;
}

async function open(): Promise<{ store: SqlStore; done: () => Promise<void> }> {
  if (STORE === 'postgres') {
    const schema = `apply_bench_${process.pid}`;
    const store = openPostgresStore(PG, { schema, poolSize: 2 });
    return { store, done: async () => (await sql`drop schema ${sql.id(schema)} cascade`.execute(store.db), await store.close()) };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'apply-bench-'));
  const store = openSqliteStore(path.join(dir, 'analytics.db'));
  return { store, done: async () => (await store.close(), fs.rmSync(dir, { recursive: true, force: true })) };
}

const { store, done } = await open();
try {
  await store.migrate();
  const now = Date.now();
  const site = newSite('bench', 'Bench', 'Europe/Berlin', now).site;
  await store.createSite(site);
  const events = traffic(site.site_id, N, now);
  const t0 = performance.now();
  const prepared = events.map((e) => prepareEvent(e, site));
  const prepareMs = performance.now() - t0;
  // PostgreSQL's side: the CPU of the pool's two server processes, when they run on this machine.
  const backends =
    STORE === 'postgres'
      ? (await Promise.all([0, 1].map(() => sql<{ pid: number }>`select pg_backend_pid() as pid, pg_sleep(0.1)`.execute(store.db)))).map((r) => Number(r.rows[0]!.pid))
      : [];
  const serverCpu0 = serverCpuMs(backends);
  const t1 = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < prepared.length; i += BATCH) {
    await store.applyEvents(prepared.slice(i, i + BATCH), { now, sessionTimeoutMs: 30 * MIN });
  }
  const applyMs = performance.now() - t1;
  const cpu = process.cpuUsage(cpu0);
  const rows: Record<string, number> = {};
  for (const t of ['events', 'visits', 'visitors', 'dictionary', 'rollups', 'members']) {
    const r = await sql<{ n: number }>`select count(*) as n from ${sql.table(t)}`.execute(store.db);
    rows[t] = Number(r.rows[0]!.n);
  }
  console.log(`${STORE}: ${N} events in batches of ${BATCH}`);
  console.log(`  prepare  ${(prepareMs / N * 1000).toFixed(1)} µs/event`);
  console.log(`  apply    ${Math.round(N / (applyMs / 1000))} events/s (${(applyMs / 1000).toFixed(1)} s)`);
  // CPU of this process only (SQLite runs in it; PostgreSQL's server work is not included): a
  // steadier measure than events/s on a machine shared with other work.
  console.log(`  cpu      ${((cpu.user + cpu.system) / N).toFixed(1)} µs/event in this process`);
  const serverCpu = serverCpuMs(backends);
  const serverMs = [...serverCpu].reduce((ms, [pid, t]) => ms + t - (serverCpu0.get(pid) ?? t), 0);
  if (serverCpu.size > 0) console.log(`           ${((serverMs * 1000) / N).toFixed(1)} µs/event in the PostgreSQL server's processes of this run`);
  console.log(`  rows per event: ${Object.entries(rows).map(([t, n]) => `${t} ${(n / N).toFixed(2)}`).join(', ')}`);
} finally {
  await done();
}
