// `npm run bench --smoke`: every part of the bench runs at a tiny size, so the bench cannot rot.
// No timing is asserted here (figures are only measured by `npm run bench`).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { tempDir } from './helpers/stores.js';
import { POSTGRES_URL, REDIS_URL, serviceAvailable } from './helpers/services.js';

const redisUp = await serviceAvailable('Redis', REDIS_URL);
const pgUp = await serviceAvailable('PostgreSQL', POSTGRES_URL);

it.runIf(redisUp)('runs every part of the bench at smoke size and writes its report', async () => {
  const out = tempDir('analytics-bench-');
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--smoke'], {
    env: { ...process.env, BENCH_RESULTS_DIR: out, BENCH_DATABASE_URL: POSTGRES_URL },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  const code = await new Promise((r) => child.once('exit', r));
  expect(code, output).toBe(0);
  const [file] = fs.readdirSync(out);
  const report = JSON.parse(fs.readFileSync(path.join(out, file!), 'utf8'));
  const names: string[] = report.parts.map((p: { name: string }) => p.name);
  const expected = ['Ingestion', 'Drain: BullMQ + SQLite', 'Storage: SQLite', 'Drain: embedded queue + SQLite', 'Reads on SQLite', 'Front end'];
  if (pgUp) expected.push('Drain: BullMQ + PostgreSQL', 'Storage: PostgreSQL', 'Scale-out', 'Reads on PostgreSQL');
  for (const part of expected) {
    expect(names.some((n) => n.startsWith(part)), `${part} in ${names.join(' | ')}`).toBe(true);
  }
  for (const p of report.parts) {
    expect(p.targets.length, p.name).toBeGreaterThan(0);
    for (const [k, f] of Object.entries(p.figures)) expect(typeof f, `${p.name}: ${k}`).toBe('number');
  }
  // Every target is printed with its verdict; the verdicts of timings are not asserted (the smoke
  // sizes measure nothing), those of sizes and counts are.
  expect(output).toMatch(/target: ingestion ≥ 1\.0× baseline req\/s.*\s(met|NOT MET) \(/);
  expect(output).toMatch(/targets: \d+ of \d+ met/);
  const frontend = report.parts.find((p: { name: string }) => p.name.startsWith('Front end'));
  expect(frontend.figures.tracker_gzip9_bytes).toBeGreaterThan(0);
  expect(frontend.figures.tracker_gzip9_bytes).toBeLessThanOrEqual(1024);
}, 240_000);
