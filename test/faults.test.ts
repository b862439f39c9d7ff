// Fault tests: things break for real (processes killed by PID, Redis killed and restarted, the
// database stopped, poison jobs, SIGTERM mid-burst) and every test ends with exact totals,
// uniques and top paths: a 2xx means the event is counted, exactly once.
import Database from 'better-sqlite3';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { uuidv7 } from '../src/core/id.js';
import { BullmqEventQueue, JOB_NAME } from '../src/queue/bullmq.js';
import { EmbeddedEventQueue } from '../src/queue/embedded.js';
import { SqsEventQueue } from '../src/queue/sqs.js';
import { PrivatePostgres, PrivateRedis } from './helpers/private-servers.js';
import { REDIS_URL, serviceAvailable } from './helpers/services.js';
import { TEST_CREDENTIALS } from './helpers/sqs.js';
import { System, type Mode, type SiteKeys } from './helpers/system.js';
import { expectedStats, sendEvents, storedUserIds, trafficEvent, type SentEvent } from './helpers/traffic.js';
import { sleep, until } from './helpers/wait.js';

const redisUp = await serviceAvailable('Redis', REDIS_URL);
const modes: Mode[] = redisUp ? ['bullmq', 'embedded', 'sqs'] : ['embedded', 'sqs'];

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

async function start(mode: Mode, env: Record<string, string>): Promise<System> {
  // Embedded: the API without its in-process worker, so the worker is a process of its own to kill.
  const sys = await System.start({ mode, workers: 0, env: { ...(mode === 'embedded' ? { RUN_WORKER: 'false' } : {}), ...env } });
  cleanups.push(() => sys.stop());
  return sys;
}

