// The real processes a bench part starts (the built API and worker, a tsx script), and what it
// reads from them: CPU time from /proc, and the site the API creates.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { spawnNode, API_ENTRY, Proc } from '../test/helpers/system.js';

export { API_ENTRY, WORKER_ENTRY, Proc, spawnNode } from '../test/helpers/system.js';

/** The built API (with node `flags`, e.g. to profile it); rate limits off unless the caller sets them. */
/** BENCH_API_NODE_FLAGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"): flags of the API's node in the ingestion and read parts, for tuning. */
export const apiFlags = () => process.env.BENCH_API_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];

export async function startApi(env: Record<string, string>, flags: string[] = []): Promise<{ proc: Proc; url: string }> {
  const proc = spawnNodeWithFlags(API_ENTRY, { HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', RATE_LIMIT_MAX: '0', READ_RATE_LIMIT_MAX: '0', ...env }, 'api', flags);
  const m = await proc.waitForLine(/API listening on (http:\/\/\S+)/, 60_000);
  return { proc, url: m[1]! };
}

/** `entry` with node flags (`--cpu-prof` is not allowed in NODE_OPTIONS); no flags: spawnNode. */
export function spawnNodeWithFlags(entry: string, env: Record<string, string>, name: string, flags: string[]): Proc {
  if (flags.length === 0) return spawnNode(entry, env, name);
  const child = spawn(process.execPath, [...flags, entry], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Proc(child, name);
}

/** A TypeScript file run by the same Node (tsx strips the types at load: no cost once running). */
export function spawnTsx(file: string, env: Record<string, string>): Proc {
  return spawnNode(file, { ...env, NODE_OPTIONS: '--import tsx' }, path.basename(file));
}

export interface CreatedSite {
  site_id: string;
  api_key: string;
  read_key: string;
}

export async function createSite(url: string, headers: Record<string, string> = {}, name = `Bench ${Date.now()}`): Promise<CreatedSite> {
  const res = await fetch(`${url}/api/site/create`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ name }) });
  if (res.status !== 201) throw new Error(`site creation failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { data: CreatedSite }).data;
}

/** CPU time (user + system) a process has used so far, in ms; NaN once it is gone. */
export function cpuMs(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms (USER_HZ 100)
  } catch {
    return NaN;
  }
}

/** Removes a BullMQ queue and its jobs. */
export async function obliterate(redisUrl: string, name: string): Promise<void> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(name, { connection });
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  connection.disconnect();
}

/** Jobs of a BullMQ queue in any state. */
export async function countJobs(redisUrl: string, name: string): Promise<number> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(name, { connection });
  const counts = await queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
  await queue.close();
  connection.disconnect();
  return Object.values(counts).reduce((a, b) => a + b, 0);
}
