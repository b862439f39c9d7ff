// Where PostgreSQL time goes in the write path: per-statement durations over a realistic batch stream.
import pg from 'pg';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { SqlStore } from '../../src/store/sql/store.js';
import { PostgresBulk } from '../../src/store/sql/bulk.js';
import { newSite } from '../../src/core/site.js';
import { uuidv7 } from '../../src/core/id.js';
import { bucketsOf } from '../../src/core/time.js';

const N = Number(process.env.N ?? 100000), B = 5000;
const schema = 'pst' + Date.now();
const times = new Map<string, number>();
const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1/test', options: `-c search_path=${schema}` });
const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }), log: (e) => { const k = e.query.sql.replace(/\s+/g, ' ').slice(0, 50); times.set(k, (times.get(k) ?? 0) + e.queryDurationMillis); } });
const store = new SqlStore(db, { dialect: 'postgres', maxParams: 65000, bulk: new PostgresBulk(), withMigrationLock: async (k, fn) => { await sql.raw(`create schema ${schema}`).execute(k); await fn(k); }, isRetryable: () => false, isUniqueViolation: () => false, isDataError: () => false });
await store.migrate();
await store.createSite(newSite('bench', 'b', 'UTC', Date.now()).site);
const now = Date.now();
const all = [];
for (let k = 0; k < N; k++) { const r = Math.random(); const ts = now - Math.floor(Math.random() * 23.5 * 3600000) - 60000; all.push({ id: uuidv7(), site_id: 'bench', event_type: 'pageview', path: `/page/${Math.floor(10000 * r * r * r)}`, user_id: `v${Math.floor(Math.random() * 100000)}`, ts, received_at: now, ...bucketsOf(ts, 'UTC'), is_pageview: true }); }
times.clear();
const t = performance.now();
for (let i = 0; i < N; i += B) await store.applyEvents(all.slice(i, i + B), now);
const ms = performance.now() - t;
console.log(`${Math.round(N / ms * 1000)} events/s, ${Math.round(ms)} ms, statements ${Math.round([...times.values()].reduce((a, b) => a + b, 0))} ms`);
for (const [k, v] of [...times].sort((a, b) => b[1] - a[1])) console.log(Math.round(v).toString().padStart(6), k);
await sql.raw(`drop schema ${schema} cascade`).execute(db); await db.destroy();
