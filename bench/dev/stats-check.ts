// Quick check of range answers on a bench-shaped site without the queue: applies events through the
// store, copies days like the bench does, and times the report functions in-process.
import fs from 'node:fs';
import { sql } from 'kysely';
import { loadConfig } from '../../src/config.js';
import { uuidv7 } from '../../src/core/id.js';
import { newSite } from '../../src/core/site.js';
import { addDays, bucketsOf, localDay } from '../../src/core/time.js';
import { dayReport, last24hReport, rangeReport } from '../../src/reports/stats.js';
import { openStore } from '../../src/store/index.js';
import type { SqlStore } from '../../src/store/sql/store.js';
import { timings } from '../lib.js';

const N = Number(process.env.N ?? 300000);
const dir = '/tmp/statscheck-' + Date.now();
const env: Record<string, string> = { DATA_DIR: dir, ...(process.env.PG ? { DATABASE_URL: 'postgres://postgres@127.0.0.1/test', DATABASE_SCHEMA: 'sc' + Date.now() } : {}) };
const store = (await openStore(loadConfig(env))) as SqlStore;
const site = newSite('bench', 'b', 'UTC', Date.now()).site;
await store.createSite(site);
const now = Date.now();
for (let i = 0; i < N; i += 5000) {
  const batch = [];
  for (let k = 0; k < 5000; k++) { const r = Math.random(); const ts = now - Math.floor(Math.random() * 23.5 * 3600000) - 60000; batch.push({ id: uuidv7(), site_id: 'bench', event_type: 'pageview', path: `/page/${Math.floor(10000 * r * r * r)}`, user_id: `v${Math.floor(Math.random() * 100000)}`, ts, received_at: now, ...bucketsOf(ts, 'UTC'), is_pageview: true }); }
  await store.applyEvents(batch, now);
}
const today = localDay(now, 'UTC'), yesterday = addDays(today, -1);
for (let d = 2; d < 30; d++) {
  const day = addDays(today, -d);
  await sql`insert into daily_stats (site_id, day, total_views, unique_users, created_at_ms, updated_at_ms) select site_id, ${day}, total_views, unique_users, created_at_ms, updated_at_ms from daily_stats where site_id = 'bench' and day = ${yesterday}`.execute(store.db);
  await sql`insert into daily_paths (site_id, day, path_id, views) select site_id, ${day}, path_id, views from daily_paths where site_id = 'bench' and day = ${yesterday}`.execute(store.db);
  await sql`insert into daily_visitors (site_id, day, visitor_id) select site_id, ${day}, visitor_id + ${d * 10_000_000} from daily_visitors where site_id = 'bench' and day = ${yesterday}`.execute(store.db);
}
let t = performance.now();
const r = await rangeReport(store, site, addDays(today, -29), today, 'day');
console.log(`cold range ${Math.round(performance.now() - t)} ms: ${r.total_views} views, ${r.unique_users_count} uniques`);
console.log('day', await timings(async () => void (await dayReport(store, site, today)), 50, 5));
console.log('24h', await timings(async () => void (await last24hReport(store, site, Date.now())), 50, 5));
console.log('range', await timings(async () => void (await rangeReport(store, site, addDays(today, -29), today, 'day')), 30, 3));
await store.close();
if (env.DATABASE_SCHEMA) { const { default: pg } = await import('pg'); const c = new pg.Client(env.DATABASE_URL); await c.connect(); await c.query(`drop schema ${env.DATABASE_SCHEMA} cascade`); await c.end(); }
fs.rmSync(dir, { recursive: true, force: true });
