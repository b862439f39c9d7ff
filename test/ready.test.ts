// Readiness (GET /api/ready) and the API's worker warning, through the built API and workers and the
// real queue: Redis with no worker at all (503 "no worker seen", the warning line once), a worker
// started (200, an info line), killed with kill -9 (503 again once WORKER_HEARTBEAT_TIMEOUT_SECONDS
// passed), an old backlog (READY_MAX_QUEUE_AGE_SECONDS); the store unreachable; SQS, whose heartbeats
// live in the store. /api/health stays liveness throughout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivatePostgres } from './helpers/private-servers.js';
import { parsePrometheus } from './helpers/prometheus.js';
import { IN_CI, REDIS_URL, serviceAvailable } from './helpers/services.js';
import { System, type SiteKeys } from './helpers/system.js';
import { until } from './helpers/wait.js';

const redisUp = await serviceAvailable('Redis', REDIS_URL);
const TIMEOUT = 2; // WORKER_HEARTBEAT_TIMEOUT_SECONDS in these tests

/** Polls /api/ready until `done` holds for the answer. */
async function readyWhen(sys: System, what: string, done: (r: { status: number; json: any }) => boolean) {
  let last: { status: number; json: any } | undefined;
  await until(async () => {
    last = await sys.request('GET', '/api/ready');
    return done(last);
  }, `${what}; last answer: ${JSON.stringify(last?.json)}`, 30_000, 100);
  return last!;
}

const notReadyFor = (field: string) => (r: { status: number; json: any }) =>
  r.status === 503 && r.json?.details?.some((d: { field: string }) => d.field === field);

