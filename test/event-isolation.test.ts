// Issue 9, item 2 (worker side) and item 13: one bad event never costs another. Unstorable and
// invalid events are injected straight into the queue (bypassing the API, as an older API, a
// script or a bug could), between good events of two sites, in every deployment shape: every good
// event is counted, and only the bad ones are set aside — kept in rejected_events, logged with
// their id and reason, counted. The store's own refusal is real: a trigger (SQLite) or a check
// constraint (PostgreSQL) refuses one marked path, which only the bisection can find.
// Item 13: the worker reads a job's retry budget from the job itself, not from its own settings.
import Database from 'better-sqlite3';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { newEventId, type QueuedEvent } from '../src/core/event.js';
import { BullmqEventQueue } from '../src/queue/bullmq.js';
import { EmbeddedEventQueue } from '../src/queue/embedded.js';
import type { EventQueue } from '../src/queue/port.js';
import { openStore } from '../src/store/index.js';
import type { AnalyticsStore } from '../src/store/port.js';
import { POSTGRES_URL, REDIS_URL, serviceAvailable, uniqueName } from './helpers/services.js';
import { dropSchema } from './helpers/stores.js';
import { System, spawnNode, today, type Mode, type SiteKeys } from './helpers/system.js';
import { sleep, until } from './helpers/wait.js';

const redisUp = await serviceAvailable('Redis', REDIS_URL);
const pgUp = await serviceAvailable('PostgreSQL', POSTGRES_URL);

interface Shape {
  name: string;
  mode: Mode;
  store: 'sqlite' | 'postgres';
}
const shapes: Shape[] = [
  { name: 'embedded queue + SQLite', mode: 'embedded', store: 'sqlite' },
  ...(redisUp ? [{ name: 'BullMQ + SQLite', mode: 'bullmq' as const, store: 'sqlite' as const }] : []),
  ...(redisUp && pgUp ? [{ name: 'BullMQ + PostgreSQL', mode: 'bullmq' as const, store: 'postgres' as const }] : []),
];

const REFUSED_PATH = '/refused-by-the-store';
const RETRIES = { attempts: 3, backoffMs: 200 };

