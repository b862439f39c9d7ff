// Starting and stopping, as an operator meets it (issue 9): configuration checked at start by every
// entry point with one clear line (item 12), a missing PostgreSQL database (item 12), production
// without a real ADMIN_TOKEN (item 15), services down at start (item 11), and `npm start` stopped
// by a signal to npm itself (item 10).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PrivatePostgres, PrivateRedis, freePort } from './helpers/private-servers.js';
import { IN_CI, POSTGRES_URL, REDIS_URL, serviceAvailable, uniqueName } from './helpers/services.js';
import { tempDir } from './helpers/stores.js';
import { API_ENTRY, CRON_ENTRY, Proc, System, WORKER_ENTRY, spawnNode } from './helpers/system.js';
import { sleep, until } from './helpers/wait.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const THREAD_ENTRY = path.join(ROOT, 'dist/src/worker/thread.js');
const RETRY_ENTRY = path.join(ROOT, 'dist/src/worker/retry-failed.js');
const redisUp = await serviceAvailable('Redis', REDIS_URL);
const pgUp = await serviceAvailable('PostgreSQL', POSTGRES_URL);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

function run(entry: string, env: Record<string, string>, name: string): Proc {
  const dataDir = tempDir('analytics-startup-');
  cleanups.push(async () => fs.rmSync(dataDir, { recursive: true, force: true }));
  const proc = spawnNode(entry, { HOST: '127.0.0.1', PORT: '0', DATA_DIR: dataDir, QUEUE_NAME: uniqueName('st'), ...env }, name);
  cleanups.push(async () => void (await proc.stop()));
  return proc;
}

/** The process stopped by itself with exit code 1 and said why in one line, without a stack. */
async function expectOneLineExit(proc: Proc, pattern: RegExp): Promise<string> {
  const code = await Promise.race([proc.exited, sleep(30_000).then(() => 'still running')]);
  expect(code, proc.output()).toBe(1);
  const lines = proc.lines;
  expect(lines, proc.output()).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(proc.output()).not.toMatch(/^\s+at /m);
  return lines[0]!;
}

describe('invalid configuration: one line and exit 1, from every entry point', () => {
  const entries: [string, string][] = [
    ['API (npm start)', API_ENTRY],
    ['worker (npm run worker:prod)', WORKER_ENTRY],
    ['cron (npm run cron)', CRON_ENTRY],
    ['queue:retry-failed', RETRY_ENTRY],
    ['worker thread', THREAD_ENTRY],
  ];

  it.each(entries)('%s', async (name, entry) => {
    const line = await expectOneLineExit(run(entry, { PORT: 'abc' }, name), /^Invalid configuration: PORT must be a whole number, got "abc"$/);
    expect(line).toBe('Invalid configuration: PORT must be a whole number, got "abc"');
    await expectOneLineExit(run(entry, { CRON_SCHEDULE: 'every night', LOG_FORMAT: 'xml' }, name), /^Invalid configuration: LOG_FORMAT must be one of text, json, got "xml"; CRON_SCHEDULE must be a cron expression/);
  });

  it('an invalid CRON_SCHEDULE stops `npm start` before it serves anything (it used to kill the worker thread later)', async () => {
    const api = run(API_ENTRY, { CRON_SCHEDULE: '61 25 * * *' }, 'api');
    await expectOneLineExit(api, /^Invalid configuration: CRON_SCHEDULE must be a cron expression such as "5 0 \* \* \*" .*got "61 25 \* \* \*"$/);
  });
});

describe.runIf(pgUp)('a PostgreSQL database that does not exist', () => {
  it('is one line saying so, with the createdb command, from the API and from a worker', async () => {
    const db = uniqueName('missing_db');
    const url = new URL(POSTGRES_URL);
    url.pathname = `/${db}`;
    for (const entry of [API_ENTRY, WORKER_ENTRY, CRON_ENTRY]) {
      const proc = run(entry, { DATABASE_URL: url.toString() }, path.basename(entry));
      const code = await proc.exited;
      expect(code, proc.output()).toBe(1);
      const fatal = proc.lines.filter((l) => /does not exist/.test(l));
      expect(fatal, proc.output()).toHaveLength(1);
      expect(fatal[0]).toContain(`PostgreSQL database "${db}" does not exist on ${url.hostname}:${url.port}`);
      expect(fatal[0]).toContain(`createdb -h ${url.hostname} -p ${url.port} -U postgres ${db}`);
      expect(proc.output()).not.toMatch(/^\s+at /m);
    }
  });
});

describe('production without a real ADMIN_TOKEN', () => {
  it.each([
    ['unset', {}, /ADMIN_TOKEN must be set when NODE_ENV=production/],
    ['the compose placeholder', { ADMIN_TOKEN: 'change-me' }, /ADMIN_TOKEN is the placeholder "change-me", not a secret/],
    ['too short', { ADMIN_TOKEN: 'tooshort' }, /ADMIN_TOKEN must be at least 16 characters when NODE_ENV=production, got 8/],
  ])('the API refuses to start: %s', async (_what, env, pattern) => {
    const line = await expectOneLineExit(run(API_ENTRY, { NODE_ENV: 'production', ...env }, 'api'), pattern);
    expect(line).toMatch(/^Invalid configuration: .*openssl rand -hex 32/);
  });

  it('starts with a long random token; a worker, which does not read it, starts without one', async () => {
    const api = run(API_ENTRY, { NODE_ENV: 'production', ADMIN_TOKEN: 'a3f9c2e18b7d4e6f0a1b2c3d4e5f6071' }, 'api');
    await api.waitForLine(/API listening on/);
    const worker = run(WORKER_ENTRY, { NODE_ENV: 'production' }, 'worker');
    await worker.waitForLine(/Worker started/);
  });
});

