// `npm run bench --smoke`: every part of the bench runs at a tiny size, so the bench cannot rot.
// No timing is asserted here (figures are only measured by `npm run bench`).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { tempDir } from './helpers/stores.js';
import { REDIS_URL, serviceAvailable } from './helpers/services.js';

const redisUp = await serviceAvailable('Redis', REDIS_URL);

it.runIf(redisUp)('runs every part of the bench at smoke size and writes its report', async () => {
  const out = tempDir('analytics-bench-');
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--smoke'], {
    env: { ...process.env, BENCH_RESULTS_DIR: out },
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
  for (const part of ['Ingestion', 'Worker drain: BullMQ + SQLite', 'Stats: GET /api/stats on SQLite', 'Worker drain: embedded queue + SQLite', 'Exact uniques']) {
    expect(names.some((n) => n.startsWith(part)), `${part} in ${names.join(' | ')}`).toBe(true);
  }
  for (const p of report.parts) {
    expect(p.targets.length).toBeGreaterThan(0);
    for (const f of Object.values(p.figures)) expect(typeof f).toBe('number');
  }
  // The exact-uniques part checks its own count: that one is a correctness result, not a timing.
  const uniques = report.parts.find((p: { name: string }) => p.name.startsWith('Exact uniques'));
  expect(uniques.targets[0].met).toBe(true);
  expect(output).toMatch(/target: ingestion ≥ 0.6× baseline req\/s\s+(met|NOT MET)/);
}, 240_000);
