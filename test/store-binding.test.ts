// Issue 9, item 4: a queue is bound to the store it feeds. A worker on another database (or, the
// easiest slip, started without DATABASE_URL in a second terminal) refuses to take the jobs, with
// one FATAL line naming both stores; an API on another store refuses a queue that still holds
// jobs for the first one, and takes over an empty one (and the first store's workers then stop).
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { POSTGRES_URL, REDIS_URL, serviceAvailable, uniqueName } from './helpers/services.js';
import { dropSchema, tempDir } from './helpers/stores.js';
import { Proc, System, WORKER_ENTRY, API_ENTRY, spawnNode, today } from './helpers/system.js';
import { sleep } from './helpers/wait.js';

const redisUp = await serviceAvailable('Redis', REDIS_URL);
const pgUp = await serviceAvailable('PostgreSQL', POSTGRES_URL);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

function track(sys: System): System {
  cleanups.push(() => sys.stop());
  return sys;
}

function pgEnv(): Record<string, string> {
  const schema = uniqueName('bind');
  cleanups.push(() => dropSchema(schema));
  return { DATABASE_URL: POSTGRES_URL, DATABASE_SCHEMA: schema };
}

function spawnTracked(entry: string, env: Record<string, string>, name: string): Proc {
  const p = spawnNode(entry, env, name);
  cleanups.push(async () => void (await p.stop()));
  return p;
}

/** The worker refused: exit 1, one FATAL line naming both stores and the fix, no job taken. */
async function expectRefusal(worker: Proc, queueStore: RegExp, workerStore: RegExp): Promise<void> {
  expect(await worker.exited, worker.output()).toBe(1);
  const fatal = worker.lines.filter((l) => /FATAL/.test(l));
  expect(fatal, worker.output()).toHaveLength(1);
  expect(fatal[0]).toMatch(/FATAL: (Cannot start: )?This worker's store is not the one its queue feeds: the .*queue.* is bound to /);
  expect(fatal[0]).toMatch(queueStore);
  expect(fatal[0]).toMatch(workerStore);
  expect(fatal[0]).toMatch(/\(store id [0-9a-f-]{36}\).*\(store id [0-9a-f-]{36}\)/);
  expect(fatal[0]).toMatch(/Start the worker with the same DATABASE_URL \/ MONGODB_URI \/ DATA_DIR as the API/);
  expect(worker.output()).not.toMatch(/Processing|processed successfully|^\s+at /m);
}

const event = (site_id: string, user_id = 'u1') => ({ site_id, event_type: 'pageview', path: '/bound', user_id });

describe.runIf(redisUp && pgUp)('a worker on the wrong store', () => {
  it('BullMQ: the API on PostgreSQL, a worker started without DATABASE_URL (SQLite) refuses the jobs', async () => {
    const sys = track(await System.start({ mode: 'bullmq', workers: 0, env: pgEnv() }));
    const site = await sys.createSite('Bound PG');
    expect((await sys.sendEvent(site, event(site.site_id))).status).toBe(202);
    const { DATABASE_URL: _u, DATABASE_SCHEMA: _s, ...withoutDb } = sys.env;
    const wrong = spawnTracked(WORKER_ENTRY, withoutDb, 'wrong worker');
    await expectRefusal(wrong, /bound to the postgres store at postgres:\/\/postgres@127\.0\.0\.1:5432\/test \(schema bind_/, /this worker has the sqlite store .*analytics\.db/);
    // The job waited for the right worker, and is counted once by it.
    await sys.startWorker();
    const data = await sys.statsWhen(site, `&date=${today()}`, (d) => d.total_views === 1);
    expect(data.unique_users_count).toBe(1);
  });

  it('BullMQ: the API on SQLite, a worker on a PostgreSQL database refuses the jobs', async () => {
    const sys = track(await System.start({ mode: 'bullmq', workers: 0 }));
    const wrong = spawnTracked(WORKER_ENTRY, { ...sys.env, ...pgEnv() }, 'wrong worker');
    await expectRefusal(wrong, /bound to the sqlite store .*analytics\.db/, /this worker has the postgres store at postgres:\/\//);
  });

  it('embedded queue: the API on PostgreSQL, a second-terminal worker without DATABASE_URL refuses', async () => {
    const sys = track(await System.start({ mode: 'embedded', env: { RUN_WORKER: 'false', ...pgEnv() } }));
    const site = await sys.createSite('Bound Embedded');
    expect((await sys.sendEvent(site, event(site.site_id))).status).toBe(202);
    const { DATABASE_URL: _u, DATABASE_SCHEMA: _s, ...withoutDb } = sys.env;
    const wrong = spawnTracked(WORKER_ENTRY, withoutDb, 'wrong worker');
    await expectRefusal(wrong, /the embedded queue in .*analytics\.db is bound to the postgres store/, /this worker has the sqlite store/);
    await sys.startWorker();
    await sys.statsWhen(site, `&date=${today()}`, (d) => d.total_views === 1);
  });
});

describe.runIf(redisUp)('an API on another store than its queue', () => {
  it('refuses a queue holding jobs for the other store, takes over an empty one, and the old workers stop', async () => {
    // API and worker of store A; one event waits in the queue (no worker yet).
    const a = track(await System.start({ mode: 'bullmq', workers: 0 }));
    const siteA = await a.createSite('Store A');
    expect((await a.sendEvent(siteA, event(siteA.site_id))).status).toBe(202);

    // An API of store B on the same queue: refused while the job for A waits.
    const dirB = tempDir('analytics-bind-b-');
    cleanups.push(async () => fs.rmSync(dirB, { recursive: true, force: true }));
    const envB = { ...a.env, DATA_DIR: dirB };
    const refused = spawnTracked(API_ENTRY, envB, 'api B');
    expect(await refused.exited, refused.output()).toBe(1);
    const fatal = refused.lines.filter((l) => /FATAL/.test(l));
    expect(fatal, refused.output()).toHaveLength(1);
    expect(fatal[0]).toMatch(/is bound to the sqlite store .*analytics\.db \(store id [0-9a-f-]{36}\) and holds 1 job for it, but this API's store is the sqlite store .*analytics-bind-b-/);
    expect(fatal[0]).toMatch(/or give this store a queue of its own \(QUEUE_NAME\)/);

    // A's worker drains the queue; now B's API takes the queue over, with a warning.
    const workerA = await a.startWorker();
    await a.statsWhen(siteA, `&date=${today()}`, (d) => d.total_views === 1);
    await sleep(300);
    const b = track(new System(envB, 'bullmq'));
    await b.startApi();
    await b.api.waitForLine(/WARN: The queue .* was bound to the sqlite store .* it held no jobs, so it is now bound to this API's store/);
    const siteB = await b.createSite('Store B');
    expect((await b.sendEvent(siteB, event(siteB.site_id))).status).toBe(202);

    // A's worker sees the new binding before applying anything of B, and stops.
    expect(await workerA.exited, workerA.output()).toBe(1);
    expect(workerA.lines.filter((l) => /FATAL: This worker's store is not the one its queue feeds/.test(l))).toHaveLength(1);
    expect(workerA.output()).not.toMatch(/store-b/);

    // B's own worker counts B's event once.
    await b.startWorker();
    await b.statsWhen(siteB, `&date=${today()}`, (d) => d.total_views === 1);
  });
});
