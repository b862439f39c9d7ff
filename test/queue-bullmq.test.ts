import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { newEventId } from '../src/core/event.js';
import { BullmqEventConsumer, BullmqEventQueue } from '../src/queue/bullmq.js';
import { REDIS_URL, serviceAvailable, uniqueName } from './helpers/services.js';
import { queueContract, queueSettings } from './queue.contract.js';

const available = await serviceAvailable('Redis', REDIS_URL);

async function obliterate(name: string): Promise<void> {
  const conn = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(name, { connection: conn });
  await queue.obliterate({ force: true });
  await queue.close();
  conn.disconnect();
}
describe.runIf(available)('BullMQ', () => {
  queueContract('BullMQ on Redis', async (settings) => {
    const q = { ...settings, ...queueSettings({ ...settings, kind: 'bullmq', name: uniqueName('qtest') }) };
    const redis = { url: REDIS_URL, port: 6379 };
    const producer = new BullmqEventQueue(redis, q);
    await producer.queue.waitUntilReady();
    return {
      producer,
      consumer: (s) => new BullmqEventConsumer(redis, { ...s, name: q.name }, { flushMaxEvents: 1000 }),
      cleanup: async () => {
        await obliterate(q.name);
        await producer.close();
      },
    };
  });

  it('takes along waiting jobs beyond the first stretch it reads: a backlog of 1,000 one-event jobs is applied in one or two groups', async () => {
    const q = queueSettings({ kind: 'bullmq', name: uniqueName('qgroup') });
    const redis = { url: REDIS_URL, port: 6379 };
    const producer = new BullmqEventQueue(redis, q);
    const consumer = new BullmqEventConsumer(redis, q, { flushMaxEvents: 1000 });
    await producer.queue.waitUntilReady();
    try {
      const ev = (n: number) => ({ id: newEventId(), site_id: 's', type: 'pageview', path: `/${n}`, visitor: `u:u${n}`, ts: n, received_at: n });
      for (let i = 0; i < 1000; i += 100) await Promise.all(Array.from({ length: 100 }, (_, k) => producer.enqueue([ev(i + k)])));
      const groups: number[] = [];
      const seen = new Set<number>();
      await consumer.start(async (jobs) => {
        groups.push(jobs.length);
        for (const j of jobs) for (const e of (j.data as { events: { ts: number }[] }).events) seen.add(e.ts);
        return jobs.map(() => null);
      });
      for (const end = Date.now() + 15_000; seen.size < 1000 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
      expect(seen.size).toBe(1000);
      // One look reads 200 waiting jobs: the first group must have gone on reading to fill up.
      expect(Math.max(...groups)).toBeGreaterThan(500);
    } finally {
      await consumer.close(1000);
      await obliterate(q.name);
      await producer.close();
    }
  });
});
