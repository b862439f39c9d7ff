// Starts the real system as the user would: the built API (`node dist/src/main.js`) and, with
// Redis or SQS, worker processes (`node dist/worker/processor.js`), each a child process with its
// own PID. In 'sqs' mode an SQS emulator (fauxqs) runs in the test process and the children reach
// it over HTTP, so killing a worker never touches the queue. 'bullmq' mode runs on a Redis Cluster
// when the env gives REDIS_CLUSTER_NODES (test/helpers/redis-cluster.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REDIS_URL, uniqueName } from './services.js';
import { SqsEmulator, type QueueSpec, type TestQueue } from './sqs.js';
import { tempDir } from './stores.js';
import { sleep } from './wait.js';

export { sleep };

const ROOT = path.resolve(import.meta.dirname, '../..');
export const API_ENTRY = path.join(ROOT, 'dist/src/main.js');
export const WORKER_ENTRY = path.join(ROOT, 'dist/worker/processor.js');
export const CRON_ENTRY = path.join(ROOT, 'dist/src/cron/main.js');

export type Mode = 'embedded' | 'bullmq' | 'sqs';

export class Proc {
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcess, readonly name: string) {
    const collect = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.trim()) this.lines.push(line);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  output(): string {
    return this.lines.join('\n');
  }

  /** Waits for a line matching `pattern`, among the lines from index `from` on. */
  async waitForLine(pattern: RegExp, timeoutMs = 20_000, from = 0): Promise<RegExpMatchArray> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      for (const line of this.lines.slice(from)) {
        const m = pattern.exec(line);
        if (m) return m;
      }
      if (this.child.exitCode !== null) throw new Error(`${this.name} exited (${this.child.exitCode}):\n${this.output()}`);
      if (Date.now() > end) throw new Error(`${this.name}: no line matching ${pattern} in ${timeoutMs} ms:\n${this.output()}`);
      await sleep(25);
    }
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.child.exitCode === null) this.child.kill(signal);
  }

  async stop(timeoutMs = 15_000): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

export function spawnNode(entry: string, env: Record<string, string>, name: string): Proc {
  const child = spawn(process.execPath, [entry], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Proc(child, name);
}

export interface SystemOptions {
  mode: Mode;
  env?: Record<string, string>;
  /** Worker processes to start (default: 1 with BullMQ or SQS, 0 embedded where `npm start` runs one in a thread). */
  workers?: number;
  /** 'sqs' mode: the queue's dead-letter setup (default: SQS_DLQ_URL). */
  sqsQueue?: QueueSpec;
}

export interface SiteKeys {
  site_id: string;
  api_key: string;
  read_key: string;
  timezone: string;
}

export class System {
  api!: Proc;
  workers: Proc[] = [];
  url = '';

  /** 'sqs' mode: the emulator and the queue. */
  sqs: { emulator: SqsEmulator; queue: TestQueue } | undefined;

  constructor(readonly env: Record<string, string>, readonly mode: Mode) {}

  static async start(opts: SystemOptions): Promise<System> {
    let sqs: System['sqs'];
    let sqsEnv: Record<string, string> = {};
    if (opts.mode === 'sqs') {
      const emulator = await SqsEmulator.start();
      const spec = opts.sqsQueue ?? { deadLetter: 'explicit' };
      const queue = emulator.createQueue(spec);
      sqs = { emulator, queue };
      sqsEnv = emulator.env(queue, spec);
    }
    const dataDir = tempDir('analytics-system-');
    const env: Record<string, string> = {
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      QUEUE_NAME: uniqueName('it'),
      LOG_LEVEL: 'info',
      RATE_LIMIT_MAX: '0',
      READ_RATE_LIMIT_MAX: '0',
      // BullMQ on the shared Redis, unless the test gives a Redis Cluster (REDIS_CLUSTER_NODES).
      ...(opts.mode === 'bullmq' && !opts.env?.REDIS_CLUSTER_NODES ? { REDIS_URL } : {}),
      ...sqsEnv,
      ...opts.env,
    };
    const system = new System(env, opts.mode);
    system.sqs = sqs;
    await system.startApi();
    const workers = opts.workers ?? (opts.mode === 'embedded' ? 0 : 1);
    for (let i = 0; i < workers; i++) await system.startWorker();
    return system;
  }

  async startApi(extraEnv: Record<string, string> = {}): Promise<Proc> {
    this.api = spawnNode(API_ENTRY, { ...this.env, ...extraEnv }, 'api');
    const m = await this.api.waitForLine(/API listening on (http:\/\/\S+)/);
    this.url = m[1]!;
    if (this.mode === 'embedded' && { ...this.env, ...extraEnv }.RUN_WORKER !== 'false') await this.api.waitForLine(/Worker started/);
    return this.api;
  }

  async startWorker(extraEnv: Record<string, string> = {}): Promise<Proc> {
    const worker = spawnNode(WORKER_ENTRY, { ...this.env, ...extraEnv }, `worker-${this.workers.length + 1}`);
    this.workers.push(worker);
    await worker.waitForLine(/Worker started/);
    return worker;
  }

  async stop(): Promise<void> {
    await Promise.all([this.api?.stop(), ...this.workers.map((w) => w.stop())]);
    await this.sqs?.emulator.stop();
    fs.rmSync(this.env.DATA_DIR!, { recursive: true, force: true });
  }

  async request(method: string, url: string, init: { headers?: Record<string, string>; body?: unknown; raw?: string } = {}) {
    const res = await fetch(this.url + url, {
      method,
      headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
      body: init.raw ?? (init.body !== undefined ? JSON.stringify(init.body) : undefined),
    });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, json, text };
  }

  async createSite(name: string, timezone?: string, headers: Record<string, string> = {}): Promise<SiteKeys> {
    const res = await this.request('POST', '/api/site/create', { body: { name, ...(timezone ? { timezone } : {}) }, headers });
    if (res.status !== 201) throw new Error(`site creation failed: ${res.status} ${res.text}`);
    return res.json.data;
  }

  sendEvent(site: Pick<SiteKeys, 'api_key'>, body: Record<string, unknown>) {
    return this.request('POST', '/api/event', { body, headers: { 'x-api-key': site.api_key } });
  }

  stats(site: Pick<SiteKeys, 'site_id' | 'read_key'>, query = '') {
    return this.request('GET', `/api/stats?site_id=${encodeURIComponent(site.site_id)}${query}`, {
      headers: { authorization: `Bearer ${site.read_key}` },
    });
  }

  /** Polls the stats until `done` holds for the answer's data (the worker is asynchronous). */
  async statsWhen(site: SiteKeys, query: string, done: (data: any) => boolean, timeoutMs = 30_000): Promise<any> {
    const end = Date.now() + timeoutMs;
    let last: any;
    for (;;) {
      const res = await this.stats(site, query);
      last = res.json?.data;
      if (res.status === 200 && done(last)) return last;
      if (Date.now() > end) throw new Error(`stats never matched; last answer: ${JSON.stringify(res.json)}`);
      await sleep(100);
    }
  }
}

export const today = () => new Date().toISOString().slice(0, 10);
