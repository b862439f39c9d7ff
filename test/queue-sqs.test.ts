// The SQS adapter against fauxqs (an SQS emulator started in this process): the queue contract,
// then what is particular to SQS — message size limits, visibility while a group is applied, the
// dead-letter queue and `npm run queue:retry-failed`.
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { newEventId, type QueuedEvent } from '../src/core/event.js';

type JobPayload = { events: QueuedEvent[] };
const toQueuedEvent = (e: { site_id: string; event_type: string; path: string; user_id: string }, ts: number, now: number): QueuedEvent => ({
  id: newEventId(),
  site_id: e.site_id,
  type: e.event_type,
  path: e.path,
  visitor: `u:${e.user_id}`,
  ts,
  received_at: now,
});
import { QueueUnavailableError, type ClaimedJob } from '../src/queue/port.js';
import { SqsEventConsumer, SqsEventQueue } from '../src/queue/sqs.js';
import { MAX_MESSAGE_BYTES } from '../src/queue/sqs-messages.js';
import { SqsEmulator, TEST_CREDENTIALS, type QueueSpec } from './helpers/sqs.js';
import { spawnNode } from './helpers/system.js';
import { until } from './helpers/wait.js';
import { queueContract, queueSettings } from './queue.contract.js';

const clientOptions = { credentials: TEST_CREDENTIALS };
let sqs: SqsEmulator;
beforeAll(async () => {
  sqs = await SqsEmulator.start();
});
afterAll(async () => {
  await sqs?.stop();
});

function contract(name: string, spec: QueueSpec) {
  queueContract(name, async (settings) => {
    // The redrive policy moves a message after maxReceiveCount receives: the contract's attempts.
    const q = sqs.createQueue({ ...spec, maxReceiveCount: settings.attempts });
    const cfg = sqs.config(q, spec);
    const producer = new SqsEventQueue(cfg, { clientOptions });
    return {
      producer,
      consumer: (s) => new SqsEventConsumer(cfg, s, { flushMaxEvents: 1000, clientOptions }),
      cleanup: async () => {
        await producer.close();
        sqs.server.deleteQueue(q.name);
        sqs.server.deleteQueue(q.dlqName);
      },
    };
  });
}
contract('SQS (fauxqs), dead-letter queue by SQS_DLQ_URL', { deadLetter: 'explicit' });
contract('SQS (fauxqs), dead-letter queue by redrive policy', { deadLetter: 'redrive' });
contract('SQS FIFO queue (fauxqs)', { deadLetter: 'explicit', fifo: true });

/** An event of about `bytes` bytes of JSON (the path carries the size). */
const sized = (n: number, bytes: number): QueuedEvent =>
  toQueuedEvent({ site_id: 's', event_type: 'pageview', path: `/${n}/${'x'.repeat(Math.max(1, bytes - 200))}`, user_id: `u${n}` }, n, n);
const ev = (n: number) => toQueuedEvent({ site_id: 's', event_type: 'pageview', path: `/${n}`, user_id: `u${n}` }, n, n);
const tsOf = (jobs: ClaimedJob[]) => jobs.flatMap((j) => (j.data as JobPayload).events.map((e) => e.ts));