describe.runIf(redisUp)('readiness with Redis (BullMQ)', () => {
  let sys: System;
  let site: SiteKeys;
  const warnings = () => sys.api.lines.filter((l) => /WARN: No worker seen in the last 2 s/.test(l)).length;

  beforeAll(async () => {
    sys = await System.start({
      mode: 'bullmq',
      workers: 0,
      env: { WORKER_HEARTBEAT_TIMEOUT_SECONDS: String(TIMEOUT), READY_MAX_QUEUE_AGE_SECONDS: '3', QUEUE_STATS_CACHE_SECONDS: '0' },
    });
    site = await sys.createSite('Ready Site');
  }, 60_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('is not ready with no worker at all: 503, "no worker seen", in the spec error shape with the checks', async () => {
    const res = await sys.request('GET', '/api/ready');
    expect(res.status).toBe(503);
    expect(res.json).toMatchObject({
      success: false,
      error: 'Service unavailable',
      message: expect.stringMatching(/^Not ready: No worker seen in the last 2 s \(WORKER_HEARTBEAT_TIMEOUT_SECONDS\)/),
      details: [{ field: 'workers', message: expect.stringMatching(/no worker seen/i) }],
      data: {
        status: 'not ready',
        checks: {
          queue: { ok: true, kind: 'bullmq' },
          store: { ok: true, kind: 'sqlite' },
          workers: { ok: false, seen: 0, timeout_seconds: TIMEOUT, message: expect.stringContaining('npm run worker:prod') },
          queue_age: { ok: true, oldest_waiting_seconds: 0 },
        },
      },
    });
    // Liveness is another question: the API answers.
    const health = await sys.request('GET', '/api/health');
    expect(health.status).toBe(200);
    expect(health.json).toMatchObject({ success: true, data: { status: 'ok' } });
  });

  it('warns in the log within the timeout of starting, once, not at every check', async () => {
    await sys.api.waitForLine(/WARN: No worker seen in the last 2 s \(WORKER_HEARTBEAT_TIMEOUT_SECONDS\): events are queued but not counted until one runs/, 10_000);
    // Not before the timeout: a worker starting together with the API is no reason to warn.
    const at = (re: RegExp) => Date.parse(/^\[(\S+)\]/.exec(sys.api.lines.find((l) => re.test(l))!)![1]!);
    expect(at(/WARN: No worker seen/) - at(/API listening on/)).toBeGreaterThanOrEqual(TIMEOUT * 1000 - 50);
    // Several checks later (every 666 ms), still one line.
    await new Promise((r) => setTimeout(r, 3 * TIMEOUT * 1000));
    expect(warnings()).toBe(1);
  });

  it('fails the backlog check once the oldest waiting job is older than READY_MAX_QUEUE_AGE_SECONDS', async () => {
    expect((await sys.sendEvent(site, { site_id: site.site_id, event_type: 'pageview', path: '/waiting', user_id: 'w1' })).status).toBe(202);
    const res = await readyWhen(sys, 'the backlog check to fail', notReadyFor('queue_age'));
    expect(res.json.data.checks.queue_age).toMatchObject({ ok: false, max_seconds: 3, waiting: 1, message: expect.stringContaining('READY_MAX_QUEUE_AGE_SECONDS (3 s)') });
    expect(res.json.data.checks.queue_age.oldest_waiting_seconds).toBeGreaterThan(3);
    expect(res.json.details.map((d: { field: string }) => d.field)).toEqual(['workers', 'queue_age']);
    const m = parsePrometheus((await sys.request('GET', '/metrics')).text);
    expect(m.value('analytics_queue_jobs', { state: 'waiting' })).toBe(1);
    expect(m.value('analytics_queue_oldest_waiting_age_seconds')).toBeGreaterThan(3);
    expect(m.value('analytics_workers_alive')).toBe(0);
  });

  it('is ready once a worker runs (and says so in the log), then not ready again after a kill -9 and the timeout', async () => {
    const worker = await sys.startWorker();
    const ready = await readyWhen(sys, 'ready with a worker', (r) => r.status === 200);
    expect(ready.json).toMatchObject({ success: true, data: { status: 'ready', checks: { workers: { ok: true, seen: 1 }, queue_age: { ok: true } } } });
    await sys.api.waitForLine(/INFO: A worker is running: \S+\/\d+ \(1 seen in the last 2 s\)/, 10_000);
    // The waiting event was counted.
    await sys.statsWhen(site, '', (d) => d.total_views === 1);

    worker.kill('SIGKILL');
    await worker.exited;
    const gone = await readyWhen(sys, 'not ready after the kill', notReadyFor('workers'));
    expect(gone.json.data.checks.workers.message).toMatch(/^No worker seen in the last 2 s .*The last one \(\S+\/\d+\) was seen [\d.]+ s ago/);
    expect(gone.json.data.checks.workers.last_seen_seconds_ago).toBeGreaterThanOrEqual(TIMEOUT);
    // The warning again: a second transition, a second line.
    await until(() => warnings() === 2, 'a second warning', 10_000);
  });
});

describe('readiness in embedded mode', () => {
  let sys: System;
  beforeAll(async () => {
    sys = await System.start({ mode: 'embedded', env: { WORKER_HEARTBEAT_TIMEOUT_SECONDS: String(TIMEOUT) } });
  }, 60_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('is ready with its worker thread, and never warns', async () => {
    const res = await sys.request('GET', '/api/ready');
    expect(res.status, res.text).toBe(200);
    expect(res.json.data.checks).toMatchObject({ queue: { ok: true, kind: 'embedded' }, workers: { ok: true, seen: 1 } });
    await new Promise((r) => setTimeout(r, 2 * TIMEOUT * 1000));
    expect(sys.api.output()).not.toMatch(/No worker seen/);
  });
});

describe('readiness in embedded mode without the worker thread (RUN_WORKER=false)', () => {
  let sys: System;
  beforeAll(async () => {
    sys = await System.start({ mode: 'embedded', env: { RUN_WORKER: 'false', WORKER_HEARTBEAT_TIMEOUT_SECONDS: String(TIMEOUT) } });
  }, 60_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('is not ready until a worker process shares the queue file, and ready once one does', async () => {
    const res = await sys.request('GET', '/api/ready');
    expect(res.status).toBe(503);
    expect(res.json.data.checks.workers.message).toMatch(/No worker seen .*npm run worker:prod/);
    await sys.api.waitForLine(/WARN: No worker seen in the last 2 s/, 10_000);
    const worker = await sys.startWorker();
    await readyWhen(sys, 'ready with the worker process', (r) => r.status === 200);
    // A worker stopped cleanly removes its heartbeat: not ready at once, without waiting for the timeout.
    await worker.stop();
    const after = await sys.request('GET', '/api/ready');
    expect(after.status).toBe(503);
    expect(after.json.data.checks.workers.ok).toBe(false);
  });
});

describe('readiness with SQS (heartbeats in the store)', () => {
  let sys: System;
  beforeAll(async () => {
    sys = await System.start({ mode: 'sqs', env: { WORKER_HEARTBEAT_TIMEOUT_SECONDS: String(TIMEOUT), SQS_WAIT_TIME_SECONDS: '1' } });
  }, 60_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('is ready with its worker, says SQS does not tell the oldest age, and not ready after a kill -9', async () => {
    const res = await readyWhen(sys, 'ready', (r) => r.status === 200);
    expect(res.json.data.checks).toMatchObject({
      queue: { ok: true, kind: 'sqs' },
      workers: { ok: true, seen: 1 },
      queue_age: { ok: true, oldest_waiting_seconds: null, note: expect.stringContaining('ApproximateAgeOfOldestMessage') },
    });
    const m = parsePrometheus((await sys.request('GET', '/metrics')).text);
    expect(m.value('analytics_queue_jobs', { state: 'waiting' })).toBeGreaterThanOrEqual(0);
    expect(m.types.has('analytics_queue_oldest_waiting_age_seconds')).toBe(false);
    const worker = sys.workers[0]!;
    worker.kill('SIGKILL');
    await worker.exited;
    const gone = await readyWhen(sys, 'not ready after the kill', notReadyFor('workers'));
    expect(gone.json.message).toMatch(/No worker seen/);
  });
});

describe('readiness with the store unreachable', () => {
  const available = PrivatePostgres.available();
  if (!available) {
    if (IN_CI) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql (CI=true: they must be installed)');
    console.warn('skipped: PostgreSQL server binaries not found under /usr/lib/postgresql');
  }
  let pg: PrivatePostgres | undefined;
  let sys: System | undefined;
  beforeAll(async () => {
    if (!available) return;
    pg = await PrivatePostgres.start();
    sys = await System.start({ mode: 'embedded', env: { DATABASE_URL: pg.url, WORKER_HEARTBEAT_TIMEOUT_SECONDS: String(TIMEOUT) } });
  }, 60_000);
  afterAll(async () => {
    await sys?.stop();
    await pg?.destroy();
  });

  it.runIf(available)('answers 503 naming the store, within the check timeout', async () => {
    expect((await sys!.request('GET', '/api/ready')).status).toBe(200);
    await pg!.stop();
    const res = await readyWhen(sys!, 'not ready with the store down', notReadyFor('store'));
    expect(res.json.data.checks.store).toMatchObject({ ok: false, kind: 'postgres', message: expect.stringMatching(/^The store \(postgres\) is not reachable: /) });
    expect(res.json.message).toMatch(/^Not ready: The store \(postgres\) is not reachable/);
    // Health (liveness of the dependencies) says so too.
    expect((await sys!.request('GET', '/api/health')).status).toBe(503);
  });
});
