// Profiles a real worker process draining a pre-queued backlog: writes a .cpuprofile into PROF_DIR.
import fs from 'node:fs';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config.js';
import { uuidv7 } from '../../src/core/id.js';
import { newSite } from '../../src/core/site.js';
import { localDay, addDays } from '../../src/core/time.js';
import { JOB_NAME, jobOptions } from '../../src/queue/bullmq.js';
import { EmbeddedEventQueue } from '../../src/queue/embedded.js';
import { openStore } from '../../src/store/index.js';
import { spawn } from 'node:child_process';
import { Proc, WORKER_ENTRY } from '../../test/helpers/system.js';
import { sleep } from '../../test/helpers/wait.js';

const N = Number(process.env.N ?? 200000);
const dir = '/tmp/drainprof-' + Date.now();
const env: Record<string, string> = { ...(process.env.WORKER_FLUSH_MAX_EVENTS ? { WORKER_FLUSH_MAX_EVENTS: process.env.WORKER_FLUSH_MAX_EVENTS } : {}), DATA_DIR: dir, QUEUE_NAME: 'dp' + Date.now(), LOG_LEVEL: 'warn', ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}), ...(process.env.PG ? { DATABASE_URL: 'postgres://postgres@127.0.0.1/test', DATABASE_SCHEMA: 'dp' + Date.now() } : {}) };
const config = loadConfig(env);
const store = await openStore(config);
await store.createSite(newSite('bench', 'b', 'UTC', Date.now()).site);
const now = Date.now();
let seq = 0;
const ev = () => { const r = Math.random(); return { id: uuidv7(), site_id: 'bench', event_type: 'pageview', path: `/page/${Math.floor(10000 * r * r * r)}`, user_id: `v${Math.floor(Math.random() * 100000)}`, ts: now - 23.5 * 3600000 + Math.floor((seq++ / N) * 23.5 * 3600000), received_at: now }; };
if (config.queue.kind === 'bullmq') {
  const connection = new Redis(env.REDIS_URL!, { maxRetriesPerRequest: null });
  const q = new Queue(config.queue.name, { connection, defaultJobOptions: jobOptions(config.queue) });
  for (let i = 0; i < N; i += 25 * 500) await q.addBulk(Array.from({ length: 500 }, () => ({ name: JOB_NAME, data: { events: Array.from({ length: 25 }, ev) }, opts: { jobId: uuidv7() } })));
  await q.close(); connection.disconnect();
} else {
  const q = new EmbeddedEventQueue(dir + '/analytics.db');
  for (let i = 0; i < N; i += 25) await q.enqueue(Array.from({ length: 25 }, ev));
  await q.close();
}
const t = performance.now();
const extra = Array.from({ length: Number(process.env.WORKERS ?? 1) - 1 }, () => spawn(process.execPath, [WORKER_ENTRY], { env: { PATH: process.env.PATH, ...env }, stdio: 'ignore' }));
const profile = process.env.NOPROF ? [] : ['--cpu-prof', `--cpu-prof-dir=${process.env.PROF_DIR ?? '/tmp/prof3'}`];
const child = spawn(process.execPath, [...profile, WORKER_ENTRY], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
const w = new Proc(child, 'worker');
const today = localDay(now, 'UTC');
for (;;) {
  const v = (await store.dailyTotals('bench', addDays(today, -1), today)).reduce((s, d) => s + d.views, 0);
  if (v >= Math.floor(N / 25) * 25) break;
  if (child.exitCode !== null) throw new Error(w.output());
  await sleep(100);
}
console.log(`${config.queue.kind}/${config.store.kind}: ${Math.round(N / ((performance.now() - t) / 1000))} events/s (incl. worker start)`);
await w.stop();
for (const x of extra) x.kill('SIGTERM');
await store.close();
fs.rmSync(dir, { recursive: true, force: true });
