// Where SQLite time goes in the write path: per-table time of the bulk writes over a realistic batch stream.
import fs from 'node:fs';
import { SqliteBulk } from '../../src/store/sql/bulk.js';
import { openSqliteStore } from '../../src/store/sql/sqlite.js';
import { newSite } from '../../src/core/site.js';
import { uuidv7 } from '../../src/core/id.js';
import { bucketsOf } from '../../src/core/time.js';

const N = Number(process.env.N ?? 300000), B = Number(process.env.B ?? 5000);
const times = new Map<string, number>();
for (const m of ['insertNew', 'insertNewIds', 'upsertAdd'] as const) {
  const orig = SqliteBulk.prototype[m] as (...a: unknown[]) => Promise<unknown>;
  (SqliteBulk.prototype as unknown as Record<string, unknown>)[m] = async function (this: SqliteBulk, ...a: unknown[]) {
    const t = performance.now();
    const r = await orig.apply(this, a);
    const k = `${m} ${(a[1] as { name: string }).name}`;
    times.set(k, (times.get(k) ?? 0) + performance.now() - t);
    return r;
  };
}
const dir = '/tmp/sqlite-tables-' + Date.now();
const store = openSqliteStore(dir + '/a.db');
await store.migrate();
await store.createSite(newSite('bench', 'b', 'UTC', Date.now()).site);
const now = Date.now();
const all = [];
for (let k = 0; k < N; k++) { const r = Math.random(); const ts = now - 23.5 * 3600000 + Math.floor((k / N) * 23.5 * 3600000); all.push({ id: uuidv7(), site_id: 'bench', event_type: 'pageview', path: `/page/${Math.floor(10000 * r * r * r)}`, user_id: `v${Math.floor(Math.random() * 100000)}`, ts, received_at: now, ...bucketsOf(ts, 'UTC'), is_pageview: true }); }
const t = performance.now();
for (let i = 0; i < N; i += B) await store.applyEvents(all.slice(i, i + B), now);
const ms = performance.now() - t;
console.log(`${Math.round((N / ms) * 1000)} events/s, ${Math.round(ms)} ms, bulk writes ${Math.round([...times.values()].reduce((a, b) => a + b, 0))} ms`);
for (const [k, v] of [...times].sort((a, b) => b[1] - a[1])) console.log(Math.round(v).toString().padStart(6), k);
await store.close();
fs.rmSync(dir, { recursive: true, force: true });
