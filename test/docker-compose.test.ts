// The container files: docker-compose.yml, docker-compose.postgres.yml, Dockerfile, .dockerignore.
// No Docker engine runs where these tests run, so they parse the files and check what the system
// needs of them; the health-check one-liners themselves are executed against local stand-ins.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { loadConfig } from '../src/config.js';
import { redisHeartbeats } from '../src/queue/heartbeat.js';
import { IN_CI, REDIS_URL, canConnect, uniqueName } from './helpers/services.js';
import { tempDir } from './helpers/stores.js';
import { WORKER_ENTRY, sleep, spawnNode } from './helpers/system.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

// ---- compose model -----------------------------------------------------------------------------

type Scalar = string | number | boolean | null;
interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  environment?: Record<string, Scalar> | string[];
  ports?: unknown[];
  expose?: unknown[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  container_name?: string;
  restart?: string;
  stop_grace_period?: string;
  network_mode?: string;
}
interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

function parseCompose(file: string): { text: string; compose: ComposeFile } {
  const text = read(file);
  const doc = parseDocument(text);
  expect(doc.errors.map((e) => e.message), `${file} must be valid YAML`).toEqual([]);
  const compose = doc.toJS({ maxAliasCount: 100 }) as ComposeFile;
  expect(compose && typeof compose.services, `${file} has a services map`).toBe('object');
  return { text, compose };
}

/** The environment of a service as a map (compose accepts a map or a list of NAME=value). */
function envOf(s: Service): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(s.environment)) {
    for (const item of s.environment) {
      const i = item.indexOf('=');
      if (i < 0) out[item] = '';
      else out[item.slice(0, i)] = item.slice(i + 1);
    }
  } else if (s.environment) {
    for (const [k, v] of Object.entries(s.environment)) out[k] = v === null ? '' : String(v);
  }
  return out;
}

/** A value a deployer sets for each required variable (`${X:?message}`), for the checks below. */
const REQUIRED_VALUES: Record<string, string> = { ADMIN_TOKEN: '4f1e9a0c7d2b83e65a19c0d4b7e2f813' };

/**
 * What compose would pass with no optional variable set in the shell or .env: `${X:-d}` -> d, and
 * `${X:?message}` (required: compose refuses to start without it) -> the deployer's value.
 */
function interpolateDefaults(value: string, required: Record<string, string> = REQUIRED_VALUES): string {
  return value
    .replace(/\$\{([A-Za-z_][A-Za-z0-9_]*):?\?[^}]*\}/g, (_m, name: string) => {
      expect(required[name], `a value for the required ${name}`).toBeDefined();
      return required[name]!;
    })
    .replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g, (_m, _name: string, def?: string) => def ?? '')
    .replace(/\$\$/g, '$');
}

/** The lines compose interpolates: comments are not. */
const uncommented = (text: string) =>
  text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n');

const commandOf = (s: Service) => (Array.isArray(s.command) ? s.command.join(' ') : (s.command ?? ''));
const healthTest = (s: Service) => (Array.isArray(s.healthcheck?.test) ? s.healthcheck!.test : [String(s.healthcheck?.test ?? '')]);

function dependsOn(s: Service): Record<string, string | undefined> {
  if (Array.isArray(s.depends_on)) return Object.fromEntries(s.depends_on.map((n) => [n, undefined]));
  return Object.fromEntries(Object.entries(s.depends_on ?? {}).map(([n, v]) => [n, v?.condition]));
}

/** Named volumes a service mounts (bind mounts start with . / or ~). */
function namedVolumes(s: Service): { source: string; target: string }[] {
  const out: { source: string; target: string }[] = [];
  for (const v of s.volumes ?? []) {
    const [source = '', target = ''] = typeof v === 'string' ? v.split(':') : [v.source ?? '', v.target ?? ''];
    if (typeof v !== 'string' && v.type && v.type !== 'volume') continue;
    if (source && !/^[./~]/.test(source)) out.push({ source, target });
  }
  return out;
}