/** Jobs held by workers right now, read from the queue itself. */
async function activeJobs(sys: System): Promise<number> {
  if (sys.mode === 'sqs') {
    // Received and still invisible: held by a worker (or by a dead one until its visibility ends).
    return sys.sqs!.emulator.inspect(sys.sqs!.queue.name).inflight.filter((m) => m.visibilityDeadline > Date.now()).length;
  }
  if (sys.mode === 'embedded') {
    const db = new Database(path.join(sys.env.DATA_DIR!, 'analytics.db'), { readonly: true });
    try {
      return (db.prepare(`select count(*) as n from queue_jobs where state = 'active'`).get() as { n: number }).n;
    } finally {
      db.close();
    }
  }
  const connection = new Redis(sys.env.REDIS_URL!, { maxRetriesPerRequest: null });
  const queue = new Queue(sys.env.QUEUE_NAME!, { connection });
  try {
    return await queue.getActiveCount();
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

/** Waits until the last-24-hours totals reach `n`, then checks they stay exact. */
async function expectExact(sys: System, site: SiteKeys, counted: SentEvent[], timeoutMs = 120_000) {
  const expected = expectedStats(counted);
  await sys.statsWhen(site, '', (d) => d.total_views >= expected.total_views, timeoutMs);
  await sleep(1500); // anything still in flight would show now
  const data = (await sys.stats(site)).json.data;
  expect({ total_views: data.total_views, unique_users_count: data.unique_users_count, top_paths: data.top_paths }).toEqual(expected);
  const stored = await storedUserIds(sys, site);
  expect(stored.length).toBe(counted.length);
  expect(new Set(stored)).toEqual(new Set(counted.map((e) => e.body.user_id)));
}

describe.each(modes)('faults (%s)', (mode) => {
  it('worker killed with kill -9 while processing: nothing lost, nothing twice', async () => {
    const sys = await start(mode, { QUEUE_LOCK_MS: '2000' });
    const site = await sys.createSite('Killed Worker');
    const events = Array.from({ length: 20_000 }, (_, i) => trafficEvent(site, i));
    // The events wait in the queue; a worker then drains them in large transactions (~5,000
    // events each), and is killed inside one.
    const sent = await sendEvents(sys, site, events, { concurrency: 50 });
    expect(sent.acked).toHaveLength(20_000);
    let worker = await sys.startWorker();
    // Kill while a transaction is open: the worker's last word is "Processing …", not "… processed".
    // If the transaction happened to finish first, try again with a new worker (bounded).
    let heldAtKill = 0;
    for (let attempt = 0; attempt < 5 && heldAtKill === 0; attempt++) {
      const from = worker.lines.length;
      const caught = await until(
        () => {
          const relevant = worker.lines.slice(from).filter((l) => /Processing |processed successfully/.test(l));
          return relevant.length > 0 && /Processing \d+ events/.test(relevant.at(-1)!);
        },
        'the worker to be inside a transaction',
        30_000,
        2,
      ).then(
        () => true,
        () => false,
      );
      if (!caught) break; // nothing left to process: the backlog is gone
      process.kill(worker.pid, 'SIGKILL');
      await worker.exited;
      heldAtKill = await activeJobs(sys);
      worker = await sys.startWorker();
    }
    expect(heldAtKill).toBeGreaterThan(0); // it died holding jobs: they must be taken up again
    await expectExact(sys, site, sent.acked);
    console.log(`[fault ${mode}] worker kill -9: sent 20000, acknowledged ${sent.acked.length}, jobs held at kill ${heldAtKill}, counted ${sent.acked.length}`);
  });

  it('graceful shutdown: SIGTERM during a burst finishes the active jobs and exits', async () => {
    const sys = await start(mode, { QUEUE_LOCK_MS: '60000' });
    const site = await sys.createSite('Graceful');
    const events = Array.from({ length: 8000 }, (_, i) => trafficEvent(site, i));
    const first = await sys.startWorker();
    const sending = sendEvents(sys, site, events, { concurrency: 50 });
    await until(async () => (await activeJobs(sys)) > 0, 'the worker to hold jobs', 60_000);
    first.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.output()).toMatch(/Worker stopping: finishing active jobs/);
    expect(first.output()).toMatch(/Worker stopped/);
    // Nothing left locked: the long lock (60 s) would otherwise hold those jobs past this test.
    expect(await activeJobs(sys)).toBe(0);
    const sent = await sending;
    expect(sent.acked).toHaveLength(8000);
    await sys.startWorker();
    await expectExact(sys, site, sent.acked, 50_000);
    console.log(`[fault ${mode}] SIGTERM mid-burst: sent 8000, acknowledged ${sent.acked.length}, counted ${sent.acked.length}`);
  });

  it('poison job: fails after 5 attempts and does not block the events behind it', async () => {
    const sys = await start(mode, { JOB_BACKOFF_MS: '100' });
    await sys.startWorker();
    const site = await sys.createSite('Poison');
    const before = await sendEvents(sys, site, Array.from({ length: 200 }, (_, i) => trafficEvent(site, i)));
    const config = loadConfig(sys.env);
    // A payload that is not a list of events at all. (An invalid *event* inside a job is set aside
    // on its own and the job completes: test/event-isolation.test.ts.)
    const poison = 'not-a-list-of-events';
    let poisonState: () => Promise<{ state: string; attempts: number; reason: string }>;
    if (mode === 'bullmq') {
      const producer = new BullmqEventQueue(config.redis!, config.queue);
      cleanups.push(() => producer.close());
      await producer.queue.waitUntilReady();
      const job = await producer.queue.add(JOB_NAME, { events: poison }, { jobId: uuidv7() });
      poisonState = async () => {
        const j = (await producer.queue.getJob(job.id!))!;
        return { state: await j.getState(), attempts: j.attemptsMade, reason: j.failedReason };
      };
    } else if (mode === 'sqs') {
      const producer = new SqsEventQueue(config.sqs!, { clientOptions: { credentials: TEST_CREDENTIALS } });
      cleanups.push(() => producer.close());
      await producer.enqueue(poison as never);
      // The dead-letter queue holds the message with the reason and the attempts the worker recorded.
      poisonState = async () => {
        const { emulator, queue } = sys.sqs!;
        const dead = emulator.inspect(queue.dlqName).ready.find((m) => m.body.includes(poison));
        if (!dead) return { state: 'queued', attempts: 0, reason: '' };
        return { state: 'failed', attempts: Number(dead.messageAttributes.attempts?.StringValue), reason: dead.messageAttributes.failed_reason?.StringValue ?? '' };
      };
    } else {
      const producer = new EmbeddedEventQueue(path.join(sys.env.DATA_DIR!, 'analytics.db'));
      cleanups.push(() => producer.close());
      await producer.enqueue(poison as never);
      poisonState = async () => {
        const db = new Database(path.join(sys.env.DATA_DIR!, 'analytics.db'), { readonly: true });
        try {
          const row = db.prepare(`select state, attempts_made, failed_reason from queue_jobs where payload like '%not-a-list-of-events%'`).get() as {
            state: string;
            attempts_made: number;
            failed_reason: string;
          };
          return { state: row.state, attempts: row.attempts_made, reason: row.failed_reason };
        } finally {
          db.close();
        }
      };
    }
    const after = await sendEvents(sys, site, Array.from({ length: 200 }, (_, i) => trafficEvent(site, 200 + i)));
    await until(async () => (await poisonState()).state === 'failed', 'the poison job to fail', 30_000);
    expect(await poisonState()).toMatchObject({ state: 'failed', attempts: 5, reason: expect.stringMatching(/invalid job payload: events: /) });
    await expectExact(sys, site, [...before.acked, ...after.acked]);
    console.log(`[fault ${mode}] poison job: failed after 5 attempts; sent 400 good events, acknowledged ${before.acked.length + after.acked.length}, counted ${before.acked.length + after.acked.length}`);
  });
});

describe.runIf(redisUp)('faults with private servers', () => {
  it('Redis killed and restarted mid-stream: 503 while down, every acknowledged event counted once', async () => {
    const redis = await PrivateRedis.start();
    cleanups.push(() => redis.stop());
    const sys = await start('bullmq', { REDIS_URL: redis.url, ENQUEUE_TIMEOUT_MS: '1000', QUEUE_LOCK_MS: '3000' });
    await sys.startWorker();
    const site = await sys.createSite('Redis Restart');
    const events = Array.from({ length: 200_000 }, (_, i) => trafficEvent(site, i));
    let phase: 'before' | 'down' | 'after' | 'done' = 'before';
    let acked = 0;
    const ackedAtPhase: Record<string, number> = {};
    const sending = sendEvents(sys, site, events, { concurrency: 20, stop: () => phase === 'done', onAck: (n) => (acked = n) });
    await until(() => acked >= 2000, '2000 acknowledged events');
    await redis.kill();
    phase = 'down';
    ackedAtPhase.down = acked;
    await sleep(2000);
    ackedAtPhase.downEnd = acked;
    await redis.start();
    phase = 'after';
    await until(() => acked >= ackedAtPhase.downEnd! + 2000, '2000 more acknowledged events after the restart', 60_000);
    phase = 'done';
    const sent = await sending;
    // While Redis was down for 2 s, requests were refused (503), not acknowledged.
    expect(sent.statuses.get(503) ?? 0).toBeGreaterThan(0);
    expect(ackedAtPhase.downEnd! - ackedAtPhase.down!).toBeLessThanOrEqual(20); // at most the requests already in flight
    // Jobs the worker held when Redis died come back once their lock expires (stalled jobs).
    await until(async () => {
      const stored = new Set(await storedUserIds(sys, site));
      return sent.acked.every((e) => stored.has(e.body.user_id));
    }, 'every acknowledged event to be stored', 120_000);
    await sleep(2000);
    // Every acknowledged event is stored once. A refused request whose write reached Redis just
    // before it died may be counted too (its client was told to retry): that is the only extra.
    const stored = await storedUserIds(sys, site);
    const storedSet = new Set(stored);
    expect(storedSet.size).toBe(stored.length);
    for (const e of sent.acked) expect(storedSet.has(e.body.user_id)).toBe(true);
    const refusedIds = new Set(sent.refused.map((e) => e.body.user_id));
    const ackedIds = new Set(sent.acked.map((e) => e.body.user_id));
    const extra = stored.filter((id) => !ackedIds.has(id));
    expect(extra.every((id) => refusedIds.has(id))).toBe(true);
    expect(extra.length).toBeLessThanOrEqual(20);
    const counted = events.filter((e) => storedSet.has(e.body.user_id));
    const data = (await sys.stats(site)).json.data;
    expect({ total_views: data.total_views, unique_users_count: data.unique_users_count, top_paths: data.top_paths }).toEqual(expectedStats(counted));
    console.log(
      `[fault] Redis kill -9 + restart: sent ${sent.acked.length + sent.refused.length}, acknowledged ${sent.acked.length}, refused ${sent.refused.length} ` +
        `(${[...sent.statuses].map(([s, n]) => `${s}:${n}`).join(' ')}), counted ${stored.length} (${extra.length} refused-but-queued)`,
    );
  });

  it.runIf(PrivatePostgres.available())('PostgreSQL stopped longer than the first retries: jobs retry, then all succeed once', async () => {
    const pg = await PrivatePostgres.start();
    cleanups.push(() => pg.destroy());
    const sys = await start('bullmq', { DATABASE_URL: pg.url, JOB_BACKOFF_MS: '400', QUEUE_LOCK_MS: '10000' });
    const worker = await sys.startWorker();
    const site = await sys.createSite('Store Outage');
    const phase1 = await sendEvents(sys, site, Array.from({ length: 2000 }, (_, i) => trafficEvent(site, i)));
    await sys.statsWhen(site, '', (d) => d.total_views === 2000);
    await pg.stop();
    const from = worker.lines.length;
    // Ingestion never touches the database: it keeps accepting while the store is down.
    const phase2 = await sendEvents(sys, site, Array.from({ length: 3000 }, (_, i) => trafficEvent(site, 2000 + i)));
    expect(phase2.acked).toHaveLength(3000);
    await until(() => worker.lines.slice(from).some((l) => /Job failed/.test(l) && /"attempt":2/.test(l)), 'second attempts to fail');
    await sleep(500);
    await pg.start();
    await expectExact(sys, site, [...phase1.acked, ...phase2.acked]);
    const connection = new Redis(sys.env.REDIS_URL!, { maxRetriesPerRequest: null });
    const queue = new Queue(sys.env.QUEUE_NAME!, { connection });
    expect(await queue.getFailedCount()).toBe(0);
    await queue.close();
    connection.disconnect();
    const failures = worker.lines.slice(from).filter((l) => /Job failed/.test(l)).length;
    console.log(`[fault] PostgreSQL stopped: sent 5000, acknowledged ${phase1.acked.length + phase2.acked.length} (3000 during the outage), failed attempts ${failures}, counted 5000, failed jobs 0`);
  });
});

describe('faults with SQS', () => {
  it('SQS refusing the messages: 503 (never a 2xx), then every acknowledged event counted once', async () => {
    const sys = await start('sqs', { ENQUEUE_TIMEOUT_MS: '2000' });
    const worker = await sys.startWorker();
    const { emulator, queue } = sys.sqs!;
    const site = await sys.createSite('SQS Refusing');
    const before = await sendEvents(sys, site, Array.from({ length: 300 }, (_, i) => trafficEvent(site, i)));
    expect(before.acked).toHaveLength(300);
    await sys.statsWhen(site, '', (d) => d.total_views === 300);
    // The queue is gone (deleted, or a wrong SQS_QUEUE_URL): SendMessageBatch fails, so nothing is acknowledged.
    emulator.server.deleteQueue(queue.name);
    const during = await sendEvents(sys, site, Array.from({ length: 100 }, (_, i) => trafficEvent(site, 300 + i)));
    expect(during.acked).toHaveLength(0);
    expect(during.statuses.get(503)).toBe(100);
    const refused = await sys.sendEvent(site, trafficEvent(site, 999_999).body);
    expect(refused.json).toMatchObject({ success: false, error: 'Service unavailable' });
    expect((await sys.request('GET', '/api/health')).status).toBe(503);
    await worker.waitForLine(/SQS ReceiveMessage failed/);
    // Back (same URL): the API acknowledges again and the worker, which kept polling, applies.
    emulator.server.createQueue(queue.name, { attributes: { MaximumMessageSize: '262144' } });
    const after = await sendEvents(sys, site, Array.from({ length: 300 }, (_, i) => trafficEvent(site, 1000 + i)));
    expect(after.acked).toHaveLength(300);
    await expectExact(sys, site, [...before.acked, ...after.acked], 60_000);
    console.log(`[fault sqs] queue missing: ${during.statuses.get(503)} requests refused with 503, acknowledged ${before.acked.length + after.acked.length}, counted ${before.acked.length + after.acked.length}`);
  });
});
