// The EventQueue contract: producer and consumer of each adapter, over the real backend.
import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../src/config.js';
import { newEventId, type QueuedEvent } from '../src/core/event.js';

type Payload = { events: QueuedEvent[] };
import type { ClaimedJob, EventConsumer, EventQueue, GroupHandler } from '../src/queue/port.js';

export interface QueueHarness {
  producer: EventQueue;
  consumer: (q: Config['queue']) => EventConsumer;
  cleanup(): Promise<void>;
}

export function queueSettings(overrides: Partial<Config['queue']> = {}): Config['queue'] {
  return {
    kind: 'embedded',
    name: 'test',
    prefix: 'bull',
    concurrency: 10,
    rateLimit: { max: 0, durationMs: 1000 },
    lockMs: 5000,
    attempts: 3,
    backoffMs: 100,
    keepCompleted: { count: 1000, ageSeconds: 86400 },
    keepFailed: { count: 5000, ageSeconds: 604800 },
    ...overrides,
  };
}

const ev = (n: number): QueuedEvent => ({ id: newEventId(), site_id: 's', type: 'pageview', path: `/${n}`, visitor: `u:u${n}`, ts: n, received_at: n });

async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function queueContract(name: string, open: (settings: Config['queue']) => Promise<QueueHarness>): void {
  describe(`EventQueue contract: ${name}`, () => {
    let h: QueueHarness | undefined;
    const consumers: EventConsumer[] = [];
    afterEach(async () => {
      for (const c of consumers.splice(0)) await c.close(1000);
      await h?.cleanup();
      h = undefined;
    });

    async function setup(settings = queueSettings()) {
      h = await open(settings);
      const consumer = h.consumer(settings);
      consumers.push(consumer);
      return { producer: h.producer, consumer };
    }

    it('delivers every queued batch, including batches queued before the consumer started', async () => {
      const { producer, consumer } = await setup();
      await producer.enqueue([ev(1), ev(2)]);
      const seen: number[] = [];
      await consumer.start(async (jobs) => {
        for (const j of jobs) seen.push(...(j.data as Payload).events.map((e) => e.ts));
        return jobs.map(() => null);
      });
      for (let i = 3; i <= 50; i++) await producer.enqueue([ev(i)]);
      // At least once: a job may reach the handler twice (applying is idempotent per event id).
      await until(() => new Set(seen).size >= 50);
      expect([...new Set(seen)].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      // Every job is completed, or (BullMQ) was applied along with another job and removed.
      await until(async () => {
        const c = await consumer.counts();
        return c.waiting === 0 && c.active === 0;
      });
      const counts = await consumer.counts();
      expect(counts).toMatchObject({ waiting: 0, active: 0, failed: 0, delayed: 0 });
      expect(counts.completed).toBeGreaterThan(0);
      expect(counts.completed).toBeLessThanOrEqual(49);
    });

    it('retries a failing job with exponential backoff, then moves it to the failed set', async () => {
      const { producer, consumer } = await setup(queueSettings({ attempts: 3, backoffMs: 200 }));
      const attempts: { at: number; attemptsMade: number }[] = [];
      await consumer.start(async (jobs) => {
        for (const j of jobs) attempts.push({ at: Date.now(), attemptsMade: j.attemptsMade });
        return jobs.map(() => new Error('store down'));
      });
      await producer.enqueue([ev(1)]);
      await until(async () => (await consumer.counts()).failed === 1);
      expect(attempts.map((a) => a.attemptsMade)).toEqual([0, 1, 2]);
      // Backoff grows: the second wait is longer than the first, and each is at least the base delay.
      const waits = [attempts[1]!.at - attempts[0]!.at, attempts[2]!.at - attempts[1]!.at];
      expect(waits[0]).toBeGreaterThanOrEqual(190);
      expect(waits[1]).toBeGreaterThanOrEqual(390);
      expect(await consumer.counts()).toMatchObject({ failed: 1, completed: 0, waiting: 0 });
    });

    it('queues failed jobs again on request (after an outage longer than the retry budget)', async () => {
      const { producer, consumer } = await setup(queueSettings({ attempts: 2, backoffMs: 50 }));
      let storeUp = false;
      const applied: number[] = [];
      await consumer.start(async (jobs) =>
        jobs.map((j) => {
          if (!storeUp) return new Error('store down');
          applied.push(...(j.data as Payload).events.map((e) => e.ts));
          return null;
        }),
      );
      await producer.enqueue([ev(7)]);
      await until(async () => (await consumer.counts()).failed === 1);
      storeUp = true;
      expect(await consumer.retryFailed()).toBe(1);
      await until(() => applied.includes(7));
      await until(async () => (await consumer.counts()).completed === 1);
      expect(await consumer.counts()).toMatchObject({ failed: 0, waiting: 0 });
      expect(await consumer.retryFailed()).toBe(0);
    });

    it('lets a job succeed after failures and keeps its neighbours unaffected', async () => {
      const { producer, consumer } = await setup(queueSettings({ attempts: 5, backoffMs: 50 }));
      const calls = new Map<string, number>();
      const handler: GroupHandler = async (jobs: ClaimedJob[]) =>
        jobs.map((j) => {
          const first = (j.data as Payload).events[0]!.ts;
          calls.set(String(first), (calls.get(String(first)) ?? 0) + 1);
          return first === 1 && j.attemptsMade < 2 ? new Error('transient') : null;
        });
      await consumer.start(handler);
      await producer.enqueue([ev(1)]);
      await producer.enqueue([ev(2)]);
      // Job 2 may complete on its own or be applied along with job 1's group and removed (BullMQ).
      await until(async () => {
        const c = await consumer.counts();
        return calls.get('1') === 3 && c.waiting === 0 && c.active === 0 && c.delayed === 0;
      });
      expect(calls.get('1')).toBe(3);
      expect(calls.get('2')).toBe(1);
      expect((await consumer.counts()).failed).toBe(0);
    });

    it('finishes the active jobs when closed', async () => {
      const { producer, consumer } = await setup();
      let finished = 0;
      let started = 0;
      await consumer.start(async (jobs) => {
        started += jobs.length;
        await new Promise((r) => setTimeout(r, 300));
        finished += jobs.length;
        return jobs.map(() => null);
      });
      await producer.enqueue([ev(1)]);
      await until(() => started > 0);
      await consumer.close(5000);
      expect(finished).toBe(started);
      consumers.splice(consumers.indexOf(consumer), 1);
    });
  });
}