/** Compose durations: 40s, 1m30s, 1500ms. */
function durationMs(d: string | undefined): number {
  if (!d) return 10_000; // compose's default stop_grace_period
  let total = 0;
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001 };
  for (const [, n, unit] of d.matchAll(/(\d+(?:\.\d+)?)(ms|us|h|m|s)/g)) total += Number(n) * units[unit!]!;
  return total;
}

/** The variable names declared in src/config.ts's zod schema (the only reader of process.env). */
function configNames(): Set<string> {
  const text = read('src/config.ts');
  const block = /const schema = z\.object\(\{([\s\S]*?)\n\}\);/.exec(text)?.[1] ?? '';
  const names = new Set([...block.matchAll(/^\s+([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]!));
  // Guard against a parse that silently finds nothing (and so would accept nothing, or anything).
  expect(names.size).toBeGreaterThan(20);
  expect(names.has('MONGODB_URI') && names.has('REDIS_HOST')).toBe(true);
  return names;
}

const configDefault = (name: string): number => {
  const m = new RegExp(`${name}: int\\(([\\d_]+)`).exec(read('src/config.ts'));
  expect(m, `${name} default in src/config.ts`).not.toBeNull();
  return Number(m![1]!.replace(/_/g, ''));
};

// ---- running the health-check one-liners -------------------------------------------------------

function run(argv: string[], env: Record<string, string>, cwd = ROOT): Promise<number> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    const child = spawn(cmd!, args, { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code ?? -1);
    });
  });
}