describe('SQS adapter', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  });
  function open(spec: QueueSpec = { deadLetter: 'explicit' }, settings = queueSettings(), flushMaxEvents = 1000) {
    const q = sqs.createQueue(spec);
    const cfg = sqs.config(q, spec);
    const producer = new SqsEventQueue(cfg, { clientOptions });
    const consumers: SqsEventConsumer[] = [];
    const consumer = () => {
      const c = new SqsEventConsumer(cfg, settings, { flushMaxEvents, clientOptions });
      consumers.push(c);
      return c;
    };
    cleanups.push(async () => {
      for (const c of consumers) await c.close(2000);
      await producer.close();
    });
    return { q, cfg, producer, consumer };
  }

  it('splits a job larger than 256 KiB into messages within the limit, every event delivered once', async () => {
    const { q, producer, consumer } = open();
    // 1,200 events of ~1 KB: about 1.2 MB for one job, over five messages and several batch requests.
    const events = Array.from({ length: 1200 }, (_, i) => sized(i + 1, 1000));
    await producer.enqueue(events);
    const ready = sqs.inspect(q.name).ready;
    expect(ready.length).toBeGreaterThanOrEqual(5);
    for (const m of ready) expect(Buffer.byteLength(m.body)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    // Messages are filled: all but the last hold more than 90% of the limit.
    const sizes = ready.map((m) => Buffer.byteLength(m.body)).sort((a, b) => b - a);
    for (const s of sizes.slice(0, -1)) expect(s).toBeGreaterThan(0.9 * MAX_MESSAGE_BYTES);
    const seen: number[] = [];
    const c = consumer();
    await c.start(async (jobs) => {
      seen.push(...tsOf(jobs));
      return jobs.map(() => null);
    });
    await until(() => seen.length >= 1200, 'all events');
    await until(async () => (await c.counts()).active === 0, 'messages deleted');
    expect(seen.sort((a, b) => a - b)).toEqual(events.map((e) => e.ts));
    expect(await c.counts()).toMatchObject({ waiting: 0, active: 0, failed: 0, completed: ready.length });
  });

  it('keeps characters SQS refuses out of the body, and the values intact', async () => {
    const { producer, consumer } = open();
    const odd = toQueuedEvent({ site_id: 's', event_type: 'pageview', path: '/\uffff/\ufffe/😀/\u0001/"\\', user_id: 'u\ud800' }, 1, 1);
    await producer.enqueue([odd]);
    const got: QueuedEvent[] = [];
    await consumer().start(async (jobs) => {
      got.push(...jobs.flatMap((j) => (j.data as JobPayload).events));
      return jobs.map(() => null);
    });
    await until(() => got.length === 1, 'the event');
    expect(got[0]).toEqual(odd);
  });

  it('answers the enqueue with an error unless SQS accepted every message of it', async () => {
    // The queue takes at most 100 KB per message: of the two messages of this job (256 KiB and
    // ~40 KB, in two requests), SQS refuses the full one (the sender's fault, not retried) and
    // accepts the small one; the enqueue fails.
    const { q, producer } = open({ deadLetter: 'explicit', maximumMessageSize: 100_000 });
    const events = Array.from({ length: 300 }, (_, i) => sized(i + 1, 1000));
    const err = await producer.enqueue(events).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueUnavailableError);
    expect((err as Error).message).toMatch(/SendMessageBatch: 1 of 1 messages refused \(InvalidParameterValue/);
    expect(sqs.inspect(q.name).ready).toHaveLength(1);
    // A queue that does not exist: nothing is acknowledged either.
    sqs.server.deleteQueue(q.name);
    await expect(producer.enqueue([ev(1)])).rejects.toBeInstanceOf(QueueUnavailableError);
    await expect(producer.ping()).rejects.toThrow();
  });

  it('keeps a group invisible while it is applied for longer than the visibility timeout', async () => {
    // QUEUE_LOCK_MS 1000: a visibility timeout of 1 s, extended every ~333 ms during a 4 s apply.
    const { q, producer, consumer } = open({ deadLetter: 'explicit' }, queueSettings({ lockMs: 1000 }));
    await producer.enqueue([ev(1)]);
    const calls: { consumer: string; attemptsMade: number }[] = [];
    let inflightDuringApply: number[] = [];
    const slow = consumer();
    await slow.start(async (jobs) => {
      calls.push(...jobs.map((j) => ({ consumer: 'slow', attemptsMade: j.attemptsMade })));
      for (let i = 0; i < 8; i++) {
        await new Promise((r) => setTimeout(r, 500));
        inflightDuringApply.push(sqs.inspect(q.name).inflight.filter((m) => m.visibilityDeadline > Date.now()).length);
      }
      return jobs.map(() => null);
    });
    await until(() => calls.length === 1, 'the slow consumer to take the message');
    // A second worker polls the same queue all along: it must never see the message being applied.
    const other = consumer();
    await other.start(async (jobs) => {
      calls.push(...jobs.map((j) => ({ consumer: 'other', attemptsMade: j.attemptsMade })));
      return jobs.map(() => null);
    });
    await until(() => inflightDuringApply.length === 8, 'the apply to end', 20_000);
    await until(async () => (await slow.counts()).completed === 1, 'the message to be deleted');
    await new Promise((r) => setTimeout(r, 1500)); // a message that reappeared would be taken now
    expect(inflightDuringApply).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    expect(calls).toEqual([{ consumer: 'slow', attemptsMade: 0 }]);
    expect(sqs.inspect(q.name)).toMatchObject({ ready: [], inflight: [], delayed: [] });
  });

  it('gathers up to WORKER_FLUSH_MAX_EVENTS events from several receives into one group', async () => {
    const { producer, consumer } = open({ deadLetter: 'explicit' }, queueSettings(), 100);
    // 40 jobs of 5 events: 200 events, more than one receive (10 messages) holds.
    for (let j = 0; j < 40; j++) await producer.enqueue(Array.from({ length: 5 }, (_, i) => ev(j * 5 + i + 1)));
    const groups: number[] = [];
    const c = consumer();
    await c.start(async (jobs) => {
      groups.push(tsOf(jobs).length);
      return jobs.map(() => null);
    });
    await until(() => groups.reduce((a, b) => a + b, 0) >= 200, 'all events');
    expect(groups.every((n) => n <= 100)).toBe(true);
    expect(Math.max(...groups)).toBe(100); // two receives and more in one group
  });

  it('moves a message to SQS_DLQ_URL after the last attempt, with its reason; retry-failed brings it back', async () => {
    const { q, producer, consumer } = open({ deadLetter: 'explicit' }, queueSettings({ attempts: 2, backoffMs: 10 }));
    let storeUp = false;
    const applied: number[] = [];
    const c = consumer();
    await c.start(async (jobs) =>
      jobs.map((j) => {
        if (!storeUp) return new Error('store down');
        applied.push(...tsOf([j]));
        return null;
      }),
    );
    await producer.enqueue([ev(42)]);
    await until(async () => (await c.counts()).failed === 1, 'the message in the dead-letter queue');
    const [dead] = sqs.inspect(q.dlqName).ready;
    expect(JSON.parse(dead!.body)).toMatchObject({ events: [{ ts: 42 }] });
    expect(dead!.messageAttributes).toMatchObject({
      failed_reason: { DataType: 'String', StringValue: 'store down' },
      attempts: { DataType: 'Number', StringValue: '2' },
    });
    // The consumer sends the message to the dead-letter queue, then deletes it here.
    await until(() => sqs.inspect(q.name).inflight.length === 0, 'the message deleted from its queue');
    expect(sqs.inspect(q.name)).toMatchObject({ ready: [], inflight: [], delayed: [] });
    storeUp = true;
    expect(await c.retryFailed()).toBe(1);
    await until(() => applied.includes(42), 'the redriven message applied');
    await until(async () => (await c.counts()).active === 0, 'the message deleted');
    expect(await c.counts()).toMatchObject({ waiting: 0, active: 0, failed: 0, completed: 1 });
  });

  it('redrive policy without SQS_DLQ_URL: SQS moves the message; `npm run queue:retry-failed` brings it back', async () => {
    const spec: QueueSpec = { deadLetter: 'redrive', maxReceiveCount: 2 };
    const { q, producer, consumer } = open(spec, queueSettings({ attempts: 2, backoffMs: 10 }));
    const receives: number[] = [];
    const c = consumer();
    await c.start(async (jobs) => {
      receives.push(...jobs.map((j) => j.attemptsMade));
      return jobs.map(() => new Error('poison'));
    });
    await producer.enqueue([ev(7)]);
    await until(async () => (await c.counts()).failed === 1, 'the message in the dead-letter queue');
    expect(receives).toEqual([0, 1]);
    await c.close(3000);
    // The real command, as an operator runs it (built entry, environment only).
    const env = { ...sqs.env(q, spec), DATA_DIR: path.join('/tmp', 'unused'), JOB_ATTEMPTS: '2', LOG_LEVEL: 'info' };
    const cli = spawnNode(path.resolve(import.meta.dirname, '../dist/src/worker/retry-failed.js'), env, 'retry-failed');
    expect(await cli.exited).toBe(0);
    expect(cli.output()).toMatch(/1 failed job queued again in sqs queue "http:\/\/sqs\.us-east-1\.localhost/);
    expect(sqs.inspect(q.dlqName).ready).toHaveLength(0);
    const back = sqs.inspect(q.name).ready;
    expect(back.map((m) => JSON.parse(m.body).events[0].ts)).toEqual([7]);
    expect(back[0]!.approximateReceiveCount).toBe(0); // fresh attempts
    // The configuration the worker would run with selects this adapter.
    expect(loadConfig(env).queue.kind).toBe('sqs');
  });

  it('refuses to start without a dead-letter queue (SQS_DLQ_URL or a redrive policy)', async () => {
    const q = sqs.createQueue({});
    const consumer = new SqsEventConsumer({ ...sqs.config(q), dlqUrl: undefined }, queueSettings(), { flushMaxEvents: 100, clientOptions });
    await expect(consumer.start(async (jobs) => jobs.map(() => null))).rejects.toThrow(/no dead-letter queue: set SQS_DLQ_URL/);
    await consumer.close(100);
  });

  it('releases messages it took but did not apply when closed', async () => {
    const { q, producer, consumer } = open({ deadLetter: 'explicit' }, queueSettings({ lockMs: 60_000 }), 5);
    for (let i = 1; i <= 30; i++) await producer.enqueue([ev(i)]);
    let groups = 0;
    const c = consumer();
    await c.start(async (jobs) => {
      groups++;
      await new Promise((r) => setTimeout(r, 300));
      return jobs.map(() => null);
    });
    await until(() => groups >= 1, 'a group');
    await c.close(5000);
    // Nothing stays invisible for the 60 s visibility: applied messages are deleted, the rest visible.
    const left = sqs.inspect(q.name);
    expect(left.inflight).toHaveLength(0);
    expect(left.ready.length).toBe(30 - 5 * groups);
  });
});

