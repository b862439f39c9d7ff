// `npm run bench`: ingestion, worker drain, statistics and memory, each next to a baseline measured
// in the same run (machines are noisy; ratios travel better than absolute numbers).
// Prints a table and writes bench/results/<date>.json. `--smoke` runs tiny sizes in seconds
// (used by the test suite to keep the bench from rotting).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { drainPart, ingestionPart, statsPart, uniquesPart, type PartResult } from './parts.js';
import { PrivateRedis } from '../test/helpers/private-servers.js';
import { canConnect } from '../test/helpers/wait.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const smoke = argv.includes('--smoke');
const only = argv.find((a) => a.startsWith('--only='))?.slice(7).split(',');
const resultsDir = process.env.BENCH_RESULTS_DIR ?? path.join(ROOT, 'bench/results');

export const sizes = smoke
  ? { ingestSeconds: 1, warmupSeconds: 1, drainEvents: 3000, visitors: 500, paths: 100, statsRuns: 20, rangeDays: 30, uniquesEvents: 2000 }
  : { ingestSeconds: 10, warmupSeconds: 3, drainEvents: 1_000_000, visitors: 100_000, paths: 10_000, statsRuns: 200, rangeDays: 30, uniquesEvents: 1_000_000 };

const want = (part: string) => !only || only.includes(part);

async function main() {
  if (!fs.existsSync(path.join(ROOT, 'dist/src/main.js'))) throw new Error('run `npm run build` first (npm run bench does)');
  const postgresUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const pgReachable = await canConnect(postgresUrl);
  const redis = process.env.BENCH_REDIS_URL ? undefined : await PrivateRedis.start({ durable: false });
  const redisUrl = process.env.BENCH_REDIS_URL ?? redis!.url;
  const parts: PartResult[] = [];
  const log = (msg: string) => console.error(`[bench] ${msg}`);
  try {
    let jobSize = 25;
    if (want('ingestion')) {
      log('ingestion: baseline node:http + zod + LPUSH, then the API (Fastify + auth + batching + BullMQ)');
      const ingestion = await ingestionPart({ redisUrl, sizes, log });
      parts.push(ingestion);
      jobSize = Math.max(1, Math.round(ingestion.figures.api_events_per_job ?? jobSize));
    }
    const stores = (['sqlite', 'postgres'] as const).filter((s) => s === 'sqlite' || pgReachable);
    if (!pgReachable) log(`PostgreSQL not reachable at ${postgresUrl}: drain and stats on SQLite only`);
    for (const store of stores) {
      if (!want('drain') && !want('stats')) break;
      log(`drain (${store}): ${sizes.drainEvents} events pre-queued in jobs of ${jobSize}`);
      const drained = await drainPart({ redisUrl, postgresUrl, store, jobSize, sizes, log, keep: want('stats') });
      if (want('drain')) parts.push(drained.result);
      if (want('stats') && drained.keep) {
        log(`stats (${store}): day, last 24 hours, ${sizes.rangeDays}-day range`);
        parts.push(await statsPart({ redisUrl, store, target: drained.keep, sizes, log }));
      }
      await drained.keep?.cleanup();
    }
    if (want('drain')) {
      log(`drain (embedded queue + SQLite): ${sizes.drainEvents} events`);
      const embedded = await drainPart({ redisUrl: undefined, postgresUrl, store: 'sqlite', jobSize, sizes, log, keep: false });
      parts.push(embedded.result);
    }
    if (want('uniques')) {
      log(`uniques: ${sizes.uniquesEvents} distinct visitors in one day`);
      parts.push(await uniquesPart({ redisUrl, sizes, log }));
    }
  } finally {
    await redis?.stop();
  }

  const report = {
    date: new Date().toISOString(),
    smoke,
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memory_gb: Math.round(os.totalmem() / 2 ** 30), node: process.version },
    parts,
  };
  print(report.parts);
  fs.mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `${report.date.slice(0, 10)}${smoke ? '-smoke' : ''}.json`);
  fs.writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  console.log(`\nwritten ${path.relative(process.cwd(), file)}`);
}

function print(parts: PartResult[]) {
  console.log('');
  for (const p of parts) {
    console.log(`## ${p.name}`);
    for (const line of p.lines) console.log(`  ${line}`);
    for (const t of p.targets) console.log(`  target: ${t.what.padEnd(52)} ${t.met ? 'met' : 'NOT MET'} (${t.value})`);
    console.log('');
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