/** A stand-in for the API: GET /api/health answers `status`. */
async function healthServer(status: number): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    res.writeHead(req.url === '/api/health' ? status : 404, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return { port, close: () => new Promise((r) => server.close(() => r())) };
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** The argv of a `["CMD", ...]` health check (exec form, no shell). */
function execArgv(test: string[]): string[] {
  expect(test[0], 'exec-form health check').toBe('CMD');
  return test.slice(1);
}

// ---- the compose files -------------------------------------------------------------------------

const VARIANTS = [
  { file: 'docker-compose.yml', db: 'mongodb', storeKind: 'mongodb', dbVolumeTarget: '/data/db' },
  { file: 'docker-compose.postgres.yml', db: 'postgres', storeKind: 'postgres', dbVolumeTarget: '/var/lib/postgresql/data' },
] as const;

const APP = ['server', 'worker'] as const;

describe.each(VARIANTS)('$file', ({ file, db, storeKind, dbVolumeTarget }) => {
  const { text, compose } = parseCompose(file);
  const services = compose.services;
  const svc = (name: string): Service => {
    expect(services[name], `service ${name}`).toBeDefined();
    return services[name]!;
  };

  it('has the four services', () => {
    expect(Object.keys(services).sort()).toEqual(['redis', 'server', 'worker', db].sort());
    if (db === 'postgres') expect(services.mongodb).toBeUndefined();
  });

  it('builds the server and the worker from the Dockerfile at the repository root', () => {
    for (const name of APP) {
      const b = svc(name).build;
      const context = typeof b === 'string' ? b : b?.context;
      const dockerfile = typeof b === 'string' ? 'Dockerfile' : (b?.dockerfile ?? 'Dockerfile');
      expect(context, `${name} build context`).toBe('.');
      expect(dockerfile, `${name} dockerfile`).toBe('Dockerfile');
      expect(fs.existsSync(path.join(ROOT, context!, dockerfile))).toBe(true);
    }
  });

  it('runs the built entry points with node, not npm', () => {
    expect(commandOf(svc('worker'))).toMatch(/^node\s+dist\/worker\/processor\.js$/);
    const server = commandOf(svc('server'));
    expect(server === '' || /^node\s+dist\/src\/main\.js$/.test(server), `server command "${server}"`).toBe(true);
    for (const name of APP) expect(commandOf(svc(name))).not.toMatch(/\bnpm\b/);
    for (const name of APP) expect(fs.existsSync(path.join(ROOT, name === 'worker' ? 'worker/processor.ts' : 'src/main.ts'))).toBe(true);
  });

  it('publishes port 3000 on the server only', () => {
    const ports = (svc('server').ports ?? []).map((p) => {
      if (typeof p !== 'object' || p === null) return String(p);
      const { published, target } = p as { published?: unknown; target?: unknown };
      return `${String(published)}:${String(target)}`;
    });
    expect(ports.some((p) => /(^|:)3000:3000$/.test(p)), `server ports ${JSON.stringify(ports)}`).toBe(true);
    for (const name of ['redis', db]) expect(svc(name).ports, `${name} must not be published`).toBeUndefined();
  });

  it('keeps the worker scalable: no container_name, no ports', () => {
    const worker = svc('worker');
    expect(worker.container_name).toBeUndefined();
    expect(worker.ports).toBeUndefined();
    expect(worker.network_mode).toBeUndefined();
  });

  it('gives server and worker the database, Redis and queue settings', () => {
    for (const name of APP) {
      const env = envOf(svc(name));
      expect(env.REDIS_HOST, `${name} REDIS_HOST`).toBe('redis');
      expect(interpolateDefaults(env.REDIS_PORT ?? '6379')).toBe('6379');
      expect(interpolateDefaults(env.QUEUE_NAME ?? ''), `${name} QUEUE_NAME`).toMatch(/^\S+$/);
      expect(env.NODE_ENV).toBe('production');
      if (db === 'mongodb') {
        const uri = new URL(env.MONGODB_URI ?? '');
        expect(uri.protocol).toBe('mongodb:');
        expect(uri.host).toBe('mongodb:27017');
        expect(uri.searchParams.get('replicaSet'), `${name} MONGODB_URI replicaSet`).toBe('rs0');
        expect(env.DATABASE_URL).toBeUndefined();
      } else {
        // MONGODB_URI would win over DATABASE_URL (src/config.ts).
        expect(env.MONGODB_URI).toBeUndefined();
        const url = new URL(env.DATABASE_URL ?? '');
        expect(url.protocol).toBe('postgres:');
        expect(url.host).toBe('postgres:5432');
        const pgEnv = envOf(svc('postgres'));
        expect(decodeURIComponent(url.username)).toBe(pgEnv.POSTGRES_USER);
        expect(decodeURIComponent(url.password)).toBe(pgEnv.POSTGRES_PASSWORD);
        expect(url.pathname.slice(1)).toBe(pgEnv.POSTGRES_DB);
      }
    }
  });

  it('is a configuration that src/config.ts accepts, selecting BullMQ and the right store', () => {
    for (const name of APP) {
      const env = Object.fromEntries(Object.entries(envOf(svc(name))).map(([k, v]) => [k, interpolateDefaults(v)]));
      const config = loadConfig(env);
      expect(config.queue.kind, name).toBe('bullmq');
      expect(config.store.kind, name).toBe(storeKind);
      // The API does not also run a worker thread: workers are their own containers.
      expect(config.worker.inProcess, name).toBe(false);
      expect(config.port).toBe(3000);
    }
  });

  // Issue 9, item 15: no usable default token ships; the deployer must set one.
  it('requires ADMIN_TOKEN, with no default, for server and worker', () => {
    for (const name of APP) {
      const raw = envOf(svc(name)).ADMIN_TOKEN ?? '';
      expect(raw, `${name} ADMIN_TOKEN`).toMatch(/^\$\{ADMIN_TOKEN:\?[^}]+\}$/);
      expect(raw).not.toMatch(/:-/);
    }
    expect(uncommented(text)).not.toMatch(/change-me/);
    // With the placeholder of earlier versions, the API refuses to start in production.
    const server = Object.fromEntries(Object.entries(envOf(svc('server'))).map(([k, v]) => [k, interpolateDefaults(v, { ADMIN_TOKEN: 'change-me' })]));
    expect(() => loadConfig(server)).toThrow(/ADMIN_TOKEN is the placeholder "change-me"/);
  });

  it('uses only environment variable names that src/config.ts knows', () => {
    const known = configNames();
    for (const name of APP) {
      const unknown = Object.keys(envOf(svc(name))).filter((k) => !known.has(k));
      expect(unknown, `${name} sets variables src/config.ts does not read`).toEqual([]);
    }
    // ${NAME} interpolations read the deployer's shell or .env: the same names as the app's.
    const interpolated = [...uncommented(text).replace(/\$\$/g, '').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!);
    expect(interpolated.length).toBeGreaterThan(0);
    expect(interpolated.filter((n) => !known.has(n))).toEqual([]);
  });

  it('has no bare $ that compose would try to interpolate (health-check scripts included)', () => {
    const bare = uncommented(text)
      .split('\n')
      .filter((line) => /\$(?!\{)/.test(line.replace(/\$\$/g, '')));
    expect(bare).toEqual([]);
  });

  it('starts server and worker only once the database and Redis are healthy', () => {
    for (const name of APP) {
      const deps = dependsOn(svc(name));
      expect(deps[db], `${name} depends_on ${db}`).toBe('service_healthy');
      expect(deps.redis, `${name} depends_on redis`).toBe('service_healthy');
    }
  });

  it('has a health check on every service', () => {
    for (const [name, s] of Object.entries(services)) {
      expect(s.healthcheck?.disable, name).not.toBe(true);
      const test = healthTest(s);
      expect(['CMD', 'CMD-SHELL'], `${name} healthcheck test`).toContain(test[0]);
      expect(test.slice(1).join(' ').trim().length, name).toBeGreaterThan(0);
    }
    expect(healthTest(svc('server')).join(' ')).toContain('http://127.0.0.1:3000/api/health');
    expect(healthTest(svc('redis')).join(' ')).toMatch(/redis-cli\s+ping/);
    // Over TCP: the image's first-start initialisation server listens on the Unix socket only.
    if (db === 'postgres') expect(healthTest(svc('postgres')).join(' ')).toMatch(/pg_isready\b.*-h\s+127\.0\.0\.1/);
  });

  it('restarts every service unless stopped', () => {
    for (const [name, s] of Object.entries(services)) expect(s.restart, name).toBe('unless-stopped');
  });

  it('gives the worker time to finish its active jobs on SIGTERM', () => {
    const env = envOf(svc('worker'));
    const shutdownMs = env.WORKER_SHUTDOWN_TIMEOUT_MS ? Number(interpolateDefaults(env.WORKER_SHUTDOWN_TIMEOUT_MS)) : configDefault('WORKER_SHUTDOWN_TIMEOUT_MS');
    expect(shutdownMs).toBeGreaterThan(0);
    expect(durationMs(svc('worker').stop_grace_period)).toBeGreaterThanOrEqual(shutdownMs + 5000);
  });

  it('runs Redis with noeviction and an append-only file', () => {
    const cmd = commandOf(svc('redis'));
    expect(cmd).toMatch(/^redis-server\b/);
    expect(cmd).toMatch(/--maxmemory-policy\s+noeviction\b/);
    expect(cmd).toMatch(/--appendonly\s+yes\b/);
  });

  it('keeps database and Redis data in declared named volumes', () => {
    const declared = Object.keys(compose.volumes ?? {});
    const used = Object.values(services).flatMap((s) => namedVolumes(s).map((v) => v.source));
    expect(declared.length).toBeGreaterThanOrEqual(2);
    expect(used.filter((v) => !declared.includes(v)), 'mounted but not declared').toEqual([]);
    expect(declared.filter((v) => !used.includes(v)), 'declared but not mounted').toEqual([]);
    expect(namedVolumes(svc(db)).map((v) => v.target)).toContain(dbVolumeTarget);
    expect(namedVolumes(svc('redis')).map((v) => v.target)).toContain('/data');
  });

  it('checks the server health with a command that exits 0 on 200 and 1 otherwise', async () => {
    const argv = execArgv(healthTest(svc('server')));
    for (const [status, expected] of [[200, 0], [503, 1]] as const) {
      const srv = await healthServer(status);
      try {
        const local = argv.map((a) => a.replace('127.0.0.1:3000', `127.0.0.1:${srv.port}`));
        expect(await run(local, {}), `health ${status}`).toBe(expected);
      } finally {
        await srv.close();
      }
    }
    const unused = await closedPort();
    const local = argv.map((a) => a.replace('127.0.0.1:3000', `127.0.0.1:${unused}`));
    expect(await run(local, {}), 'nothing listening').toBe(1);
  });

  it('checks the worker by its heartbeat, with the built health check script', () => {
    const argv = execArgv(healthTest(svc('worker')));
    expect(argv).toEqual(['node', 'dist/src/worker/healthcheck.js']);
    expect(fs.existsSync(path.join(ROOT, 'src/worker/healthcheck.ts'))).toBe(true);
    expect(argv.join(' '), 'not a Redis ping').not.toMatch(/ping/i);
    // The health check's timeout leaves room for the script's own (twice HEALTH_CHECK_TIMEOUT_MS).
    expect(durationMs(String((svc('worker').healthcheck as { timeout?: string }).timeout))).toBeGreaterThanOrEqual(2 * configDefault('HEALTH_CHECK_TIMEOUT_MS'));
  });
});

// The worker health check (dist/src/worker/healthcheck.js, as the compose files run it) against the real
// queue: a real worker process's heartbeat in Redis makes it healthy; no worker, a worker on another
// host, a killed worker past WORKER_HEARTBEAT_TIMEOUT_SECONDS, or Redis down make it unhealthy.
describe('the worker health check (heartbeat)', () => {
  const built = fs.existsSync(path.join(ROOT, 'dist/src/worker/healthcheck.js'));

  it('is healthy exactly while this host\'s worker sends heartbeats', async () => {
    if (!built) {
      if (IN_CI) throw new Error('dist/ is missing: run `npm run build` first');
      console.warn('skipped: dist/ not built (npm run build)');
      return;
    }
    const argv = ['node', 'dist/src/worker/healthcheck.js'];
    expect(await run(argv, { REDIS_HOST: '127.0.0.1', REDIS_PORT: String(await closedPort()), HEALTH_CHECK_TIMEOUT_MS: '500' }), 'Redis down').toBe(1);
    if (!(await canConnect(REDIS_URL))) {
      if (IN_CI) throw new Error(`Redis not reachable at ${REDIS_URL} (CI=true: the service must run)`);
      console.warn(`skipped (worker health check with Redis): no Redis at ${REDIS_URL}`);
      return;
    }
    const q = { name: uniqueName('health'), prefix: 'bull' };
    const env = { REDIS_URL, QUEUE_NAME: q.name, WORKER_HEARTBEAT_TIMEOUT_SECONDS: '2', DATA_DIR: tempDir('analytics-health-') };
    const heartbeats = redisHeartbeats({ url: REDIS_URL, port: 6379 }, q);
    try {
      expect(await run(argv, env), 'no worker at all').toBe(1);
      // A worker of another container (another host name) does not make this one healthy.
      await heartbeats.beat({ worker_id: 'elsewhere/1/x', host: 'elsewhere', pid: '1', started_at: Date.now(), seen_at: Date.now() }, 2000);
      expect(await run(argv, env), 'a worker on another host').toBe(1);

      const worker = spawnNode(WORKER_ENTRY, env, 'worker');
      try {
        await worker.waitForLine(/Worker started/);
        expect(await run(argv, env), 'worker running').toBe(0);
        worker.kill('SIGKILL');
        await worker.exited;
        // Still within the timeout after its last beat: healthy; once the timeout passed: not.
        await sleep(2500);
        expect(await run(argv, env), 'worker killed, timeout passed').toBe(1);
      } finally {
        await worker.stop();
      }
    } finally {
      await heartbeats.remove('elsewhere/1/x').catch(() => {});
      await heartbeats.close();
      fs.rmSync(env.DATA_DIR, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('docker-compose.yml: MongoDB as a single-node replica set', () => {
  const { compose } = parseCompose('docker-compose.yml');
  const mongodb = compose.services.mongodb!;

  it('starts mongod as a replica set member reachable from the other containers', () => {
    const cmd = commandOf(mongodb);
    expect(cmd).toMatch(/--replSet\s+rs0\b/);
    expect(cmd).toMatch(/--bind_ip_all\b/);
    expect(mongodb.image).toMatch(/^mongo:/);
  });

  // The health check's mongosh script, run against stand-ins for mongosh's rs, db, quit and print.
  const test = healthTest(mongodb);
  const script = test[test.indexOf('--eval') + 1] ?? '';
  class Quit extends Error {
    constructor(readonly code: number) {
      super(`quit(${code})`);
    }
  }
  function runScript(state: { initiated: boolean; primary: boolean }) {
    const initiated: unknown[] = [];
    let printed = '';
    const rs = {
      status: () => {
        if (!state.initiated) throw new Error('no replset config has been received');
        return { ok: 1 };
      },
      initiate: (cfg: unknown) => {
        initiated.push(cfg);
        return { ok: 1 };
      },
    };
    const db = { hello: () => ({ isWritablePrimary: state.primary }) };
    const quit = (code = 0) => {
      throw new Quit(code);
    };
    const print = (s: unknown) => {
      printed += String(s);
    };
    let code = 0;
    try {
      new Function('rs', 'db', 'quit', 'print', script)(rs, db, quit, print);
    } catch (err) {
      if (!(err instanceof Quit)) throw err;
      code = err.code;
    }
    return { code, initiated, printed };
  }

  it('runs mongosh --eval', () => {
    expect(test[0]).toBe('CMD');
    expect(test.slice(1, test.indexOf('--eval'))).toContain('mongosh');
    expect(script.length).toBeGreaterThan(0);
  });

  it('initiates the replica set when rs.status() fails, and is unhealthy until primary', () => {
    const uri = new URL(envOf(compose.services.server!).MONGODB_URI ?? '');
    const r = runScript({ initiated: false, primary: false });
    expect(r.initiated).toEqual([{ _id: uri.searchParams.get('replicaSet'), members: [{ _id: 0, host: uri.host }] }]);
    expect(r.code).toBe(1);
  });

  it('does not initiate again, and is healthy once primary', () => {
    const r = runScript({ initiated: true, primary: true });
    expect(r.initiated).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.printed).toBe('ok');
  });
});

// ---- the Dockerfile ----------------------------------------------------------------------------

interface Instruction {
  keyword: string;
  args: string;
}

/** Instructions with continuation lines joined and comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (/^\s*#/.test(line)) continue; // comments and parser directives, also inside continuations
    if (!current && !line.trim()) continue;
    if (/\\\s*$/.test(line)) {
      current += line.replace(/\\\s*$/, ' ');
      continue;
    }
    current += line;
    const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(current);
    if (m) out.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.replace(/\s+/g, ' ').trim() });
    current = '';
  }
  return out;
}

function stages(instructions: Instruction[]): { from: string; name?: string; body: Instruction[] }[] {
  const out: { from: string; name?: string; body: Instruction[] }[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      out.push({ from: m?.[1] ?? ins.args, name: m?.[2], body: [] });
    } else {
      out.at(-1)?.body.push(ins);
    }
  }
  return out;
}

describe('Dockerfile', () => {
  const text = read('Dockerfile');
  const instructions = parseDockerfile(text);
  const all = stages(instructions);
  const final = all.at(-1)!;
  const build = all.find((s) => s.body.some((i) => i.keyword === 'RUN' && /\bnpm run build\b/.test(i.args)));
  const args = (stage: { body: Instruction[] }, keyword: string) => stage.body.filter((i) => i.keyword === keyword).map((i) => i.args);

  it('is multi-stage on node:20-bookworm-slim', () => {
    expect(all.length).toBeGreaterThanOrEqual(2);
    for (const s of all) expect(s.from).toBe('node:20-bookworm-slim');
  });

  it('installs with npm ci, builds, and drops dev dependencies in a build stage', () => {
    expect(build, 'a stage that runs npm run build').toBeDefined();
    expect(build).not.toBe(final);
    const runs = args(build!, 'RUN').join('\n');
    expect(runs).toMatch(/\bnpm ci\b/);
    expect(runs).toMatch(/\bnpm prune --omit=dev\b/);
    expect(runs).toMatch(/python3/);
    expect(runs).toMatch(/\bmake\b/);
    expect(runs).toMatch(/\bg\+\+/);
    // npm ci comes before the build, which needs the sources copied.
    const order = build!.body.map((i) => `${i.keyword} ${i.args}`);
    const ci = order.findIndex((l) => /^RUN .*\bnpm ci\b/.test(l));
    const compile = order.findIndex((l) => /^RUN .*\bnpm run build\b/.test(l));
    expect(ci).toBeGreaterThanOrEqual(0);
    expect(compile).toBeGreaterThan(ci);
    expect(order.slice(0, ci).some((l) => /^COPY .*package-lock\.json/.test(l)), 'the lock file is copied before npm ci').toBe(true);
    for (const dir of ['src', 'worker', 'tracker', 'tsconfig.json']) {
      expect(order.slice(0, compile).some((l) => new RegExp(`^COPY .*\\b${dir.replace('.', '\\.')}\\b`).test(l)), `${dir} copied before the build`).toBe(true);
    }
  });

  it('ships only node_modules, dist and package.json into a runtime stage without compilers', () => {
    const copies = args(final, 'COPY');
    for (const what of ['node_modules', 'dist', 'package.json']) {
      expect(copies.some((c) => new RegExp(`--from=${build!.name}\\b.*\\/app\\/${what.replace('.', '\\.')}\\b`).test(c)), `COPY --from=${build!.name} ${what}`).toBe(true);
    }
    expect(copies.filter((c) => !c.includes('--from=')), 'no source copied into the runtime stage').toEqual([]);
    expect(args(final, 'RUN').join('\n')).not.toMatch(/g\+\+|build-essential|npm (ci|install)/);
  });

  it('runs as the non-root node user in production mode', () => {
    expect(args(final, 'USER').at(-1)).toBe('node');
    const env = args(final, 'ENV').join(' ');
    expect(env).toMatch(/\bNODE_ENV=production\b/);
    expect(args(final, 'EXPOSE').join(' ').split(/\s+/)).toContain('3000');
  });

  it('starts the API with node, never through npm start', () => {
    expect(text).not.toMatch(/\bnpm\s+(run\s+)?start\b/);
    const cmd = args(final, 'CMD').at(-1);
    expect(cmd && JSON.parse(cmd)).toEqual(['node', 'dist/src/main.js']);
    expect(args(final, 'ENTRYPOINT').join(' ')).not.toMatch(/\bnpm\b/);
  });

  const healthcheck = args(final, 'HEALTHCHECK').at(-1) ?? '';

  it('has a HEALTHCHECK calling /api/health with node', () => {
    expect(healthcheck).toMatch(/\bCMD\s+\[/);
    expect(healthcheck).toContain('http://127.0.0.1:');
    expect(healthcheck).toContain('/api/health');
    expect(healthcheck).not.toMatch(/\b(curl|wget)\b/);
  });

  it('has a HEALTHCHECK command that exits 0 on 200 and 1 on 503', async () => {
    const argv = JSON.parse(healthcheck.slice(healthcheck.indexOf('['))) as string[];
    expect(argv[0]).toBe('node');
    for (const [status, expected] of [[200, 0], [503, 1]] as const) {
      const srv = await healthServer(status);
      try {
        expect(await run(argv, { PORT: String(srv.port) }), `health ${status}`).toBe(expected);
      } finally {
        await srv.close();
      }
    }
  });
});

describe('.dockerignore', () => {
  it('keeps local state, build output and secrets out of the build context', () => {
    const entries = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const e of ['node_modules', 'dist', 'data', '.git', '.env', 'bench/results']) expect(entries, e).toContain(e);
  });
});
