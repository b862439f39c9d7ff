// `npm run bench`: ingestion, drain, storage, scale-out, reads, tracker and dashboard — each next
// to a baseline measured in the same run (machines are noisy; ratios travel better than absolute
// numbers), each target printed as met / NOT MET. Writes bench/results/<date>.json; bench/markdown.ts
// turns that into the README's table. `--smoke` runs every part at a tiny size in seconds (the test
// suite does, so the bench cannot rot); `--only=ingestion,drain,scale,reads,frontend` picks parts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.js';
import { PrivateRedis } from '../test/helpers/private-servers.js';
import { canConnect } from '../test/helpers/wait.js';
import { drainPart, scaleOutPart, storagePart } from './drain.js';
import { frontendPart } from './frontend.js';
import { ingestionPart } from './ingestion.js';
import { FULL, SMOKE, type PartResult } from './part.js';
import { readsPart } from './reads.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const smoke = argv.includes('--smoke');
const only = argv.find((a) => a.startsWith('--only='))?.slice(7).split(',');
const resultsDir = process.env.BENCH_RESULTS_DIR ?? path.join(ROOT, 'bench/results');
const sizes = smoke ? SMOKE : FULL;
const want = (part: string) => !only || only.includes(part);
const log = (msg: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);

async function main() {
  if (!fs.existsSync(path.join(ROOT, 'dist/src/main.js'))) throw new Error('run `npm run build` first (npm run bench does)');
  const postgresUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const pgReachable = await canConnect(postgresUrl);
  if (!pgReachable) {
    if (process.env.CI === 'true') throw new Error(`PostgreSQL not reachable at ${postgresUrl} (CI=true: the bench measures both stores)`);
    log(`PostgreSQL not reachable at ${postgresUrl}: the PostgreSQL parts are left out`);
  }
  const stores = (['sqlite', 'postgres'] as const).filter((s) => s === 'sqlite' || pgReachable);
  // A private Redis without persistence, so a bench never measures (or fills) someone's Redis.
  const redis = process.env.BENCH_REDIS_URL ? undefined : await PrivateRedis.start({ durable: false });
  const redisUrl = process.env.BENCH_REDIS_URL ?? redis!.url;
  const parts: PartResult[] = [];
  const started = performance.now();
  try {
    let jobSize = 25;
    if (want('ingestion')) {
      const ingestion = await ingestionPart({ redisUrl, sizes, log });
      parts.push(ingestion);
      jobSize = Math.max(1, Math.round(ingestion.figures.api_events_per_job ?? jobSize));
    }
    if (want('drain')) {
      const retentionDays = loadConfig({}).retentionDays;
      for (const store of stores) {
        log(`drain: BullMQ + ${store}, ${sizes.drainEvents} events`);
        const { result, drained } = await drainPart({ queue: 'bullmq', store, redisUrl, postgresUrl, jobSize, sizes, log });
        parts.push(result, storagePart(store, drained, retentionDays));
      }
      log(`drain: embedded queue + sqlite, ${sizes.drainEvents} events`);
      parts.push((await drainPart({ queue: 'embedded', store: 'sqlite', postgresUrl, jobSize, sizes, log })).result);
    }
    if (want('scale') && pgReachable) parts.push(await scaleOutPart({ redisUrl, postgresUrl, jobSize, sizes, log }));
    if (want('reads')) for (const store of stores) parts.push(await readsPart({ store, postgresUrl, redisUrl, sizes, log }));
    if (want('frontend')) parts.push(await frontendPart({ sizes, log }));
  } finally {
    await redis?.stop();
  }

  const report = {
    date: new Date().toISOString(),
    smoke,
    seconds: Math.round((performance.now() - started) / 1000),
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memory_gb: Math.round(os.totalmem() / 2 ** 30), node: process.version },
    parts,
  };
  print(parts);
  fs.mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `${report.date.slice(0, 10)}${smoke ? '-smoke' : ''}.json`);
  fs.writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  console.log(`\nwritten ${path.relative(process.cwd(), file)} (${report.seconds} s)`);
}

function print(parts: PartResult[]) {
  console.log('');
  for (const p of parts) {
    console.log(`## ${p.name}`);
    for (const line of p.lines) console.log(`  ${line}`);
    for (const t of p.targets) console.log(`  target: ${t.what.padEnd(70)} ${t.met ? 'met' : 'NOT MET'} (${t.value})`);
    console.log('');
  }
  const all = parts.flatMap((p) => p.targets);
  const missed = all.filter((t) => !t.met);
  console.log(`targets: ${all.length - missed.length} of ${all.length} met${missed.length ? `; not met: ${missed.map((t) => t.what).join('; ')}` : ''}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
