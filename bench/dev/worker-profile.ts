import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { openStore } from '../../src/store/index.js';
import { SiteCache } from '../../src/store/site-cache.js';
import { createGroupHandler } from '../../src/worker/apply.js';
import { newSite } from '../../src/core/site.js';
import { uuidv7 } from '../../src/core/id.js';
import fs from 'node:fs';
const N = Number(process.env.N ?? 200000);
const dir = '/tmp/wprof-' + Date.now();
const env: Record<string,string> = { DATA_DIR: dir, LOG_LEVEL: 'warn', ...(process.env.PG ? { DATABASE_URL: 'postgres://postgres@127.0.0.1/test', DATABASE_SCHEMA: 'wp' + Date.now() } : {}) };
const config = loadConfig(env);
const store = await openStore(config);
await store.createSite(newSite('bench', 'b', 'UTC', Date.now()).site);
const sites = new SiteCache(store); await sites.load();
const handler = createGroupHandler({ store, sites, logger: createLogger(config, 'w') });
const now = Date.now();
const jobs: any[] = [];
for (let i = 0; i < N; i += 25) {
  const events = [];
  for (let k = 0; k < 25; k++) { const r = Math.random(); events.push({ id: uuidv7(), site_id: 'bench', event_type: 'pageview', path: `/page/${Math.floor(10000 * r * r * r)}`, user_id: `v${Math.floor(Math.random() * 100000)}`, ts: now - Math.floor(Math.random() * 23.5 * 3600000) - 60000, received_at: now }); }
  jobs.push({ id: String(i), data: JSON.parse(JSON.stringify({ events })), attemptsMade: 0, maxAttempts: 5, retryDelayMs: 2000 });
}
const t = performance.now();
const C = Number(process.env.C ?? 1);
let next = 0;
await Promise.all(Array.from({ length: C }, async () => { while (next < jobs.length) { const i = next; next += 200; const res = await handler(jobs.slice(i, i + 200)); if (res.some(Boolean)) throw res.find(Boolean); } }));
const ms = performance.now() - t;
console.log(`${config.store.kind}: ${N} events in ${Math.round(ms)} ms = ${Math.round(N / ms * 1000)}/s, rss ${Math.round(process.memoryUsage().rss/1e6)} MB`);
await store.close(); fs.rmSync(dir, { recursive: true, force: true });