describe.each(shapes)('one bad event never costs another: $name', (shape) => {
  let sys: System;
  let a: SiteKeys;
  let b: SiteKeys;
  let schema: string | undefined;
  let producer: EventQueue;
  let store: AnalyticsStore;
  let worker: Awaited<ReturnType<System['startWorker']>>;

  beforeAll(async () => {
    schema = shape.store === 'postgres' ? uniqueName('iso') : undefined;
    sys = await System.start({
      mode: shape.mode,
      workers: 0,
      env: {
        // The API queues jobs with these retry settings…
        JOB_ATTEMPTS: String(RETRIES.attempts),
        JOB_BACKOFF_MS: String(RETRIES.backoffMs),
        ...(shape.mode === 'embedded' ? { RUN_WORKER: 'false' } : {}),
        ...(schema ? { DATABASE_URL: POSTGRES_URL, DATABASE_SCHEMA: schema } : {}),
      },
    });
    a = await sys.createSite('Isolation A');
    b = await sys.createSite('Isolation B', 'Asia/Tokyo');
    // The store refuses one marked path, as a real database refuses a value it cannot keep.
    if (shape.store === 'postgres') {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`alter table "${schema}".events add constraint refuse_marked check (path <> '${REFUSED_PATH}')`);
      await client.end();
    } else {
      const db = new Database(path.join(sys.env.DATA_DIR!, 'analytics.db'));
      db.pragma('busy_timeout = 10000');
      db.exec(`CREATE TRIGGER refuse_marked BEFORE INSERT ON events WHEN NEW.path = '${REFUSED_PATH}' BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END`);
      db.close();
    }
    // …and the worker has settings of its own that must not matter for those jobs.
    worker = await sys.startWorker({ JOB_ATTEMPTS: '1', JOB_BACKOFF_MS: '999999' });
    const config = loadConfig(sys.env);
    if (shape.mode === 'bullmq') {
      producer = new BullmqEventQueue(config.redis!, config.queue);
      await (producer as BullmqEventQueue).queue.waitUntilReady();
    } else {
      producer = new EmbeddedEventQueue(path.join(sys.env.DATA_DIR!, 'analytics.db'), undefined, RETRIES);
    }
    store = await openStore(config);
  });

  afterAll(async () => {
    await producer?.close();
    await store?.close();
    await sys?.stop();
    if (schema) await dropSchema(schema);
  });

  const good = (site: SiteKeys, i: number, extra: Partial<QueuedEvent> = {}): QueuedEvent => ({
    id: newEventId(),
    site_id: site.site_id,
    type: 'pageview',
    path: `/good-${i % 3}`,
    visitor: `u:${site.site_id}-u${i}`,
    ts: Date.now(),
    received_at: Date.now(),
    ...extra,
  });

  const failedJobs = async (): Promise<number> => {
    if (shape.mode === 'embedded') {
      const db = new Database(path.join(sys.env.DATA_DIR!, 'analytics.db'), { readonly: true });
      try {
        return (db.prepare(`select count(*) as n from queue_jobs where state = 'failed'`).get() as { n: number }).n;
      } finally {
        db.close();
      }
    }
    const connection = new Redis(sys.env.REDIS_URL!, { maxRetriesPerRequest: null });
    const queue = new Queue(sys.env.QUEUE_NAME!, { connection });
    try {
      return await queue.getFailedCount();
    } finally {
      await queue.close();
      connection.disconnect();
    }
  };

  it('applies every good event of the job, of both sites, and sets aside only the bad ones', async () => {
    const from = worker.lines.length;
    const nul = good(a, 100, { path: '/nul\u0000byte' });
    const lone = good(b, 101, { visitor: 'u:lone\ud800surrogate' });
    const refused = good(b, 102, { path: REFUSED_PATH });
    const invalid = { ...good(a, 103), id: 'not-a-uuid' };
    const goodA = Array.from({ length: 6 }, (_, i) => good(a, i));
    const goodB = Array.from({ length: 5 }, (_, i) => good(b, i));
    // One job, as the API batches events of all sites together.
    await producer.enqueue([goodA[0]!, goodA[1]!, nul, goodB[0]!, goodB[1]!, refused, goodA[2]!, lone, goodB[2]!, invalid, goodA[3]!, goodB[3]!, goodA[4]!, goodB[4]!, goodA[5]!]);

    const dayA = await sys.statsWhen(a, `&date=${today()}`, (d) => d.total_views >= 6);
    const dayB = await sys.statsWhen(b, '', (d) => d.total_views >= 5);
    await until(async () => (await store.countRejectedEvents()) >= 4, 'the bad events to be set aside');
    await sleep(500);
    expect((await sys.stats(a, `&date=${today()}`)).json.data).toMatchObject({ total_views: 6, unique_users_count: 6 });
    expect(dayA.top_paths).toEqual([
      { path: '/good-0', views: 2 },
      { path: '/good-1', views: 2 },
      { path: '/good-2', views: 2 },
    ]);
    expect((await sys.stats(b)).json.data).toMatchObject({ total_views: 5, unique_users_count: 5 });
    expect(dayB.top_paths.map((p: { path: string }) => p.path)).not.toContain(REFUSED_PATH);
    expect(await store.countEvents(a.site_id)).toBe(6);
    expect(await store.countEvents(b.site_id)).toBe(5);

    // Set aside: kept (countable per site), and logged at error level with id and reason.
    expect(await store.countRejectedEvents()).toBe(4);
    expect(await store.countRejectedEvents(a.site_id)).toBe(2);
    expect(await store.countRejectedEvents(b.site_id)).toBe(2);
    const lines = worker.lines.slice(from).join('\n');
    expect(lines).toMatch(new RegExp(`ERROR: Event ${nul.id} of site "${a.site_id}" set aside in rejected_events: invalid event \\(events\\.2\\): path: path must not contain a NUL character`));
    expect(lines).toMatch(new RegExp(`ERROR: Event ${lone.id} of site "${b.site_id}" set aside in rejected_events: .*visitor must be well-formed Unicode`));
    expect(lines).toMatch(new RegExp(`ERROR: Event ${refused.id} of site "${b.site_id}" set aside in rejected_events: refused by the ${shape.store} store: .*(refuse_marked|refused by a trigger)`));
    expect(lines).toMatch(/ERROR: Event not-a-uuid of site "isolation-a" set aside in rejected_events: invalid event \(events\.9\): id:/);
    expect(lines).toMatch(/"rejected":/);
    // The job completed: nothing waits in the failed set, nothing is retried.
    expect(await failedJobs()).toBe(0);
    expect(lines).not.toMatch(/Job failed/);

    // The same events again (a replayed job): still counted once, still kept once.
    await producer.enqueue([goodA[0]!, nul, refused, goodB[0]!]);
    await producer.enqueue([good(a, 50, { path: '/marker' })]);
    await sys.statsWhen(a, `&date=${today()}`, (d) => d.total_views === 7);
    await sleep(500);
    expect((await sys.stats(b)).json.data.total_views).toBe(5);
    expect(await store.countRejectedEvents()).toBe(4);

    // The operator's view: queue:retry-failed says how many were set aside.
    const retry = spawnNode(path.resolve(import.meta.dirname, '../dist/src/worker/retry-failed.js'), sys.env, 'retry-failed');
    expect(await retry.exited).toBe(0);
    expect(retry.output()).toMatch(/0 failed jobs queued again/);
    expect(retry.output()).toMatch(new RegExp(`4 events set aside by the workers in rejected_events of the ${shape.store} store`));
  });

  it('retries events of an unknown site loudly, by the job\'s own options, and sets them aside after its last attempt', async () => {
    const from = worker.lines.length;
    const before = (await sys.stats(a, `&date=${today()}`)).json.data.total_views;
    const ghost = { ...good(a, 200), site_id: 'ghost-site' };
    await producer.enqueue([good(a, 201, { path: '/with-ghost' }), ghost]);
    // The good event is counted at the first attempt, not after the retries.
    await sys.statsWhen(a, `&date=${today()}`, (d) => d.total_views === before + 1);
    await worker.waitForLine(/Last attempt: they are set aside in rejected_events/, 20_000, from);
    const lines = worker.lines.slice(from);
    const unknown = lines.filter((l) => /1 event for site "ghost-site", which the \w+ store .* does not know/.test(l));
    expect(unknown.map((l) => /\(attempt (\d) of (\d)\)/.exec(l)?.slice(1).join('/'))).toEqual(['1/3', '2/3', '3/3']);
    expect(unknown[0]).toMatch(/start this worker with the API's DATABASE_URL \/ MONGODB_URI \/ DATA_DIR/);
    // The job's real state, from its own options (3 attempts, 200 ms backoff), not the worker's (1).
    expect(lines.join('\n')).toMatch(/will be tried again in 200 ms \(attempt 2 of 3\)/);
    expect(lines.join('\n')).toMatch(/will be tried again in 400 ms \(attempt 3 of 3\)/);
    expect(lines.join('\n')).not.toMatch(/stays in the failed set/);
    await until(async () => (await store.countRejectedEvents('ghost-site')) === 1, 'the ghost event to be set aside');
    expect(await failedJobs()).toBe(0);
    expect((await sys.stats(a, `&date=${today()}`)).json.data.total_views).toBe(before + 1);
  });
});