describe.runIf(redisUp)('services down at start: say what is awaited, retry with backoff', () => {
  it('a worker waits for Redis, saying so, and starts once it answers', async () => {
    const port = await freePort();
    const worker = run(WORKER_ENTRY, { REDIS_URL: `redis://127.0.0.1:${port}` }, 'worker');
    await worker.waitForLine(new RegExp(`WARN: Waiting for Redis at redis://127\\.0\\.0\\.1:${port}/? \\(to take jobs\\): connect ECONNREFUSED .*; retrying in 1 s \\(attempt 1\\)`));
    await worker.waitForLine(/retrying in 2 s \(attempt 2\)/);
    const redis = new PrivateRedis(port);
    cleanups.push(() => redis.stop());
    await redis.start();
    await worker.waitForLine(/Redis at .* is reachable; going on/, 20_000);
    await worker.waitForLine(/Worker started/, 20_000);
  });

  it('the API starts with Redis down (events get 503), says so, and takes events once Redis answers', async () => {
    const port = await freePort();
    const sys = new System({ HOST: '127.0.0.1', PORT: '0', DATA_DIR: tempDir('analytics-startup-'), QUEUE_NAME: uniqueName('st'), REDIS_URL: `redis://127.0.0.1:${port}`, RATE_LIMIT_MAX: '0' }, 'bullmq');
    cleanups.push(() => sys.stop());
    await sys.startApi();
    await sys.api.waitForLine(/Waiting for Redis at .* \(to bind the queue to this API's store; events get 503 until then\)/);
    const site = await sys.createSite('Patient');
    const event = { site_id: site.site_id, event_type: 'pageview', path: '/', user_id: 'u' };
    expect((await sys.sendEvent(site, event)).status).toBe(503);
    const redis = new PrivateRedis(port);
    cleanups.push(() => redis.stop());
    await redis.start();
    await until(async () => (await sys.sendEvent(site, event)).status === 202, 'the API to take events once Redis is up', 40_000, 200);
  });

  it.runIf(PrivatePostgres.available())('a worker waits for its PostgreSQL store, saying so', async () => {
    const pg = await PrivatePostgres.start();
    cleanups.push(() => pg.destroy());
    await pg.stop();
    const worker = run(WORKER_ENTRY, { DATABASE_URL: pg.url, REDIS_URL }, 'worker');
    await worker.waitForLine(/WARN: Waiting for the postgres store at postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres \(schema public\): .*ECONNREFUSED.*; retrying in 1 s \(attempt 1\)/);
    await pg.start();
    await worker.waitForLine(/The postgres store at .* is reachable; going on/, 30_000);
    await worker.waitForLine(/Worker started/, 20_000);
  });
});

// Item 10: the documented way of running (`npm start`, its prestart build included) stops on a
// signal sent to npm itself, as systemd, Docker or a terminal send it. Runs in a copy of the
// sources, so the build it starts never rewrites the dist/ that other tests run.
describe('npm start and signals', () => {
  function copyProject(): string {
    const dir = tempDir('analytics-npm-start-');
    const generated = new Set(['out', '.next', 'node_modules']);
    for (const entry of ['package.json', 'package-lock.json', 'tsconfig.json', 'src', 'worker', 'tracker', 'scripts', 'web']) {
      fs.cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true, filter: (from) => !generated.has(path.basename(from)) });
    }
    // The dashboard's build is skipped when its sources match the stamp in dist/web (scripts/build-web.mjs).
    fs.cpSync(path.join(ROOT, 'dist', 'web'), path.join(dir, 'dist', 'web'), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  /** Every process whose parent chain leads to `pid`, from /proc. */
  function descendants(pid: number): number[] {
    const parents = new Map<number, number>();
    for (const name of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
        parents.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      } catch {
        // gone meanwhile
      }
    }
    const out: number[] = [];
    const walk = (p: number) => {
      for (const [child, parent] of parents) if (parent === p) (out.push(child), walk(child));
    };
    walk(pid);
    return out;
  }
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
    } catch {
      return false;
    }
  };
  const cmdline = (pid: number) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      return '';
    }
  };

  it.each(['SIGTERM', 'SIGINT'] as const)('%s to the npm process stops the node server', async (signal) => {
    const dir = copyProject();
    const dataDir = tempDir('analytics-npm-data-');
    cleanups.push(async () => fs.rmSync(dataDir, { recursive: true, force: true }));
    const npm = spawn('npm', ['start'], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', HOST: '127.0.0.1', PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'info', CI: IN_CI ? 'true' : '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proc = new Proc(npm, 'npm start');
    let server: number[] = [];
    cleanups.push(async () => {
      for (const pid of server) if (alive(pid)) process.kill(pid, 'SIGKILL');
      proc.kill('SIGKILL');
    });
    await proc.waitForLine(/API listening on/, 120_000);
    await proc.waitForLine(/Worker started/, 30_000);
    server = descendants(npm.pid!).filter((pid) => cmdline(pid).includes('dist/src/main.js'));
    expect(server, 'the node server runs under npm').toHaveLength(1);
    npm.kill(signal);
    await until(() => !alive(server[0]!), `the node server (pid ${server[0]}) to exit after ${signal} to npm`, 30_000);
    expect(proc.output()).toMatch(new RegExp(`${signal} received: shutting down`));
    expect(proc.output()).toMatch(/Worker stopped/);
  });
});
